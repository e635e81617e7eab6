"""One connection to one MCP server: start it, list its tools, call them, notice when it dies.

A connection lives in a task of its owner's nursery (a creature's job, or the nursery of a
``kt mcp`` command), because the SDK's client session must be entered and left by one task. The
task starts the transport (a subprocess for stdio, an HTTP client otherwise), shakes hands,
lists the tools and reports that it is ready; then it waits until it is asked to close or the
server goes away. Tool calls are made from other tasks through the session it holds.

Nothing here raises out of a creature's turn for a server's failure: :meth:`connect` records
the failure (``status``, ``error``) and publishes :class:`~kt_mcp.events.MCPServerFailed`, and
:meth:`call` raises :class:`~kt_mcp.errors.MCPServerError`, which the tool turns into an error
result for the model.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import trio

import kt
from kt.events import Event
from kt_mcp.errors import MCPServerError
from kt_mcp.events import MCPServerConnected, MCPServerDisconnected, MCPServerFailed
from kt_mcp.settings import ServerSettings

if TYPE_CHECKING:
    import mcp.types

__all__ = ["ServerConnection", "log_file"]

Spawn = Callable[[Callable[..., Awaitable[None]]], Awaitable[Any]]
"""Starts ``fn(task_status=...)`` in the owner's nursery and returns once it reported ready."""

Emit = Callable[[Event], Awaitable[None]]

_LOG_LIMIT = 1_000_000  # bytes; a larger stderr log is moved to <name>.log.1 at the next start
_TAIL_LINES = 12
_TAIL_CHARS = 1500


def log_file(name: str, env: Any = None) -> Path:
    """Where server *name*'s stderr goes: ``~/.kt/logs/mcp/<name>.log``."""
    from kt.config.home import kt_home

    return kt_home(env) / "logs" / "mcp" / f"{name}.log"


async def _no_event(event: Event) -> None:
    return None


