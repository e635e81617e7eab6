"""The compaction policy: background summarisation past the threshold (core-runtime §9.1)."""

from __future__ import annotations

import trio

import kt
import kt_guard
from kt.events import CompactionCompleted, CompactionSkipped, CompactionStarted
from kt.testing import EventRecorder, ScriptedLLM, ScriptEntry, ToolCall

SUMMARY = "The user asked two questions; both were answered."


class BlockingSummariser:
    """A ``kt_compact`` strategy standing in for the summariser LLM: it waits for a release."""

    def __init__(self, *, fail: bool = False) -> None:
        self.release = trio.Event()
        self.started = trio.Event()
        self.fail = fail
        self.seen: tuple[kt.Message, ...] = ()

    @kt.hookimpl
    async def kt_compact(self, messages, creature):
        self.seen = messages
        self.started.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("summariser is down")
        return SUMMARY


def reply(text: str, prompt_tokens: int) -> ScriptEntry:
    usage = kt.Usage(
        prompt_tokens=prompt_tokens, completion_tokens=5, total_tokens=prompt_tokens + 5
    )
    return ScriptEntry(text=text, usage=usage)


COMPACT = {"max_tokens": 1000, "threshold": 0.8, "keep_recent_turns": 1}


async def build(llm, *, compact=COMPACT, plugins=(), recorder=None, **kwargs):
    kernel = kt.Kernel(plugins=[kt_guard.plugin] + ([recorder] if recorder else []))
    config = {"name": "t", "system_prompt": "You are a test.", "compact": compact}
    return await kt.Agent.build(config, llm=llm, plugins=list(plugins), kernel=kernel, **kwargs)


async def next_of(channel, *classes):
    async for event in channel:
        if isinstance(event, classes):
            return event
    raise AssertionError(f"no {classes} before the agent stopped")


def roles_and_text(messages):
    return [(m.role, m.content) for m in messages]


async def run_scenario_18(llm, summariser, recorder):
    async with await build(llm, plugins=[summariser], recorder=recorder) as agent:
        events = agent.subscribe()
        first = await agent.run("u1")
        crossing = await agent.run("u2")  # prompt_tokens 900 >= 1000 * 0.8
        # The crossing turn completed while the summariser is still blocked.
        assert crossing.status == "completed" and crossing.text == "a2"
        await summariser.started.wait()
        assert not summariser.release.is_set()
        (job,) = [j for j in agent.jobs.values() if j.name == "compaction"]
        assert (job.kind, job.status) == ("task", "running")
        # A turn runs meanwhile; its messages are appended during summarisation.
        meanwhile = await agent.run("u3")
        assert meanwhile.status == "completed"
        summariser.release.set()
        done = await next_of(events, CompactionCompleted)
        last = await agent.run("u4")
    return agent, first, done, last


async def test_scenario_18_background_compaction():
    """core-runtime scenario 18, exactly as written."""
    summariser = BlockingSummariser()
    recorder = EventRecorder()
    llm = ScriptedLLM(
        [reply("a1", 100), reply("a2", 900), reply("a3", 100), reply("a4", 100)],
        exhausted="raise",
    )
    with trio.fail_after(10):  # a policy that blocked the turn would hang: fail instead
        agent, first, done, last = await run_scenario_18(llm, summariser, recorder)
    assert first.status == last.status == "completed"
    assert roles_and_text(summariser.seen) == [("user", "u1"), ("assistant", "a1")]
    assert done.summary == SUMMARY and done.messages_compacted == 2
    # The next model call: [system, assistant "[Previous context summary]...", live messages].
    sent = llm.calls[3].messages
    assert sent[0] == kt.Message("system", "You are a test.")
    assert sent[1].role == "assistant"
    assert sent[1].content == f"[Previous context summary]\n\n{SUMMARY}"
    assert sent[1].meta == {"summary": True}
    assert roles_and_text(sent[2:]) == [
        ("user", "u2"),
        ("assistant", "a2"),
        ("user", "u3"),  # appended while the summariser was blocked: kept
        ("assistant", "a3"),
        ("user", "u4"),
    ]
    assert kt.history.is_well_formed(agent.history)
    assert len(recorder.of_type(CompactionStarted)) == 1  # turn 3 passed nothing new


