"""Timers from config and from the add_timer tool: firings are events that start turns in order."""

from __future__ import annotations

import pytest
import trio
from triggers_helpers import build, turns

import kt
from kt.events import TurnStarted
from kt.testing import EventRecorder, ScriptedLLM, ScriptEntry, ToolCall
from kt_triggers import TimerTrigger, TriggerConfigError, TriggerFired


async def test_scenario_18_add_timer_installs_a_named_timer(autojump_clock):
    calls = {
        "remind me": ToolCall("add_timer", {"interval": 0.1, "prompt": "ping", "name": "t1"}),
        "again": ToolCall("add_timer", {"interval": 5, "prompt": "again", "name": "t1"}),
        "no prompt": ToolCall("add_timer", {"interval": 5}),
    }

    def reply(request):
        last = request.messages[-1]
        if last.role == "tool":
            return "noted"
        return calls.get(last.content, "pong")

    recorder = EventRecorder()
    llm = ScriptedLLM([reply])
    async with await build({"tools": ["add_timer"]}, llm=llm, extra_plugins=[recorder]) as agent:
        first = await agent.run("remind me")
        events = agent.subscribe()
        (call,) = first.tool_calls
        assert call.status == "ok"
        assert "trigger_id=t1" in call.output
        assert call.metadata["trigger_id"] == "t1"
        assert agent.jobs["t1"].kind == "trigger" and agent.jobs["t1"].status == "running"

        fired, again = await turns(agent, 2, events)
        assert fired.input == again.input == "[timer t1] ping"
        assert fired.text == "pong"

        duplicate = await agent.run("again")
        assert duplicate.tool_calls[0].status == "error"
        assert "'t1' is already running" in duplicate.tool_calls[0].error

        missing = await agent.run("no prompt")
        assert missing.tool_calls[0].status == "error"
        assert "missing required argument 'prompt'" in missing.tool_calls[0].error

        assert agent.cancel_job("t1") is True  # what stop_task does
        await trio.testing.wait_all_tasks_blocked()
        assert agent.jobs["t1"].status == "cancelled"
    fired_events = recorder.of_type(TriggerFired)
    assert fired_events and fired_events[0].trigger_id == "t1"
    assert fired_events[0].trigger_type == "timer" and fired_events[0].text == "[timer t1] ping"


async def test_firing_is_an_event_then_a_turn_with_source_trigger(autojump_clock):
    recorder = EventRecorder()
    async with await build(extra_plugins=[recorder]) as agent:
        events = agent.subscribe()
        await agent.add_trigger(TimerTrigger(10, "check the queue", id="q", max_fires=1))
        (result,) = await turns(agent, 1, events)
    assert result.input == "[timer q] check the queue"
    types = recorder.types()
    fired_at = types.index("trigger_fired")
    assert types[fired_at + 1] == "turn_started"
    (started,) = [e for e in recorder.of_type(TurnStarted)]
    assert started.source == "trigger" and started.input == "[timer q] check the queue"


async def test_timer_ticks_on_a_fixed_grid_and_stops_after_max_fires(autojump_clock):
    async with await build() as agent:
        events = agent.subscribe()
        t0 = trio.current_time()
        job = await agent.add_trigger(TimerTrigger(2.0, "tick", max_fires=3, immediate=True))
        starts = []
        async for event in events:
            if isinstance(event, TurnStarted):
                starts.append(trio.current_time() - t0)
                if len(starts) == 3:
                    break
        await trio.testing.wait_all_tasks_blocked()
        assert job.status == "done"
    assert starts == pytest.approx([0.0, 2.0, 4.0], abs=1e-6)


async def test_a_slow_turn_delays_the_timer_and_missed_ticks_are_skipped(autojump_clock):
    slow = ScriptEntry(text="working", delay=2.5)  # each turn takes 2.5 s; the interval is 1 s
    async with await build(llm=ScriptedLLM([slow])) as agent:
        events = agent.subscribe()
        t0 = trio.current_time()
        await agent.add_trigger(TimerTrigger(1.0, "tick", id="fast"))
        starts = []
        async for event in events:
            if isinstance(event, TurnStarted):
                starts.append(round(trio.current_time() - t0, 6))
                if len(starts) == 3:
                    break
    # Fires at 1; its turn ends at 3.5, so ticks 2 and 3 are skipped and 4 is next; then 7.
    assert starts == [1.0, 4.0, 7.0]


