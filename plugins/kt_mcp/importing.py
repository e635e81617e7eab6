r"""``kt mcp import``: servers from other MCP clients' ``mcpServers`` JSON into our registry.

Claude Desktop, Claude Code and Cursor describe servers the same way: an ``mcpServers`` object
of name -> ``{command, args, env}`` (stdio) or ``{url, headers}`` (HTTP), Claude Code with a
``type``. Each usable server becomes a ``[servers.NAME]`` table of ``~/.kt/mcp.toml``; every
server that is not imported is reported with the reason, and keys we have no use for
(``alwaysAllow``, ``disabled`` ...) are named, so nothing is dropped silently.

Where each client keeps its file (read when no file is named):

- Claude Desktop: ``claude_desktop_config.json`` in ``~/.config/Claude`` (Linux),
  ``~/Library/Application Support/Claude`` (macOS) or ``%APPDATA%\\Claude`` (Windows);
- Claude Code: ``~/.claude.json`` (its user servers, and those of the project in the current
  directory), and ``.mcp.json`` in the current directory (the project's shared servers);
- Cursor: ``~/.cursor/mcp.json``, and ``.cursor/mcp.json`` in the current directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from kt_mcp.errors import MCPConfigError
from kt_mcp.settings import load_registry, save_registry_server, settings_from_table

__all__ = ["ImportReport", "import_servers", "known_locations", "read_servers"]

_KEPT = {"command", "args", "env", "url", "headers", "cwd"}
_TRANSPORT_KEYS = ("type", "transport")
_TRANSPORTS = {"stdio": "stdio", "http": "http", "streamable-http": "http", "sse": "sse"}


@attrs.frozen
class Found:
    """One server as another client's file describes it."""

    name: str
    entry: Any
    source: str  # the file, and the part of it (``~/.claude.json (project /src/app)``)


@attrs.define
class ImportReport:
    """What ``kt mcp import`` did.

    Attributes:
        read: The files read.
        imported: ``(name, target, source, ignored keys)`` per server added to the registry.
        skipped: ``(name, source, reason)`` per server left out.
    """

    read: list[Path] = attrs.Factory(list)
    imported: list[tuple[str, str, str, tuple[str, ...]]] = attrs.Factory(list)
    skipped: list[tuple[str, str, str]] = attrs.Factory(list)


def known_locations(
    env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> list[tuple[str, Path]]:
    """Where Claude Desktop, Claude Code and Cursor keep servers: ``(client, file)`` pairs."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    cwd = cwd or Path.cwd()
    places = [
        ("Claude Desktop", home / ".config" / "Claude" / "claude_desktop_config.json"),
        (
            "Claude Desktop",
            home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json",
        ),
    ]
    if env.get("APPDATA"):
        places.append(
            ("Claude Desktop", Path(env["APPDATA"]) / "Claude" / "claude_desktop_config.json")
        )
    places += [
        ("Claude Code", home / ".claude.json"),
        ("Claude Code", cwd / ".mcp.json"),
        ("Cursor", home / ".cursor" / "mcp.json"),
        ("Cursor", cwd / ".cursor" / "mcp.json"),
    ]
    return places


def read_servers(path: Path, *, cwd: Path | None = None) -> list[Found]:
    """The servers of one client file.

    Its ``mcpServers``, and for ``~/.claude.json`` also those of the project in *cwd*.

    Raises:
        MCPConfigError: the file cannot be read, is not JSON, or holds no ``mcpServers``.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MCPConfigError(f"cannot read it as JSON: {exc}", file=str(path)) from exc
    if not isinstance(data, dict):
        raise MCPConfigError("expected a JSON object with mcpServers", file=str(path))
    groups: list[tuple[str, Any]] = []
    if "mcpServers" in data:
        groups.append((str(path), data["mcpServers"]))
    project = str((cwd or Path.cwd()).resolve())
    projects = data.get("projects")
    if isinstance(projects, dict) and isinstance(projects.get(project), dict):
        if "mcpServers" in projects[project]:
            groups.append((f"{path} (project {project})", projects[project]["mcpServers"]))
    if not groups:
        raise MCPConfigError(
            "has no mcpServers object; give a Claude Desktop, Claude Code or Cursor MCP file",
            file=str(path),
        )
    found = []
    for source, servers in groups:
        if not isinstance(servers, dict):
            raise MCPConfigError("mcpServers must be an object of name -> server", file=source)
        found += [Found(name, entry, source) for name, entry in servers.items()]
    return found


def import_servers(
    paths: list[Path] | None = None,
    *,
    replace: bool = False,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ImportReport:
    """Import the servers of *paths* (default: every known location that exists).

    The first file naming a server wins; a name already in the registry is skipped unless
    *replace*. With *dry_run* the registry is not written.

    Raises:
        MCPConfigError: a named file cannot be read; or no file was named and none of the
            known locations exists.
    """
    report = ImportReport()
    if paths is None:
        paths = [path for _, path in known_locations(env, cwd) if path.is_file()]
        if not paths:
            looked = ", ".join(str(path) for _, path in known_locations(env, cwd))
            raise MCPConfigError(
                f"found no MCP client configuration; looked in: {looked}. Name a file: "
                "kt mcp import PATH"
            )
    registry = load_registry(env)
    taken: dict[str, str] = {}
    for path in paths:
        found = read_servers(path, cwd=cwd)
        report.read.append(path)
        for server in found:
            if server.name in taken:
                report.skipped.append(
                    (server.name, server.source, f"already imported from {taken[server.name]}")
                )
                continue
            if server.name in registry and not replace:
                report.skipped.append(
                    (server.name, server.source, "already in the registry (--replace replaces it)")
                )
                continue
            try:
                table, ignored = _table(server)
                settings = settings_from_table(server.name, table, origin="registry", env={})
            except MCPConfigError as exc:
                report.skipped.append((server.name, server.source, exc.message))
                continue
            if not dry_run:
                save_registry_server(server.name, table, env=env, replace=True)
            taken[server.name] = server.source
            report.imported.append((server.name, settings.target, server.source, ignored))
    return report


def _table(server: Found) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Our registry table for one server, and the keys of it we do not use.

    Raises:
        MCPConfigError: the server cannot be used here (disabled, no command or url, a
            transport we do not speak).
    """
    entry = server.entry
    if not isinstance(entry, dict):
        raise MCPConfigError("its description is not a JSON object")
    if entry.get("disabled") is True:
        raise MCPConfigError("it is disabled there")
    table = {key: entry[key] for key in _KEPT if key in entry}
    kind = next((entry[k] for k in _TRANSPORT_KEYS if k in entry), None)
    if kind is not None:
        transport = _TRANSPORTS.get(str(kind).lower())
        if transport is None:
            raise MCPConfigError(f"its transport '{kind}' is not one kt speaks (stdio, http, sse)")
        table["transport"] = transport
    elif "url" in table:
        table["transport"] = "http"
    if not table.get("command") and not table.get("url"):
        raise MCPConfigError("it has neither command nor url")
    ignored = tuple(sorted(set(entry) - _KEPT - set(_TRANSPORT_KEYS) - {"disabled"}))
    return table, ignored
