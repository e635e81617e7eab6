"""Where MCP servers are described, and the one resolved view of them.

A creature names its servers in ``[[mcp_servers]]`` entries (parsed by the kernel into
:class:`kt.config.MCPServerEntry`). The user's global registry, ``~/.kt/mcp.toml``, describes
servers once for every creature::

    [servers.time]
    command = "mcp-server-time"
    args = ["--local-timezone", "UTC"]

    [servers.docs]
    transport = "http"
    url = "https://docs.example.com/mcp"
    headers = { Authorization = "Bearer ${DOCS_TOKEN}" }

An entry with neither ``command`` nor ``url`` refers to the registry server of the same name;
its own keys (``env``, ``headers``, options) are laid over the registry's. Registry values may
use ``${VAR}`` / ``${VAR:default}``, read from the environment when the server starts, so
secrets stay out of the file. :func:`resolve_servers` turns both into :class:`ServerSettings`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from kt.config import MCPServerEntry
from kt.config.home import kt_home
from kt_mcp.errors import MCPConfigError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "OPTIONS",
    "ServerSettings",
    "load_registry",
    "registry_path",
    "remove_registry_server",
    "resolve_servers",
    "save_registry_server",
    "set_registry_enabled",
    "settings_from_table",
]

DEFAULT_CONNECT_TIMEOUT = 30.0
"""Seconds a server may take to start, shake hands and list its tools (cold starts are slow)."""

TRANSPORTS = {
    "stdio": "stdio",
    "http": "http",
    "streamable_http": "http",
    "streamablehttp": "http",
    "http_streamable": "http",
    "sse": "sse",
}
"""Accepted transport names (dashes read as underscores) and what each means."""

OPTIONS = {
    "connect_timeout": "seconds to start, shake hands and list tools (default 30)",
    "call_timeout": "seconds one tool call may take (default: the creature's tool_timeout)",
    "mode": '"native" (each tool is a tool of the creature) or "meta" (reached via mcp_call)',
    "tools": "only offer these of the server's tools (its own names)",
    "prefix": 'what tool names start with (default: the server name; "" for none)',
    "protocol": '"auto" (default: probe, fall back to the handshake) or "legacy"',
    "enabled": "false leaves the server out (e.g. one inherited from a base config)",
    "auth": '"oauth": log in with `kt mcp login NAME` (HTTP servers); default: none',
    "sampling": '"ask" (default: the user allows each request), "allow" or "deny": may the '
    "server use the creature's model",
}
"""Keys an entry may carry besides the transport fields, with what they mean."""

_FIELDS = ("transport", "command", "args", "env", "cwd", "url", "headers")


@attrs.frozen(kw_only=True)
class ServerSettings:
    """Everything needed to reach one MCP server, validated.

    Attributes:
        name: The server's name; its tools are called ``<prefix>__<tool>``.
        transport: ``stdio``, ``http`` (streamable HTTP) or ``sse`` (legacy HTTP+SSE).
        command: The program to start (stdio).
        args: Its arguments.
        env: Extra environment variables for the program, over a safe default set
            (``HOME``, ``PATH``, ``USER`` ...).
        cwd: The program's working directory (default: the creature's working directory).
        url: The endpoint (HTTP transports).
        headers: HTTP headers sent with every request (HTTP transports).
        connect_timeout: Seconds to start, shake hands and list tools.
        call_timeout: Seconds one tool call may take; ``None``: the creature's
            ``tool_timeout``; ``0``: no limit.
        mode: ``native`` or ``meta``.
        tools: Only these tools are offered, when given.
        prefix: What tool names start with.
        protocol: ``auto`` or ``legacy``.
        sampling: ``ask``, ``allow`` or ``deny``: whether the server's sampling requests are
            served by the creature's model (``ask``: the user decides each time).
        auth: ``oauth`` for the MCP authorization flow (tokens from ``kt mcp login``), else
            ``None`` (no authorization, or static ``headers``).
        origin: ``creature``, ``registry`` or ``creature+registry``: where it was described.
    """

    name: str
    transport: str = "stdio"
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = attrs.field(factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    call_timeout: float | None = None
    mode: str = "native"
    tools: tuple[str, ...] | None = None
    prefix: str = ""
    protocol: str = "auto"
    auth: str | None = None
    sampling: str = "ask"
    origin: str = "creature"

    @property
    def target(self) -> str:
        """The command line or URL, for listings and messages."""
        if self.transport == "stdio":
            return " ".join([self.command or "", *self.args]).strip()
        return self.url or ""


# -- The global registry ------------------------------------------------------------------------


def registry_path(env: Mapping[str, str] | None = None) -> Path:
    """The registry file: ``mcp.toml`` in the kt home (``$KT_HOME`` or ``~/.kt``)."""
    return kt_home(env) / "mcp.toml"


def load_registry(env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The servers of ``~/.kt/mcp.toml`` as raw tables by name (``{}`` when there is no file).

    Raises:
        MCPConfigError: the file is not valid TOML, or ``servers`` is not a table of tables.
    """
    path = registry_path(env)
    if not path.is_file():
        return {}
    import tomlkit

    try:
        data = tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()
    except Exception as exc:
        raise MCPConfigError(
            f"not valid TOML ({exc}); fix it or remove it and add servers again with `kt mcp add`",
            file=str(path),
        ) from exc
    servers = data.get("servers", {})
    if not isinstance(servers, dict) or not all(isinstance(v, dict) for v in servers.values()):
        raise MCPConfigError(
            "expected [servers.NAME] tables, one per server", path="servers", file=str(path)
        )
    return servers


