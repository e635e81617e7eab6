"""``kt doctor`` checks of MCP servers: usable settings, commands that exist, servers that answer.

:func:`server_checks` checks any list of ``[[mcp_servers]]`` entries; the plugin's
``kt_doctor_checks`` hook runs it on every server of the registry. Offline, a stdio server's
command must be found (on the ``PATH`` its environment gives it) and an HTTP server's URL must
be an ``http(s)`` URL; online, each server is started, listed and stopped, as ``kt mcp test``
does, each bounded by its ``connect_timeout`` (at most :data:`ONLINE_TIMEOUT`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from kt.config import MCPServerEntry
from kt_mcp.settings import ServerSettings, SettingsProblem, load_registry, resolve_servers

__all__ = ["ONLINE_TIMEOUT", "MCPCheck", "registry_checks", "server_checks"]

ONLINE_TIMEOUT = 15.0
"""Seconds ``kt doctor --online`` gives one server to start and list its tools."""


@attrs.frozen
class MCPCheck:
    """One line of ``kt doctor``: ``status`` (``OK``, ``WARN``, ``FAIL``), what, found, fix."""

    status: str
    subject: str
    detail: str
    fix: str = ""


def registry_checks(*, online: bool, env: Mapping[str, str] | None = None) -> list[MCPCheck]:
    """Check every server of the registry (``~/.kt/mcp.toml``); nothing when it is empty."""
    from kt.errors import KTError

    try:
        registry = load_registry(env)
    except KTError as exc:
        return [MCPCheck("FAIL", "mcp registry", str(exc), "fix the file, or remove it")]
    entries = [MCPServerEntry(name=name) for name in registry]
    return server_checks(entries, online=online, env=env, registry=registry)


def server_checks(
    entries: Sequence[MCPServerEntry],
    *,
    online: bool,
    env: Mapping[str, str] | None = None,
    registry: Mapping[str, Mapping[str, Any]] | None = None,
    working_dir: Path | None = None,
) -> list[MCPCheck]:
    """Check the servers *entries* describe (a creature's, or the registry's).

    Args:
        entries: ``[[mcp_servers]]`` entries.
        online: Start each server and list its tools.
        env: The environment (default ``os.environ``).
        registry: The registry's tables (default: read when an entry refers to it).
        working_dir: Where relative commands and ``cwd`` resolve (default: the current one).

    Returns:
        One check per server, in order.
    """
    env = os.environ if env is None else env
    resolved = resolve_servers(
        entries, registry=registry, env=env, working_dir=working_dir or Path.cwd()
    )
    checks = []
    for item in resolved:
        if isinstance(item, SettingsProblem):
            checks.append(
                MCPCheck("FAIL", f"mcp server {item.name}", str(item.error), "fix its settings")
            )
            continue
        problem = _offline_problem(item)
        if problem is not None:
            checks.append(problem)
        elif online:
            checks.append(_online_check(item))
        else:
            checks.append(
                MCPCheck("OK", f"mcp server {item.name}", f"{item.transport}: {item.target}")
            )
    return checks


def _offline_problem(settings: ServerSettings) -> MCPCheck | None:
    subject = f"mcp server {settings.name}"
    if settings.transport == "stdio":
        command = settings.command or ""
        path = settings.env.get("PATH", os.environ.get("PATH", ""))
        where = settings.cwd or os.getcwd()
        found = shutil.which(command, path=path) if os.sep not in command else None
        if found is None and os.sep in command:
            candidate = Path(where, command)
            found = str(candidate) if os.access(candidate, os.X_OK) else None
        if found is None:
            return MCPCheck(
                "FAIL",
                subject,
                f"command '{command}' not found (PATH: {path or 'empty'})",
                "install the server (in its own environment: uvx or pipx for Python servers), "
                "or fix command",
            )
        return None
    if not (settings.url or "").startswith(("http://", "https://")):
        return MCPCheck("FAIL", subject, f"url '{settings.url}' is not an http(s) URL", "fix url")
    return None


@attrs.frozen
class Probe:
    """What connecting to a server found: ``ok``, its tools' names, or the ``error``."""

    ok: bool
    tools: tuple[str, ...] = ()
    error: str = ""


async def probe(settings: ServerSettings, *, why: str = "a check") -> Probe:
    """Start (or reach) *settings*' server, list its tools and disconnect (within the timeout).

    Never raises for the server's failures: they are the probe's ``error``.
    """
    import trio

    from kt_mcp.connection import ServerConnection, log_file

    settings = attrs.evolve(settings, connect_timeout=min(settings.connect_timeout, ONLINE_TIMEOUT))
    async with trio.open_nursery() as nursery:
        connection = ServerConnection(settings, spawn=nursery.start, log=log_file(settings.name))
        if not await connection.connect():
            return Probe(False, error=connection.error or "it did not connect")
        tools = tuple(tool.name for tool in connection.tools)
        await connection.disconnect(why)
        return Probe(True, tools=tools)


def _online_check(settings: ServerSettings) -> MCPCheck:
    import trio

    found = trio.run(lambda: probe(settings, why="kt doctor"))
    subject = f"mcp server {settings.name}"
    if found.ok:
        detail = f"{settings.transport}: {settings.target}; {len(found.tools)} tools"
        return MCPCheck("OK", subject, detail)
    return MCPCheck("FAIL", subject, found.error, f"kt mcp test {settings.name} shows the details")
