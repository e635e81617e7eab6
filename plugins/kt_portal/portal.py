"""Calling kt from synchronous code: scripts, Flask handlers, asyncio apps, notebooks.

kt's API is ``async`` and runs under trio. Code that is not running under trio reaches it in
one of two ways:

* `run_sync` runs one coroutine function to completion and returns its result. Each call
  starts and finishes its own trio loop, so nothing outlives the call: build, use and stop an
  agent inside the function you pass.
* `Portal` keeps one trio loop alive in a background thread. Agents built through it stay
  started between calls, so a web handler can keep a conversation going across requests::

      with kt_portal.Portal() as portal:
          with portal.agent("examples/support", llm=llm) as support:
              print(support.run("My order is late").text)
              for event in support.stream("Where is it now?"):
                  ...

Calls into a portal may come from any number of threads at once; each blocks its own thread
until the async call has finished on the portal's loop.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from kt.errors import AgentNotStartedError, AgentStoppedError
from kt.llm import USE_CONFIG

if TYPE_CHECKING:
    from kt import Agent, TurnResult
    from kt.events import Event

__all__ = ["Portal", "Service", "SyncAgent", "run_sync"]

T = TypeVar("T")

_STREAM_BUFFER = 32  # events a stream may run ahead of a slow synchronous reader


# -- run_sync ----------------------------------------------------------------------------------


def _inside_trio() -> bool:
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


def _asyncio_loop_running() -> bool:
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:  # never imported: no asyncio loop can be running
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_in_fresh_thread(fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``trio.run(fn)`` in a new thread and hand its result or exception to this one."""
    outcome: dict[str, Any] = {}

    def thread_main() -> None:
        try:
            outcome["value"] = trio.run(fn)
        except BaseException as error:  # every outcome is re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=thread_main, name="kt-run-sync", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def run_sync(async_fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
    """Run ``await async_fn(*args, **kwargs)`` to completion from synchronous code.

    Where it runs depends on the calling thread:

    * No event loop running (a script, a Flask handler, a test): ``trio.run`` in this thread.
    * An asyncio loop running (an asyncio application, Jupyter): trio cannot share the thread
      with it, so ``trio.run`` runs in a new worker thread and this thread blocks until it is
      done. **The asyncio loop is blocked for that time**; from a coroutine, prefer
      ``await asyncio.to_thread(kt_portal.run_sync, fn)`` to keep it responsive.
    * Inside trio: refused; ``await async_fn(...)`` directly.

    Each call is a separate trio run: agents, nurseries and channels created inside it end
    with it. Use `Portal` to keep agents alive between calls.

    Args:
        async_fn: The coroutine function to run.
        *args: Positional arguments for *async_fn*.
        **kwargs: Keyword arguments for *async_fn*.

    Returns:
        What *async_fn* returned.

    Raises:
        RuntimeError: if called from inside a trio loop.
        Exception: whatever *async_fn* raised, re-raised in the calling thread. A
            ``KeyboardInterrupt`` while waiting for the worker thread leaves that thread
            running until *async_fn* ends.
    """
    if _inside_trio():
        raise RuntimeError(
            "kt_portal.run_sync() was called from inside a trio event loop, which it would block; "
            f"use `await {getattr(async_fn, '__name__', 'fn')}(...)` directly instead"
        )
    fn = functools.partial(async_fn, *args, **kwargs)
    if _asyncio_loop_running():
        return _run_in_fresh_thread(fn)
    return trio.run(fn)


# -- Portal ------------------------------------------------------------------------------------


@attrs.define
class _StreamFailure:
    """Carries an exception from the producer task to the synchronous reader of a stream."""

    error: Exception


