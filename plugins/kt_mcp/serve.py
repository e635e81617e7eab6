"""Serving a creature as an MCP server: ``kt mcp serve TARGET``.

The creature becomes one MCP tool, ``ask_<name>``, whose call runs one turn and answers with
the turn's reply; with ``expose_tools`` the creature's own tools are offered too, each called
through :meth:`kt.Agent.call_tool`, so argument validation, ``kt_pre_tool_call`` vetoes (a
guard plugin), the unsafe-tool lock, timeouts and output caps apply as in a turn.

The server also offers the creature's own material. Resources: ``kt://<name>/system-prompt``
(the assembled system prompt) and ``kt://<name>/conversation`` (the conversation so far, as
Markdown). Prompts: each Markdown file of the creature folder's ``prompts/`` that is not part
of its system prompt, named by its stem, with its ``{placeholders}`` as required arguments.

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
from typing import Any

import trio

import kt
from kt_mcp.errors import require_mcp_extra

__all__ = [
    "CreatureMaterial",
    "allowed_hosts",
    "ask_tool_name",
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
    require_mcp_extra("mcp")
    import mcp.types as types
    from mcp.server import Server

    ask = ask_tool_name(agent.name)
    description = agent.config.description or f"The KT creature '{agent.name}'."
    tools = [
        types.Tool(
            name=ask,
            description=(
                f"Ask the KT creature '{agent.name}': {description} It works on the prompt "
                "(using its own tools and model) and answers with its reply."
            ),
            input_schema=_ASK_SCHEMA,
        )
    ]
    if expose_tools:
        for spec in agent.tools.values():
            if spec.name == ask:
                continue
            schema = dict(spec.parameters)
            schema["properties"] = {
                k: v for k, v in schema.get("properties", {}).items() if k != "run_in_background"
            }
            tools.append(
                types.Tool(name=spec.name, description=spec.description, input_schema=schema)
            )
    offered = {tool.name for tool in tools}
    material = CreatureMaterial(agent)

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        if params.name == ask:
            return await _ask(agent, arguments, stateless=stateless, timeout=turn_timeout)
        if params.name not in offered:
            known = ", ".join(sorted(offered))
            return _result(f"unknown tool '{params.name}'; this server offers: {known}", True)
        record = await agent.call_tool(params.name, arguments)
        if record.status == "ok":
            return _result(record.output, False)
        return _result(record.error or record.status, True)

    async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=material.resources())

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> Any:
        return material.read(str(params.uri))

    async def list_prompts(ctx: Any, params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=material.prompts())

    async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> Any:
        return material.prompt(params.name, dict(params.arguments or {}))

    return Server(
        f"kt-{agent.name}",
        version=kt.__version__,
        instructions=description,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class CreatureMaterial:
    """What a served creature offers besides tools: its resources and its prompts.

    Read on each request, so a client sees the conversation as it is now, and prompt files
    edited while the server runs.

    Args:
        agent: The served creature.
    """

    def __init__(self, agent: kt.Agent) -> None:
        self.agent = agent
        self.base = f"kt://{re.sub(r'[^A-Za-z0-9_.-]', '_', agent.name)}"

    def resources(self) -> list[Any]:
        """The resources: the system prompt and the conversation."""
        import mcp.types as types

        name = self.agent.name
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
        from mcp.shared.exceptions import MCPError

        if uri == f"{self.base}/system-prompt":
            text = self.agent.system_prompt or ""
        elif uri == f"{self.base}/conversation":
            text = _transcript(self.agent.history)
        else:
            known = ", ".join(str(r.uri) for r in self.resources())
            raise MCPError(types.INVALID_PARAMS, f"no resource {uri}; this server offers {known}")
        contents = types.TextResourceContents(uri=uri, mime_type="text/markdown", text=text)
        return types.ReadResourceResult(contents=[contents])

    def _prompt_files(self) -> dict[str, Path]:
        folder = self.agent.config.folder
        if folder is None or not (Path(folder) / "prompts").is_dir():
            return {}
        used = {Path(f).resolve() for f in self.agent.config.system_prompt_files}
        return {
            file.stem: file
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


async def _ask(agent: kt.Agent, arguments: dict[str, Any], *, stateless: bool, timeout: Any) -> Any:
    prompt = arguments.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return _result("give the prompt: a non-empty string argument 'prompt'", True)
    if stateless:
        await agent.clear_history(reason="mcp_stateless")
    result = await agent.run(prompt, timeout=timeout)
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
