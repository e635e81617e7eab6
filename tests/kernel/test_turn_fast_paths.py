"""The turn loop's fast paths keep its guarantees.

A turn skips work nobody needs: the shielded cleanup scope when no hook or output could be
interrupted, closing a model stream that closed itself, the tool task switch when the
controller can run a lone sync call itself, and re-checking arguments that were checked
when the call was recorded. These tests pin what must still hold on each path.
"""

from __future__ import annotations

import threading

import pytest
import trio

import kt
from kt.errors import LLMError
from kt.events import TurnCompleted
from kt.llm import LLMDone, TextChunk
from kt.testing import EventRecorder, ScriptedLLM, ScriptEntry, ToolCall


@pytest.fixture
def kernel() -> kt.Kernel:
    return kt.Kernel(plugins=[])


async def build(llm, kernel, tools=(), plugins=()):
    return await kt.Agent.build({"name": "t"}, llm=llm, tools=tools, kernel=kernel, plugins=plugins)


@kt.tool
async def echo(text: str) -> str:
    """Echo the text back."""
    return f"echo: {text}"


class _CallThenFail:
    """Asks for a tool, then fails while the tool still runs."""

    async def stream(self, request):
        yield ToolCall("slow", {}, id="c1")
        await trio.sleep(0.1)
        raise LLMError("connection lost")


async def test_a_failed_round_cancels_its_running_tool_and_reports_the_error(
    kernel, autojump_clock
):
    cleaned = []

    @kt.tool
    async def slow() -> str:
        """Sleep long."""
        try:
            await trio.sleep(5)
        finally:
            cleaned.append(True)
        return "never"

    async with await build(_CallThenFail(), kernel, [slow]) as agent:
        result = await agent.run("go")
    assert result.status == "error"  # not "timeout": the turn's own cancel is not a timeout
    assert str(result.error) == "connection lost"
    assert cleaned == [True]
    assert [c.status for c in result.tool_calls] == ["cancelled"]
    assert kt.history.is_well_formed(agent.history)


async def test_stopping_mid_turn_with_no_listener_still_ends_the_turn(kernel, autojump_clock):
    llm = ScriptedLLM([ScriptEntry(text="z" * 50, chunk_size=1, delay=0.1)])
    agent = await build(llm, kernel)
    results = []

    async def run() -> None:
        results.append(await agent.run("go"))

    async with trio.open_nursery() as nursery:
        await agent.start()
        nursery.start_soon(run)
        await trio.sleep(0.35)
        await agent.stop()
    assert [r.status for r in results] == ["cancelled"]
    assert agent.history[-1].meta == {"interrupted": True}
    assert kt.history.is_well_formed(agent.history)


class _SlowTurnEnd:
    kt_plugin_name = "slow_turn_end"

    def __init__(self) -> None:
        self.ended: list[str] = []

    @kt.hookimpl
    async def kt_turn_ended(self, ctx, result) -> None:
        await trio.sleep(0.5)  # a checkpoint: the stop's cancellation would land here
        self.ended.append(result.status)


async def test_cleanup_that_awaits_a_hook_is_shielded_from_the_stop(kernel, autojump_clock):
    llm = ScriptedLLM([ScriptEntry(text="z" * 50, chunk_size=1, delay=0.1)])
    hook, recorder = _SlowTurnEnd(), EventRecorder()
    agent = await build(llm, kernel, plugins=[hook, recorder])
    async with agent:
        agent.inject("go")
        await trio.sleep(0.35)
    assert hook.ended == ["cancelled"]
    assert [e.result.status for e in recorder.of_type(TurnCompleted)] == ["cancelled"]


class _ClosableStream:
    """A stream object (not an async generator) that must be closed after every call."""

    def __init__(self) -> None:
        self.items = [TextChunk("hi"), LLMDone()]
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self.items:
            raise StopAsyncIteration
        return self.items.pop(0)

    async def aclose(self) -> None:
        self.closed = True


class _ClosableLLM:
    def __init__(self) -> None:
        self.streams: list[_ClosableStream] = []

    def stream(self, request):
        self.streams.append(_ClosableStream())
        return self.streams[-1]


async def test_a_stream_object_is_closed_even_after_it_ran_to_its_end(kernel):
    llm = _ClosableLLM()
    async with await build(llm, kernel) as agent:
        result = await agent.run("go")
    assert result.text == "hi"
    assert [s.closed for s in llm.streams] == [True]


class _EndlessGenerator:
    def __init__(self) -> None:
        self.closed = False

    async def stream(self, request):
        try:
            while True:
                await trio.sleep(0.1)
                yield TextChunk("z")
        finally:
            self.closed = True


async def test_a_generator_cut_short_is_closed(kernel, autojump_clock):
    llm = _EndlessGenerator()
    async with await build(llm, kernel) as agent:
        result = await agent.run("go", timeout=0.35)
    assert result.status == "timeout"
    assert llm.closed


async def test_a_lone_sync_call_still_runs_in_a_worker_thread_and_honours_its_timeout(
    kernel, autojump_clock
):
    release, returned = threading.Event(), threading.Event()
    threads = []

    @kt.tool(timeout=0.2)
    def stuck() -> str:
        """Block until released."""
        threads.append(threading.current_thread())
        release.wait(10)
        returned.set()
        return "late"

    llm = ScriptedLLM([ToolCall("stuck", {}), "moved on"])
    try:
        async with await build(llm, kernel, [stuck]) as agent:
            result = await agent.run("go")
    finally:
        release.set()
    assert returned.wait(10)  # the abandoned worker thread ends once released
    assert threads[0] is not threading.current_thread()
    assert result.tool_calls[0].status == "timeout"
    assert result.text == "moved on"


async def test_several_sync_calls_of_one_round_never_overlap_when_unsafe(kernel):
    lock, active, peak = threading.Lock(), [0], [0]

    @kt.tool(concurrency_safe=False)
    def write(name: str) -> str:
        """Write."""
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        with lock:
            active[0] -= 1
        return name

    calls = [ToolCall("write", {"name": n}) for n in "abc"]
    async with await build(ScriptedLLM([calls, "ok"]), kernel, [write]) as agent:
        result = await agent.run("go")
    assert peak[0] == 1
    assert [c.output for c in result.tool_calls] == ["a", "b", "c"]  # results keep call order


async def test_call_tool_checks_arguments_as_a_turn_does(kernel):
    deep: dict = {}
    inner = deep
    for _ in range(150):
        inner["x"] = {}
        inner = inner["x"]
    async with await build(ScriptedLLM(["x"]), kernel, [echo]) as agent:
        surrogate = await agent.call_tool("echo", {"text": "a\ud800"})
        too_deep = await agent.call_tool("echo", {"text": deep})
    assert surrogate.output == "echo: a\ufffd"
    assert too_deep.status == "error"
    assert "nested more than" in too_deep.error
