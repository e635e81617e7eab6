"""Every piece of state the session docs call resumable goes through a kill and a resume.

``docs/guides/sessions.md`` promises, for a resumed creature: its conversation (with every
completed tool result), its usage totals and turn counter, and plugin state rebuilt through
``kt_session_restore``: the scratchpad and the triggers added at run time. The run is killed
(a copy of its session file as a killed process leaves it) while it still has all of that,
then resumed; each piece is checked on the resumed creature.
"""

from __future__ import annotations

import sqlite3

import pytest
import trio
from kt_sessions_helpers import crash_image

import kt
import kt_sessions
import kt_tools
import kt_triggers
from kt.history import is_well_formed
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall

CONFIG = {
    "name": "stateful",
    "tools": [{"name": "scratchpad"}, {"name": "add_timer"}, {"name": "stop_task"}],
}


@pytest.fixture
def kernel():
    return kt.Kernel(plugins=[kt_sessions, kt_tools, kt_triggers])


SETUP = [
    ScriptEntry(
        text="Setting things up.",
        tool_calls=[
            ToolCall("scratchpad", {"action": "set", "key": "plan", "value": "step 2 next"}),
            ToolCall(
                "add_timer",
                {"interval": 3600, "prompt": "check the build", "name": "build-check"},
            ),
            ToolCall("add_timer", {"interval": 7200, "prompt": "stopped later", "name": "doomed"}),
        ],
        usage=kt.Usage(100, 10, 110),
    ),
    ScriptEntry(text="Set up.", usage=kt.Usage(120, 5, 125)),
    ScriptEntry(tool_calls=[ToolCall("stop_task", {"job_id": "doomed"})]),
    "Stopped the second timer.",
]


async def record_then_kill(kernel, session_dir, tmp_path):
    agent = await kt.Agent.build(
        CONFIG,
        llm=ScriptedLLM([*SETUP, "unused"]),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        await agent.run("set things up")
        await agent.run("stop the second timer")
        with trio.fail_after(10):
            while agent.jobs["doomed"].status == "running":
                await trio.sleep(0)
        image = crash_image(agent.session.path, tmp_path / "killed.ktsession")
        before = {
            "history": list(agent.history),
            "usage": agent.usage,
            "turn_index": agent.turn_index,
        }
    return image, before


async def test_conversation_usage_turns_and_triggers_survive_a_kill(kernel, session_dir, tmp_path):
    image, before = await record_then_kill(kernel, session_dir, tmp_path)
    resumed = await kt_sessions.resume(image, kernel=kernel, llm=ScriptedLLM(["Back."]))
    assert resumed.history == before["history"] and is_well_formed(resumed.history)
    assert resumed.usage == before["usage"]
    async with resumed:
        jobs = {j.id: j for j in resumed.jobs.values() if j.kind == "trigger"}
        assert set(jobs) == {"build-check"}  # the stopped timer stays stopped
        assert jobs["build-check"].status == "running"
        result = await resumed.run("where were we?")
    assert result.turn_index == before["turn_index"] + 1


async def test_a_cleanly_stopped_creature_gets_its_runtime_triggers_back(kernel, session_dir):
    agent = await kt.Agent.build(
        CONFIG,
        llm=ScriptedLLM(SETUP[:2]),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        await agent.run("set things up")
    path = agent.session.path
    for _ in range(2):  # resuming twice does not double it, nor lose it
        resumed = await kt_sessions.resume(path, kernel=kernel, llm=ScriptedLLM(["ok"]))
        async with resumed:
            running = sorted(
                j.id for j in resumed.jobs.values() if j.kind == "trigger" and j.status == "running"
            )
            assert running == ["build-check", "doomed"]
            await resumed.run("still there?")


async def test_a_one_off_timer_that_fired_is_not_restored(kernel, session_dir, autojump_clock):
    llm = ScriptedLLM(
        [
            ToolCall(
                "add_timer", {"interval": 5, "prompt": "ping", "max_fires": 1, "name": "once"}
            ),
            "Timer set.",
            "Pinged.",
        ]
    )
    agent = await kt.Agent.build(
        CONFIG, llm=llm, kernel=kernel, session=True, session_dir=session_dir
    )
    async with agent:
        events = agent.subscribe()
        await agent.run("remind me once")
        async for event in events:
            if event.type == "trigger_removed":
                assert event.reason == "finished"
                break
    resumed = await kt_sessions.resume(agent.session.path, kernel=kernel, llm=ScriptedLLM([]))
    async with resumed:
        assert "once" not in resumed.jobs


async def test_the_session_keeps_the_scratchpad_table(kernel, session_dir, tmp_path):
    image, _ = await record_then_kill(kernel, session_dir, tmp_path)
    connection = sqlite3.connect(image)
    rows = connection.execute("SELECT key, value FROM scratchpad").fetchall()
    triggers = dict(connection.execute("SELECT trigger_id, active FROM trigger").fetchall())
    connection.close()
    assert rows == [("plan", "step 2 next")]
    assert triggers == {"build-check": 1, "doomed": 0}


async def test_the_scratchpad_survives_a_kill(kernel, session_dir, tmp_path):
    from kt_tools.data import scratchpad_of

    image, _ = await record_then_kill(kernel, session_dir, tmp_path)
    resumed = await kt_sessions.resume(image, kernel=kernel, llm=ScriptedLLM(["ok"]))
    async with resumed:
        assert scratchpad_of(resumed) == {"plan": "step 2 next"}
