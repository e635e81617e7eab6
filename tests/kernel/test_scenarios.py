"""Acceptance scenarios of the creature runtime (reference: core-runtime §15).

Scenarios 15 (config), 16 (@tool schema) and 17 (compose) live in test_config.py,
test_tool_schema.py and test_compose.py; scenario 18 (compaction) in test_compaction.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest
import trio
import trio.testing

import kt
from kt.errors import LLMError, LLMRateLimitError, PluginBlockError
from kt.events import (
    LLMCallCompleted,
    LLMCallStarted,
    TextDelta,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
    TurnStarted,
)
from kt.llm import LLMDone, LLMRequest, TextChunk
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall


@pytest.fixture
def kernel() -> kt.Kernel:
    return kt.Kernel(plugins=[])


async def build(llm, kernel, tools=(), config=None, plugins=()):
    return await kt.Agent.build(
        config or {"name": "t", "system_prompt": "You are a test."},
        llm=llm,
        tools=tools,
        kernel=kernel,
        plugins=plugins,
    )


@kt.tool
async def echo(text: str) -> str:
    """Echo the text back.

    Args:
        text: What to echo.
    """
    return f"echo: {text}"


# 1 ---------------------------------------------------------------------------------------------


async def test_plain_reply_streams_deltas(kernel):
    llm = ScriptedLLM(["Hello world"], chunk_size=3)
    async with await build(llm, kernel) as agent:
        deltas, completed = [], []
        async for event in agent.run_stream("hi"):
            if isinstance(event, TextDelta):
                deltas.append(event.text)
            if isinstance(event, TurnCompleted):
                completed.append(event)
        assert len(deltas) >= 4
        assert "".join(deltas) == "Hello world"
        (done,) = completed
        assert done.result.status == "completed"
        assert done.result.text == "Hello world"
        assert llm.call_count == 1
        assert [m.role for m in agent.history] == ["user", "assistant"]
        assert llm.last_call.messages[0].role == "system"


async def test_first_delta_arrives_before_stream_ends(kernel, autojump_clock):
    llm = ScriptedLLM(["Hello world"], chunk_size=3, delay=0.1)
    async with await build(llm, kernel) as agent:
        times = []
        async for event in agent.run_stream("hi"):
            if isinstance(event, TextDelta | TurnCompleted):
                times.append(trio.current_time())
        assert times[0] < times[-1] - 0.25  # the first piece came ~3 chunks before the end


# 2 ---------------------------------------------------------------------------------------------


async def test_bracket_tool_round_trip():
    import kt_formats

    kernel = kt.Kernel(plugins=[kt_formats])
    calls = []

    @kt.tool
    async def echo(text: str) -> str:
        """Echo."""
        calls.append(text)
        return "pong"

    llm = ScriptedLLM(["Checking.\n[/echo]@@text=ping\n[echo/]", "Got pong"], chunk_size=4)
    config = {"name": "t", "controller": {"tool_format": "bracket"}}
    async with await build(llm, kernel, [echo], config) as agent:
        shown = []
        async for event in agent.run_stream("go"):
            if isinstance(event, TextDelta):
                shown.append(event.text)
            if isinstance(event, TurnCompleted):
                result = event.result
    assert llm.call_count == 2
    assert "pong" in llm.calls[1].last_user_text
    assert result.tool_calls[0].name == "echo"
    assert result.tool_calls[0].args == {"text": "ping"}
    assert result.tool_calls[0].status == "ok"
    assert "[/echo]" not in "".join(shown)
    assert result.text == "Got pong"
    assert calls == ["ping"]
    # the stored assistant message keeps the markup so the model sees its own call
    assert "[/echo]" in llm.calls[1].messages[2].content


async def test_text_format_coerces_string_arguments():
    import kt_formats

    kernel = kt.Kernel(plugins=[kt_formats])
    seen = []

    @kt.tool
    def flags(count: int, verbose: bool) -> str:
        """Record the flags."""
        seen.append((count, verbose))
        return "ok"

    llm = ScriptedLLM(["[/flags]\n@@count=3\n@@verbose=false\n[flags/]", "done"])
    config = {"name": "t", "controller": {"tool_format": "bracket"}}
    async with await build(llm, kernel, [flags], config) as agent:
        await agent.run("go")
    assert seen == [(3, False)]


# 3 ---------------------------------------------------------------------------------------------


async def test_native_tool_round_trip_has_no_junk_user_message(kernel):
    llm = ScriptedLLM([ToolCall("echo", {"text": "a"}), "done"])
    async with await build(llm, kernel, [echo]) as agent:
        result = await agent.run("go")
    second = llm.calls[1].messages
    assert [m.role for m in second] == ["system", "user", "assistant", "tool"]
    call_id = second[2].tool_calls[0].id
    assert second[3].tool_call_id == call_id
    assert "a" in second[3].content
    assert result.iterations == 2
    assert result.text == "done"


# 4 ---------------------------------------------------------------------------------------------


class _CallsThenSlowText:
    """A model that asks for two tools at once, then streams 200 ms of trailing text."""

    def __init__(self) -> None:
        self.calls = 0
        self.stream_ended_at: float | None = None

    async def stream(self, request: LLMRequest) -> AsyncIterator:
        self.calls += 1
        if self.calls == 1:
            yield ToolCall("slow", {"n": 1}, id="c1")
            yield ToolCall("slow", {"n": 2}, id="c2")
            for _ in range(4):
                await trio.sleep(0.05)
                yield TextChunk("...")
            self.stream_ended_at = trio.current_time()
            yield LLMDone()
        else:
            yield TextChunk("all done")
            yield LLMDone()


async def test_parallel_dispatch_mid_stream(kernel, autojump_clock):
    starts: dict[int, float] = {}

    @kt.tool
    async def slow(n: int) -> str:
        """Sleep a while."""
        starts[n] = trio.current_time()
        await trio.sleep(0.3 if n == 1 else 0.1)  # the second finishes first
        return f"slow {n}"

    llm = _CallsThenSlowText()
    async with await build(llm, kernel, [slow]) as agent:
        t0 = trio.current_time()
        result = await agent.run("go")
        elapsed = trio.current_time() - t0
    assert max(starts.values()) < llm.stream_ended_at
    assert elapsed < 0.55
    assert [r.output for r in result.tool_calls] == ["slow 1", "slow 2"]
    tool_messages = [m for m in agent.history if m.role == "tool"]
    assert [m.tool_call_id for m in tool_messages] == ["c1", "c2"]


# 5 ---------------------------------------------------------------------------------------------


async def test_unsafe_tools_serialise_and_safe_ones_overlap(kernel, autojump_clock):
    active = {"unsafe": 0, "max_unsafe": 0}
    safe_window = []

    @kt.tool(concurrency_safe=False)
    async def write_file(name: str) -> str:
        """Write."""
        active["unsafe"] += 1
        active["max_unsafe"] = max(active["max_unsafe"], active["unsafe"])
        await trio.sleep(0.1)
        active["unsafe"] -= 1
        return "written"

    @kt.tool
    async def look(name: str) -> str:
        """Look."""
        safe_window.append(trio.current_time())
        await trio.sleep(0.1)
        return "seen"

    llm = ScriptedLLM(
        [
            [
                ToolCall("write_file", {"name": "a"}),
                ToolCall("write_file", {"name": "b"}),
                ToolCall("look", {"name": "c"}),
            ],
            "ok",
        ]
    )
    async with await build(llm, kernel, [write_file, look]) as agent:
        t0 = trio.current_time()
        await agent.run("go")
        elapsed = trio.current_time() - t0
    assert active["max_unsafe"] == 1
    assert elapsed == pytest.approx(0.2, abs=0.01)
    assert safe_window[0] - t0 < 0.05


# 6 ---------------------------------------------------------------------------------------------


async def test_unknown_tool_is_an_error_result(kernel):
    llm = ScriptedLLM([ToolCall("nosuch", {}), "recovered"])
    async with await build(llm, kernel, [echo]) as agent:
        result = await agent.run("go")
    assert result.status == "completed"
    assert result.text == "recovered"
    record = result.tool_calls[0]
    assert record.status == "error"
    assert "nosuch" in record.error
    assert "echo" in record.error  # lists what exists
    assert record.error_type == "ToolNotFoundError"
    tool_msg = llm.calls[1].messages[-1]
    assert tool_msg.role == "tool" and "nosuch" in tool_msg.content


# 7 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [("{not json", "invalid JSON"), ({}, "text")],
)
async def test_bad_arguments_never_reach_the_tool(kernel, args, expected):
    ran = []

    @kt.tool
    def echo2(text: str) -> str:
        """Echo."""
        ran.append(text)
        return text

    llm = ScriptedLLM([ToolCall("echo2", args), "fixed"])
    async with await build(llm, kernel, [echo2]) as agent:
        result = await agent.run("go")
    assert ran == []
    assert result.tool_calls[0].status == "error"
    assert expected in result.tool_calls[0].error
    assert result.tool_calls[0].error_type == "ToolArgumentError"
    assert llm.call_count == 2


# 8 ---------------------------------------------------------------------------------------------


async def test_tool_exception_becomes_error_result(kernel):
    @kt.tool
    def explode() -> str:
        """Fail."""
        raise RuntimeError("kaboom")

    llm = ScriptedLLM([ToolCall("explode", {}), "noted"])
    async with await build(llm, kernel, [explode]) as agent:
        events = [e async for e in agent.run_stream("go")]
    completed = [e for e in events if isinstance(e, ToolCallCompleted)]
    assert completed[0].status == "error"
    assert "RuntimeError" in completed[0].error and "kaboom" in completed[0].error
    assert events[-1].result.status == "completed"
    assert "kaboom" in llm.calls[1].messages[-1].content


# 9 ---------------------------------------------------------------------------------------------


async def test_llm_failure_then_recovery(kernel):
    llm = ScriptedLLM([LLMRateLimitError("slow down", retry_after=3), "ok"])
    async with await build(llm, kernel) as agent:
        first = await agent.run("hi")
        assert first.status == "error"
        assert isinstance(first.error, LLMError)
        assert [m.role for m in agent.history] == ["user"]
        second = await agent.run("again")
    assert second.status == "completed" and second.text == "ok"
    roles = [m.role for m in llm.calls[1].messages]
    assert roles == ["system", "user"]  # merged, never two user messages in a row
    assert "hi" in llm.calls[1].messages[1].content
    assert "again" in llm.calls[1].messages[1].content
    with pytest.raises(LLMRateLimitError):
        first.raise_for_status()


async def test_llm_failure_mid_stream_cancels_dispatched_tools(kernel):
    llm = ScriptedLLM(
        [
            ScriptEntry(
                text="partial answer", chunk_size=4, fail_after_chunks=2, error=LLMError("cut")
            )
        ]
    )
    async with await build(llm, kernel) as agent:
        result = await agent.run("hi")
    assert result.status == "error"
    assert str(result.error) == "cut"
    assert [m.role for m in agent.history] == ["user"]


# 10 --------------------------------------------------------------------------------------------


async def test_max_iterations_is_exact(kernel):
    llm = ScriptedLLM([ToolCall("echo", {"text": "again"})])  # repeats forever
    async with await build(llm, kernel, [echo]) as agent:
        result = await agent.run("loop", max_iterations=3)
        assert llm.call_count == 3
        assert result.status == "max_iterations"
        assert len(result.tool_calls) == 3
        assert all(r.status == "ok" for r in result.tool_calls)
        assert kt.history.is_well_formed(agent.history)
        llm.script = ["fine"]
        llm.calls.clear()
        after = await agent.run("stop looping")
    assert after.status == "completed"


async def test_max_iterations_from_config(kernel):
    llm = ScriptedLLM([ToolCall("echo", {"text": "again"})])
    config = {"name": "t", "max_iterations": 2}
    async with await build(llm, kernel, [echo], config) as agent:
        result = await agent.run("loop")
    assert llm.call_count == 2 and result.status == "max_iterations"


# 11 --------------------------------------------------------------------------------------------


async def test_interrupt_mid_stream_keeps_partial_reply(kernel, autojump_clock):
    text = "".join(f"w{i:02d} " for i in range(20))
    llm = ScriptedLLM([ScriptEntry(text=text, chunk_size=4, delay=0.05), "next answer"])
    async with await build(llm, kernel) as agent:
        deltas = 0
        async for event in agent.run_stream("talk"):
            if isinstance(event, TextDelta):
                deltas += 1
                if deltas == 3:
                    interrupted_at = trio.current_time()
                    agent.interrupt()
            if isinstance(event, TurnCompleted):
                result = event.result
                ended_at = trio.current_time()
        assert result.status == "interrupted"
        assert ended_at - interrupted_at < 0.1
        last = agent.history[-1]
        assert last.role == "assistant" and last.meta.get("interrupted") is True
        assert last.content == text[:12]
        after = await agent.run("x")
    assert after.status == "completed"
    roles = [m.role for m in llm.calls[1].messages]
    assert roles == ["system", "user", "assistant", "user"]


async def test_interrupt_from_another_thread(kernel):
    started = trio.Event()

    @kt.tool
    async def wait_forever() -> str:
        """Block."""
        started.set()
        await trio.sleep_forever()

    llm = ScriptedLLM([ToolCall("wait_forever", {}), "after"])
    async with await build(llm, kernel, [wait_forever]) as agent:
        async with trio.open_nursery() as nursery:
            results = []

            async def runner():
                results.append(await agent.run("go"))

            nursery.start_soon(runner)
            await started.wait()
            await trio.to_thread.run_sync(agent.interrupt)
    (result,) = results
    assert result.status == "interrupted"
    assert result.tool_calls[0].status == "interrupted"
    assert kt.history.is_well_formed(agent.history)


# 12 --------------------------------------------------------------------------------------------


async def test_tool_timeout_cancels_the_tool(kernel, autojump_clock):
    cleaned = []

    @kt.tool(timeout=0.2)
    async def sleepy() -> str:
        """Sleep long."""
        try:
            await trio.sleep(5)
        finally:
            cleaned.append(True)
        return "never"

    llm = ScriptedLLM([ToolCall("sleepy", {}), "moved on"])
    async with await build(llm, kernel, [sleepy]) as agent:
        t0 = trio.current_time()
        result = await agent.run("go")
        elapsed = trio.current_time() - t0
    record = result.tool_calls[0]
    assert record.status == "timeout"
    assert "timed out" in record.error
    assert cleaned == [True]
    assert elapsed == pytest.approx(0.2, abs=0.01)
    assert result.status == "completed" and result.text == "moved on"


async def test_turn_timeout(kernel, autojump_clock):
    llm = ScriptedLLM([ScriptEntry(text="x" * 100, chunk_size=1, delay=0.1)])
    async with await build(llm, kernel) as agent:
        result = await agent.run("go", timeout=1.0)
        assert result.status == "timeout"
        assert isinstance(result.error, kt.TurnTimeoutError)
        assert kt.history.is_well_formed(agent.history)


# 13 --------------------------------------------------------------------------------------------


async def test_background_job_re_enters_as_a_turn(kernel, autojump_clock):
    @kt.tool
    async def fetch_report() -> str:
        """Slow report."""
        await trio.sleep(0.2)
        return "REPORT-42"

    llm = ScriptedLLM(
        [ToolCall("fetch_report", {"run_in_background": True}), "waiting", "result seen"]
    )
    async with await build(llm, kernel, [fetch_report]) as agent:
        events = agent.subscribe()
        t0 = trio.current_time()
        first = await agent.run("go")
        assert trio.current_time() - t0 < 0.2
        assert first.status == "completed" and first.text == "waiting"
        assert first.tool_calls[0].status == "running" and first.tool_calls[0].background
        roles = [m.role for m in agent.history]
        assert roles.index("assistant") < roles.index("tool")  # call precedes its placeholder
        with trio.fail_after(1):
            async for event in events:
                if isinstance(event, TurnCompleted) and event.turn_index == 2:
                    follow_up = event.result
                    break
    assert follow_up.text == "result seen"
    assert "REPORT-42" in llm.calls[2].last_user_text


# 14 --------------------------------------------------------------------------------------------


class _NoEcho:
    @kt.hookimpl
    def kt_pre_tool_call(self, call):  # takes only `call`: the spec's other args are opt-in
        if call.name == "echo":
            raise PluginBlockError("nope: echo is disabled here")


async def test_plugin_veto_reaches_the_model_in_the_same_turn():
    ran = []

    @kt.tool
    def echo(text: str) -> str:
        """Echo."""
        ran.append(text)
        return text

    llm = ScriptedLLM([ToolCall("echo", {"text": "x"}), "ok"])
    kernel = kt.Kernel(plugins=[_NoEcho()])
    async with await build(llm, kernel, [echo]) as agent:
        result = await agent.run("go")
    assert llm.call_count == 2
    assert "nope" in llm.calls[1].messages[-1].content
    assert ran == []
    assert result.tool_calls[0].status == "blocked"
    assert "nope" in result.tool_calls[0].error


async def test_creature_plugin_veto_is_per_creature(kernel):
    ran = []

    @kt.tool
    def echo(text: str) -> str:
        """Echo."""
        ran.append(text)
        return text

    blocked_llm = ScriptedLLM([ToolCall("echo", {"text": "x"}), "ok"])
    free_llm = ScriptedLLM([ToolCall("echo", {"text": "y"}), "ok"])
    async with await build(blocked_llm, kernel, [echo], plugins=[_NoEcho()]) as blocked:
        await blocked.run("go")
    async with await build(free_llm, kernel, [echo]) as free:
        await free.run("go")
    assert ran == ["y"]


# 19 --------------------------------------------------------------------------------------------


async def test_run_stream_event_order(kernel):
    llm = ScriptedLLM(
        [
            ScriptEntry(text="Let me look.", tool_calls=[ToolCall("echo", {"text": "q"})]),
            "Found it.",
        ]
    )
    async with await build(llm, kernel, [echo]) as agent:
        events = [e async for e in agent.run_stream("go")]
    types = []
    for event in events:
        if types and types[-1] is TextDelta and type(event) is TextDelta:
            continue
        types.append(type(event))
    assert types == [
        TurnStarted,
        LLMCallStarted,
        TextDelta,
        ToolCallStarted,
        LLMCallCompleted,
        ToolCallCompleted,
        LLMCallStarted,
        TextDelta,
        LLMCallCompleted,
        TurnCompleted,
    ]
    assert sum(isinstance(e, TurnCompleted) for e in events) == 1


async def test_run_returns_the_same_result_as_run_stream(kernel):
    script = [ToolCall("echo", {"text": "q"}), "Found it."]
    a = ScriptedLLM(script)
    b = ScriptedLLM(script)
    async with await build(a, kernel, [echo]) as agent:
        via_run = await agent.run("go")
    async with await build(b, kernel, [echo]) as agent:
        via_stream = [e async for e in agent.run_stream("go")][-1].result

    def shape(r):
        return (
            r.status,
            r.text,
            r.iterations,
            [(c.name, c.args, c.status, c.output) for c in r.tool_calls],
        )

    assert shape(via_run) == shape(via_stream)


# 20 --------------------------------------------------------------------------------------------


async def test_concurrent_runs_are_serialised_fifo(kernel, autojump_clock):
    def reply(request):
        return f"answer to {request.messages[-1].content}"

    llm = ScriptedLLM([reply, reply], delay=0.1, chunk_size=3)
    results = {}
    async with await build(llm, kernel) as agent:
        events = agent.subscribe()
        async with trio.open_nursery() as nursery:

            async def ask(text):
                results[text] = await agent.run(text)

            nursery.start_soon(ask, "u1")
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(ask, "u2")
        order = []
        while True:
            try:
                event = events.receive_nowait()
            except trio.WouldBlock:
                break
            if isinstance(event, LLMCallStarted | TurnCompleted):
                order.append((type(event).__name__, event.turn_index))
    assert order == [
        ("LLMCallStarted", 1),
        ("TurnCompleted", 1),
        ("LLMCallStarted", 2),
        ("TurnCompleted", 2),
    ]
    assert [m.content for m in agent.history] == ["u1", "answer to u1", "u2", "answer to u2"]
    assert results["u1"].text == "answer to u1" and results["u2"].text == "answer to u2"


# Caller cancellation and early exit (R-TMO-3, R-API-5) ------------------------------------------


async def test_caller_cancellation_cancels_the_turn(kernel, autojump_clock):
    llm = ScriptedLLM([ScriptEntry(text="x" * 50, chunk_size=1, delay=0.1), "later"])
    async with await build(llm, kernel) as agent:
        events = agent.subscribe()
        with trio.move_on_after(0.5):
            await agent.run("go")
        with trio.fail_after(1):
            async for event in events:
                if isinstance(event, TurnCompleted):
                    assert event.result.status == "cancelled"
                    break
        assert kt.history.is_well_formed(agent.history)
        assert (await agent.run("again")).status == "completed"


async def test_breaking_out_of_run_stream_cancels_the_turn(kernel, autojump_clock):
    llm = ScriptedLLM([ScriptEntry(text="y" * 50, chunk_size=1, delay=0.1), "later"])
    async with await build(llm, kernel) as agent:
        events = agent.subscribe()
        async with agent.run_stream("go") as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    break
        with trio.fail_after(1):
            async for event in events:
                if isinstance(event, TurnCompleted):
                    assert event.result.status == "cancelled"
                    break
        assert (await agent.run("again")).text == "later"


async def test_run_before_start_and_after_stop(kernel):
    agent = await build(ScriptedLLM(["x"]), kernel)
    with pytest.raises(kt.AgentNotStartedError):
        await agent.run("hi")
    async with agent:
        pass
    with pytest.raises(kt.AgentStoppedError):
        await agent.run("hi")
    with pytest.raises(kt.AgentStoppedError):
        await agent.start()
    await agent.stop()  # idempotent


async def test_invalid_timeout_is_rejected(kernel):
    async with await build(ScriptedLLM(["x"]), kernel) as agent:
        with pytest.raises(ValueError, match="timeout"):
            await agent.run("hi", timeout=-1)
        with pytest.raises(ValueError, match="timeout"):
            await agent.run("hi", timeout=float("nan"))


async def test_stop_during_a_turn_publishes_cancelled(kernel, autojump_clock):
    llm = ScriptedLLM([ScriptEntry(text="z" * 50, chunk_size=1, delay=0.1)])
    recorder = kt.testing.EventRecorder()
    agent = await build(llm, kernel, plugins=[recorder])
    async with agent:
        agent.inject("go")
        await trio.sleep(0.35)
    completed = recorder.of_type(TurnCompleted)
    assert [c.result.status for c in completed] == ["cancelled"]
    assert recorder.types()[-1] == "creature_stopped"


async def test_output_cap_is_byte_safe(kernel):
    @kt.tool(max_output=10)
    def big() -> str:
        """Big output."""
        return "ééééééééé"  # 18 bytes

    llm = ScriptedLLM([ToolCall("big", {}), "ok"])
    async with await build(llm, kernel, [big]) as agent:
        result = await agent.run("go")
    record = result.tool_calls[0]
    assert record.output.startswith("ééééé\n[tool output truncated to 10 of 18 bytes")
    assert record.metadata["truncated"] is True


async def test_usage_sums_over_the_turn(kernel):
    usage = kt.Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12)
    llm = ScriptedLLM(
        [
            ScriptEntry(tool_calls=[ToolCall("echo", {"text": "a"})], usage=usage),
            ScriptEntry(text="b", usage=usage),
        ]
    )
    async with await build(llm, kernel, [echo]) as agent:
        result = await agent.run("go")
        assert result.usage == attrs.evolve(
            usage, prompt_tokens=20, completion_tokens=4, total_tokens=24
        )
        assert agent.usage == result.usage


# Regressions -----------------------------------------------------------------------------------


async def test_queued_run_raises_when_the_agent_stops_first(kernel, autojump_clock):
    llm = ScriptedLLM([ScriptEntry(text="s" * 50, chunk_size=1, delay=0.1)])
    outcomes = {}
    async with trio.open_nursery() as nursery:
        agent = await build(llm, kernel)
        await agent.start()

        async def ask(text):
            try:
                outcomes[text] = (await agent.run(text)).status
            except kt.AgentStoppedError:
                outcomes[text] = "stopped"

        nursery.start_soon(ask, "first")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(ask, "second")
        await trio.sleep(0.3)
        await agent.stop()
    assert outcomes == {"first": "cancelled", "second": "stopped"}


async def test_a_turn_abandoned_while_queued_never_runs(kernel, autojump_clock):
    llm = ScriptedLLM([ScriptEntry(text="f" * 10, chunk_size=1, delay=0.1), "three"])
    async with await build(llm, kernel) as agent:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(agent.run, "one")
            await trio.testing.wait_all_tasks_blocked()
            with trio.move_on_after(0.05):
                await agent.run("two")
        result = await agent.run("three")
    assert result.text == "three"
    assert [m.content for m in agent.history if m.role == "user"] == ["one", "three"]
    assert llm.call_count == 2


async def test_plugin_block_in_a_post_hook_is_reported_not_fatal():
    class LatePolice:
        kt_plugin_name = "late"

        @kt.hookimpl
        def kt_post_tool_call(self, result):
            raise PluginBlockError("too late to veto")

    recorder = kt.testing.EventRecorder()
    llm = ScriptedLLM([ToolCall("echo", {"text": "a"}), "ok"])
    async with await build(llm, kt.Kernel(plugins=[LatePolice(), recorder]), [echo]) as agent:
        result = await agent.run("go")
    assert result.status == "completed"
    assert result.tool_calls[0].status == "ok"
    errors = recorder.of_type(kt.events.ErrorOccurred)
    assert errors and errors[0].source == "plugin:late:kt_post_tool_call"


async def test_tool_call_started_says_background(kernel, autojump_clock):
    @kt.tool
    async def later() -> str:
        """Slow."""
        await trio.sleep(1)
        return "done"

    llm = ScriptedLLM([ToolCall("later", {"run_in_background": True}), "ok"])
    async with await build(llm, kernel, [later]) as agent:
        events = [e async for e in agent.run_stream("go")]
    (started,) = [e for e in events if isinstance(e, ToolCallStarted)]
    assert started.background is True


async def test_runtime_hook_wrappers_are_refused(kernel):
    class Wrapper:
        @kt.hookimpl(wrapper=True)
        def kt_turn_started(self):
            return (yield)

    with pytest.raises(kt.PluginError, match="wrapper"):
        await build(ScriptedLLM(["x"]), kernel, plugins=[Wrapper()])
