"""Helpers for kt_mcp's tests: [[mcp_servers]] entries for the toy server and real servers."""

from __future__ import annotations

import sys
from pathlib import Path

TOY = Path(__file__).parent / "servers" / "toy_server.py"
LIVE = Path(__file__).parent / "servers" / "live_server.py"


def toy(name: str = "toy", behaviour: str = "ok", *extra: str, **options) -> dict:
    """An [[mcp_servers]] entry starting the toy server, behaving as *behaviour* says."""
    args = [str(TOY), behaviour, *extra]
    return {"name": name, "command": sys.executable, "args": args, **options}


def live(name: str = "live", **options) -> dict:
    """An [[mcp_servers]] entry starting the server whose lists change."""
    return {"name": name, "command": sys.executable, "args": [str(LIVE)], **options}


def pypi_server(name: str, module: str, *args: str, **options) -> dict:
    """An entry running an MCP server installed from PyPI (``python -m <module>``)."""
    return {"name": name, "command": sys.executable, "args": ["-m", module, *args], **options}


def creature(*servers: dict, **keys) -> dict:
    """A creature config dict with these MCP servers."""
    return {"name": "t", "mcp_servers": list(servers), **keys}
