"""Events kt_mcp publishes on a creature's event stream.

Each is a frozen :class:`kt.events.Event` with a stable ``type``, so ``kt_event`` hooks,
``agent.subscribe()`` readers and session stores see MCP servers come and go next to the
creature's own events, and :func:`kt.events.from_wire` rebuilds them once ``kt_mcp`` is imported.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from kt.events import Event

__all__ = ["MCPProgress", "MCPServerConnected", "MCPServerDisconnected", "MCPServerFailed"]


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