async def test_scenario_18_a_failing_summariser_leaves_history_unchanged():
    summariser = BlockingSummariser(fail=True)
    llm = ScriptedLLM([reply("a1", 100), reply("a2", 900), reply("a3", 100), reply("a4", 100)])
    async with await build(llm, plugins=[summariser]) as agent:
        events = agent.subscribe()
        await agent.run("u1")
        await agent.run("u2")
        await summariser.started.wait()
        await agent.run("u3")
        before = list(agent.history)
        summariser.release.set()
        skipped = await next_of(events, CompactionSkipped, CompactionCompleted)
        assert agent.history == before
        await agent.run("u4")
    assert isinstance(skipped, CompactionSkipped)
    assert skipped.reason == "failed: RuntimeError: summariser is down"
    assert [m.content for m in llm.calls[3].messages[1:]] == [
        "u1",
        "a1",
        "u2",
        "a2",
        "u3",
        "a3",
        "u4",
    ]


async def test_the_turn_keeps_running_rounds_while_the_summary_is_written():
    @kt.tool
    async def echo(text: str) -> str:
        """Echo.

        Args:
            text: Text.
        """
        return text

    summariser = BlockingSummariser()
    crossing = ScriptEntry(
        tool_calls=[ToolCall("echo", {"text": "x"})], usage=kt.Usage(prompt_tokens=950)
    )
    llm = ScriptedLLM([reply("a1", 10), crossing, reply("after the tool", 10), "later"])
    async with await build(llm, plugins=[summariser], tools=[echo]) as agent:
        events = agent.subscribe()
        await agent.run("u1")
        result = await agent.run("u2")  # round 1 crosses; round 2 runs with the summary pending
        assert result.text == "after the tool" and result.iterations == 2
        assert not summariser.release.is_set()
        summariser.release.set()
        await next_of(events, CompactionCompleted)
        await agent.run("u3")
    history = agent.history
    assert history[0].meta == {"summary": True}
    assert [m.role for m in history[1:]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]
    assert history[2].tool_calls[0].id == history[3].tool_call_id  # the pair was not cut
    assert kt.history.is_well_formed(history)


async def test_single_flight_and_cooldown(autojump_clock):
    class Instant:
        calls = 0

        @kt.hookimpl
        async def kt_compact(self, messages, creature):
            Instant.calls += 1
            return f"summary {Instant.calls}"

    recorder = EventRecorder()
    compact = {**COMPACT, "cooldown_seconds": 30}
    llm = ScriptedLLM([reply("a", 900)])  # every call passes the threshold
    async with await build(llm, compact=compact, plugins=[Instant()], recorder=recorder) as agent:
        events = agent.subscribe()
        await agent.run("u1")  # nothing old enough to fold: skipped, and the cooldown starts
        assert (await next_of(events, CompactionSkipped)).reason == "too_short"
        for i in range(2, 5):
            await agent.run(f"u{i}")
        assert recorder.of_type(CompactionStarted) == []  # still cooling down
        await trio.sleep(31)
        await agent.run("u5")
        await next_of(events, CompactionCompleted)
        await agent.run("u6")  # within the cooldown of that compaction
        await trio.sleep(31)
        await agent.run("u7")
        await next_of(events, CompactionCompleted)
    assert Instant.calls == 2
    assert len(recorder.of_type(CompactionStarted)) == 2
    # Summaries stack: the second summary's input started with the first summary.
    assert agent.history[0].content.endswith("summary 2")


async def test_enabled_false_switches_the_policy_off():
    recorder = EventRecorder()
    llm = ScriptedLLM([reply("a", 990)])
    async with await build(llm, compact={**COMPACT, "enabled": False}, recorder=recorder) as agent:
        for i in range(4):
            await agent.run(f"u{i}")
        assert await agent.compact() is True  # the manual API still works
    assert len(recorder.of_type(CompactionStarted)) == 1


async def test_without_a_context_size_the_policy_does_nothing():
    recorder = EventRecorder()
    llm = ScriptedLLM([reply("a", 10**9)])
    async with await build(llm, compact={"keep_recent_turns": 1}, recorder=recorder) as agent:
        for i in range(3):
            await agent.run(f"u{i}")
    assert recorder.of_type(CompactionStarted) == []


async def test_the_backends_context_window_stands_in_for_max_tokens():
    class WindowedLLM(ScriptedLLM):
        context_window = 1000

    summariser = BlockingSummariser()
    summariser.release.set()
    llm = WindowedLLM([reply("a1", 10), reply("a2", 850), reply("a3", 10)])
    async with await build(llm, compact={"keep_recent_turns": 1}, plugins=[summariser]) as agent:
        events = agent.subscribe()
        await agent.run("u1")
        await agent.run("u2")
        await next_of(events, CompactionCompleted)


