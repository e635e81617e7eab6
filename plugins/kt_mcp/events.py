"""Events kt_mcp publishes on a creature's event stream.

Each is a frozen :class:`kt.events.Event` with a stable ``type``, so ``kt_event`` hooks,
``agent.subscribe()`` readers and session stores see MCP servers come and go next to the
creature's own events, and :func:`kt.events.from_wire` rebuilds them once ``kt_mcp`` is imported.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from kt.events import Event, UserRequest

__all__ = [
    "MCPElicitation",
    "MCPProgress",
    "MCPSamplingApproval",
    "MCPServerConnected",
    "MCPServerDisconnected",
    "MCPServerFailed",
    "MCPServerListChanged",
]


@attrs.frozen(kw_only=True)
class MCPServerConnected(Event):
    """An MCP server is connected and its tools are listed.

    Attributes:
        server: The server's name (its ``[[mcp_servers]]`` entry).
        transport: ``stdio``, ``http`` or ``sse``.
        tools: The server's own names of the tools offered (in ``native`` mode the model calls
            them ``<server>__<tool>``).
        duration: Seconds from start to ready (process start, handshake and listing).
        reconnect: Whether this is a reconnection after the server failed or was disconnected.
    """

    type: ClassVar[str] = "mcp_server_connected"
    server: str
    transport: str = "stdio"
    tools: tuple[str, ...] = ()
    duration: float = 0.0
    reconnect: bool = False


@attrs.frozen(kw_only=True)
class MCPServerFailed(Event):
    """An MCP server could not be started or reached, or it died.

    The creature goes on; the server's tools answer with an error naming the problem until a
    later call reconnects it.

    Attributes:
        server: The server's name.
        stage: ``config`` (its settings are invalid), ``connect`` (it did not start or answer
            in time), or ``connection`` (it closed the connection or crashed while connected).
        error: What went wrong, with the end of the server's stderr when there is one.
        log: The file the server's stderr goes to, when it has one.
    """

    type: ClassVar[str] = "mcp_server_failed"
    server: str
    stage: str = "connect"
    error: str = ""
    log: str | None = None


@attrs.frozen(kw_only=True)
class MCPServerDisconnected(Event):
    """An MCP server was disconnected on purpose (``mcp_disconnect``), not by a failure.

    Attributes:
        server: The server's name.
        reason: Why.
    """

    type: ClassVar[str] = "mcp_server_disconnected"
    server: str
    reason: str = ""


@attrs.frozen(kw_only=True)
class MCPServerListChanged(Event):
    """A connected MCP server changed its tools, resources or prompts, and they were listed again.

    In ``native`` mode the creature's tools follow at once: new tools are added, tools the
    server no longer offers are withdrawn, and a changed schema replaces the old one.

    Attributes:
        server: The server's name.
        kind: ``tools``, ``resources`` or ``prompts``.
        added: Names (URIs for resources) that are new.
        removed: Names that are gone.
    """

    type: ClassVar[str] = "mcp_server_list_changed"
    server: str
    kind: str = "tools"
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class MCPProgress(Event):
    """A progress notification an MCP server sent while one of its tools runs.

    Published in the turn of the call, so ``run_stream`` readers see it between the call's
    ``tool_call_started`` and ``tool_call_completed``.

    Attributes:
        server: The server's name.
        tool: The server's own name for the tool.
        call_id: The id of the tool call it belongs to.
        progress: Progress so far, in the server's units.
        total: The total, when the server knows it.
        message: The server's words, if any.
    """

    type: ClassVar[str] = "mcp_progress"
    server: str
    tool: str
    call_id: str = ""
    progress: float = 0.0
    total: float | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class MCPElicitation(UserRequest):
    """An MCP server asks the user for information (``prompt`` says what, and which fields).

    Attributes:
        server: The server's name.
        fields: The form's field names (empty for a URL elicitation).
        schema: The requested JSON schema (a flat object of primitive fields).
        url: For a URL elicitation, the page to open.
    """

    type: ClassVar[str] = "mcp_elicitation"
    kind: ClassVar[str] = "question"
    server: str = ""
    fields: tuple[str, ...] = ()
    schema: dict[str, Any] = attrs.field(factory=dict)
    url: str = ""


@attrs.frozen(kw_only=True)
class MCPSamplingApproval(UserRequest):
    """An MCP server asks to use the creature's model; the user allows or denies it.

    Attributes:
        server: The server's name.
    """

    type: ClassVar[str] = "mcp_sampling_approval"
    kind: ClassVar[str] = "approval"
    server: str = ""
