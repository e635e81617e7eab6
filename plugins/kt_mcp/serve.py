"""Serving creatures as an MCP server: ``kt mcp serve TARGET``, and a ``kt serve`` host.

Each served creature becomes one MCP tool, ``ask_<name>``, whose call runs one turn and answers
with the turn's reply. One creature (:func:`build_server`) may offer its own tools too
(``expose_tools``), each called through :meth:`kt.Agent.call_tool`, so argument validation,
``kt_pre_tool_call`` vetoes (a guard plugin), the unsafe-tool lock, timeouts and output caps
apply as in a turn. A group (:func:`build_group_server`: the members of a terrarium, the live
creatures of a ``kt serve`` host) is read again on every request, so creatures that come and go
come and go from the lists.

The server also offers each creature's own material. Resources: ``kt://<name>/system-prompt``
(the assembled system prompt) and ``kt://<name>/conversation`` (the conversation so far, as
Markdown). Prompts: each Markdown file of the creature folder's ``prompts/`` that is not part
of its system prompt, named by its stem (``<name>__<stem>`` in a group), with its
``{placeholders}`` as required arguments.

Two transports: stdio (what Claude Desktop, Codex and most clients start as a subprocess) and
streamable HTTP, served by Hypercorn on trio in the creature's own event loop, behind a bearer
token. Every ``ask_<name>`` call continues the creature's one conversation unless the server
is ``stateless``; calls are queued, one turn at a time, like every input of a creature.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import attrs
import trio

import kt
from kt_mcp.errors import require_mcp_extra

__all__ = [
    "CreatureMaterial",
    "ServedCreature",
    "allowed_hosts",
    "ask_tool_name",
    "build_group_server",
    "build_server",
    "is_loopback",
    "serve_http",
    "serve_stdio",
    "with_bearer_token",
]

_ASK_SCHEMA = {
    "type": "object",
    "properties": {
        "prompt": {
            "type": "string",
            "description": "What to ask or tell the creature: one message, as a user writes it.",
        }
    },
    "required": ["prompt"],
}


def ask_tool_name(creature: str) -> str:
    """``ask_<name>``, with characters MCP clients refuse in tool names replaced by ``_``."""
    return "ask_" + re.sub(r"[^A-Za-z0-9_-]", "_", creature)[:60]


@attrs.frozen
class ServedCreature:
    """One creature an MCP server offers as ``ask_<name>``.

    Attributes:
        name: The name it is served by (a terrarium creature's id): its tool is
            ``ask_<name>``, its resources ``kt://<name>/...``.
        runner: What runs its turns: the :class:`kt.Agent`, or a terrarium's creature handle
            (``await runner.run(prompt, timeout=...)``, queued one turn at a time).
        agent: Its agent when it runs in this process (description, history, prompts);
            ``None`` for a creature hosted elsewhere, which offers its tool only.
    """

    name: str
    runner: Any
    agent: kt.Agent | None


def build_server(
    agent: kt.Agent,
    *,
    expose_tools: bool = False,
    stateless: bool = False,
    turn_timeout: float | None | Any = kt.USE_CONFIG,
) -> Any:
    """An MCP server (the SDK's low-level ``mcp.server.Server``) for a running *agent*.

    Args:
        agent: The creature, started.
        expose_tools: Offer the creature's own tools beside ``ask_<name>``.
        stateless: Clear the creature's history before each ``ask_<name>`` call, so calls do
            not see each other.
        turn_timeout: Limit for each turn (default: the creature's ``turn_timeout``).

    Returns:
        The server; run it with :func:`serve_stdio` or :func:`serve_http`.

    Raises:
        MCPConfigError: the ``mcp`` extra is not installed.
    """
    return build_group_server(
        lambda: [ServedCreature(agent.name, agent, agent)],
        name=f"kt-{agent.name}",
        instructions=_description(agent),
        expose_tools_of=agent if expose_tools else None,
        stateless=stateless,
        turn_timeout=turn_timeout,
        group=False,
    )


def build_group_server(
    creatures: Callable[[], Sequence[ServedCreature]],
    *,
    name: str,
    instructions: str,
    expose_tools_of: kt.Agent | None = None,
    stateless: bool = False,
    turn_timeout: float | None | Any = kt.USE_CONFIG,
    group: bool = True,
) -> Any:
    """An MCP server offering every creature *creatures* returns, each as ``ask_<name>``.

    *creatures* is called on every request, so the server follows a group whose creatures
    change (a terrarium's root adding one; sessions started and stopped on a ``kt serve``
    host). Over a long-lived connection a client sees a change when it lists again.

    Args:
        creatures: Returns the creatures served now (names unique; the first of a clash wins).
        name: The server's name in the MCP handshake.
        instructions: What the server is, for the client's model.
        expose_tools_of: Also offer this creature's own tools (one creature's server).
        stateless: Clear a creature's history before each of its ``ask_<name>`` calls.
        turn_timeout: Limit for each turn (default: each creature's ``turn_timeout``).
        group: Name prompts ``<creature>__<prompt>`` (several creatures' prompts side by side).

    Returns:
        The server; run it with :func:`serve_stdio` or :func:`serve_http`.

    Raises:
        MCPConfigError: the ``mcp`` extra is not installed.
    """
    require_mcp_extra("mcp")
    import mcp.types as types
    from mcp.server import Server
    from mcp.shared.exceptions import MCPError

    own_tools = _own_tools(expose_tools_of) if expose_tools_of is not None else {}

    def asks() -> dict[str, ServedCreature]:
        found: dict[str, ServedCreature] = {}
        for creature in creatures():
            found.setdefault(ask_tool_name(creature.name), creature)
        return found

    def materials() -> list[CreatureMaterial]:
        return [
            CreatureMaterial(c.agent, name=c.name, qualify_prompts=group)
            for c in asks().values()
            if c.agent is not None
        ]

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        served = asks()
        tools = [_ask_tool(tool, creature) for tool, creature in served.items()]
        tools += [tool for tool_name, tool in own_tools.items() if tool_name not in served]
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        served = asks()
        if params.name in served:
            creature = served[params.name]
            return await _ask(creature, arguments, stateless=stateless, timeout=turn_timeout)
        if params.name not in own_tools or expose_tools_of is None:
            known = ", ".join(sorted([*served, *own_tools])) or "none"
            return _result(f"unknown tool '{params.name}'; this server offers: {known}", True)
        record = await expose_tools_of.call_tool(params.name, arguments)
        if record.status == "ok":
            return _result(record.output, False)
        return _result(record.error or record.status, True)

    async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[r for m in materials() for r in m.resources()])

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> Any:
        uri = str(params.uri)
        found = materials()
        for material in found:
            if uri.startswith(material.base + "/"):
                return material.read(uri)
        _no_resource(uri, found)

    async def list_prompts(ctx: Any, params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[p for m in materials() for p in m.prompts()])

    async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> Any:
        found = materials()
        for material in found:
            if material.owns_prompt(params.name):
                return material.prompt(params.name, dict(params.arguments or {}))
        known = ", ".join(p.name for m in found for p in m.prompts()) or "none"
        raise MCPError(types.INVALID_PARAMS, f"no prompt '{params.name}'; the prompts: {known}")

    return Server(
        name,
        version=kt.__version__,
        instructions=instructions,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


def _description(agent: kt.Agent) -> str:
    return agent.config.description or f"The KT creature '{agent.name}'."


def _ask_tool(tool_name: str, creature: ServedCreature) -> Any:
    import mcp.types as types

    if creature.agent is not None:
        about = _description(creature.agent)
    else:
        about = f"The KT creature '{creature.name}' (hosted on another machine)."
    return types.Tool(
        name=tool_name,
        description=(
            f"Ask the KT creature '{creature.name}': {about} It works on the prompt "
            "(using its own tools and model) and answers with its reply."
        ),
        input_schema=_ASK_SCHEMA,
    )


def _own_tools(agent: kt.Agent) -> dict[str, Any]:
    """*agent*'s tools as MCP tools; ``run_in_background`` is the kernel's, not a client's."""
    import mcp.types as types

    tools = {}
    for spec in agent.tools.values():
        schema = dict(spec.parameters)
        schema["properties"] = {
            k: v for k, v in schema.get("properties", {}).items() if k != "run_in_background"
        }
        tools[spec.name] = types.Tool(
            name=spec.name, description=spec.description, input_schema=schema
        )
    return tools


def _no_resource(uri: str, materials: Sequence[CreatureMaterial]) -> NoReturn:
    import mcp.types as types
    from mcp.shared.exceptions import MCPError

    known = ", ".join(str(r.uri) for m in materials for r in m.resources()) or "none"
    raise MCPError(types.INVALID_PARAMS, f"no resource {uri}; this server offers {known}")


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class CreatureMaterial:
    """What a served creature offers besides tools: its resources and its prompts.

    Read on each request, so a client sees the conversation as it is now, and prompt files
    edited while the server runs.

    Args:
        agent: The served creature.
        name: The name it is served by (default: the agent's).
        qualify_prompts: Name its prompts ``<name>__<stem>`` (a group's server), not ``<stem>``.
    """

    def __init__(
        self, agent: kt.Agent, *, name: str | None = None, qualify_prompts: bool = False
    ) -> None:
        self.agent = agent
        self.name = name or agent.name
        self.base = f"kt://{re.sub(r'[^A-Za-z0-9_.-]', '_', self.name)}"
        self.prefix = f"{self.name}__" if qualify_prompts else ""

    def resources(self) -> list[Any]:
        """The resources: the system prompt and the conversation."""
        import mcp.types as types

        name = self.name
        return [
            types.Resource(
                uri=f"{self.base}/system-prompt",
                name="system-prompt",
                description=f"The system prompt of the creature '{name}', as assembled.",
                mime_type="text/markdown",
            ),
            types.Resource(
                uri=f"{self.base}/conversation",
                name="conversation",
                description=f"The conversation of the creature '{name}' so far.",
                mime_type="text/markdown",
            ),
        ]

    def read(self, uri: str) -> Any:
        """Read resource *uri*.

        Raises:
            mcp.shared.exceptions.MCPError: no such resource (``INVALID_PARAMS``).
        """
        import mcp.types as types

        if uri == f"{self.base}/system-prompt":
            text = self.agent.system_prompt or ""
        elif uri == f"{self.base}/conversation":
            text = _transcript(self.agent.history)
        else:
            _no_resource(uri, [self])
        contents = types.TextResourceContents(uri=uri, mime_type="text/markdown", text=text)
        return types.ReadResourceResult(contents=[contents])

    def _prompt_files(self) -> dict[str, Path]:
        folder = self.agent.config.folder
        if folder is None or not (Path(folder) / "prompts").is_dir():
            return {}
        used = {Path(f).resolve() for f in self.agent.config.system_prompt_files}
        return {
            self.prefix + file.stem: file
            for file in sorted((Path(folder) / "prompts").glob("*.md"))
            if file.resolve() not in used
        }

    def prompts(self) -> list[Any]:
        """One prompt per prompt file; its ``{placeholders}`` are its arguments."""
        import mcp.types as types

        found = []
        for name, file in self._prompt_files().items():
            text = file.read_text(encoding="utf-8")
            first = next(
                (line.strip("# ").strip() for line in text.splitlines() if line.strip()), ""
            )
            arguments = [
                types.PromptArgument(name=arg, required=True)
                for arg in dict.fromkeys(_PLACEHOLDER.findall(text))
            ]
            found.append(types.Prompt(name=name, description=first[:200], arguments=arguments))
        return found

    def owns_prompt(self, name: str) -> bool:
        """Whether prompt *name* is one of this creature's."""
        return name in self._prompt_files()

    def prompt(self, name: str, arguments: dict[str, str]) -> Any:
        """Prompt *name* with *arguments* filled in, as one user message.

        Raises:
            mcp.shared.exceptions.MCPError: no such prompt, or an argument is missing.
        """
        import mcp.types as types
        from mcp.shared.exceptions import MCPError

        file = self._prompt_files().get(name)
        if file is None:
            known = ", ".join(self._prompt_files()) or "none"
            raise MCPError(types.INVALID_PARAMS, f"no prompt '{name}'; the prompts: {known}")
        text = file.read_text(encoding="utf-8")
        missing = [a for a in dict.fromkeys(_PLACEHOLDER.findall(text)) if a not in arguments]
        if missing:
            raise MCPError(
                types.INVALID_PARAMS, f"prompt '{name}' needs the arguments: {', '.join(missing)}"
            )
        filled = _PLACEHOLDER.sub(lambda m: arguments[m.group(1)], text)
        message = types.PromptMessage(
            role="user", content=types.TextContent(type="text", text=filled)
        )
        return types.GetPromptResult(description=name, messages=[message])


def _transcript(history: list[Any]) -> str:
    """The conversation as Markdown: one section per message, tool calls named."""
    sections = []
    for message in history:
        content = message.content
        if not isinstance(content, str):
            content = "\n".join(part.text or "[image]" for part in content)
        calls = "".join(f"\n[calls {call.name}]" for call in message.tool_calls)
        sections.append(f"## {message.role}\n\n{content}{calls}".rstrip())
    return "\n\n".join(sections) or "(no conversation yet)"


async def _ask(
    creature: ServedCreature, arguments: dict[str, Any], *, stateless: bool, timeout: Any
) -> Any:
    prompt = arguments.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return _result("give the prompt: a non-empty string argument 'prompt'", True)
    if stateless and creature.agent is not None:
        await creature.agent.clear_history(reason="mcp_stateless")
    result = await creature.runner.run(prompt, timeout=timeout)
    if result.status == "completed":
        return _result(result.text or result.output, False, structured=_summary(result))
    why = f": {type(result.error).__name__}: {result.error}" if result.error else ""
    reason = f" ({result.reason})" if result.reason else ""
    text = f"the creature's turn ended with status '{result.status}'{reason}{why}"
    if result.text:
        text += f"\nIts last reply: {result.text}"
    return _result(text, True, structured=_summary(result))


def _summary(result: Any) -> dict[str, Any]:
    return {
        "status": result.status,
        "text": result.text,
        "tool_calls": [{"name": c.name, "status": c.status} for c in result.tool_calls],
        "iterations": result.iterations,
    }


def _result(text: str, is_error: bool, structured: dict[str, Any] | None = None) -> Any:
    import mcp.types as types

    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text or "(no output)")],
        is_error=is_error,
        structured_content=structured,
    )


async def serve_stdio(server: Any) -> None:
    """Serve *server* over this process's stdin and stdout until the client closes stdin.

    While it serves, file descriptor 1 points at stderr, so nothing else the process prints
    can corrupt the protocol.
    """
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def is_loopback(host: str) -> bool:
    """Whether *host* (an address or ``localhost``) is reachable from this machine only."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def allowed_hosts(host: str, extra: Sequence[str] = ()) -> list[str]:
    """The ``Host`` header values the server accepts, with any port.

    Always the loopback names, the address it listens on (unless that is a wildcard such as
    ``0.0.0.0``, which is no name a client uses), and the names in *extra*. Checking the
    header always, also on loopback, keeps a web page from reaching the server through a
    name it rebinds to 127.0.0.1 (DNS rebinding).
    """
    names = ["127.0.0.1", "localhost", "[::1]"]
    if host not in ("0.0.0.0", "::", "[::]", ""):  # noqa: S104 (compared, not bound)
        names.append(f"[{host}]" if ":" in host and not host.startswith("[") else host)
    names += [name for name in extra if name not in names]
    return [form for name in names for form in (name, f"{name}:*")]


async def serve_http(
    server: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    path: str = "/mcp",
    token: str | None = None,
    extra_hosts: Sequence[str] = (),
    on_ready: Callable[[str], Awaitable[None] | None] | None = None,
) -> None:
    """Serve *server* over streamable HTTP at ``http://HOST:PORT/PATH`` until cancelled.

    Every request's ``Host`` header is checked (see :func:`allowed_hosts`): a request naming
    another host gets ``421``, and one from a browser page of another origin gets ``403``.

    Args:
        server: The server from :func:`build_server`.
        host: The address to listen on (``127.0.0.1``: this machine only).
        port: The port; ``0`` picks a free one.
        path: The endpoint's path.
        token: The bearer token every request must carry (``Authorization: Bearer TOKEN``);
            ``None`` serves without authentication.
        extra_hosts: More names clients may reach the server by (a DNS name of this machine).
        on_ready: Called with the endpoint URL once the server listens.
    """
    require_mcp_extra("mcp", "hypercorn")
    from hypercorn.config import Config
    from hypercorn.trio import serve
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = allowed_hosts(host, extra_hosts)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")],
    )
    app = server.streamable_http_app(
        streamable_http_path=path, host=host, transport_security=security
    )
    if token is not None:
        app = with_bearer_token(app, token)
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 2.0
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, config)
        url = binds[0].rstrip("/") + path
        if on_ready is not None:
            waited = on_ready(url)
            if waited is not None:
                await waited


def with_bearer_token(app: Any, token: str) -> Any:
    """Wrap an ASGI *app* so HTTP requests without ``Authorization: Bearer <token>`` get 401.

    The scheme may be written in any case (``bearer``); the token comparison takes constant
    time. Lifespan messages pass through untouched.
    """
    expected = token.encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = b""
            for key, value in scope.get("headers", ()):
                if key.lower() == b"authorization":
                    scheme, _, credentials = value.strip().partition(b" ")
                    # The scheme is case-insensitive (RFC 9110): "bearer" is as good as "Bearer".
                    given = credentials.strip() if scheme.lower() == b"bearer" else b""
                    break
            if not hmac.compare_digest(given, expected):
                body = b'{"error": "unauthorized: send Authorization: Bearer <token>"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="kt-mcp"'),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded
