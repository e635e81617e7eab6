"""``kt mcp``: manage the global MCP registry, test servers, serve creatures over MCP.

Added to the ``kt`` command by the plugin's ``kt_cli_commands`` hook. The commands use the
invocation's kernel when the ``kt`` command provides one (``--plugins`` / ``--no-plugins``),
found on the click context, so this module does not import ``kt_cli``.
"""

from __future__ import annotations

import secrets
import sys
from functools import partial
from pathlib import Path
from typing import Any

import click

import kt

_TIMEOUT_HELP = "Seconds the server may take to start and list its tools (default: its own, 30)."


def _kernel() -> kt.Kernel:
    """The ``kt`` invocation's kernel (its CliState), else a kernel of every installed plugin."""
    state = click.get_current_context().find_root().obj
    kernel = getattr(state, "kernel", None)
    return kernel() if callable(kernel) else kt.Kernel()


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=option)
        pairs[key] = rest
    return pairs


@click.group("mcp")
def mcp() -> None:
    """Use MCP servers from creatures, and serve creatures as MCP servers.

    Servers added here go to the registry ~/.kt/mcp.toml (KT_HOME); a creature uses one by
    naming it in an [[mcp_servers]] entry without command or url.
    """


@mcp.command("add")
@click.argument("name")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http", "sse"]),
    default=None,
    help="stdio (the default with a COMMAND), http (streamable HTTP, the default with --url), "
    "or sse (legacy HTTP+SSE).",
)
@click.option("--url", help="The endpoint of an HTTP server.")
@click.option("--header", "headers", multiple=True, metavar="NAME=VALUE", help="HTTP header.")
@click.option("--env", "env", multiple=True, metavar="NAME=VALUE", help="Environment variable.")
@click.option("--cwd", help="Working directory of the server process.")
@click.option("--connect-timeout", type=click.FloatRange(min=0, min_open=True), help=_TIMEOUT_HELP)
@click.option(
    "--call-timeout",
    type=click.FloatRange(min=0),
    help="Seconds one tool call may take (default: the creature's tool_timeout; 0: no limit).",
)
@click.option(
    "--mode", type=click.Choice(["native", "meta"]), help="How creatures reach its tools."
)
@click.option("--replace", is_flag=True, help="Replace a server of the same name.")
def add(
    name: str,
    command: tuple[str, ...],
    transport: str | None,
    url: str | None,
    headers: tuple[str, ...],
    env: tuple[str, ...],
    cwd: str | None,
    connect_timeout: float | None,
    call_timeout: float | None,
    mode: str | None,
    replace: bool,
) -> None:
    """Add server NAME to the registry: a COMMAND to start (stdio), or --url.

    Values may use ${VAR} or ${VAR:default}; they are read from the environment when a
    creature starts the server, so secrets can stay out of the file.

    \b
    Examples:
      kt mcp add time -- mcp-server-time --local-timezone UTC
      kt mcp add docs --url https://docs.example.com/mcp \\
          --header "Authorization=Bearer \\${DOCS_TOKEN}"
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    from kt_mcp.settings import save_registry_server

    table: dict[str, Any] = {
        "transport": transport or ("stdio" if command else "http" if url else None),
        "command": command[0] if command else None,
        "args": list(command[1:]),
        "url": url,
        "headers": _pairs(headers, "--header"),
        "env": _pairs(env, "--env"),
        "cwd": cwd,
        "connect_timeout": connect_timeout,
        "call_timeout": call_timeout,
        "mode": mode,
    }
    path = save_registry_server(name, table, replace=replace)
    click.echo(f"added MCP server '{name}' to {path}")


@mcp.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove server NAME from the registry."""
    from kt_mcp.settings import registry_path, remove_registry_server

    if not remove_registry_server(name):
        raise click.ClickException(f"no MCP server '{name}' in {registry_path()}")
    click.echo(f"removed MCP server '{name}' from {registry_path()}")