async def test_firings_from_several_sources_start_turns_in_the_order_they_fired(autojump_clock):
    recorder = EventRecorder()
    llm = ScriptedLLM([ScriptEntry(text="ok", delay=0.3)])
    async with await build(llm=llm, extra_plugins=[recorder]) as agent:
        events = agent.subscribe()
        await agent.add_trigger(TimerTrigger(1.0, "a", id="a", max_fires=3))
        await agent.add_trigger(TimerTrigger(1.5, "b", id="b", max_fires=2))
        await agent.run("user turn")
        await turns(agent, 5, events)
    fired = [e.text for e in recorder.of_type(TriggerFired)]
    started = [e.input for e in recorder.of_type(TurnStarted) if e.source == "trigger"]
    assert sorted(fired) == sorted(["[timer a] a"] * 3 + ["[timer b] b"] * 2)
    assert started == fired  # every firing started its own turn, in firing order


async def test_config_timer_starts_with_the_creature_and_takes_its_name_as_id(autojump_clock):
    config = {"triggers": [{"type": "timer", "name": "heartbeat", "interval": 30, "prompt": "hb"}]}
    async with await build(config) as agent:
        events = agent.subscribe()
        assert agent.jobs["heartbeat"].kind == "trigger"
        assert agent.jobs["heartbeat"].name == "timer"
        (result,) = await turns(agent, 1, events)
        assert result.input == "[timer heartbeat] hb"


@pytest.mark.parametrize(
    ("options", "path", "fragment"),
    [
        ({"interval": 0}, "triggers[0].interval", "positive number of seconds"),
        ({"interval": "soon"}, "triggers[0].interval", "positive number of seconds"),
        ({"interval": 5, "max_fires": 0}, "triggers[0].max_fires", "at least 1"),
        ({"interval": 5, "every": 3}, "triggers[0].every", "has no option 'every'"),
    ],
)
async def test_config_timer_errors_name_the_key_path(options, path, fragment):
    config = {"triggers": [{"type": "timer", "prompt": "x", **options}]}
    with pytest.raises(TriggerConfigError) as info:
        await build(config)
    assert isinstance(info.value, kt.ConfigValidationError)
    assert info.value.path == path
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"interval": 0, "prompt": "p"}, "positive number"),
        ({"interval": -3, "prompt": "p"}, "positive number"),
        ({"interval": 1, "prompt": "p", "max_fires": 0}, "at least 1"),
        ({"interval": 1, "prompt": "p", "name": "has space"}, "without spaces"),
        ({"interval": "fast", "prompt": "p"}, "interval"),
    ],
)
async def test_add_timer_argument_errors_are_tool_errors(args, fragment):
    llm = ScriptedLLM([ToolCall("add_timer", args), "ok"])
    async with await build({"tools": ["add_timer"]}, llm=llm) as agent:
        result = await agent.run("go")
        (call,) = result.tool_calls
        assert call.status == "error" and fragment in call.error
        assert [j for j in agent.jobs.values() if j.kind == "trigger"] == []


async def test_add_timer_with_text_format_arguments(autojump_clock):
    import kt_formats

    reply = "[/add_timer]\n@@interval=0.5\n@@immediate=false\n@@max_fires=1\n@@name=tx\nhello\n[add_timer/]"
    llm = ScriptedLLM([reply, "set", "fired"])
    config = {"tools": ["add_timer"], "controller": {"tool_format": "bracket"}}
    async with await build(config, llm=llm, extra_plugins=[kt_formats]) as agent:
        t0 = trio.current_time()
        result = await agent.run("go")
        events = agent.subscribe()
        assert result.tool_calls[0].status == "ok", result.tool_calls[0].error
        (fired,) = await turns(agent, 1, events)
        assert trio.current_time() - t0 >= 0.5  # "false" was read as false: not immediate
    assert fired.input == "[timer tx] hello"


async def test_stopping_the_creature_stops_its_triggers(autojump_clock):
    async with await build() as agent:
        job = await agent.add_trigger(TimerTrigger(1000, "never", id="slow"))
    assert job.status == "cancelled"
