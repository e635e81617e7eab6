"""Schedule triggers on an injected clock: config, add_schedule, time zones, skipped slots."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import trio
from triggers_helpers import build, turns

from kt.events import TurnStarted
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall
from kt_triggers import CLOCK, Cron, ScheduleTrigger, TriggerConfigError, TrioClock

NEW_YORK = ZoneInfo("America/New_York")


async def test_schedule_fires_at_wall_clock_times_through_a_dst_change(autojump_clock):
    clock = TrioClock(datetime(2024, 3, 10, 1, 40, tzinfo=NEW_YORK))
    trigger = ScheduleTrigger(Cron("*/15 * * * *", NEW_YORK), "check", id="q", clock=clock)
    async with await build() as agent:
        events = agent.subscribe()
        await agent.add_trigger(trigger)
        results = await turns(agent, 3, events)
        assert [r.input for r in results] == [
            "[schedule q at 2024-03-10 01:45 EST] check",
            "[schedule q at 2024-03-10 03:00 EDT] check",
            "[schedule q at 2024-03-10 03:15 EDT] check",
        ]
        # 01:40 EST to 03:15 EDT is 35 real minutes.
        assert clock.now() == datetime(2024, 3, 10, 7, 15, tzinfo=UTC)


async def test_config_schedule_uses_the_stashed_clock(autojump_clock):
    config = {
        "triggers": [
            {
                "type": "schedule",
                "name": "morning",
                "daily_at": "09:00",
                "timezone": "Europe/Berlin",
                "prompt": "Good morning: plan the day.",
            }
        ]
    }
    agent = await build(config)
    agent.stash[CLOCK] = TrioClock(datetime(2024, 6, 1, 6, 0, tzinfo=UTC))  # 08:00 in Berlin
    async with agent:
        events = agent.subscribe()
        t0 = trio.current_time()
        (result,) = await turns(agent, 1, events)
        assert trio.current_time() - t0 == pytest.approx(3600)
    assert result.input == "[schedule morning at 2024-06-01 09:00 CEST] Good morning: plan the day."


async def test_slots_missed_during_a_slow_turn_are_skipped(autojump_clock):
    clock = TrioClock(datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC))
    slow = ScriptEntry(text="done", delay=150)  # a turn takes 2.5 minutes
    trigger = ScheduleTrigger(Cron("* * * * *"), "tick", id="m", clock=clock)
    async with await build(llm=ScriptedLLM([slow])) as agent:
        events = agent.subscribe()
        await agent.add_trigger(trigger)
        starts = []
        async for event in events:
            if isinstance(event, TurnStarted):
                starts.append(clock.now().strftime("%H:%M:%S"))
                if len(starts) == 3:
                    break
    assert starts == ["00:01:00", "00:04:00", "00:07:00"]


async def test_add_schedule_tool_reports_the_next_time_and_validates(autojump_clock):
    calls = {
        "cron": ToolCall(
            "add_schedule",
            {"prompt": "standup", "cron": "30 9 * * mon-fri", "timezone": "America/New_York"},
            id="c1",
        ),
        "two": ToolCall(
            "add_schedule", {"prompt": "x", "cron": "* * * * *", "hourly_at": 5}, id="c2"
        ),
        "none": ToolCall("add_schedule", {"prompt": "x"}, id="c3"),
        "bad": ToolCall("add_schedule", {"prompt": "x", "cron": "61 * * * *"}, id="c4"),
        "zone": ToolCall(
            "add_schedule", {"prompt": "x", "daily_at": "09:00", "timezone": "Nowhere"}
        ),
    }

    def reply(request):
        last = request.messages[-1]
        return "ok" if last.role == "tool" else calls[last.content]

    agent = await build({"tools": ["add_schedule"]}, llm=ScriptedLLM([reply]))
    agent.stash[CLOCK] = TrioClock(datetime(2024, 1, 5, 16, 0, tzinfo=UTC))  # Fri 11:00 EST
    async with agent:
        ok = (await agent.run("cron")).tool_calls[0]
        assert ok.status == "ok", ok.error
        assert "cron '30 9 * * mon-fri' (America/New_York)" in ok.output
        assert "next at 2024-01-08 09:30 EST" in ok.output
        assert f"trigger_id={ok.metadata['trigger_id']}" in ok.output
        assert agent.jobs[ok.metadata["trigger_id"]].name == "schedule"
        for message, fragment in [
            ("two", "exactly one"),
            ("none", "exactly one"),
            ("bad", "minute field '61'"),
            ("zone", "unknown time zone 'Nowhere'"),
        ]:
            call = (await agent.run(message)).tool_calls[0]
            assert call.status == "error" and fragment in call.error, (message, call.error)


@pytest.mark.parametrize(
    ("options", "path", "fragment"),
    [
        ({}, "triggers[0].cron", "exactly one"),
        ({"cron": "* * *"}, "triggers[0].cron", "has 3 fields"),
        ({"daily_at": "25:00"}, "triggers[0].daily_at", "HH:MM"),
        ({"every_minutes": 0}, "triggers[0].every_minutes", "1 to 1440"),
        ({"cron": "@daily", "timezone": "Atlantis"}, "triggers[0].timezone", "unknown time zone"),
        ({"cron": "@daily", "tz": "UTC"}, "triggers[0].tz", "no option 'tz'"),
    ],
)
async def test_config_schedule_errors_name_the_key_path(options, path, fragment):
    with pytest.raises(TriggerConfigError) as info:
        await build({"triggers": [{"type": "schedule", "prompt": "x", **options}]})
    assert info.value.path == path and fragment in str(info.value)
