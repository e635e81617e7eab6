"""Serving a creature as an MCP server: ``kt mcp serve TARGET``.

The creature becomes one MCP tool, ``ask_<name>``, whose call runs one turn and answers with
the turn's reply; with ``expose_tools`` the creature's own tools are offered too, each called
through :meth:`kt.Agent.call_tool`, so argument validation, ``kt_pre_tool_call`` vetoes (a
guard plugin), the unsafe-tool lock, timeouts and output caps apply as in a turn.

Two transports: stdio (what Claude Desktop, Codex and most clients start as a subprocess) and
streamable HTTP, served by Hypercorn on trio in the creature's own event loop, behind a bearer
token. Every ``ask_<name>`` call continues the creature's one conversation unless the server
is ``stateless``; calls are queued, one turn at a time, like every input of a creature.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Any

import trio

import kt
from kt_mcp.errors import require_mcp_extra

__all__ = ["ask_tool_name", "build_server", "serve_http", "serve_stdio", "with_bearer_token"]

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

    return Server(
        f"kt-{agent.name}",
        version=kt.__version__,
        instructions=description,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


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


async def serve_http(
    server: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    path: str = "/mcp",
    token: str | None = None,
    on_ready: Callable[[str], Awaitable[None] | None] | None = None,
) -> None:
    """Serve *server* over streamable HTTP at ``http://HOST:PORT/PATH`` until cancelled.

    Args:
        server: The server from :func:`build_server`.
        host: The address to listen on (``127.0.0.1``: this machine only).
        port: The port; ``0`` picks a free one.
        path: The endpoint's path.
        token: The bearer token every request must carry (``Authorization: Bearer TOKEN``);
            ``None`` serves without authentication.
        on_ready: Called with the endpoint URL once the server listens.
    """
    require_mcp_extra("mcp", "hypercorn")
    from hypercorn.config import Config
    from hypercorn.trio import serve

    app = server.streamable_http_app(streamable_http_path=path, host=host)
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

    The comparison takes constant time. Lifespan messages pass through untouched.
    """
    expected = f"Bearer {token}".encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = b""
            for key, value in scope.get("headers", ()):
                if key.lower() == b"authorization":
                    given = value
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