def save_registry_server(
    name: str, table: Mapping[str, Any], *, env: Mapping[str, str] | None = None, replace=False
) -> Path:
    """Add (or with *replace*, replace) server *name* in the registry, keeping comments.

    Args:
        name: The server's name.
        table: Its keys (``command``, ``args``, ``url`` ...); empty values are left out.
        env: Where to read ``KT_HOME`` (default ``os.environ``).
        replace: Replace an existing server of that name instead of refusing.

    Returns:
        The registry file.

    Raises:
        MCPConfigError: the name is taken (without *replace*), or the table is invalid.
    """
    settings_from_table(name, dict(table), origin="registry", env={})  # validate first
    import tomlkit

    path = registry_path(env)
    document = (
        tomlkit.parse(path.read_text(encoding="utf-8")) if path.is_file() else tomlkit.document()
    )
    servers = document.setdefault("servers", tomlkit.table(is_super_table=True))
    if name in servers and not replace:
        raise MCPConfigError(
            f"server '{name}' is already in the registry; remove it first "
            f"(`kt mcp remove {name}`) or pass --replace",
            file=str(path),
        )
    entry = tomlkit.table()
    for key, value in table.items():
        if value not in (None, "", (), [], {}):
            entry[key] = list(value) if isinstance(value, tuple) else value
    servers[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return path


def remove_registry_server(name: str, *, env: Mapping[str, str] | None = None) -> bool:
    """Remove server *name* from the registry; ``False`` when it is not there."""

    def remove(servers: Any) -> None:
        del servers[name]

    return _edit_registry_server(name, remove, env)


def set_registry_enabled(name: str, enabled: bool, *, env: Mapping[str, str] | None = None) -> bool:
    """Enable or disable registry server *name* (``enabled = false``), keeping the rest.

    Returns:
        ``False`` when the registry has no server *name*.
    """

    def switch(servers: Any) -> None:
        if enabled:
            servers[name].pop("enabled", None)
        else:
            servers[name]["enabled"] = False

    return _edit_registry_server(name, switch, env)


def _edit_registry_server(
    name: str, edit: Callable[[Any], None], env: Mapping[str, str] | None
) -> bool:
    """Apply *edit* to the registry's ``servers`` table and save it, keeping comments.

    Returns:
        ``False`` when the registry has no server *name* (nothing is written then).
    """
    import tomlkit

    path = registry_path(env)
    if not path.is_file():
        return False
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    servers = document.get("servers")
    if servers is None or name not in servers:
        return False
    edit(servers)
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return True


# -- Resolving ---------------------------------------------------------------------------------


@attrs.frozen
class SettingsProblem:
    """A server whose settings cannot be used: it is reported, and the others go on."""

    name: str
    error: MCPConfigError


def resolve_servers(
    entries: Sequence[MCPServerEntry],
    *,
    registry: Mapping[str, Mapping[str, Any]] | None = None,
    env: Mapping[str, str] | None = None,
    working_dir: Path | None = None,
    default_mode: str = "native",
    file: str | None = None,
) -> list[ServerSettings | SettingsProblem]:
    """Turn a creature's ``[[mcp_servers]]`` entries into settings, one per entry, in order.

    Args:
        entries: The creature's entries.
        registry: The global registry's tables (default: read ``~/.kt/mcp.toml`` when an
            entry refers to it).
        env: Variables for ``${VAR}`` in registry values (default ``os.environ``).
        working_dir: Relative ``cwd`` values resolve against it, and it is the default ``cwd``.
        default_mode: The mode of entries that do not set one.
        file: The config file, for messages.

    Returns:
        One :class:`ServerSettings` per usable entry, and a :class:`SettingsProblem` for each
        entry that cannot be used. Entries with ``enabled = false`` are left out.
    """
    env = os.environ if env is None else env
    resolved: list[ServerSettings | SettingsProblem] = []
    for index, entry in enumerate(entries):
        path = f"mcp_servers[{index}]"
        table: dict[str, Any] = {key: getattr(entry, key) for key in _FIELDS}
        table.update(entry.options)
        origin = "creature"
        try:
            if not entry.command and not entry.url:
                if registry is None:
                    registry = load_registry(env)
                if entry.name not in registry:
                    raise MCPConfigError(
                        f"MCP server '{entry.name}' has no command or url, and the registry "
                        f"({registry_path(env)}) has no server of that name; give command "
                        f"(stdio) or url (http), or add it with `kt mcp add {entry.name} -- "
                        "COMMAND ARGS...`",
                        path=path,
                        file=file,
                    )
                base = _expand(dict(registry[entry.name]), env)
                table = _overlay(base, table)
                origin = "creature+registry"
            if table.get("enabled", True) is False:
                continue
            table.setdefault("mode", default_mode)
            settings = settings_from_table(
                entry.name, table, origin=origin, env=env, path=path, file=file
            )
        except MCPConfigError as error:
            resolved.append(SettingsProblem(entry.name, error))
            continue
        if settings.transport == "stdio" and working_dir is not None:
            cwd = Path(settings.cwd).expanduser() if settings.cwd else working_dir
            settings = attrs.evolve(settings, cwd=str(working_dir / cwd))
        resolved.append(settings)
    return resolved


def settings_from_table(
    name: str,
    table: dict[str, Any],
    *,
    origin: str = "creature",
    env: Mapping[str, str] | None = None,
    path: str = "",
    file: str | None = None,
) -> ServerSettings:
    """Validate one server's keys (transport fields and options) into :class:`ServerSettings`.

    Raises:
        MCPConfigError: naming the key and what to write instead.
    """
    table = dict(table)
    table.pop("enabled", None)

    def fail(message: str, key: str = "") -> MCPConfigError:
        where = f"{path}.{key}" if path and key else path or key
        return MCPConfigError(message, path=where, file=file)

    unknown = sorted(set(table) - set(_FIELDS) - set(OPTIONS))
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, [*_FIELDS, *OPTIONS], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise fail(
            f"unknown key '{key}' for MCP server '{name}'{hint} Known keys: "
            f"{', '.join([*_FIELDS, *OPTIONS])}",
            key,
        )
    raw_transport = str(table.get("transport") or "stdio").lower().replace("-", "_")
    transport = TRANSPORTS.get(raw_transport)
    if transport is None:
        raise fail(
            f"unknown transport '{table.get('transport')}' for MCP server '{name}'; use stdio "
            "(a command), http (streamable HTTP, a url) or sse (legacy HTTP+SSE, a url)",
            "transport",
        )
    if table.get("url") and transport == "stdio" and not table.get("command"):
        transport = "http"  # a url alone means HTTP; saying so again is not required
    if transport == "stdio" and not table.get("command"):
        raise fail(f"MCP server '{name}' uses stdio but has no command; give command", "command")
    if transport != "stdio" and not table.get("url"):
        raise fail(f"MCP server '{name}' uses {transport} but has no url; give url", "url")

    def number(key: str, default: float | None) -> float | None:
        value = table.get(key, default)
        if value is None:
            return None
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise fail(f"{key} must be a number of seconds, not {value!r}", key) from None
        if value < 0:
            raise fail(f"{key} must not be negative, got {value:g}", key)
        return value

    connect_timeout = number("connect_timeout", DEFAULT_CONNECT_TIMEOUT) or 0.0
    mode = str(table.get("mode") or "native")
    if mode not in ("native", "meta"):
        raise fail(f"mode must be 'native' or 'meta', not {mode!r}", "mode")
    protocol = str(table.get("protocol") or "auto")
    if protocol not in ("auto", "legacy"):
        raise fail(f"protocol must be 'auto' or 'legacy', not {protocol!r}", "protocol")
    auth = table.get("auth") or None
    if auth is not None and auth != "oauth":
        raise fail(f"auth must be 'oauth' (or left out), not {auth!r}", "auth")
    if auth == "oauth" and transport == "stdio":
        raise fail(
            f"MCP server '{name}' runs as a program (stdio): auth is for HTTP servers", "auth"
        )
    sampling = str(table.get("sampling") or "ask")
    if sampling not in ("ask", "allow", "deny"):
        raise fail(f"sampling must be 'ask', 'allow' or 'deny', not {sampling!r}", "sampling")
    tools = table.get("tools")
    if tools is not None and (
        not isinstance(tools, list | tuple) or not all(isinstance(t, str) for t in tools)
    ):
        raise fail("tools must be a list of the server's tool names", "tools")
    args = table.get("args") or ()
    if isinstance(args, str):
        args = args.split()
    for key in ("env", "headers"):
        if not isinstance(table.get(key) or {}, Mapping):
            raise fail(f"{key} must be a table of names to strings", key)
    prefix = table.get("prefix")
    return ServerSettings(
        name=name,
        transport=transport,
        command=table.get("command") or None,
        args=tuple(str(a) for a in args),
        env={str(k): str(v) for k, v in (table.get("env") or {}).items()},
        cwd=str(table["cwd"]) if table.get("cwd") else None,
        url=table.get("url") or None,
        headers={str(k): str(v) for k, v in (table.get("headers") or {}).items()},
        connect_timeout=connect_timeout or DEFAULT_CONNECT_TIMEOUT,
        call_timeout=number("call_timeout", None),
        mode=mode,
        tools=tuple(tools) if tools is not None else None,
        prefix=name if prefix is None else str(prefix),
        protocol=protocol,
        auth=auth,
        sampling=sampling,
        origin=origin,
    )


def _overlay(base: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """The registry's table with the creature entry's non-empty keys laid over it."""
    merged = dict(base)
    for key, value in entry.items():
        if key == "transport" and value == "stdio":
            continue  # the entry's default, not a choice: keep the registry's transport
        if key in ("env", "headers") and isinstance(value, Mapping):
            merged[key] = {**(base.get(key) or {}), **value}
        elif value not in (None, "", (), [], {}):
            merged[key] = value
    return merged


_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


def _expand(value: Any, env: Mapping[str, str]) -> Any:
    """``${VAR}`` / ``${VAR:default}`` in registry strings, from *env*; ``$${`` is a literal."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            name, default = match.group(1), match.group(2)
            return env.get(name, default if default is not None else "")

        return _REFERENCE.sub(substitute, value)
    if isinstance(value, dict):
        return {key: _expand(item, env) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_expand(item, env) for item in value]
    return value
