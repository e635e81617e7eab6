"""Helpers for kt_mcp's tests: [[mcp_servers]] entries for the toy server and real servers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import trio

TOY = Path(__file__).parent / "servers" / "toy_server.py"
LIVE = Path(__file__).parent / "servers" / "live_server.py"
HOST_TOKEN = "h0st"  # the host token of the web_host fixture's server


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


def serve_args(helper: Path, *extra: str) -> list[str]:
    """`kt mcp serve HELPER` with the folder's scripted replies, as `python -m kt_cli` arguments."""
    llm = f"scripted:{helper / 'replies.toml'}"
    return ["-m", "kt_cli", "mcp", "serve", str(helper), "--llm", llm, *extra]


async def start_http_server(helper: Path, env: dict[str, str], *extra: str):
    """Start `kt mcp serve HELPER --transport http`; returns (process, its URL, its stderr)."""
    process = await trio.lowlevel.open_process(
        [sys.executable, *serve_args(helper, "--transport", "http", "--port", "0", *extra)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen = b""
    while b"over MCP at " not in seen or not seen.endswith(b"\n"):
        chunk = await process.stderr.receive_some()
        assert chunk, f"kt mcp serve exited: {seen.decode()}"
        seen += chunk
    url = seen.decode().split("over MCP at ")[1].split()[0]
    return process, url, seen.decode()
