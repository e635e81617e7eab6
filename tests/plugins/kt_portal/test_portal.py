"""Synchronous callers: ``run_sync`` and the ``Portal`` hosting a trio loop in a thread."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import trio

from kt.errors import AgentNotStartedError, AgentStoppedError
from kt_portal import Portal, run_sync

# A safety net so a broken portal fails the test instead of hanging it; never used to wait.
DEADLOCK_GUARD = 10


async def add(a: int, b: int, *, times: int = 1) -> int:
    await trio.lowlevel.checkpoint()
    return (a + b) * times


async def where_am_i() -> str:
    await trio.lowlevel.checkpoint()
    return threading.current_thread().name


async def explode(message: str) -> None:
    await trio.lowlevel.checkpoint()
    raise LookupError(message)


# -- run_sync ------------------------------------------------------------------------------------


def test_run_sync_from_plain_code_runs_in_this_thread():
    assert run_sync(add, 1, 2, times=3) == 9
    assert run_sync(where_am_i) == threading.current_thread().name


def test_run_sync_re_raises_the_functions_exception():
    with pytest.raises(LookupError, match="nope"):
        run_sync(explode, "nope")


def test_run_sync_inside_a_running_asyncio_loop_uses_a_worker_thread():
    async def main():
        asyncio.get_running_loop()  # really inside asyncio
        return run_sync(add, 2, 3), run_sync(where_am_i), threading.current_thread().name

    total, trio_thread, asyncio_thread = asyncio.run(main())
    assert total == 5
    assert trio_thread == "kt-run-sync"
    assert trio_thread != asyncio_thread


def test_run_sync_inside_asyncio_re_raises_exceptions():
    async def main():
        run_sync(explode, "from worker")

    with pytest.raises(LookupError, match="from worker"):
        asyncio.run(main())


async def test_run_sync_inside_trio_refuses_and_says_to_await():
    with pytest.raises(RuntimeError, match="await"):
        run_sync(add, 1, 2)


# -- Portal.call ---------------------------------------------------------------------------------


def test_portal_call_runs_on_the_portal_thread_and_returns_the_result():
    with Portal() as portal:
        assert portal.call(add, 20, 1, times=2) == 42
        assert portal.call(where_am_i) == "kt-portal"


def test_portal_call_propagates_exceptions():
    with Portal() as portal:
        with pytest.raises(LookupError, match="bad call"):
            portal.call(explode, "bad call")
        assert portal.call(add, 1, 1) == 2  # the portal survives a failing call


def test_portal_calls_from_several_threads_run_concurrently():
    callers = 8
    with Portal() as portal:
        arrived = portal.call(_make_counter)
        all_arrived = portal.call(_make_event)

        async def wait_for_everyone(index: int) -> int:
            arrived.append(index)
            if len(arrived) == callers:
                all_arrived.set()
            with trio.fail_after(DEADLOCK_GUARD):
                await all_arrived.wait()  # only returns if every call is in flight at once
            return index * 10

        with ThreadPoolExecutor(max_workers=callers) as pool:
            results = list(pool.map(lambda i: portal.call(wait_for_everyone, i), range(callers)))
    assert results == [i * 10 for i in range(callers)]
    assert sorted(arrived) == list(range(callers))


async def _make_counter() -> list:
    return []


async def _make_event() -> trio.Event:
    return trio.Event()


def test_portal_call_before_start_and_after_close():
    portal = Portal()
    with pytest.raises(AgentNotStartedError, match="start"):
        portal.call(add, 1, 2)
    portal.start()
    assert portal.start() is portal  # idempotent
    portal.close()
    portal.close()  # idempotent
    with pytest.raises(AgentStoppedError, match="new Portal"):
        portal.call(add, 1, 2)
    with pytest.raises(AgentStoppedError):
        portal.start()


def test_closing_the_portal_cancels_a_running_call():
    call_started = threading.Event()
    cleaned_up = threading.Event()
    outcome = {}

    async def hang_forever():
        try:
            call_started.set()
            await trio.sleep_forever()
        finally:
            cleaned_up.set()

    def caller():
        try:
            portal.call(hang_forever)
        except BaseException as error:
            outcome["error"] = error

    portal = Portal().start()
    thread = threading.Thread(target=caller)
    thread.start()
    assert call_started.wait(DEADLOCK_GUARD)
    portal.close()
    thread.join(DEADLOCK_GUARD)
    assert not thread.is_alive()
    assert cleaned_up.is_set()
    assert isinstance(outcome.get("error"), AgentStoppedError)


def test_portal_thread_ends_on_close():
    portal = Portal().start()
    thread = portal._thread
    assert thread is not None and thread.is_alive()
    portal.close()
    assert not thread.is_alive()


# -- Portal-hosted agents ------------------------------------------------------------------------


def _creature(name: str = "portal-test") -> dict:
    return {"name": name, "system_prompt": "You answer briefly."}


class BlockingLLM:
    """Streams one chunk, then blocks until its stream is closed; records that it was."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    async def stream(self, request):
        from kt.llm import TextChunk

        try:
            yield TextChunk("thinking...")
            await trio.sleep_forever()
        finally:
            self.closed.set()


