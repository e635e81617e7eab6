"""Composition across hosted creatures (compose steps, agent as tool) and the examples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_engine_support import bare, echo

import kt
import kt_compose
import kt_terrarium
from kt.testing import ScriptedLLM, ToolCall

ROOT = Path(__file__).resolve().parents[3]


async def test_hosted_creatures_are_compose_steps():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=ScriptedLLM(["draft"]))
        b = await engine.add_creature({"name": "b"}, llm=echo("b"))
        pipeline = a.step() >> str.upper >> b.step()
        assert await pipeline("go") == "b got: DRAFT"
        assert a.agent.turn_index == 1 and b.agent.turn_index == 1
        with pytest.raises(kt_compose.ComposeError, match="takes a string"):
            await b.step()(("x", "y"))


async def test_a_failed_hosted_turn_raises_so_fallbacks_work():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        flaky = await engine.add_creature({"name": "flaky"}, llm=ScriptedLLM([kt.LLMError("down")]))
        backup = await engine.add_creature({"name": "backup"}, llm=echo("backup"))
        assert await (flaky.step() | backup.step())("task") == "backup got: task"


async def test_a_creature_as_a_tool_of_another():
    boss_llm = ScriptedLLM([ToolCall("ask_expert", {"task": "what is 2+2?"}), "It is 4."])
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        expert = await engine.add_creature({"name": "expert"}, llm=ScriptedLLM(["4"]))
        boss = await engine.add_creature({"name": "boss"}, llm=boss_llm, tools=[expert.as_tool()])
        result = await boss.run("ask")
    (call,) = result.tool_calls
    assert (call.name, call.status, call.output) == ("ask_expert", "ok", "4")
    assert expert.agent.history[0].content == "what is 2+2?"


async def test_agent_as_tool_failures_are_error_results():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        broken = await engine.add_creature({"name": "broken"}, llm=ScriptedLLM([kt.LLMError("no")]))
        tool = broken.as_tool(name="ask_broken", description="Ask it.")
        assert tool.description == "Ask it." and list(tool.parameters["properties"]) == ["task"]
        ask = ToolCall("ask_broken", {"task": "x"})
        llm = ScriptedLLM([ask, "ok", ask, "ok"])
        user = await engine.add_creature({"name": "user"}, llm=llm, tools=[tool])
        first = await user.run("try")
        await broken.stop()
        stopped = await user.run("again")
    assert "ended its turn with status 'error'" in first.tool_calls[0].error
    assert "'broken' is not running" in stopped.tool_calls[0].error


async def test_a_creature_cannot_ask_itself():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        llm = ScriptedLLM([ToolCall("ask_me", {"task": "y"}), "ok"])
        me = await engine.add_creature({"name": "me"}, llm=llm, start=False)
        me.agent.tools["ask_me"] = me.as_tool(name="ask_me")  # given after build, for the test
        await me.start()
        result = await me.run("go")
    assert "cannot ask itself" in result.tool_calls[0].error


def run_example(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KT_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / d) for d in ("kernel", "plugins", "cli"))
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_pipeline_example_runs():
    done = run_example("examples/terrariums/pipeline.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "wired: wire_writer_editor_content_c49c78cc",
        "writer: nurseries hold tasks",
        "editor got: [output-wire from writer] nurseries hold tasks",
        "editor: EDITED: [OUTPUT-WIRE FROM WRITER] NURSERIES HOLD TASKS",
        "graphs: [('editor', 'writer')]",
        "boss: ask_editor -> EDITED: CHECK THIS LINE",
        "pipeline: EDITED: POLISH: NO ORPHAN THREADS",
    ]


async def test_the_swe_team_example_runs_offline_from_python():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        applied = await engine.apply_recipe(ROOT / "examples" / "terrariums" / "swe_team")
        root = engine[applied.root]
        first = await root.run("Write reverse(s) in Python")
        await engine.wait_idle()
        replies = [m.content for m in root.agent.history if m.role == "assistant" and m.content]
    assert first.text == "I have asked swe to write it; the reviewer will check the draft."
    assert replies[-2:] == [
        "Done and reviewed: def reverse(s): return s[::-1]",
        "The team is idle.",
    ]
