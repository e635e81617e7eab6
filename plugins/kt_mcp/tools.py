"""MCP tools as creature tools: native ``server__tool`` specs, result mapping, the meta-tools.

In ``native`` mode every tool of a server becomes a :class:`kt.ToolSpec` with the server's own
JSON schema, so the model calls it like any other tool. In ``meta`` mode a fixed set of five
tools (``mcp_servers``, ``mcp_tools``, ``mcp_call``, ``mcp_connect``, ``mcp_disconnect``)
reaches every such server, and the prompt only lists server and tool names.

Either way one function, :func:`call_mcp_tool`, makes the call: it reconnects a server that
failed or died, bounds the call by ``call_timeout``, publishes progress notifications as
:class:`~kt_mcp.events.MCPProgress` events, and maps the result onto a :class:`kt.ToolResult`
(``isError`` becomes the result's error).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import kt
from kt_mcp.errors import MCPServerError
from kt_mcp.events import MCPProgress

if TYPE_CHECKING:
    import mcp.types

    from kt_mcp.connection import ServerConnection

__all__ = [
    "call_mcp_tool",
    "describe_prompts",
    "describe_resources",
    "map_resource",
    "map_result",
    "meta_tools",
    "native_name",
    "native_tools",
    "prompt_text",
    "resource_tools",
]

_NAME_LIMIT = 64  # what OpenAI-style function names allow
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_SETTLE_TIMEOUT = 5.0  # seconds a call waits for the list changes it announced to be applied
_CONTEXT = "_kt_context"  # the parameter receiving the ToolContext; never a schema property


def native_name(prefix: str, tool: str, taken: Iterable[str] = ()) -> str:
    """The name the model calls an MCP tool by: ``<prefix>__<tool>``, made safe and unique.

    Characters providers refuse become ``_``; a name over 64 characters keeps its start and
    gets a short hash; a name already *taken* gets ``_2``, ``_3`` ...

    Args:
        prefix: The server's prefix (its name by default; ``""`` for none).
        tool: The server's own name for the tool.
        taken: Names already in use (the creature's tools, other servers' tools).

    Returns:
        The name.
    """
    base = _UNSAFE.sub("_", f"{prefix}__{tool}" if prefix else tool)
    if len(base) > _NAME_LIMIT:
        digest = hashlib.sha1(base.encode()).hexdigest()[:8]
        base = f"{base[: _NAME_LIMIT - 9]}_{digest}"
    taken = set(taken)
    name, n = base, 1
    while name in taken:
        n += 1
        suffix = f"_{n}"
        name = base[: _NAME_LIMIT - len(suffix)] + suffix
    return name


def native_tools(
    connection: ServerConnection,
    tools: Iterable[mcp.types.Tool],
    *,
    taken: Iterable[str],
    default_timeout: float | None,
) -> list[kt.ToolSpec]:
    """One :class:`kt.ToolSpec` per MCP tool, named by :func:`native_name`.

    Args:
        connection: The server's connection.
        tools: The tools to offer.
        taken: Names the creature already uses.
        default_timeout: The creature's ``tool_timeout``, for servers without ``call_timeout``.

    Returns:
        The specs, in the server's order.
    """
    used = set(taken)
    specs = []
    for tool in tools:
        name = native_name(connection.settings.prefix, tool.name, used)
        used.add(name)
        specs.append(_spec(connection, tool, name, default_timeout))
    return specs


def _spec(
    connection: ServerConnection,
    tool: mcp.types.Tool,
    name: str,
    default_timeout: float | None,
) -> kt.ToolSpec:
    server_tool = tool.name

    async def call(_kt_context: kt.ToolContext, **arguments: Any) -> kt.ToolResult:
        return await call_mcp_tool(
            connection,
            server_tool,
            arguments,
            context=_kt_context,
            default_timeout=default_timeout,
        )

    call.__name__ = name
    description = tool.description or tool.title or f"The '{tool.name}' tool."
    schema = dict(tool.input_schema or {})
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    readonly = bool(tool.annotations and tool.annotations.read_only_hint)
    return kt.ToolSpec(
        name=name,
        description=f"[MCP server '{connection.name}'] {description}",
        parameters=schema,
        fn=call,
        context_param=_CONTEXT,
        # A server may act on the world; only a tool it declares read-only runs beside writes.
        concurrency_safe=readonly,
        timeout=0,  # call_mcp_tool bounds connect and call itself, with clearer messages
    )


async def call_mcp_tool(
    connection: ServerConnection,
    tool: str,
    arguments: Mapping[str, Any],
    *,
    context: kt.ToolContext | None = None,
    default_timeout: float | None = None,
) -> kt.ToolResult:
    """Call *tool* on *connection*'s server the way a creature's tool does, never raising.

    A server that failed or died is started again first (bounded by ``connect_timeout``); the
    call is bounded by the server's ``call_timeout`` (else *default_timeout*) and cancelled on
    the server when it runs out, or when the turn is interrupted or cancelled.

    Args:
        connection: The server.
        tool: The server's own name for the tool.
        arguments: Validated arguments.
        context: The running call, for progress events (its call id and turn).
        default_timeout: Seconds when the server sets no ``call_timeout``; ``None``/``0``: none.

    Returns:
        The mapped result, or an error result naming the problem.
    """
    import trio

    if connection.status != "connected" and not await connection.connect():
        return kt.ToolResult(
            error=f"{connection.error or f'MCP server {connection.name!r} is not connected'}",
            metadata={"mcp_server": connection.name, "error_type": "ToolExecutionError"},
        )
    timeout = connection.settings.call_timeout
    if timeout is None:
        timeout = default_timeout
    progress = _progress_reporter(connection, tool, context) if context is not None else None
    result = None
    with trio.move_on_after(timeout or math.inf) as scope:
        try:
            result = await connection.call(tool, dict(arguments), progress=progress)
        except MCPServerError as exc:
            return _error(connection, tool, str(exc))
        except Exception as exc:  # the server refused the request: a result, not a crash
            return _error(connection, tool, _refusal(connection, tool, exc))
    if result is not None:
        # A call that changed the server's tools announced it before answering: apply it now,
        # so the model's next request already offers the new list.
        await connection.settle(_SETTLE_TIMEOUT)
    if scope.cancelled_caught or result is None:
        return kt.ToolResult(
            error=(
                f"MCP server '{connection.name}' did not answer '{tool}' within {timeout:g}s "
                "(call_timeout); the request was cancelled. Try again, or with less work"
            ),
            metadata={
                "mcp_server": connection.name,
                "mcp_tool": tool,
                "timeout": True,
                "error_type": "ToolTimeoutError",
            },
        )
    return map_result(result, server=connection.name, tool=tool)


def _error(connection: ServerConnection, tool: str, message: str) -> kt.ToolResult:
    return kt.ToolResult(
        error=message,
        metadata={
            "mcp_server": connection.name,
            "mcp_tool": tool,
            "error_type": "ToolExecutionError",
        },
    )


def _refusal(connection: ServerConnection, tool: str, exc: Exception) -> str:
    from mcp.shared.exceptions import MCPError

    if isinstance(exc, MCPError):
        return f"MCP server '{connection.name}' refused '{tool}': {exc.message}"
    return f"calling '{tool}' on MCP server '{connection.name}' failed: {type(exc).__name__}: {exc}"


def _progress_reporter(
    connection: ServerConnection, tool: str, context: kt.ToolContext
) -> Callable[[float, float | None, str | None], Awaitable[None]] | None:
    agent = context.agent
    if agent is None:
        return None

    async def report(progress: float, total: float | None, message: str | None) -> None:
        await agent.emit(
            MCPProgress(
                server=connection.name,
                tool=tool,
                call_id=context.call.id,
                progress=progress,
                total=total,
                message=message,
            ),
            turn_index=context.turn_index,
        )

    return report


def map_result(result: mcp.types.CallToolResult, *, server: str, tool: str) -> kt.ToolResult:
    """Map an MCP tool result onto a :class:`kt.ToolResult`.

    Text blocks become the output, images become image parts, embedded text resources are
    included with their URI, binary ones and links are described. Structured content is kept
    in ``metadata["structured_content"]`` and is the output when the server sent no text. A
    result flagged ``isError`` becomes an error result carrying the server's text.

    Args:
        result: The server's result.
        server: The server's name.
        tool: The tool's name on the server.

    Returns:
        The result.
    """
    texts: list[str] = []
    images: list[kt.ContentPart] = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            texts.append(block.text)
        elif kind == "image":
            images.append(
                kt.ContentPart("image_url", image_url=f"data:{block.mime_type};base64,{block.data}")
            )
        elif kind == "audio":
            texts.append(f"[audio: {block.mime_type}, {_decoded_size(block.data)} bytes]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            if text is not None:
                texts.append(f"[resource {resource.uri}]\n{text}")
            else:
                size = _decoded_size(getattr(resource, "blob", ""))
                mime = resource.mime_type or "binary"
                texts.append(f"[resource {resource.uri}: {mime}, {size} bytes]")
        elif kind == "resource_link":
            about = f" - {block.description}" if block.description else ""
            texts.append(f"[resource link {block.name}: {block.uri}{about}]")
        else:
            texts.append(f"[{kind or 'unknown'} content]")
    structured = result.structured_content
    if not texts and structured is not None:
        texts.append(json.dumps(structured, ensure_ascii=False, indent=2))
    metadata: dict[str, Any] = {"mcp_server": server, "mcp_tool": tool}
    if structured is not None:
        metadata["structured_content"] = structured
    text = "\n".join(texts)
    if result.is_error:
        return kt.ToolResult(
            error=text or f"MCP server '{server}' reported an error from '{tool}' with no details",
            metadata=metadata,
        )
    if images:
        parts = ([kt.ContentPart("text", text=text)] if text else []) + images
        return kt.ToolResult(output=tuple(parts), metadata=metadata)
    return kt.ToolResult(output=text or "(no output)", metadata=metadata)


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except ValueError:
        return len(data)


# -- Meta-tools --------------------------------------------------------------------------------


def meta_tools(manager: Any) -> list[kt.ToolSpec]:
    """The five tools that reach ``meta``-mode servers of *manager* (an ``MCPManager``)."""

    @kt.tool(name="mcp_servers")
    async def list_servers() -> str:
        """List the MCP servers this creature can use: name, status and tool count.

        Servers marked "meta" are reached through mcp_tools and mcp_call; the tools of the
        others are ordinary tools named server__tool.
        """
        return manager.describe_servers()

    @kt.tool(name="mcp_tools")
    async def list_tools(server: str) -> kt.ToolResult:
        """List one MCP server's tools with their descriptions and argument schemas.

        Args:
            server: The server's name, as mcp_servers lists it.
        """
        connection, problem = await manager.lookup(server, connect=True)
        if problem:
            return kt.ToolResult(error=problem)
        return kt.ToolResult(output=describe_tools(connection))

    @kt.tool(name="mcp_call")
    async def call(
        _kt_context: kt.ToolContext, server: str, tool: str, arguments: dict | None = None
    ) -> kt.ToolResult:
        """Call a tool of an MCP server.

        Args:
            server: The server's name, as mcp_servers lists it.
            tool: The tool's name on that server, as mcp_tools lists it.
            arguments: The tool's arguments, matching the schema mcp_tools shows.
        """
        connection, problem = await manager.lookup(server, connect=True)
        if problem:
            return kt.ToolResult(error=problem)
        known = {t.name for t in connection.tools}
        if tool not in known:
            listed = ", ".join(sorted(known)) or "none"
            return kt.ToolResult(
                error=f"MCP server '{server}' has no tool '{tool}'; its tools: {listed}"
            )
        return await call_mcp_tool(
            connection,
            tool,
            arguments or {},
            context=_kt_context,
            default_timeout=manager.default_timeout,
        )

    @kt.tool(name="mcp_connect")
    async def connect(server: str) -> kt.ToolResult:
        """Connect (or reconnect) one of this creature's MCP servers.

        Args:
            server: The server's name, as mcp_servers lists it.
        """
        connection, problem = await manager.lookup(server, connect=False)
        if problem:
            return kt.ToolResult(error=problem)
        if not await connection.connect():
            return kt.ToolResult(error=connection.error or f"cannot connect '{server}'")
        names = ", ".join(t.name for t in connection.tools[:10])
        more = f" (and {len(connection.tools) - 10} more)" if len(connection.tools) > 10 else ""
        return kt.ToolResult(
            output=f"Connected to '{server}': {len(connection.tools)} tools: {names}{more}"
        )

    @kt.tool(name="mcp_disconnect")
    async def disconnect(server: str) -> kt.ToolResult:
        """Disconnect one of this creature's MCP servers (its process stops).

        Args:
            server: The server's name, as mcp_servers lists it.
        """
        connection, problem = await manager.lookup(server, connect=False)
        if problem:
            return kt.ToolResult(error=problem)
        await connection.disconnect("mcp_disconnect")
        return kt.ToolResult(output=f"Disconnected from '{server}'.")

    return [list_servers, list_tools, call, connect, disconnect]


def describe_tools(connection: ServerConnection) -> str:
    """A server's tools for the model: name, description and argument schema of each."""
    if not connection.tools:
        return f"MCP server '{connection.name}' has no tools."
    blocks = []
    for tool in connection.tools:
        schema = json.dumps(tool.input_schema or {}, ensure_ascii=False, separators=(",", ":"))
        about = tool.description or tool.title or ""
        blocks.append(f"- {tool.name}: {about}\n  arguments: {schema}")
    return f"MCP server '{connection.name}' tools:\n" + "\n".join(blocks)