@mcp.command("list")
@click.option(
    "--creature",
    "target",
    metavar="TARGET",
    help="Show the servers this creature uses (its entries, resolved against the registry).",
)
def list_servers(target: str | None) -> None:
    """List the registry's servers, or the servers a creature uses."""
    from kt.errors import ConfigError
    from kt_mcp.settings import (
        SettingsProblem,
        load_registry,
        registry_path,
        resolve_servers,
        settings_from_table,
    )

    rows: list[tuple[str, str, str, str, str]] = []
    if target is None:
        registry = load_registry()
        for name, table in registry.items():
            try:
                settings = settings_from_table(name, dict(table), origin="registry")
            except ConfigError as error:
                rows.append((name, "?", "?", "?", f"invalid: {error.message}"))
                continue
            rows.append(_row(settings))
        if not rows:
            click.echo(f"no MCP servers in {registry_path()}; add one with `kt mcp add`")
            return
    else:
        config = kt.load_creature_config(target, resolve_ref=_kernel().resolve_ref)
        for item in resolve_servers(config.mcp_servers, working_dir=Path.cwd()):
            if isinstance(item, SettingsProblem):
                rows.append((item.name, "?", "?", "?", f"invalid: {item.error.message}"))
            else:
                rows.append(_row(item))
        if not rows:
            click.echo(f"creature '{config.name}' has no MCP servers")
            return
    header = ("NAME", "TRANSPORT", "MODE", "FROM", "COMMAND / URL")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:4])]
        click.echo("  ".join([*cells, row[4]]).rstrip())


def _row(settings: Any) -> tuple[str, str, str, str, str]:
    return (settings.name, settings.transport, settings.mode, settings.origin, settings.target)


