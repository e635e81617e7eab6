"""One connection to one MCP server: start it, list its tools, call them, notice when it dies.

A connection lives in a task of its owner's nursery (a creature's job, or the nursery of a
``kt mcp`` command), because the SDK's client session must be entered and left by one task. The
task starts the transport (a subprocess for stdio, an HTTP client otherwise), shakes hands,
lists the tools (and the resources and prompts of a server that offers them) and reports that
it is ready; then it keeps those lists current until it is asked to close or the server goes
away. Tool calls, resource reads and prompt fetches are made from other tasks through the
session it holds.

Live lists: a server announces a change of its tools, resources or prompts with a
``notifications/*/list_changed`` notification (handshake-era protocol versions), or on a
``subscriptions/listen`` stream the client opens (2026-07-28). Either way the connection lists
again, publishes :class:`~kt_mcp.events.MCPServerListChanged`, and tells its owner
(``on_changed``), so a creature's tools follow the server without a reconnection.

Nothing here raises out of a creature's turn for a server's failure: :meth:`connect` records
the failure (``status``, ``error``) and publishes :class:`~kt_mcp.events.MCPServerFailed`, and
:meth:`call` raises :class:`~kt_mcp.errors.MCPServerError`, which the tool turns into an error
result for the model.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import trio

import kt
from kt.events import Event
from kt_mcp.errors import MCPServerError
from kt_mcp.events import (
    MCPServerConnected,
    MCPServerDisconnected,
    MCPServerFailed,
    MCPServerListChanged,
)
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
_PAGE_LIMIT = 100  # pages of one listing; a server whose cursor never ends cannot hang us

LIST_CHANGED = {
    "notifications/tools/list_changed": "tools",
    "notifications/resources/list_changed": "resources",
    "notifications/prompts/list_changed": "prompts",
}
"""The change notifications of handshake-era servers, and the list each one changes."""

Kind = str
"""``tools``, ``resources`` or ``prompts``: a list a server can change while connected."""


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
        on_changed: Awaited with the kind (``tools``, ``resources``, ``prompts``) after the
            server changed one of its lists and it was listed again.
        auth: Makes the httpx auth for an HTTP server at each connection (OAuth: see
            :mod:`kt_mcp.oauth`); it may raise :class:`MCPServerError` (not logged in).
        roots: Folders offered to the server as the client's roots (``roots/list``): a
            creature offers its working directory.
        elicit: Answers the server's ``elicitation/create`` (the params; returns an
            ``ElicitResult``); without it the client declares no elicitation support.
        sample: Answers ``sampling/createMessage`` likewise; without it, no sampling.

    Attributes:
        status: ``disconnected``, ``connecting``, ``connected`` or ``failed``.
        error: Why the last attempt failed or the connection ended, for ``failed``.
        tools: The server's tools (``mcp.types.Tool``) from the last listing, filtered by the
            settings' ``tools``.
        resources: The server's resources (``mcp.types.Resource``), when it offers any.
        resource_templates: Its resource templates (``mcp.types.ResourceTemplate``).
        prompts: Its prompts (``mcp.types.Prompt``).
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
        on_changed: Callable[[ServerConnection, Kind], Awaitable[None]] | None = None,
        auth: Callable[[], Any] | None = None,
        roots: Sequence[Path] = (),
        elicit: Callable[[Any], Awaitable[Any]] | None = None,
        sample: Callable[[Any], Awaitable[Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.status = "disconnected"
        self.error: str | None = None
        self.tools: tuple[mcp.types.Tool, ...] = ()
        self.resources: tuple[mcp.types.Resource, ...] = ()
        self.resource_templates: tuple[mcp.types.ResourceTemplate, ...] = ()
        self.prompts: tuple[mcp.types.Prompt, ...] = ()
        self.instructions: str | None = None
        self.connects = 0
        self.log = log
        self.session: Any = None
        self.client: Any = None  # the SDK's Client: its calls drive input-required rounds
        self._spawn = spawn
        self._emit = emit
        self._on_connected = on_connected
        self._on_changed = on_changed
        self._auth = auth
        self.roots = tuple(roots)
        self._elicit = elicit
        self._sample = sample
        self._changed: set[Kind] = set()  # lists the server changed, not yet listed again
        self._change_arrived = trio.Event()
        self._settled = trio.Event()  # set while no change waits to be listed again
        self._settled.set()
        self._lock = trio.Lock()
        self._wake = trio.Event()
        self._ended = trio.Event()
        self._ended.set()  # no task yet
        self._peer_closed = False
        self._refused: int | None = None  # an HTTP 401/403 seen during this connection
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
        self._refused = None
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
                        message_handler=self._on_message,
                        list_roots_callback=self._list_roots if self.roots else None,
                        elicitation_callback=_drop_context(self._elicit),
                        sampling_callback=_drop_context(self._sample),
                        cache=None,
                    ) as client:
                        self._changed, self._change_arrived = set(), trio.Event()
                        self._settled.set()
                        async with trio.open_nursery() as watchers:
                            watchers.start_soon(self._follow_changes, client)
                            if _modern(client) and _announces_changes(client):
                                # Acknowledged before the lists are read: the stream has no
                                # replay, so a change made meanwhile would be missed.
                                await watchers.start(self._listen, client)
                            for kind in ("tools", "resources", "prompts"):
                                await self._list(client, kind)
                            connecting.deadline = math.inf
                            await self._ready(client, started_at)
                            ready = True
                            task_status.started()
                            await self._wake.wait()
                            watchers.cancel_scope.cancel()
                        self.session = self.client = None
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
            self.session = self.client = None
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
            self._settled.set()  # no change will be applied on this connection any more
            self._ended.set()  # only now may a reconnection start
        if failure is not None:
            await self._emit(
                MCPServerFailed(server=self.name, stage=stage, error=message, log=self._log())
            )
        if not ready:
            task_status.started()

    async def _ready(self, client: Any, started_at: float) -> None:
        """Mark the connection usable, tell the owner, publish ``mcp_server_connected``."""
        self.instructions = client.instructions
        self.session, self.client = client.session, client
        self.status = "connected"
        self.connects += 1
        if self._on_connected is not None:
            await self._on_connected(self)
        await self._emit(
            MCPServerConnected(
                server=self.name,
                transport=self.settings.transport,
                tools=tuple(t.name for t in self.tools),
                duration=trio.current_time() - started_at,
                reconnect=self.connects > 1,
            )
        )

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
                settings.url or "",
                headers=dict(settings.headers) or None,
                timeout=30.0,
                auth=self._auth() if self._auth is not None else None,
            )
        else:
            opened = _streamable_http(
                settings, self._auth() if self._auth is not None else None, self._saw_status
            )
        async with opened as (read_stream, write_stream):
            yield _EndWatch(read_stream, self._on_end), write_stream

    async def _list_roots(self, context: Any) -> Any:
        """Answer ``roots/list``: the folders this connection offers."""
        import mcp.types as types

        return types.ListRootsResult(
            roots=[types.Root(uri=root.resolve().as_uri(), name=root.name) for root in self.roots]
        )

    def _saw_status(self, status: int) -> None:
        """An HTTP answer refused kt (401/403): the SDK keeps only "an error response"."""
        self._refused = status

    def _on_end(self) -> None:
        if not self._closing and not self._peer_closed:
            self._peer_closed = True
            if self.status == "connected":  # calls from now on reconnect instead of waiting
                self.status, self.error = "failed", self._closed_message()
            self.session = self.client = None
            self._wake.set()

    def lost(self) -> None:
        """Mark the connection as gone (a call saw it close); the next call reconnects."""
        self._on_end()

    # -- Lists that change ---------------------------------------------------------------------

    async def _on_message(self, message: Any) -> None:
        """The session's notification tee: note a list change for :meth:`_follow_changes`.

        It runs in the session's receive loop, so it must not wait for the server: listing
        again happens in the connection's own task.
        """
        kind = LIST_CHANGED.get(getattr(message, "method", None) or "")
        if kind is not None:
            self._note_change(kind)

    def _note_change(self, kind: Kind) -> None:
        self._changed.add(kind)
        if self._settled.is_set():
            self._settled = trio.Event()
        self._change_arrived.set()

    async def settle(self, timeout: float) -> None:
        """Wait (at most *timeout* seconds) until every announced change has been applied.

        A tool that changes the server's tool list announces it before its result; waiting
        here after the call lets the model's next request carry the new tools.
        """
        with trio.move_on_after(timeout):
            await self._settled.wait()

    async def _listen(
        self, client: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """On a 2026-07-28 connection, open the ``subscriptions/listen`` stream of changes.

        Reports ready once the server acknowledged the stream. A server that refuses the
        stream, or drops it, leaves the lists as they are until the next connection; it is not
        a failure of the connection.
        """
        from mcp.client.subscriptions import PromptsListChanged, ResourcesListChanged

        caps = client.server_capabilities
        acknowledged = False
        try:
            async with client.listen(
                tools_list_changed=bool(caps.tools and caps.tools.list_changed),
                resources_list_changed=bool(caps.resources and caps.resources.list_changed),
                prompts_list_changed=bool(caps.prompts and caps.prompts.list_changed),
            ) as subscription:
                acknowledged = True
                task_status.started()
                async for event in subscription:
                    if isinstance(event, ResourcesListChanged):
                        self._note_change("resources")
                    elif isinstance(event, PromptsListChanged):
                        self._note_change("prompts")
                    else:
                        self._note_change("tools")
        except Exception:  # the stream is an optimisation; the session goes on without it
            if not acknowledged:
                task_status.started()

    async def _follow_changes(self, client: Any) -> None:
        """List again what the server said has changed; publish and report each change."""
        while True:
            await self._change_arrived.wait()
            self._change_arrived = trio.Event()
            kinds, self._changed = self._changed, set()
            for kind in ("tools", "resources", "prompts"):
                if kind not in kinds:
                    continue
                before = _names(self, kind)
                if not await self._list(client, kind):
                    continue
                after = _names(self, kind)
                await self._emit(
                    MCPServerListChanged(
                        server=self.name,
                        kind=kind,
                        added=tuple(n for n in after if n not in before),
                        removed=tuple(n for n in before if n not in after),
                    )
                )
                if self._on_changed is not None:
                    await self._on_changed(self, kind)
            if not self._changed:
                self._settled.set()

    async def _list(self, client: Any, kind: Kind) -> bool:
        """List the server's *kind* into this connection's attributes.

        Resources and prompts are listed only for a server that declares them, and a server
        that then refuses the listing simply has none: only the tools are required.

        Returns:
            Whether the list was read.
        """
        session = client.session
        caps = client.server_capabilities
        if kind == "tools":
            wanted = self.settings.tools
            listed = await _list_all(session.list_tools, "tools")
            self.tools = tuple(t for t in listed if wanted is None or t.name in wanted)
            return True
        try:
            if kind == "resources" and caps.resources is not None:
                self.resources = tuple(await _list_all(session.list_resources, "resources"))
                self.resource_templates = tuple(
                    await _list_all(session.list_resource_templates, "resource_templates")
                )
                return True
            if kind == "prompts" and caps.prompts is not None:
                self.prompts = tuple(await _list_all(session.list_prompts, "prompts"))
                return True
        except Exception:  # a server that declares a list and then refuses it offers none
            return False
        return False

    # -- Resources and prompts -----------------------------------------------------------------

    async def read_resource(self, uri: str) -> mcp.types.ReadResourceResult:
        """Read the resource at *uri* from the connected server.

        Raises:
            MCPServerError: as for :meth:`call`.
            mcp.shared.exceptions.MCPError: the server refused (an unknown URI ...).
        """
        return await self._request(f"the read of {uri}", lambda c: c.read_resource(uri))

    async def get_prompt(
        self, name: str, arguments: Mapping[str, str] | None = None
    ) -> mcp.types.GetPromptResult:
        """Fetch prompt *name* with *arguments* from the connected server.

        Raises:
            MCPServerError: as for :meth:`call`.
            mcp.shared.exceptions.MCPError: the server refused (an unknown prompt, a missing
                argument ...).
        """
        args = {str(k): str(v) for k, v in (arguments or {}).items()}
        return await self._request(
            f"the prompt '{name}'", lambda c: c.get_prompt(name, args or None)
        )

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
        return await self._request(
            f"the call to '{tool}'",
            lambda c: c.call_tool(tool, arguments, progress_callback=progress),
        )

    async def _request(self, what: str, send: Callable[[Any], Awaitable[Any]]) -> Any:
        """Send one request through the SDK's client; a connection that closes is marked lost.

        The client, not the bare session: at 2026-07-28 a server asks for input (elicitation,
        sampling) by answering with an input-required result, and the client's calls answer
        it through this connection's callbacks and retry.
        """
        from mcp.shared.exceptions import MCPError
        from mcp.types import CONNECTION_CLOSED

        client = self.client
        if client is None:
            raise MCPServerError(
                f"MCP server '{self.name}' is not connected", server=self.name, log=self._log()
            )
        try:
            return await send(client)
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise
            self.lost()
            raise MCPServerError(
                f"MCP server '{self.name}' closed the connection during {what} "
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
        if isinstance(leaf, MCPServerError):  # already says what to do (log in ...)
            return str(leaf)
        status = self._refused
        if status in (401, 403):
            fix = (
                "log in again: `kt mcp login {name}`"
                if settings.auth == "oauth"
                else 'give it credentials: headers = {{ Authorization = "Bearer ..." }}, or '
                'auth = "oauth" and `kt mcp login {name}`'
            )
            return (
                f"MCP server '{self.name}' at {settings.url} refused kt: HTTP {status} "
                f"({'unauthorized' if status == 401 else 'forbidden'}); "
                + fix.format(name=self.name)
            )
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
async def _streamable_http(
    settings: ServerSettings, auth: Any, on_refused: Callable[[int], None]
) -> AsyncIterator[Any]:
    """The streamable HTTP transport, with the settings' headers (and *auth*) on every request.

    *on_refused* hears of every 401 and 403 answer, which the SDK reports only as "an error".
    """
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    async def watch(response: Any) -> None:
        if response.status_code in (401, 403):
            on_refused(response.status_code)

    timeout = httpx2.Timeout(30.0, read=300.0)  # the SDK's own defaults for MCP over HTTP
    async with httpx2.AsyncClient(
        headers=dict(settings.headers),
        timeout=timeout,
        auth=auth,
        event_hooks={"response": [watch]},
    ) as http:
        async with streamable_http_client(settings.url or "", http_client=http) as streams:
            yield streams


def _devnull() -> TextIO:
    import os

    return open(os.devnull, "w")  # noqa: SIM115 (kept open for the process's life)


async def _list_all(list_page: Callable[..., Awaitable[Any]], field: str) -> list[Any]:
    """Every item of one listing (``tools``, ``resources`` ...), following pagination.

    Args:
        list_page: The session's method for the listing (``session.list_tools`` ...).
        field: The result's attribute holding the items.
    """
    from mcp.types import PaginatedRequestParams

    result = await list_page()
    items = list(getattr(result, field))
    pages = 1
    while result.next_cursor and pages < _PAGE_LIMIT:
        result = await list_page(params=PaginatedRequestParams(cursor=result.next_cursor))
        items += getattr(result, field)
        pages += 1
    return items


def _names(connection: ServerConnection, kind: Kind) -> list[str]:
    """The names (URIs for resources) in one of *connection*'s lists."""
    if kind == "tools":
        return [t.name for t in connection.tools]
    if kind == "prompts":
        return [p.name for p in connection.prompts]
    return [str(r.uri) for r in connection.resources] + [
        t.uri_template for t in connection.resource_templates
    ]


def _drop_context(answer: Callable[[Any], Awaitable[Any]] | None) -> Any:
    """An SDK callback ``(context, params)`` over an answer that needs only the params."""
    if answer is None:
        return None

    async def callback(context: Any, params: Any) -> Any:
        return await answer(params)

    return callback


def _modern(client: Any) -> bool:
    """Whether the connection speaks 2026-07-28 or later (changes come on a listen stream)."""
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    return client.protocol_version in MODERN_PROTOCOL_VERSIONS


def _announces_changes(client: Any) -> bool:
    caps = client.server_capabilities
    return any(
        part is not None and part.list_changed
        for part in (caps.tools, caps.resources, caps.prompts)
    )


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