# -- Resources ---------------------------------------------------------------------------------


def resource_tools(manager: Any) -> list[kt.ToolSpec]:
    """The two tools that list and read the resources of *manager*'s servers (any mode)."""

    @kt.tool(name="mcp_resources", concurrency_safe=True)
    async def list_resources(server: str = "") -> kt.ToolResult:
        """List the resources (files, records, documents) that MCP servers offer, with URIs.

        Args:
            server: One server's name; empty for every server that offers resources.
        """
        if server:
            connection, problem = await manager.lookup(server, connect=True)
            if problem:
                return kt.ToolResult(error=problem)
            return kt.ToolResult(output=describe_resources(connection))
        offering = [c for c in manager.connections.values() if c.resources or c.resource_templates]
        if not offering:
            return kt.ToolResult(output="No MCP server of this creature offers resources now.")
        return kt.ToolResult(output="\n\n".join(describe_resources(c) for c in offering))

    @kt.tool(name="mcp_read_resource", concurrency_safe=True)
    async def read_resource(server: str, uri: str) -> kt.ToolResult:
        """Read one resource of an MCP server by its URI, as mcp_resources lists it.

        Args:
            server: The server's name.
            uri: The resource's URI (or a URI filled in from one of its URI templates).
        """
        connection, problem = await manager.lookup(server, connect=True)
        if problem:
            return kt.ToolResult(error=problem)
        try:
            result = await connection.read_resource(uri)
        except MCPServerError as exc:
            return _error(connection, "resources/read", str(exc))
        except Exception as exc:  # the server refused: an unknown URI is the model's to fix
            return _error(connection, "resources/read", _refusal(connection, uri, exc))
        return map_resource(result, server=connection.name)

    return [list_resources, read_resource]


