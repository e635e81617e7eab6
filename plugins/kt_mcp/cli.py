"""``kt mcp``: manage the global MCP registry, test servers, serve creatures over MCP.

Added to the ``kt`` command by the plugin's ``kt_cli_commands`` hook. The commands use the
invocation's kernel when the ``kt`` command provides one (``--plugins`` / ``--no-plugins``),
found on the click context, so this module does not import ``kt_cli``.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import click

import kt

UNSAFE_FLAG = "--dangerously-allow-unauthenticated-network-access"
"""The flag that lets ``kt mcp serve --no-auth`` listen on an address other machines reach."""

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
@click.option(
    "--auth",
    type=click.Choice(["oauth"]),
    help="oauth: log in with `kt mcp login NAME` (HTTP servers).",
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
    auth: str | None,
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
        "auth": auth,
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


@mcp.command("import")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace registry servers of the same name.")
@click.option("--dry-run", is_flag=True, help="Report what would be imported; write nothing.")
def import_command(paths: tuple[Path, ...], replace: bool, dry_run: bool) -> None:
    """Import servers from Claude Desktop, Claude Code or Cursor into the registry.

    Reads the mcpServers of each PATH, or, without PATH, of every file those clients keep in
    their usual places (see docs/reference/mcp.md). Prints each server imported, and each one
    skipped with the reason.

    \b
    Examples:
      kt mcp import
      kt mcp import ~/.config/Claude/claude_desktop_config.json --dry-run
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    from kt_mcp.importing import import_servers
    from kt_mcp.settings import registry_path

    report = import_servers(list(paths) or None, replace=replace, dry_run=dry_run)
    for path in report.read:
        click.echo(f"read {path}")
    verb = "would import" if dry_run else "imported"
    for name, target, _source, ignored in report.imported:
        unused = f" (ignored: {', '.join(ignored)})" if ignored else ""
        click.echo(f"{verb} '{name}': {target}{unused}")
    for name, source, reason in report.skipped:
        click.echo(f"skipped '{name}' from {source}: {reason}")
    where = "nothing written" if dry_run else f"registry: {registry_path()}"
    click.echo(f"{len(report.imported)} imported, {len(report.skipped)} skipped; {where}")


@mcp.command("enable")
@click.argument("name")
def enable(name: str) -> None:
    """Offer registry server NAME to the creatures that name it again."""
    _set_enabled(name, True)