@mcp.command("test")
@click.argument("name")
@click.option("--creature", "target", metavar="TARGET", help="Take NAME from this creature.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help=_TIMEOUT_HELP)
def test(name: str, target: str | None, timeout: float | None) -> None:
    """Start server NAME, list its tools with their arguments, and stop it.

    Exit code 0 when it connected, 1 when it did not (the reason and the end of its stderr
    are printed).
    """
    import attrs
    import trio

    settings = _find(name, target)
    if timeout is not None:
        settings = attrs.evolve(settings, connect_timeout=timeout)
    ok = trio.run(_test, settings)
    click.get_current_context().exit(0 if ok else 1)


def _find(name: str, target: str | None) -> Any:
    from kt.config import MCPServerEntry
    from kt_mcp.settings import SettingsProblem, resolve_servers

    if target is not None:
        config = kt.load_creature_config(target, resolve_ref=_kernel().resolve_ref)
        entries = [e for e in config.mcp_servers if e.name == name]
        if not entries:
            known = ", ".join(e.name for e in config.mcp_servers) or "none"
            raise click.ClickException(
                f"creature '{config.name}' has no MCP server '{name}' (it has: {known})"
            )
    else:
        entries = [MCPServerEntry(name=name)]  # no command or url: the registry's server
    (item,) = resolve_servers(entries, working_dir=Path.cwd())
    if isinstance(item, SettingsProblem):
        raise item.error
    return item


async def _test(settings: Any) -> bool:
    import trio

    from kt_mcp.connection import ServerConnection, log_file

    async with trio.open_nursery() as nursery:
        connection = ServerConnection(settings, spawn=nursery.start, log=log_file(settings.name))
        started = trio.current_time()
        if not await connection.connect():
            click.echo(f"kt: error: {connection.error}", err=True)
            return False
        took = trio.current_time() - started
        click.echo(
            f"connected to '{settings.name}' ({settings.transport}: {settings.target}) in "
            f"{took:.1f}s; {len(connection.tools)} tools"
        )
        for tool in connection.tools:
            click.echo(f"  {tool.name}({_signature(tool.input_schema or {})})")
            if tool.description:
                click.echo(f"      {tool.description.strip().splitlines()[0]}")
        await connection.disconnect("kt mcp test")
    return True


def _signature(schema: dict[str, Any]) -> str:
    required = set(schema.get("required", ()))
    parts = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type", "any") if isinstance(prop, dict) else "any"
        kind = "|".join(kind) if isinstance(kind, list) else kind
        parts.append(f"{name}: {kind}" + ("" if name in required else "?"))
    return ", ".join(parts)


@mcp.command("serve")
@click.argument("target")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio (for clients that start the server) or http (streamable HTTP).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP: address to listen on.")
@click.option("--port", type=int, default=8765, show_default=True, help="HTTP: port (0: any).")
@click.option("--path", default="/mcp", show_default=True, help="HTTP: the endpoint's path.")
@click.option(
    "--token",
    envvar="KT_MCP_TOKEN",
    help="HTTP: the bearer token clients must send (default: $KT_MCP_TOKEN, else a new random "
    "one, printed on stderr).",
)
@click.option("--no-auth", is_flag=True, help="HTTP: accept requests without a token.")
@click.option("--expose-tools", is_flag=True, help="Also offer the creature's own tools.")
@click.option("--stateless", is_flag=True, help="Forget the conversation before each ask.")
@click.option("--llm", "llm_selector", metavar="SELECTOR", help="The model (BACKEND/MODEL).")
@click.option(
    "--pwd",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Working directory the creature's tools resolve paths against.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Time limit for each ask (default: the creature's turn_timeout).",
)
def serve(
    target: str,
    transport: str,
    host: str,
    port: int,
    path: str,
    token: str | None,
    no_auth: bool,
    expose_tools: bool,
    stateless: bool,
    llm_selector: str | None,
    pwd: Path | None,
    timeout: float | None,
) -> None:
    """Serve the creature at TARGET as an MCP server.

    Its tool ask_<name> runs one turn with the given prompt and answers with the reply;
    --expose-tools adds the creature's own tools. With --transport http, every request must
    carry "Authorization: Bearer TOKEN" unless --no-auth is given.

    \b
    Claude Desktop (claude_desktop_config.json):
      {"mcpServers": {"helper": {"command": "kt", "args": ["mcp", "serve", "/path/to/creature"]}}}
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    import trio

    if transport == "http" and not no_auth and not token:
        token = secrets.token_urlsafe(24)
        click.echo(f"kt: bearer token for this server: {token}", err=True)
    kernel = _kernel()
    trio.run(
        partial(
            _serve,
            target,
            kernel=kernel,
            transport=transport,
            host=host,
            port=port,
            path=path,
            token=None if no_auth else token,
            expose_tools=expose_tools,
            stateless=stateless,
            llm_selector=llm_selector,
            pwd=pwd,
            timeout=kt.USE_CONFIG if timeout is None else timeout,
        )
    )


async def _serve(target: str, *, kernel: kt.Kernel, transport: str, **options: Any) -> None:
    import signal

    import trio

    from kt_mcp.serve import build_server, serve_http, serve_stdio

    agent = await kt.Agent.build(
        target,
        kernel=kernel,
        llm_selector=options["llm_selector"],
        pwd=options["pwd"],
        output=None,  # stdout is the protocol (stdio) or unused (http)
    )
    async with agent, trio.open_nursery() as nursery:
        server = build_server(
            agent,
            expose_tools=options["expose_tools"],
            stateless=options["stateless"],
            turn_timeout=options["timeout"],
        )

        async def stop_on_sigterm() -> None:
            with trio.open_signal_receiver(signal.SIGTERM) as signals:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    return

        nursery.start_soon(stop_on_sigterm)

        async def announce(url: str) -> None:
            click.echo(f"kt: serving creature '{agent.name}' over MCP at {url}", err=True)
            sys.stderr.flush()

        if transport == "stdio":
            await serve_stdio(server)
        else:
            await serve_http(
                server,
                host=options["host"],
                port=options["port"],
                path=options["path"],
                token=options["token"],
                on_ready=announce,
            )
        nursery.cancel_scope.cancel()
