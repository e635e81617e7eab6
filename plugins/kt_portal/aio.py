"""Native asyncio: await creatures from an asyncio program, in its own thread and loop.

KT Terrarium runs on trio. Under asyncio (FastAPI, discord.py, Jupyter, ``asyncio.run``) this
module runs trio as a *guest* of the running asyncio loop, with trio's guest mode: one trio run
per asyncio loop, started on first use, in the same thread. Nothing blocks, no thread of yours
is needed, and the names are the ones you know::

    from kt_portal import aio

    async def main():
        async with await aio.Agent.build("examples/demo", llm=llm) as agent:
            result = await agent.run("count the words in 'a b c'")
            async for event in agent.run_stream("and now?"):
                ...

    asyncio.run(main())

* :class:`Agent` wraps :class:`kt.Agent`: ``await Agent.build(...)``, ``async with``,
  ``start()``/``stop()``, ``await run(...)``, ``async for ... in run_stream(...)``,
  ``interrupt()``; other attributes (``history``, ``usage``, ``name`` ...) read through.
* :func:`call` awaits any trio coroutine function (a terrarium's method, a composition
  pipeline, a session reader); :func:`hosted` enters any trio async context manager (a
  ``Terrarium``) for an ``async with`` block, and :func:`wrap` makes an object's coroutine
  methods awaitable from asyncio.
* Cancellation crosses both ways: cancelling the asyncio task that awaits a turn cancels the
  turn under trio (the history stays valid, as for any cancelled turn) and the task sees
  ``asyncio.CancelledError`` once the turn has cleaned up; an error raised under trio is
  raised, the same object, in asyncio.
* Crossing costs little: a call wakes the trio run at most once (and not at all when it
  follows another call at once), and a stream's events reach the reader with no crossing.
* The trio run ends when the asyncio loop shuts down (``asyncio.run`` cancels the tasks left
  at exit, which stops it) or at ``await aio.shutdown()``, for loops that live on.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from kt.errors import AgentNotStartedError

if TYPE_CHECKING:
    import kt

__all__ = ["Agent", "Hosted", "TrioGuest", "Wrapped", "call", "hosted", "shutdown", "wrap"]

T = TypeVar("T")

_STREAM_BUFFER = 64  # events a turn may run ahead of its asyncio reader before it waits


class TrioGuest:
    """One trio run hosted by one asyncio loop (trio's guest mode).

    Get it with ``await TrioGuest.current()``; it starts on first use and lives until the loop
    shuts down or :meth:`shutdown` is awaited.
    """

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TrioGuest] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.ready: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._keeper: asyncio.Task[None] | None = None

    @classmethod
    async def current(cls) -> TrioGuest:
        """The running loop's trio guest, started if needed.

        Raises:
            RuntimeError: called outside a running asyncio loop.
        """
        loop = asyncio.get_running_loop()
        guest = cls._by_loop.get(loop)
        if guest is None or guest.finished.done():
            guest = cls._by_loop[loop] = cls(loop)
            guest._start()
        await asyncio.shield(guest.ready)
        return guest

    def _start(self) -> None:
        trio.lowlevel.start_guest_run(
            self._main,
            run_sync_soon_threadsafe=self.loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=self.loop.call_soon,
            done_callback=self._done,
            host_uses_signal_set_wakeup_fd=True,
        )
        # asyncio.run cancels the tasks left at exit: this one then ends the trio run, so it
        # never outlives the loop it schedules its work on.
        self._keeper = self.loop.create_task(self._keep(), name="kt trio guest")

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.ready.set_result(None)
            await trio.sleep_forever()

    def _done(self, outcome: Any) -> None:
        if not self.ready.done():
            self.ready.set_exception(RuntimeError("the trio guest run ended before it started"))
        if not self.finished.done():
            self.finished.set_result(None)
        try:
            outcome.unwrap()
        except BaseException as error:  # reported, not lost: the run itself failed
            self.loop.call_exception_handler(
                {"message": "the kt trio guest run failed", "exception": error}
            )

    async def _keep(self) -> None:
        try:
            await asyncio.shield(self.finished)
        except asyncio.CancelledError:
            await self._stop()

    async def _stop(self) -> None:
        if self.finished.done():
            return
        nursery = self._nursery
        if nursery is not None and not self._soon(nursery.cancel_scope.cancel):
            return
        await asyncio.shield(self.finished)

    async def shutdown(self) -> None:
        """End the trio run: agents still hosted on it are stopped (their turns cancelled)."""
        await self._stop()
        if self._keeper is not None and self._keeper is not asyncio.current_task():
            self._keeper.cancel()

    def _spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Start ``fn(*args)`` as a task of the guest's nursery (from asyncio code)."""
        nursery = self._nursery
        if nursery is not None and not self.finished.done():
            if self._soon(lambda: nursery.start_soon(fn, *args)):
                return
        raise AgentNotStartedError(
            "the trio run hosted by this asyncio loop has ended; it ends when the loop "
            "shuts down or at aio.shutdown()"
        )

    def _soon(self, callback: Callable[[], Any]) -> bool:
        """Run *callback* under trio soon; ``False`` when the run has ended (nothing to do)."""
        if self._token is None:
            return False
        try:
            self._token.run_sync_soon(callback)
        except trio.RunFinishedError:
            return False
        return True

    async def call(self, async_fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``async_fn(*args, **kwargs)`` under trio and return (or raise) its outcome.

        Cancelling the awaiting asyncio task cancels the call under trio; the task sees
        ``asyncio.CancelledError`` once the trio side has finished cleaning up.
        """
        # At most one wake-up of the trio run per call (none when it is still awake, see
        # _settle): the outcome future is set by trio code running in this thread (guest ticks
        # are asyncio callbacks), so coming back costs no cross-thread hop.
        pending = _Pending(self.loop)
        scope = trio.CancelScope()
        self._spawn(_settle, async_fn, args, kwargs, pending, scope)
        try:
            return await pending.outcome
        except asyncio.CancelledError:
            if not pending.ended and self._soon(scope.cancel):
                pending.on_end = self.loop.create_future()
                await _outlast(pending.on_end)
            raise


class _Pending:
    """The asyncio end of one call under trio: its outcome, and whether the trio side is done.

    The awaiting task awaits ``outcome`` itself (no shield: cancelling the task cancels that
    future, which the trio side then leaves alone); ``on_end`` is made only when someone needs
    to wait for the trio side's cleanup.
    """

    __slots__ = ("ended", "on_end", "outcome")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.outcome: asyncio.Future[Any] = loop.create_future()
        self.ended = False
        self.on_end: asyncio.Future[None] | None = None

    def end(self) -> None:
        self.ended = True
        if self.on_end is not None and not self.on_end.done():
            self.on_end.set_result(None)


async def _outlast(future: asyncio.Future[None]) -> None:
    """Wait for *future* (trio cleaning up), whatever cancels the waiting task meanwhile."""
    while not future.done():
        try:
            await asyncio.shield(future)
        except BaseException:  # noqa: S112 -- the caller re-raises its own outcome after this
            continue


async def _settle(
    async_fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    pending: _Pending,
    scope: trio.CancelScope,
) -> None:
    """Run one call under trio and put its outcome on the asyncio future."""
    outcome = pending.outcome
    try:
        with scope:
            try:
                value = await async_fn(*args, **kwargs)
            except trio.Cancelled:
                outcome.cancel()
                raise
            except BaseException as error:
                if not outcome.done():
                    outcome.set_exception(error)
                return
            if not outcome.done():
                outcome.set_result(value)
        outcome.cancel()  # cancelled before it started (a no-op once it has an outcome)
    finally:
        pending.end()
    # Stay runnable for one more tick. The awaiting task resumes first (its wake-up was queued
    # before the next trio tick), and when it calls in again at once, as a loop of turns or a
    # chain of calls does, that tick picks the call up; parked instead, trio would wait for
    # I/O in its own thread and each call would cost a round trip through that thread.
    await trio.lowlevel.checkpoint()


async def call(async_fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
    """Await a trio coroutine function from asyncio: ``await aio.call(terrarium.wait_idle)``.

    Asyncio views (:class:`Wrapped`, :class:`Agent`) among the arguments are handed to it as
    the trio objects behind them.
    """
    guest = await TrioGuest.current()
    args = tuple(_unwrapped(arg) for arg in args)
    kwargs = {key: _unwrapped(arg) for key, arg in kwargs.items()}
    return await guest.call(async_fn, *args, **kwargs)


async def shutdown() -> None:
    """End the running loop's trio run now (a no-op when none was started)."""
    guest = TrioGuest._by_loop.get(asyncio.get_running_loop())
    if guest is not None:
        await guest.shutdown()


# -- Objects and lifetimes ---------------------------------------------------------------------


class Wrapped:
    """An object of the trio world seen from asyncio: its coroutine methods become awaitable.

    What such a method returns comes wrapped in turn when it has coroutine methods of its own
    (``await terrarium.add_creature(...)`` gives a creature's handle whose ``run`` is awaited
    the same way), and wrapped objects passed to one are unwrapped first. Plain attributes and
    methods read through unchanged.
    """

    def __init__(self, target: Any, guest: TrioGuest) -> None:
        self._target = target
        self._guest = guest

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            guest = self._guest

            async def bridged(*args: Any, **kwargs: Any) -> Any:
                result = await call(value, *args, **kwargs)
                return Wrapped(result, guest) if _has_coroutine_methods(type(result)) else result

            bridged.__name__ = name
            bridged.__doc__ = value.__doc__
            return bridged
        return value

    def __repr__(self) -> str:
        return f"<asyncio view of {self._target!r}>"


def _unwrapped(value: Any) -> Any:
    """What trio code is handed for *value*: the object behind an asyncio view."""
    if isinstance(value, Wrapped):
        return value._target
    if isinstance(value, Agent):
        return value.agent
    return value


@functools.cache
def _has_coroutine_methods(cls: type) -> bool:
    return any(
        inspect.iscoroutinefunction(getattr(cls, name, None))
        for name in dir(cls)
        if not name.startswith("_")
    )


async def wrap(target: Any) -> Wrapped:
    """*target* with its coroutine methods awaitable from asyncio."""
    return Wrapped(target, await TrioGuest.current())


class Hosted:
    """A trio async context manager held open by a task of the guest run, for asyncio code.

    ``async with aio.hosted(kt_terrarium.Terrarium()) as terrarium:`` enters it under trio
    (in one trio task, as trio requires for nurseries) and gives the entered value, wrapped
    (:class:`Wrapped`); leaving the block exits it in that same task.
    """

    def __init__(self, manager: AbstractAsyncContextManager[Any]) -> None:
        self.manager = manager
        self._close: trio.Event | None = None
        self._closed: asyncio.Future[None] | None = None
        self._guest: TrioGuest | None = None

    async def __aenter__(self) -> Any:
        guest = self._guest = await TrioGuest.current()
        entered: asyncio.Future[Any] = guest.loop.create_future()
        self._closed = guest.loop.create_future()
        self._close = trio.Event()
        guest._spawn(_hold, self.manager, entered, self._closed, self._close)
        value = await entered
        return value if isinstance(value, Wrapped | Agent) else Wrapped(value, guest)

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._guest is not None and self._close is not None and self._closed is not None
        if not self._closed.done() and not self._guest._soon(self._close.set):
            return  # the run ended, and the manager was exited with it
        await asyncio.shield(self._closed)


async def _hold(
    manager: AbstractAsyncContextManager[Any],
    entered: asyncio.Future[Any],
    closed: asyncio.Future[None],
    close: trio.Event,
) -> None:
    """Enter *manager*, report its value, wait for *close*, exit it: all in one trio task."""
    try:
        async with manager as value:
            entered.set_result(value)
            await close.wait()
    except Exception as error:  # entering failed, or exiting did: the asyncio side raises it
        waiting = entered if not entered.done() else closed
        if not waiting.done():
            waiting.set_exception(error)
    finally:  # trio.Cancelled (the guest run ending) passes through, after these
        if not entered.done():
            entered.cancel()
        if not closed.done():
            closed.set_result(None)


def hosted(manager: AbstractAsyncContextManager[Any]) -> Hosted:
    """Hold a trio async context manager open for an asyncio ``async with`` block."""
    return Hosted(manager)


# -- Agents -------------------------------------------------------------------------------------


class Agent:
    """A :class:`kt.Agent` for asyncio code.

    Build it with ``await aio.Agent.build(...)`` (the arguments of :meth:`kt.Agent.build`),
    then ``async with agent:`` (or ``await agent.start()`` / ``await agent.stop()``).
    """

    def __init__(self, agent: kt.Agent, guest: TrioGuest) -> None:
        self.agent = agent
        self._guest = guest
        self._hosted: Hosted | None = None

    @classmethod
    async def build(cls, config: Any, **build_kwargs: Any) -> Agent:
        """Build an agent, as :meth:`kt.Agent.build` does, for use from asyncio."""
        from kt import Agent as TrioAgent

        guest = await TrioGuest.current()
        return cls(await guest.call(TrioAgent.build, config, **build_kwargs), guest)

    async def start(self) -> None:
        """Start the agent (its tasks live in the trio guest run until :meth:`stop`)."""
        if self._hosted is None:
            hosted_agent = Hosted(self.agent)
            await hosted_agent.__aenter__()
            self._hosted = hosted_agent

    async def stop(self) -> None:
        """Stop the agent: a running turn is cancelled; idempotent."""
        hosted_agent, self._hosted = self._hosted, None
        if hosted_agent is not None:
            await hosted_agent.__aexit__(None, None, None)

    async def __aenter__(self) -> Agent:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def run(self, input: Any, **kwargs: Any) -> kt.TurnResult:
        """Run one turn (see :meth:`kt.Agent.run`); cancelling the awaiting task cancels it."""
        return await self._guest.call(self.agent.run, input, **kwargs)

    def run_stream(self, input: Any, **kwargs: Any) -> EventStream:
        """The turn's events as an async iterator (see :meth:`kt.Agent.run_stream`).

        Leaving the iteration early (``break``, an error, cancellation) cancels the turn;
        ``async with agent.run_stream(...) as events:`` makes that happen at once.
        """
        return EventStream(self, input, kwargs)

    def interrupt(self) -> None:
        """Interrupt the running turn (see :meth:`kt.Agent.interrupt`)."""
        self.agent.interrupt()

    def __getattr__(self, name: str) -> Any:
        return getattr(Wrapped(self.agent, self._guest), name)


class EventStream:
    """The events of one turn, for ``async for`` in asyncio code.

    The trio task running the turn puts each event straight into this object's buffer and
    wakes the reader: both run in the asyncio thread, so events cost no cross-loop hop. The
    reader wakes the trio task only when the buffer was full (a slow reader holds the turn
    back) and when it leaves early.
    """

    def __init__(self, agent: Agent, input: Any, kwargs: dict[str, Any]) -> None:
        self._agent = agent
        self._input = input
        self._kwargs = kwargs
        self._events: deque[Any] = deque()
        self._started = False
        self._ended = False  # the trio side sends nothing more
        self._error: BaseException | None = None
        self._reader: asyncio.Future[None] | None = None  # set while the reader waits
        self._room: trio.Event | None = None  # set while the turn waits for the reader
        self._scope = trio.CancelScope()
        self._finished: asyncio.Future[None] = agent._guest.loop.create_future()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        guest = self._agent._guest
        if not self._started:
            self._started = True
            guest._spawn(self._pump)
        while not self._events:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._reader = guest.loop.create_future()
            try:
                await self._reader
            except BaseException:
                await self.aclose()
                raise
            finally:
                self._reader = None
        event = self._events.popleft()
        if self._room is not None and len(self._events) <= _STREAM_BUFFER // 2:
            room, self._room = self._room, None
            guest._soon(room.set)
        return event

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    async def _pump(self) -> None:
        """Run the turn under trio, buffering its events for the reader."""
        from contextlib import aclosing

        try:
            with self._scope:
                stream = self._agent.agent.run_stream(self._input, **self._kwargs)
                async with aclosing(stream) as events:
                    async for event in events:
                        self._events.append(event)
                        self._wake_reader()
                        if len(self._events) >= _STREAM_BUFFER:
                            self._room = trio.Event()
                            await self._room.wait()
        except trio.Cancelled:
            # Not the reader leaving (that cancels the scope, which absorbs it): the trio run
            # itself is ending, and the reader is cancelled as a call would be.
            self._error = asyncio.CancelledError()
            raise
        except Exception as error:  # the asyncio side raises it, the same object
            self._error = error
        finally:
            self._ended = True
            self._wake_reader()
            if not self._finished.done():
                self._finished.set_result(None)
        await trio.lowlevel.checkpoint()  # awake for the reader's next call (see _settle)

    async def aclose(self) -> None:
        """Stop reading: a turn still running is cancelled; returns once it has cleaned up."""
        if not self._started:
            self._started = self._ended = True  # closed before the first event: never runs
            return
        if not self._finished.done() and self._agent._guest._soon(self._scope.cancel):
            await _outlast(self._finished)

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