@mcp.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Keep registry server NAME from creatures (they start without it), without removing it."""
    _set_enabled(name, False)


def _set_enabled(name: str, enabled: bool) -> None:
    from kt_mcp.settings import registry_path, set_registry_enabled

    if not set_registry_enabled(name, enabled):
        raise click.ClickException(f"no MCP server '{name}' in {registry_path()}")
    click.echo(f"{'enabled' if enabled else 'disabled'} MCP server '{name}' in {registry_path()}")


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
            row = _row(settings)
            if table.get("enabled") is False:
                row = (*row[:4], f"{row[4]} (disabled: kt mcp enable {name})")
            rows.append(row)
        if not rows:
            click.echo(f"no MCP servers in {registry_path()}; add one with `kt mcp add`")
            return
    else:
        from kt_mcp.manager import PLUGIN

        config = kt.load_creature_config(target, resolve_ref=_kernel().resolve_ref)
        options = {e.name: e.options for e in config.plugins}.get(PLUGIN, {})
        default_mode = str(options.get("mode", "native"))  # what the running creature uses
        servers = resolve_servers(
            config.mcp_servers, working_dir=Path.cwd(), default_mode=default_mode
        )
        for item in servers:
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


@mcp.command("check")
@click.argument("target", required=False)
@click.option("--online", is_flag=True, help="Also start each server and list its tools.")
def check(target: str | None, online: bool) -> None:
    """Check the MCP servers the creature at TARGET uses (without TARGET: the registry's).

    The same lines as `kt doctor`: settings that can be used, a command that exists, an
    http(s) URL; with --online, each server is started and listed. Exit code 1 when any fails.
    """
    from kt_mcp.checks import registry_checks, server_checks

    if target is None:
        checks = registry_checks(online=online)
    else:
        config = kt.load_creature_config(target, resolve_ref=_kernel().resolve_ref)
        checks = server_checks(config.mcp_servers, online=online)
    if not checks:
        click.echo("no MCP servers to check")
    for item in checks:
        click.echo(f"{item.status:<5} {item.subject}: {item.detail}")
        if item.fix and item.status != "OK":
            click.echo(f"      fix: {item.fix}")
    click.get_current_context().exit(1 if any(c.status == "FAIL" for c in checks) else 0)


@mcp.command("test")
@click.argument("name")
@click.option("--creature", "target", metavar="TARGET", help="Take NAME from this creature.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help=_TIMEOUT_HELP)
def test(name: str, target: str | None, timeout: float | None) -> None:
    """Start server NAME, list its tools with their arguments, and stop it.

    Exit code 0 when it connected, 1 when it did not (the reason and the end of its stderr
    are printed).
    """
    import trio

    settings = _with_timeout(_find(name, target), timeout)
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


@asynccontextmanager
async def _connected(settings: Any) -> AsyncIterator[Any]:
    """A connection to *settings*' server for one command; ``None`` when it failed (reported)."""
    import trio

    from kt_mcp.connection import ServerConnection, log_file
    from kt_mcp.oauth import creature_auth

    auth = partial(creature_auth, settings) if settings.auth else None
    async with trio.open_nursery() as nursery:
        connection = ServerConnection(
            settings, spawn=nursery.start, log=log_file(settings.name), auth=auth
        )
        if not await connection.connect():
            click.echo(f"kt: error: {connection.error}", err=True)
            yield None
            return
        try:
            yield connection
        finally:
            await connection.disconnect(f"kt mcp {click.get_current_context().info_name}")


async def _test(settings: Any) -> bool:
    import trio

    started = trio.current_time()
    async with _connected(settings) as connection:
        if connection is None:
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
        if connection.resources or connection.resource_templates:
            count = len(connection.resources) + len(connection.resource_templates)
            click.echo(f"  {count} resources: kt mcp resources {settings.name}")
        if connection.prompts:
            click.echo(f"  {len(connection.prompts)} prompts: kt mcp prompts {settings.name}")
    return True


@mcp.command("resources")
@click.argument("name")
@click.argument("uri", required=False)
@click.option("--creature", "target", metavar="TARGET", help="Take NAME from this creature.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help=_TIMEOUT_HELP)
def resources(name: str, uri: str | None, target: str | None, timeout: float | None) -> None:
    """List server NAME's resources, or print the resource at URI.

    \b
    Examples:
      kt mcp resources docs
      kt mcp resources docs "docs://guides/intro.md"
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    import trio

    settings = _with_timeout(_find(name, target), timeout)
    code = trio.run(_resources, settings, uri)
    click.get_current_context().exit(code)


async def _resources(settings: Any, uri: str | None) -> int:
    from kt_mcp.tools import describe_resources, map_resource

    async with _connected(settings) as connection:
        if connection is None:
            return 1
        if uri is None:
            click.echo(describe_resources(connection))
            return 0
        try:
            result = await connection.read_resource(uri)
        except Exception as exc:  # the server refused: say what it said
            click.echo(
                f"kt: error: MCP server '{settings.name}' cannot read {uri}: {exc}", err=True
            )
            return 1
        output = map_resource(result, server=settings.name).output
        if isinstance(output, str):
            click.echo(output)
        else:  # text and images: the images are named, not dumped on the terminal
            click.echo("\n".join(part.text or "[image]" for part in output))
    return 0


@mcp.command("prompts")
@click.argument("name")
@click.argument("prompt", required=False)
@click.option("--arg", "args", multiple=True, metavar="NAME=VALUE", help="A prompt argument.")
@click.option("--creature", "target", metavar="TARGET", help="Take NAME from this creature.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help=_TIMEOUT_HELP)
def prompts(
    name: str, prompt: str | None, args: tuple[str, ...], target: str | None, timeout: float | None
) -> None:
    """List server NAME's prompts with their arguments, or print PROMPT filled in.

    \b
    Examples:
      kt mcp prompts review
      kt mcp prompts review code_review --arg code="print(1)"
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    import trio

    settings = _with_timeout(_find(name, target), timeout)
    code = trio.run(_prompts, settings, prompt, _pairs(args, "--arg"))
    click.get_current_context().exit(code)


async def _prompts(settings: Any, prompt: str | None, arguments: dict[str, str]) -> int:
    from kt_mcp.tools import describe_prompts, prompt_text

    async with _connected(settings) as connection:
        if connection is None:
            return 1
        if prompt is None:
            click.echo(describe_prompts(connection))
            return 0
        try:
            result = await connection.get_prompt(prompt, arguments)
        except Exception as exc:  # the server refused: an unknown prompt, a missing argument
            click.echo(
                f"kt: error: MCP server '{settings.name}' refused the prompt '{prompt}': {exc}",
                err=True,
            )
            return 1
        click.echo(prompt_text(result))
    return 0


@mcp.command("login")
@click.argument("name")
@click.option("--creature", "target", metavar="TARGET", help="Take NAME from this creature.")
@click.option("--no-browser", is_flag=True, help="Print the URL to open instead of opening it.")
def login_command(name: str, target: str | None, no_browser: bool) -> None:
    """Log in to the HTTP server NAME with OAuth, and keep its tokens for creatures.

    Opens the server's authorization page in the browser and waits for it to come back to
    kt on a loopback port. The tokens go to ~/.kt/mcp-auth/NAME.json (readable by you only)
    and are refreshed when they run out. Give the server auth = "oauth" (kt mcp add NAME
    --url URL --auth oauth) so creatures use them.
    """
    import trio

    from kt_mcp.oauth import login

    settings = _find(name, target)

    async def open_url(url: str) -> None:
        click.echo(f"kt: open this page to log in to '{name}':\n  {url}", err=True)
        if not no_browser:
            import webbrowser

            await trio.to_thread.run_sync(webbrowser.open, url)

    ok, told = trio.run(partial(login, settings, open_url=open_url))
    if not ok:
        click.echo(f"kt: error: {told}", err=True)
        click.get_current_context().exit(1)
    click.echo(told)


@mcp.command("logout")
@click.argument("name")
def logout_command(name: str) -> None:
    """Forget the OAuth tokens of server NAME."""
    from kt_mcp.oauth import logout, token_file

    if not logout(name):
        raise click.ClickException(f"no tokens for MCP server '{name}' ({token_file(name)})")
    click.echo(f"forgot the tokens of MCP server '{name}'")


def _with_timeout(settings: Any, timeout: float | None) -> Any:
    import attrs

    return settings if timeout is None else attrs.evolve(settings, connect_timeout=timeout)


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
@click.option(
    "--no-auth",
    is_flag=True,
    help="HTTP: accept requests without a token (on a loopback address only, unless "
    f"{UNSAFE_FLAG} is given too).",
)
@click.option(
    UNSAFE_FLAG,
    "unsafe_network",
    is_flag=True,
    help="HTTP: allow --no-auth on an address other machines can reach. Anyone who can reach "
    "the port can then run the creature (and, with --expose-tools, its tools).",
)
@click.option(
    "--allowed-host",
    "extra_hosts",
    multiple=True,
    metavar="NAME",
    help="HTTP: another name clients reach the server by (checked against the Host header; "
    "loopback names and the --host address are always allowed).",
)
@click.option("--expose-tools", is_flag=True, help="Also offer the creature's own tools.")
@click.option(
    "--members",
    is_flag=True,
    help="A terrarium recipe: serve every creature of it as its own ask_<name> tool (default: "
    "its root alone).",
)
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
    unsafe_network: bool,
    extra_hosts: tuple[str, ...],
    expose_tools: bool,
    members: bool,
    stateless: bool,
    llm_selector: str | None,
    pwd: Path | None,
    timeout: float | None,
) -> None:
    """Serve the creature at TARGET, or the terrarium recipe at TARGET, as an MCP server.

    Its tool ask_<name> runs one turn with the given prompt and answers with the reply;
    --expose-tools adds the creature's own tools. A recipe runs as a terrarium and is served
    by its root (ask_<root>), or with --members by every creature (ask_<name> each). With
    --transport http, every request must carry "Authorization: Bearer TOKEN" unless --no-auth
    is given.

    \b
    Claude Desktop (claude_desktop_config.json):
      {"mcpServers": {"helper": {"command": "kt", "args": ["mcp", "serve", "/path/to/creature"]}}}
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    import trio

    from kt_mcp.hosting import is_recipe
    from kt_mcp.serve import is_loopback

    kernel = _kernel()
    recipe = is_recipe(target, kernel)
    if members and not recipe:
        raise click.UsageError(
            f"--members serves the creatures of a terrarium recipe; {target} is a creature"
        )
    if transport == "http" and no_auth and not is_loopback(host):
        if not unsafe_network:
            raise click.UsageError(
                f"--no-auth on {host} would let anyone who can reach this machine's port {port} "
                "run the creature. Serve with a token (--token or KT_MCP_TOKEN), bind "
                f"127.0.0.1, or, if you really mean it, add {UNSAFE_FLAG}"
            )
        click.echo(
            f"kt: WARNING: serving without authentication on {host}: anyone who can reach "
            f"port {port} can run this creature" + (" and its tools" if expose_tools else ""),
            err=True,
        )
    if transport == "http" and not no_auth and not token:
        token = secrets.token_urlsafe(24)
        click.echo(f"kt: bearer token for this server: {token}", err=True)
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
            extra_hosts=extra_hosts,
            expose_tools=expose_tools,
            recipe=recipe,
            members=members,
            stateless=stateless,
            llm_selector=llm_selector,
            pwd=pwd,
            timeout=kt.USE_CONFIG if timeout is None else timeout,
        )
    )


async def _serve(target: str, *, kernel: kt.Kernel, transport: str, **options: Any) -> None:
    import signal

    import trio

    from kt_mcp.serve import serve_http, serve_stdio

    async with _served(target, kernel=kernel, **options) as (server, about):
        async with trio.open_nursery() as nursery:

            async def stop_on_sigterm() -> None:
                with trio.open_signal_receiver(signal.SIGTERM) as signals:
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        return

            nursery.start_soon(stop_on_sigterm)

            async def announce(url: str) -> None:
                click.echo(f"kt: serving {about} over MCP at {url}", err=True)
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
                    extra_hosts=options["extra_hosts"],
                    on_ready=announce,
                )
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def _served(target: str, *, kernel: kt.Kernel, **options: Any) -> AsyncIterator[Any]:
    """The MCP server for TARGET, a creature or a recipe, and what it serves (for messages)."""
    from kt_mcp.hosting import recipe_server
    from kt_mcp.serve import build_server

    if options["recipe"]:
        async with recipe_server(
            target,
            kernel=kernel,
            members=options["members"],
            expose_tools=options["expose_tools"],
            stateless=options["stateless"],
            turn_timeout=options["timeout"],
            llm_selector=options["llm_selector"],
            pwd=options["pwd"],
        ) as served:
            yield served
        return
    agent = await kt.Agent.build(
        target,
        kernel=kernel,
        llm_selector=options["llm_selector"],
        pwd=options["pwd"],
        output=None,  # stdout is the protocol (stdio) or unused (http)
    )
    async with agent:
        server = build_server(
            agent,
            expose_tools=options["expose_tools"],
            stateless=options["stateless"],
            turn_timeout=options["timeout"],
        )
        yield server, f"creature '{agent.name}'"