@attrs.define
class _EventPump:
    """The reader's end of one `SyncAgent.stream`, and the scope of the task feeding it."""

    receiver: trio.MemoryReceiveChannel[Any]
    scope: trio.CancelScope

    async def take(self) -> list[Any]:
        """The next event and every one queued behind it; ``[]`` once the stream ended."""
        try:
            items = [await self.receiver.receive()]
        except trio.EndOfChannel:
            return []
        while True:
            try:
                items.append(self.receiver.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return items

    async def stop(self) -> None:
        """Stop the feeding task (which cancels an unfinished turn) and close the channel."""
        self.scope.cancel()
        await self.receiver.aclose()


class Portal:
    """A trio event loop in a background thread, for synchronous code to call into.

    Start it with ``with Portal() as portal:`` or `start` / `close`. While it runs:

    * `call` runs a coroutine function on the loop and returns its result (or raises its
      exception) in the calling thread;
    * `agent` builds and starts an agent that stays running on the loop, wrapped in a
      `SyncAgent` with blocking methods.

    Any number of threads may call in at once; each call is its own task on the loop.

    Closing the portal cancels the calls still running (each raises ``AgentStoppedError`` in
    its thread), stops every agent it hosts (``async with agent`` exits under cancellation, so
    the agent's shielded cleanup runs), and joins the thread. A portal cannot be restarted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "new"  # new -> running -> closed
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._close_requested: trio.Event | None = None
        self._call_scopes: set[trio.CancelScope] = set()
        self._loop_error: BaseException | None = None

    # -- lifetime --

    def start(self) -> Portal:
        """Start the loop thread and return once the loop accepts calls.

        Calling it on a running portal does nothing.

        Returns:
            Portal: ``self``.

        Raises:
            AgentStoppedError: if the portal was closed.
        """
        with self._lock:
            if self._state == "running":
                return self
            if self._state == "closed":
                raise AgentStoppedError("this Portal was closed; create a new Portal()")
            self._thread = threading.Thread(target=self._thread_main, name="kt-portal", daemon=True)
            self._thread.start()
            self._ready.wait()
            if self._loop_error is not None:
                self._state = "closed"
                raise self._loop_error
            self._state = "running"
        return self

    def close(self) -> None:
        """Cancel running calls, stop every hosted agent, and join the loop thread.

        Idempotent; a portal that was never started is simply marked closed.

        Raises:
            RuntimeError: if called from a task running on the portal's own loop (it would wait
                for itself); close from another thread.
            BaseException: the error that crashed the portal's loop, if one did.
        """
        if self._thread is not None and threading.current_thread() is self._thread:
            raise RuntimeError("Portal.close() cannot be called from the portal's own thread")
        with self._lock:
            previous, self._state = self._state, "closed"
        if previous != "running":
            return
        try:
            trio.from_thread.run_sync(self._close_requested.set, trio_token=self._token)
        except trio.RunFinishedError:
            pass  # the loop already ended because it crashed; reap the thread, report below
        self._thread.join()
        if self._loop_error is not None:
            raise self._loop_error

    def __enter__(self) -> Portal:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _thread_main(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as error:  # reported by start(), or later by close()
            self._loop_error = error
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._close_requested = trio.Event()
            self._token = trio.lowlevel.current_trio_token()
            self._ready.set()
            await self._close_requested.wait()
            # Calls run as trio system tasks, outside this nursery: cancel them one by one.
            for scope in list(self._call_scopes):
                scope.cancel()
            nursery.cancel_scope.cancel()

    # -- calling in --

    def _require_running(self) -> trio.lowlevel.TrioToken:
        if self._state == "new":
            raise AgentNotStartedError(
                "this Portal is not started; use `with kt_portal.Portal() as portal:` or call "
                "portal.start() first"
            )
        if self._state == "closed":
            raise AgentStoppedError("this Portal was closed; create a new Portal()")
        assert self._token is not None
        return self._token

    async def _guarded(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run *fn* in a scope that `close` cancels; a call cut short by close raises."""
        with trio.CancelScope() as scope:
            if self._close_requested is None or self._close_requested.is_set():
                scope.cancel()
            self._call_scopes.add(scope)
            try:
                return await fn()
            finally:
                self._call_scopes.discard(scope)
        raise AgentStoppedError("the Portal was closed while this call was running")

    def call(self, async_fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Run ``await async_fn(*args, **kwargs)`` on the portal's loop; block until it ends.

        Args:
            async_fn: The coroutine function to run on the portal's loop.
            *args: Positional arguments for *async_fn*.
            **kwargs: Keyword arguments for *async_fn*.

        Returns:
            What *async_fn* returned.

        Raises:
            AgentNotStartedError: if the portal was not started.
            AgentStoppedError: if the portal is closed, or was closed during the call.
            RuntimeError: if called from the portal's own thread (await directly there).
            Exception: whatever *async_fn* raised.
        """
        token = self._require_running()
        fn = functools.partial(async_fn, *args, **kwargs)
        try:
            return trio.from_thread.run(self._guarded, fn, trio_token=token)
        except trio.RunFinishedError:
            raise AgentStoppedError("the Portal was closed; create a new Portal()") from None

    def start_service(
        self, async_fn: Callable[..., Awaitable[Any]], /, *args: Any, name: str | None = None
    ) -> Service:
        """Run ``async_fn(*args, task_status=...)`` on the portal's loop as a long-lived task.

        For work that outlives any one call: a server's engine held open for its lifetime, a
        pump feeding a queue. Blocks until *async_fn* calls ``task_status.started(value)``,
        so whatever it sets up exists when this returns; then it runs on until it returns,
        its `Service` is stopped, or the portal closes (it is cancelled then).

        Args:
            async_fn: The coroutine function; it takes ``task_status`` as a keyword.
            *args: Positional arguments for *async_fn*.
            name: For messages (default: the function's name).

        Returns:
            Service: ``value`` is what it passed to ``started``; ``stop()`` ends it.

        Raises:
            AgentNotStartedError / AgentStoppedError: the portal is not running.
            Exception: what *async_fn* raised before it was ready (a ``RuntimeError`` when it
                returned without calling ``started``). What it raises later is kept on the
                service and raised by ``stop()``: it never takes the portal down.
        """
        label = name or getattr(async_fn, "__name__", "service")
        return self.call(self._start_service, async_fn, args, label)

    async def _start_service(
        self, async_fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], name: str
    ) -> Service:
        service = Service(self, name)
        assert self._nursery is not None
        await self._nursery.start(service._host, async_fn, args)
        return service

    def agent(self, config: Any, **build_kwargs: Any) -> SyncAgent:
        """Build and start an agent on the portal's loop; it runs until closed.

        Args:
            config: What ``kt.Agent.build`` accepts: a dict, a path, a ``CreatureConfig`` or
                an ``@pack/ref``.
            **build_kwargs: Passed to ``kt.Agent.build`` (``llm=``, ``tools=``, ``plugins=``,
                ``pwd=``, ``kernel=``).

        Returns:
            SyncAgent: blocking handle; close it (or the portal) to stop the agent.

        Raises:
            AgentNotStartedError: if the portal was not started.
            AgentStoppedError: if the portal is closed.
            KTError: what building or starting the agent raised (``ConfigError`` ...).
        """
        return self.call(self._start_agent, config, build_kwargs)

    async def _start_agent(self, config: Any, build_kwargs: Mapping[str, Any]) -> SyncAgent:
        from kt import Agent  # here, not at the top: keeps `import kt_portal` light

        agent = await Agent.build(config, **build_kwargs)
        close_requested, stopped = trio.Event(), trio.Event()
        handle = SyncAgent(self, agent, close_requested, stopped)
        assert self._nursery is not None
        await self._nursery.start(self._host_agent, handle)
        return handle

    async def _host_agent(
        self, handle: SyncAgent, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Keep one agent entered until its handle or the portal closes.

        Errors from starting the agent reach `agent`'s caller through ``nursery.start``;
        errors from stopping it are kept on the handle for ``SyncAgent.close`` to raise, so
        one bad agent never takes the portal's nursery (and the other agents) down.
        """
        started = False
        try:
            async with handle._agent:
                started = True
                task_status.started()
                await handle._close_requested.wait()
        except Exception as error:
            if not started:
                raise
            handle._stop_error = error
        finally:
            handle._stopped.set()


class Service:
    """A task running on a `Portal`'s loop; made by `Portal.start_service`.

    Attributes:
        name: What it is called in messages.
        value: What it passed to ``task_status.started()``.
    """

    def __init__(self, portal: Portal, name: str) -> None:
        self._portal = portal
        self.name = name
        self.value: Any = None
        self._scope = trio.CancelScope()
        self._ended = trio.Event()
        self._error: Exception | None = None

    @property
    def running(self) -> bool:
        """Whether it still runs (``False`` once it returned, failed or was stopped)."""
        return not self._ended.is_set()

    def stop(self) -> None:
        """Cancel it and wait until it has ended. Idempotent; any thread but the portal's.

        Raises:
            Exception: what it raised after it was ready, the first time.
        """
        if self._portal._state == "running":
            self._portal.call(self._stop)
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    async def _stop(self) -> None:
        self._scope.cancel()
        await self._ended.wait()

    async def _host(
        self,
        async_fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the service; errors before it is ready reach `Portal.start_service`."""
        service = self

        class _Ready:
            started_yet = False

            def started(self, value: Any = None) -> None:
                service.value = value
                self.started_yet = True
                task_status.started()

        ready = _Ready()
        try:
            with self._scope:
                await async_fn(*args, task_status=ready)
        except Exception as error:
            if not ready.started_yet:
                raise
            self._error = error
        finally:
            self._ended.set()


class SyncAgent:
    """A blocking handle on an agent hosted by a `Portal`; built by `Portal.agent`.

    Every method may be called from any thread except the portal's own. Runs on one agent are
    queued by the agent (one turn at a time), so several threads may share a handle.
    """

    def __init__(
        self, portal: Portal, agent: Agent, close_requested: trio.Event, stopped: trio.Event
    ) -> None:
        self._portal = portal
        self._agent = agent
        self._close_requested = close_requested
        self._stopped = stopped
        self._stop_error: Exception | None = None
        self._closed = False

    @property
    def agent(self) -> Agent:
        """The hosted `kt.Agent`; only touch it from code running on the portal's loop."""
        return self._agent

    def _require_open(self) -> None:
        if self._closed:
            raise AgentStoppedError("this agent was closed; build another with portal.agent()")

    def run(self, text: str, *, timeout: float | None | Any = USE_CONFIG) -> TurnResult:
        """Run one turn and block until it ends.

        Args:
            text: The user message.
            timeout: Time limit for the turn in seconds. Not given: the creature's
                ``controller.turn_timeout``; ``None``: no limit. A turn that runs past it
                ends with ``status == "timeout"``; nothing is raised.

        Returns:
            TurnResult: status, final text, tool calls, usage.

        Raises:
            AgentStoppedError: if this handle or its portal was closed (also when the portal
                closes during the turn).
        """
        self._require_open()
        return self._portal.call(self._agent.run, text, timeout=timeout)

    def stream(self, text: str, *, timeout: float | None | Any = USE_CONFIG) -> Iterator[Event]:
        """Run one turn and yield its events as they happen, ending with ``TurnCompleted``.

        The turn starts at the first ``next()``. Leaving the loop early (``break``, an
        exception) closes the agent's event stream, which cancels the turn (its status is
        ``cancelled``). A generator that is dropped without being exhausted is closed when it
        is garbage-collected; wrap it in ``contextlib.closing`` to close it at a known point.

        Args:
            text: The user message.
            timeout: See `run`.

        Yields:
            Event: each ``kt.events`` event of the turn, in order.

        Raises:
            AgentStoppedError: if this handle or its portal was closed.
            Exception: what the agent's event stream raised.
        """
        self._require_open()
        pump = self._portal.call(self._open_stream, text, timeout)
        try:
            while True:
                items = self._portal.call(pump.take)  # one thread hop for what is queued
                for item in items:
                    if isinstance(item, _StreamFailure):
                        raise item.error
                    yield item
                if not items:
                    return
        finally:
            try:
                self._portal.call(pump.stop)
            except AgentStoppedError:
                pass  # the portal closed: the turn and its channel are gone already

    async def _open_stream(self, text: str, timeout: float | None | Any) -> _EventPump:
        sender, receiver = trio.open_memory_channel[Any](_STREAM_BUFFER)
        pump = _EventPump(receiver=receiver, scope=trio.CancelScope())
        assert self._portal._nursery is not None
        self._portal._nursery.start_soon(self._pump_events, text, timeout, sender, pump.scope)
        return pump

    async def _pump_events(
        self,
        text: str,
        timeout: float | None | Any,
        sender: trio.MemorySendChannel[Any],
        scope: trio.CancelScope,
    ) -> None:
        """Forward the turn's events to the reader until the turn ends or the reader leaves.

        The reader leaving cancels *scope*. That reaches this task wherever it waits: in
        ``send`` (the reader is slow) or in the agent's stream (the turn is between events),
        and the agent's stream turns that cancellation into a cancelled turn. Errors are sent
        to the reader instead of escaping into the portal's nursery.
        """
        with scope:
            async with sender:
                try:
                    async with aclosing(self._agent.run_stream(text, timeout=timeout)) as events:
                        async for event in events:
                            await sender.send(event)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return  # the reader closed its end
                except Exception as error:
                    try:
                        await sender.send(_StreamFailure(error))
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        return

    def interrupt(self) -> None:
        """Interrupt the running turn, if any (``status == "interrupted"``). Never blocks.

        Safe from any thread, including one that is reading `stream`.
        """
        self._agent.interrupt()

    def close(self) -> None:
        """Stop the agent and wait until it has stopped. Idempotent.

        A turn still running is cancelled by the agent's stop. If the portal is already
        closed, the agent was stopped with it and this only marks the handle closed.

        Raises:
            Exception: what stopping the agent raised, the first time.
        """
        if self._closed:
            return
        self._closed = True
        if self._portal._state != "running":
            return
        self._portal.call(self._request_close)
        if self._stop_error is not None:
            error, self._stop_error = self._stop_error, None
            raise error

    async def _request_close(self) -> None:
        self._close_requested.set()
        await self._stopped.wait()

    def __enter__(self) -> SyncAgent:
        self._require_open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