def describe_resources(connection: ServerConnection) -> str:
    """A server's resources and URI templates, one line each, for the model and the CLI."""
    lines = []
    for resource in connection.resources:
        mime = f" ({resource.mime_type})" if resource.mime_type else ""
        about = f": {resource.description}" if resource.description else ""
        lines.append(f"- {resource.uri} {resource.name}{mime}{about}")
    for template in connection.resource_templates:
        about = f": {template.description}" if template.description else ""
        lines.append(f"- {template.uri_template} (template) {template.name}{about}")
    if not lines:
        return f"MCP server '{connection.name}' offers no resources."
    return f"MCP server '{connection.name}' resources:\n" + "\n".join(lines)


def map_resource(result: mcp.types.ReadResourceResult, *, server: str) -> kt.ToolResult:
    """Map a resource read onto a :class:`kt.ToolResult`: text as text, images as images.

    Args:
        result: The server's answer to ``resources/read``.
        server: The server's name.

    Returns:
        The result; ``metadata["mcp_uris"]`` lists the URIs of the contents.
    """
    texts: list[str] = []
    images: list[kt.ContentPart] = []
    several = len(result.contents) > 1
    for content in result.contents:
        text = getattr(content, "text", None)
        mime = content.mime_type or ""
        if text is not None:
            texts.append(f"[resource {content.uri}]\n{text}" if several else text)
        elif mime.startswith("image/"):
            images.append(
                kt.ContentPart("image_url", image_url=f"data:{mime};base64,{content.blob}")
            )
        else:
            size = _decoded_size(getattr(content, "blob", ""))
            texts.append(f"[resource {content.uri}: {mime or 'binary'}, {size} bytes]")
    metadata = {"mcp_server": server, "mcp_uris": [str(c.uri) for c in result.contents]}
    text = "\n".join(texts)
    if images:
        parts = ([kt.ContentPart("text", text=text)] if text else []) + images
        return kt.ToolResult(output=tuple(parts), metadata=metadata)
    return kt.ToolResult(output=text or "(empty resource)", metadata=metadata)


