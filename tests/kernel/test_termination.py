"""``[termination]``: limits that end a creature's run with a typed status and an event."""

from __future__ import annotations

import pytest
import trio

import kt
from kt.errors import AgentTerminatedError
from kt.events import CreatureTerminated, TurnCompleted
from kt.llm import LLMDone, TextChunk, Usage
from kt.testing import EventRecorder, ScriptedLLM


def build(termination, llm, *, plugins=(), **options):
    config = {"name": "t", "termination": termination}
    return kt.Agent.build(config, llm=llm, kernel=kt.Kernel(plugins=[]), plugins=plugins, **options)


async def test_max_turns_ends_the_run_after_that_turn():
    recorder = EventRecorder()
    agent = await build({"max_turns": 2}, ScriptedLLM(["one", "two", "three"]), plugins=[recorder])
    async with agent:
        assert (await agent.run("a")).status == "completed"
        assert (await agent.run("b")).status == "completed"
        with pytest.raises(AgentTerminatedError, match="max_turns"):
            await agent.run("c")
    (ended,) = recorder.of_type(CreatureTerminated)
    assert ended.limit == "max_turns"
    assert ended.reason == "2 turns run (max_turns = 2)"


class UsageLLM:
    """Answers every call with some text and 60 tokens of usage."""

    async def stream(self, request):
        yield TextChunk("ok")
        yield LLMDone(usage=Usage(prompt_tokens=50, completion_tokens=10, total_tokens=60))


async def test_max_tokens_counts_the_usage_of_every_turn():
    recorder = EventRecorder()
    agent = await build({"max_tokens": 100}, UsageLLM(), plugins=[recorder])
    async with agent:
        await agent.run("a")  # 60 tokens: below the limit
        assert not recorder.of_type(CreatureTerminated)
        await agent.run("b")  # 120 tokens
        with pytest.raises(AgentTerminatedError, match="max_tokens"):
            await agent.run("c")
    assert recorder.of_type(CreatureTerminated)[0].limit == "max_tokens"


class SlowLLM:
    """Never answers until cancelled."""

    async def stream(self, request):
        await trio.sleep_forever()
        yield TextChunk("never")


async def test_max_duration_ends_a_running_turn_as_terminated(autojump_clock):
    recorder = EventRecorder()
    agent = await build({"max_duration": 30}, SlowLLM(), plugins=[recorder])
    async with agent:
        result = await agent.run("wait")
        assert trio.current_time() == pytest.approx(30)
    assert result.status == "terminated"
    assert "max_duration" in result.reason
    (completed,) = recorder.of_type(TurnCompleted)
    assert completed.result.status == "terminated"
    assert recorder.of_type(CreatureTerminated)[0].limit == "max_duration"


async def test_idle_timeout_is_pushed_back_by_activity(autojump_clock):
    agent = await build({"idle_timeout": 10}, ScriptedLLM(["a", "b"]))
    async with agent:
        await trio.sleep(8)
        await agent.run("first")  # activity at t=8: the limit moves to t=18
        await trio.sleep(8)
        await agent.run("second")  # t=16: still running
        await agent.termination.reached.wait()
        assert trio.current_time() == pytest.approx(26)
        assert agent.termination.limit == "idle_timeout"


class Lines:
    """An input module that feeds lines, then waits for more that never come."""

    def __init__(self, lines):
        self.lines = lines
        self.results = []

    async def run(self, agent):
        for line in self.lines:
            self.results.append(await agent.run(line))
        await trio.sleep_forever()


async def test_serve_returns_when_a_limit_is_reached():
    lines = Lines(["a", "b"])
    agent = await build({"max_turns": 2}, ScriptedLLM(["one", "two"]), input=lines)
    async with agent:
        with trio.fail_after(5):
            await agent.serve()
    assert [r.text for r in lines.results] == ["one", "two"]
    assert agent.termination.limit == "max_turns"


async def test_without_limits_nothing_ends_the_run(autojump_clock):
    agent = await build({}, ScriptedLLM(["a"]))
    async with agent:
        await trio.sleep(10_000)
        assert (await agent.run("x")).status == "completed"
        assert not agent.termination.reached.is_set()