def test_sync_agent_runs_scripted_turns_and_keeps_history():
    from kt.testing import ScriptedLLM

    llm = ScriptedLLM(["first reply", "second reply"])
    with Portal() as portal, portal.agent(_creature(), llm=llm) as agent:
        first = agent.run("hello")
        second = agent.run("again")
    assert (first.status, first.text) == ("completed", "first reply")
    assert (second.status, second.text) == ("completed", "second reply")
    assert [m.role for m in llm.calls[1].messages].count("user") == 2


def test_sync_agent_stream_yields_events_ending_with_turn_completed():
    from kt.events import TextDelta, TurnCompleted
    from kt.testing import ScriptedLLM

    with Portal() as portal, portal.agent(_creature(), llm=ScriptedLLM(["streamed"])) as agent:
        events = list(agent.stream("go"))
    assert isinstance(events[-1], TurnCompleted)
    assert events[-1].result.text == "streamed"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "streamed"
    assert sum(isinstance(e, TurnCompleted) for e in events) == 1


def test_a_slow_stream_reader_takes_every_queued_event_in_one_call(monkeypatch):
    import kt_portal.portal as portal_module
    from kt.events import TurnCompleted
    from kt.testing import ScriptedLLM, ScriptEntry

    takes, pumped = [], trio.Event()
    take, pump_events = portal_module._EventPump.take, portal_module.SyncAgent._pump_events

    async def counted_take(pump):
        items = await take(pump)
        takes.append(len(items))
        return items

    async def watched_pump(self, *args):
        try:
            await pump_events(self, *args)
        finally:
            pumped.set()  # the whole turn is queued for the reader (or the turn failed)

    monkeypatch.setattr(portal_module._EventPump, "take", counted_take)
    monkeypatch.setattr(portal_module.SyncAgent, "_pump_events", watched_pump)
    reply = ScriptEntry(text="one two three four five six", chunk_size=4)
    with Portal() as portal, portal.agent(_creature(), llm=ScriptedLLM([reply])) as agent:
        events = []
        for event in agent.stream("go"):
            if not events:  # a slow reader: the rest of the turn queues meanwhile
                portal.call(pumped.wait)
            events.append(event)
    assert isinstance(events[-1], TurnCompleted) and len(events) > 6
    # What was queued before the reader asked, then everything queued while it was slow (one
    # call), then the end of the stream: never a call per event.
    assert len(takes) <= 3 and takes[-1] == 0 and sum(takes) == len(events)


def test_interrupt_from_the_thread_reading_the_stream():
    from kt.events import TextDelta, TurnCompleted

    llm = BlockingLLM()
    with Portal() as portal, portal.agent(_creature(), llm=llm) as agent:
        events = []
        for event in agent.stream("take your time"):
            events.append(event)
            if isinstance(event, TextDelta):
                agent.interrupt()
    assert isinstance(events[-1], TurnCompleted)
    assert events[-1].result.status == "interrupted"
    assert llm.closed.is_set()


def test_breaking_out_of_a_stream_cancels_the_turn_and_the_agent_stays_usable():
    from kt.events import TextDelta

    class BlockOnceLLM(BlockingLLM):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        async def stream(self, request):
            from kt.llm import LLMDone, TextChunk

            self.calls += 1
            if self.calls == 1:
                async for chunk in super().stream(request):
                    yield chunk
            else:
                yield TextChunk("fine now")
                yield LLMDone()

    llm = BlockOnceLLM()
    with Portal() as portal, portal.agent(_creature(), llm=llm) as agent:
        for event in agent.stream("start something long"):
            if isinstance(event, TextDelta):
                break
        assert llm.closed.wait(DEADLOCK_GUARD)
        follow_up = agent.run("next")
    assert (follow_up.status, follow_up.text) == ("completed", "fine now")


def test_sync_agent_after_close_raises_agent_stopped():
    from kt.testing import ScriptedLLM

    with Portal() as portal:
        agent = portal.agent(_creature(), llm=ScriptedLLM(["x"]))
        agent.close()
        agent.close()  # idempotent
        with pytest.raises(AgentStoppedError):
            agent.run("hello")
        survivor = portal.agent(_creature("survivor"), llm=ScriptedLLM(["still here"]))
    with pytest.raises(AgentStoppedError):
        survivor.run("after the portal closed")


def test_build_errors_reach_the_caller_and_the_portal_survives():
    from kt.errors import KTError
    from kt.testing import ScriptedLLM

    with Portal() as portal:
        with pytest.raises(KTError):
            portal.agent({"name": "bad", "no_such_key": 1}, llm=ScriptedLLM(["x"]))
        assert portal.call(add, 1, 2) == 3