class ServerConnection:
    """One MCP server as a creature or a command uses it.

    Args:
        settings: How to reach the server.
        spawn: Starts the connection task in the owner's nursery (``agent.start_service`` or
            ``nursery.start``) and returns once the task reported ready or failed.
        emit: Publishes this connection's events (``agent.emit``); default: nowhere.
        log: The file the server's stderr is appended to (stdio servers), or ``None`` to
            discard it.
        on_connected: Awaited after every successful connection (a reconnection may bring
            new tools), before :meth:`connect` returns.

    Attributes:
        status: ``disconnected``, ``connecting``, ``connected`` or ``failed``.
        error: Why the last attempt failed or the connection ended, for ``failed``.
        tools: The server's tools (``mcp.types.Tool``) from the last listing, filtered by the
            settings' ``tools``.
        instructions: What the server says about how to use it, if anything.
        connects: Successful connections so far.
    """

    def __init__(
        self,
        settings: ServerSettings,
        *,
        spawn: Spawn,
        emit: Emit = _no_event,
        log: Path | None = None,
        on_connected: Callable[[ServerConnection], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.status = "disconnected"
        self.error: str | None = None
        self.tools: tuple[mcp.types.Tool, ...] = ()
        self.instructions: str | None = None
        self.connects = 0
        self.log = log
        self.session: Any = None
        self._spawn = spawn
        self._emit = emit
        self._on_connected = on_connected
        self._lock = trio.Lock()
        self._wake = trio.Event()
        self._ended = trio.Event()
        self._ended.set()  # no task yet
        self._peer_closed = False
        self._closing = False

    # -- Connecting ----------------------------------------------------------------------------

    async def connect(self) -> bool:
        """Connect unless connected; concurrent callers share one attempt.

        Waits at most ``connect_timeout`` for the server to start, answer the handshake and list
        its tools. A failure is recorded (:attr:`status`, :attr:`error`) and published as
        ``mcp_server_failed``; it is not raised. Cancelling the caller cancels the attempt.

        Returns:
            Whether the server is connected.
        """
        async with self._lock:
            if self.status == "connected":
                return True
            await self._close_task()
            await self._spawn(self._run)
            return self.status == "connected"

    async def disconnect(self, reason: str = "disconnected") -> None:
        """Close the connection (the server process ends) and publish ``mcp_server_disconnected``.

        Returns when the server is gone, at most a few seconds later (the SDK closes a stdio
        server's stdin, waits, then kills it).
        """
        async with self._lock:
            was_connected = self.status == "connected"
            await self._close_task()
            self.status = "disconnected"
            self.error = None
        if was_connected:
            await self._emit(MCPServerDisconnected(server=self.name, reason=reason))

    async def _close_task(self) -> None:
        self._closing = True
        self._wake.set()
        await self._ended.wait()
        self._closing = False

    async def _run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        from mcp import Client, Implementation

        settings = self.settings
        self._wake, self._ended = trio.Event(), trio.Event()
        self._peer_closed = False
        self.status, self.error = "connecting", None
        started_at = trio.current_time()
        errlog, offset = self._open_log()
        failure: tuple[str, str] | None = None  # (stage, message)
        ready = False
        try:
            with trio.CancelScope(deadline=started_at + settings.connect_timeout) as connecting:
                try:
                    async with Client(
                        self._transport(errlog),
                        mode=settings.protocol,
                        client_info=Implementation(name="kt-terrarium", version=kt.__version__),
                        cache=None,
                    ) as client:
                        listed = await _list_tools(client.session)
                        connecting.deadline = math.inf
                        wanted = settings.tools
                        self.tools = tuple(t for t in listed if wanted is None or t.name in wanted)
                        self.instructions = client.instructions
                        self.session = client.session
                        self.status = "connected"
                        self.connects += 1
                        if self._on_connected is not None:
                            await self._on_connected(self)
                        await self._emit(
                            MCPServerConnected(
                                server=self.name,
                                transport=settings.transport,
                                tools=tuple(t.name for t in self.tools),
                                duration=trio.current_time() - started_at,
                                reconnect=self.connects > 1,
                            )
                        )
                        ready = True
                        task_status.started()
                        await self._wake.wait()
                        self.session = None
                        if self._peer_closed:
                            failure = ("connection", self._closed_message())
                except Exception as exc:  # the SDK and anyio wrap failures in groups
                    failure = ("connect" if not ready else "connection", self._describe(exc))
            if connecting.cancelled_caught and not ready:
                failure = (
                    "connect",
                    f"MCP server '{self.name}' did not start and answer within "
                    f"{settings.connect_timeout:g}s (connect_timeout); it may be slow to start "
                    "(raise connect_timeout) or waiting for something",
                )
        finally:
            self.session = None
            if errlog is not None:
                errlog.close()
            if failure is not None:
                stage, message = failure
                tail = self._stderr_tail(offset)
                if tail:
                    message += f"\nLast lines of its stderr ({self.log}):\n{tail}"
                self.status, self.error = "failed", message
            elif self.status != "failed":
                self.status = "disconnected"
            self._ended.set()  # only now may a reconnection start
        if failure is not None:
            await self._emit(
                MCPServerFailed(server=self.name, stage=stage, error=message, log=self._log())
            )
        if not ready:
            task_status.started()

    @asynccontextmanager
    async def _transport(self, errlog: TextIO | None) -> AsyncIterator[Any]:
        """The SDK transport for the settings, with the read side watched for end of stream."""
        settings = self.settings
        if settings.transport == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            params = StdioServerParameters(
                command=settings.command or "",
                args=list(settings.args),
                env=dict(settings.env) or None,
                cwd=settings.cwd,
            )
            opened = stdio_client(params, errlog=errlog if errlog is not None else _devnull())
        elif settings.transport == "sse":
            from mcp.client.sse import sse_client

            opened = sse_client(
                settings.url or "", headers=dict(settings.headers) or None, timeout=30.0
            )
        else:
            opened = _streamable_http(settings)
        async with opened as (read_stream, write_stream):
            yield _EndWatch(read_stream, self._on_end), write_stream

    def _on_end(self) -> None:
        if not self._closing and not self._peer_closed:
            self._peer_closed = True
            if self.status == "connected":  # calls from now on reconnect instead of waiting
                self.status, self.error = "failed", self._closed_message()
            self.session = None
            self._wake.set()

    def lost(self) -> None:
        """Mark the connection as gone (a call saw it close); the next call reconnects."""
        self._on_end()

    # -- Calling -------------------------------------------------------------------------------

    async def call(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        progress: Callable[[float, float | None, str | None], Awaitable[None]] | None = None,
    ) -> mcp.types.CallToolResult:
        """Call *tool* on the connected server.

        Cancelling the caller (a timeout, an interrupted turn) cancels the request: the SDK
        tells the server with ``notifications/cancelled``.

        Args:
            tool: The server's own name for the tool.
            arguments: Its arguments.
            progress: Awaited with each progress notification (progress, total, message).

        Returns:
            The server's result; ``is_error`` says whether the tool failed.

        Raises:
            MCPServerError: the server is not connected, or closed the connection during the
                call (the next :meth:`connect` starts it again).
            mcp.shared.exceptions.MCPError: the server refused the request (unknown tool,
                invalid arguments ...).
        """
        from mcp.shared.exceptions import MCPError
        from mcp.types import CONNECTION_CLOSED

        session = self.session
        if session is None:
            raise MCPServerError(
                f"MCP server '{self.name}' is not connected", server=self.name, log=self._log()
            )
        try:
            return await session.call_tool(tool, arguments, progress_callback=progress)
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise
            self.lost()
            raise MCPServerError(
                f"MCP server '{self.name}' closed the connection during the call to '{tool}' "
                "(it crashed or exited); it is started again on the next call",
                server=self.name,
                log=self._log(),
            ) from None

    # -- Messages and the stderr log -----------------------------------------------------------

    def _log(self) -> str | None:
        return str(self.log) if self.log and self.settings.transport == "stdio" else None

    def _open_log(self) -> tuple[TextIO | None, int]:
        if self.settings.transport != "stdio" or self.log is None:
            return None, 0
        self.log.parent.mkdir(parents=True, exist_ok=True)
        if self.log.is_file() and self.log.stat().st_size > _LOG_LIMIT:
            self.log.replace(self.log.with_name(self.log.name + ".1"))
        errlog = open(self.log, "a", encoding="utf-8")  # noqa: SIM115 (closed by _run)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        errlog.write(f"--- {stamp} kt starts MCP server '{self.name}': {self.settings.target}\n")
        errlog.flush()
        return errlog, errlog.tell()

    def _stderr_tail(self, offset: int) -> str:
        if self.settings.transport != "stdio" or self.log is None or not self.log.is_file():
            return ""
        try:
            with open(self.log, encoding="utf-8", errors="replace") as file:
                file.seek(offset)
                text = file.read()
        except OSError:
            return ""
        lines = [line for line in text.splitlines() if line.strip()][-_TAIL_LINES:]
        tail = "\n".join(lines)
        return tail[-_TAIL_CHARS:]

    def _closed_message(self) -> str:
        if self.settings.transport == "stdio":
            return (
                f"MCP server '{self.name}' exited (its output ended); it is started again on "
                "the next call"
            )
        return f"MCP server '{self.name}' closed the connection; reconnecting on the next call"

    def _describe(self, exc: BaseException) -> str:
        from mcp.shared.exceptions import MCPError
        from mcp.types import CONNECTION_CLOSED

        leaf = _leaf(exc)
        settings = self.settings
        if isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED:
            if settings.transport == "stdio":
                return (
                    f"MCP server '{self.name}' exited during start-up (command: {settings.target})"
                )
            return f"MCP server '{self.name}' at {settings.url} closed the connection on start"
        if isinstance(leaf, FileNotFoundError) and settings.transport == "stdio":
            return (
                f"cannot start MCP server '{self.name}': command '{settings.command}' not found; "
                "install it or fix command (and PATH in env)"
            )
        if isinstance(leaf, OSError) and settings.transport == "stdio":
            return f"cannot start MCP server '{self.name}' ({settings.target}): {leaf}"
        if isinstance(leaf, MCPError):
            return f"MCP server '{self.name}' refused the connection: {leaf.message}"
        where = settings.target
        return f"MCP server '{self.name}' ({where}) failed: {type(leaf).__name__}: {leaf}"


def _leaf(exc: BaseException) -> BaseException:
    """The first real exception inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


@asynccontextmanager
async def _streamable_http(settings: ServerSettings) -> AsyncIterator[Any]:
    """The streamable HTTP transport, with the settings' headers on every request."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    timeout = httpx2.Timeout(30.0, read=300.0)  # the SDK's own defaults for MCP over HTTP
    async with httpx2.AsyncClient(headers=dict(settings.headers), timeout=timeout) as http:
        async with streamable_http_client(settings.url or "", http_client=http) as streams:
            yield streams


def _devnull() -> TextIO:
    import os

    return open(os.devnull, "w")  # noqa: SIM115 (kept open for the process's life)


async def _list_tools(session: Any) -> list[mcp.types.Tool]:
    """Every tool of the server, following pagination (bounded, in case it never ends)."""
    from mcp.types import PaginatedRequestParams

    result = await session.list_tools()
    tools = list(result.tools)
    pages = 1
    while result.next_cursor and pages < 100:
        result = await session.list_tools(params=PaginatedRequestParams(cursor=result.next_cursor))
        tools += result.tools
        pages += 1
    return tools


class _EndWatch:
    """A transport's read stream that calls *on_end* once the stream ends.

    A stdio server that dies closes its stdout; the SDK then fails pending requests but keeps
    the session object. Watching the stream lets the connection say so at once (an event), not
    only at the next call.
    """

    def __init__(self, stream: Any, on_end: Callable[[], None]) -> None:
        self._stream = stream
        self._on_end = on_end

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def __aenter__(self) -> _EndWatch:
        await self._stream.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self._stream.__aexit__(*exc_info)

    def __aiter__(self) -> _EndWatch:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self._stream.__anext__()
        except (StopAsyncIteration, anyio.EndOfStream, anyio.ClosedResourceError):
            self._on_end()
            raise

    async def receive(self) -> Any:
        """Receive the next item; an ended stream is reported before the error is raised."""
        import anyio

        try:
            return await self._stream.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._on_end()
            raise