def describe_prompts(connection: ServerConnection) -> str:
    """A server's prompts with their arguments (``?`` marks optional ones), one line each."""
    if not connection.prompts:
        return f"MCP server '{connection.name}' offers no prompts."
    lines = []
    for prompt in connection.prompts:
        arguments = ", ".join(
            a.name + ("" if a.required else "?") for a in (prompt.arguments or ())
        )
        about = f": {prompt.description}" if prompt.description else ""
        lines.append(f"- {prompt.name}({arguments}){about}")
    return f"MCP server '{connection.name}' prompts:\n" + "\n".join(lines)


def prompt_text(result: mcp.types.GetPromptResult) -> str:
    """A fetched prompt as one text, ready to send as the user's message.

    A single user message (the usual case) is its text alone; several messages are each
    headed by their role.
    """
    messages = []
    for message in result.messages:
        block = message.content
        kind = getattr(block, "type", "")
        if kind == "text":
            body = block.text
        elif kind == "resource":
            body = getattr(block.resource, "text", None) or f"[resource {block.resource.uri}]"
        else:
            body = f"[{kind} content]"
        messages.append((message.role, body))
    if len(messages) == 1 and messages[0][0] == "user":
        return messages[0][1]
    return "\n\n".join(f"[{role}]\n{body}" for role, body in messages)