async def test_without_reported_usage_the_prompt_size_is_estimated():
    summariser = BlockingSummariser()
    summariser.release.set()
    long = "x" * 400  # 100 tokens by the characters / 4 estimate
    llm = ScriptedLLM([ScriptEntry(text=long, usage=kt.Usage())])
    compact = {"max_tokens": 300, "threshold": 0.5, "keep_recent_turns": 1}
    async with await build(llm, compact=compact, plugins=[summariser]) as agent:
        events = agent.subscribe()
        await agent.run(long)  # ~100 tokens: below 150
        assert not summariser.started.is_set()
        await agent.run(long)  # ~200 tokens
        await next_of(events, CompactionCompleted)


async def test_compact_model_writes_the_summary():
    requests = []

    class SmallModel:
        def __init__(self, profile):
            self.profile = profile

        async def stream(self, request):
            requests.append((self.profile.model, request))
            yield kt.TextChunk("summary by the small model")
            yield kt.LLMDone()

    class Backends:
        @kt.hookimpl
        def kt_llm_backends(self):
            return [kt.LLMBackendSpec("small", SmallModel)]

    kernel = kt.Kernel(plugins=[kt_guard.plugin, Backends()])
    config = {"name": "t", "compact": {**COMPACT, "compact_model": "small/mini-1"}}
    llm = ScriptedLLM([reply("a1", 10), reply("a2", 900), reply("a3", 10)])
    async with await kt.Agent.build(config, llm=llm, kernel=kernel) as agent:
        events = agent.subscribe()
        await agent.run("u1")
        await agent.run("u2")
        done = await next_of(events, CompactionCompleted)
    assert done.summary == "summary by the small model"
    ((model, request),) = requests
    assert model == "mini-1"
    assert (
        request.messages[0].role == "system" and "DONE, IN PROGRESS" in request.messages[0].content
    )
    assert "[user]: u1" in request.messages[1].content
    assert llm.call_count == 2  # the creature's own model was not used for the summary


async def test_an_unknown_compact_model_backend_is_reported():
    config = {"name": "t", "compact": {**COMPACT, "compact_model": "nope/x"}}
    llm = ScriptedLLM([reply("a1", 10), reply("a2", 900)])
    async with await kt.Agent.build(
        config, llm=llm, kernel=kt.Kernel(plugins=[kt_guard.plugin])
    ) as agent:
        events = agent.subscribe()
        await agent.run("u1")
        await agent.run("u2")
        skipped = await next_of(events, CompactionSkipped)
    assert "no LLM backend 'nope'" in skipped.reason
    assert "compact.compact_model" in skipped.reason


class InstantSummary:
    @kt.hookimpl
    async def kt_compact(self, messages, creature):
        return "SUM"


async def test_a_splice_during_a_turn_keeps_that_turns_result_messages():
    spliced = trio.Event()

    class SpliceWatcher:
        @kt.hookimpl
        def kt_event(self, event):
            if isinstance(event, CompactionCompleted):
                spliced.set()

    @kt.tool
    async def wait_for_splice() -> str:
        """Return once the history was compacted."""
        await spliced.wait()
        return "spliced"

    crossing = ScriptEntry(
        tool_calls=[ToolCall("wait_for_splice", {})], usage=kt.Usage(prompt_tokens=990)
    )
    llm = ScriptedLLM([reply("a1", 10), crossing, "final"])
    async with await build(
        llm, plugins=[InstantSummary(), SpliceWatcher()], tools=[wait_for_splice]
    ) as agent:
        await agent.run("u1")
        result = await agent.run("u2")  # the splice lands while this turn's tool runs
    assert agent.history[0].meta == {"summary": True}
    assert [m.role for m in result.messages] == ["user", "assistant", "tool", "assistant"]
    assert result.messages[0].content == "u2"
    assert list(result.messages) == agent.history[1:]


async def test_text_formats_are_never_cut_between_a_call_and_its_results():
    import kt_formats

    @kt.tool
    async def echo(text: str) -> str:
        """Echo.

        Args:
            text: Text.
        """
        return text

    kernel = kt.Kernel(plugins=[kt_formats])
    config = {"name": "t", "controller": {"tool_format": "bracket"}}
    llm = ScriptedLLM(["a1", "Checking.\n[/echo]@@text=ping\n[echo/]", "done"])
    async with await kt.Agent.build(
        config, llm=llm, tools=[echo], plugins=[InstantSummary()], kernel=kernel
    ) as agent:
        await agent.run("u1")
        await agent.run("u2")
        assert await agent.compact(keep_recent_turns=1)
    contents = [m.content.split("\n")[0] for m in agent.history]
    assert contents == ["[Previous context summary]", "u2", "Checking.", "[Tool results]", "done"]
