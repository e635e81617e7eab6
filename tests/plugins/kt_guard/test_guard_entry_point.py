"""The ``kt_guard`` entry point registers the guard object, and every feature acts through it.

Two ways reach a plugin through its entry point, and each test below runs both:

* ``kernel``: the kernel loads it by name, as the default plugin set, ``KT_PLUGINS`` and
  ``kt.Kernel(plugins=["kt_guard"])`` do; every creature of the kernel is served.
* ``creature``: the kernel was built without it and a creature names it in ``[[plugins]]``;
  ``Kernel.load_plugin`` resolves the name through the same entry point, for that creature.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import trio

import kt
import kt_guard
from kt.events import CompactionCompleted, CompactionSkipped
from kt.plugins import installed_entry_points
from kt.testing import EventRecorder, ScriptedLLM, ScriptEntry, ToolCall
from kt_guard import ApprovalAnswered, ApprovalRequested, BudgetAlarm, BudgetExhaustedError

ROOT = Path(__file__).resolve().parents[3]
WAYS = ("kernel", "creature")
COMPACTION_ENDED = (CompactionCompleted, CompactionSkipped)


def kernel_for(way: str, *others: object) -> kt.Kernel:
    """A kernel that has kt_guard by entry-point name, or (for ``creature``) does not."""
    names = ["kt_guard"] if way == "kernel" else []
    kernel = kt.Kernel(plugins=[*names, *others])
    assert kernel.failures == []
    assert ("kt_guard" in kernel.plugin_names) == (way == "kernel")
    # Both ways resolve the name to the guard object (a stale install names the module).
    assert kernel.load_plugin("kt_guard") is kt_guard.plugin
    return kernel


def config(**options: object) -> dict:
    return {"name": "t", "plugins": [{"name": "kt_guard", **options}]}


@kt.tool
async def echo(text: str) -> str:
    """Echo a text.

    Args:
        text: What to echo.
    """
    return text


def test_pyproject_names_the_guard_object():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    value = project["project"]["entry-points"]["kt.plugins"]["kt_guard"]
    assert value == "kt_guard:plugin", "the entry point must name the plugin object"


def test_the_installed_entry_point_loads_the_guard_object():
    loaded = installed_entry_points()["kt_guard"].load()
    assert loaded is kt_guard.plugin, (
        "the installed entry point is stale: reinstall with `pip install -e .` so that it "
        'reads kt_guard = "kt_guard:plugin" from pyproject.toml'
    )


@pytest.mark.parametrize("way", WAYS)
async def test_budget_hooks_act_through_the_entry_point(way):
    recorder = EventRecorder()
    usage = kt.Usage(prompt_tokens=40, completion_tokens=2, total_tokens=42)
    script = [ScriptEntry(tool_calls=[ToolCall("echo", {"text": "x"})], usage=usage)] * 3
    script += [ScriptEntry(text="done", usage=usage), ScriptEntry(text="again", usage=usage)]
    llm = ScriptedLLM(script, exhausted="raise")
    budgets = {"tool_calls": [1, 2], "turns": 2, "tokens": 1000}
    kernel = kernel_for(way, recorder)
    async with await kt.Agent.build(
        config(budgets=budgets), llm=llm, tools=[echo], kernel=kernel
    ) as agent:
        first = await agent.run("go")
        second = await agent.run("again")
        third = await agent.run("once more")
        status = kt_guard.budget_status(agent)
    # kt_prompt_sections: the model is told its limits.
    assert "tool_calls: warning at 1, stop at 2" in agent.system_prompt
    # kt_pre_tool_call: the third call is refused; kt_pre_llm_call: the alarms reach the model.
    assert [c.status for c in first.tool_calls] == ["ok", "ok", "blocked"]
    assert "[budget hard] tool_calls is at 2/2" in llm.calls[2].messages[-1].content
    assert [(a.axis, a.level) for a in recorder.of_type(BudgetAlarm)][:2] == [
        ("tool_calls", "soft"),
        ("tool_calls", "hard"),
    ]
    # kt_turn_started + kt_pre_llm_call: the turn past the limit never reaches the model.
    assert second.status == "completed"
    assert third.status == "error" and isinstance(third.error, BudgetExhaustedError)
    assert llm.call_count == 5
    # kt_post_llm_call: tokens are counted from the usage the model reported.
    assert status["tokens"]["used"] == 5 * 42
    assert status["turns"]["used"] == 3


@pytest.mark.parametrize("way", WAYS)
async def test_budget_hook_refuses_sub_agents_through_the_entry_point(way):
    llm = ScriptedLLM([ScriptEntry(text="spent", usage=kt.Usage(total_tokens=500))])
    kernel = kernel_for(way)
    async with await kt.Agent.build(
        config(budgets={"tokens": 100}), llm=llm, kernel=kernel
    ) as agent:
        await agent.run("go")
        ctx = kt.TurnContext(creature=agent, turn_index=1)
        with pytest.raises(BudgetExhaustedError, match="No more sub-agents"):
            await agent.runner.chain("kt_pre_subagent", "task", "t", vetoable=True, ctx=ctx)


class AutoAnswer:
    """A headless policy: allows ``echo`` calls once, denies every other request."""

    @kt.hookimpl
    def kt_event(self, event, creature):
        if isinstance(event, ApprovalRequested):
            decision = "allow_once" if event.tool == "echo" else "deny"
            kt_guard.answer(creature, event.request_id, decision)


@pytest.mark.parametrize("way", WAYS)
async def test_permission_hooks_act_through_the_entry_point(way):
    recorder = EventRecorder()

    @kt.tool(concurrency_safe=False)
    async def shout(text: str) -> str:
        """Shout a text.

        Args:
            text: What to shout.
        """
        return text.upper()

    calls = [
        ToolCall("echo", {"text": "asked and allowed"}),
        ToolCall("shout", {"text": "asked and denied"}),
        ToolCall("echo", {"text": "rm everything"}),
    ]
    llm = ScriptedLLM([[call] for call in calls] + ["done"])
    permissions = {"ask": ["echo", "shout"], "deny": ["echo(rm *)"]}
    kernel = kernel_for(way, recorder, AutoAnswer())
    async with await kt.Agent.build(
        config(permissions=permissions), llm=llm, tools=[echo, shout], kernel=kernel
    ) as agent:
        result = await agent.run("go")
    assert (
        "## Approvals" in agent.system_prompt and "Never allowed: echo(rm *)" in agent.system_prompt
    )
    assert [c.status for c in result.tool_calls] == ["ok", "blocked", "blocked"]
    assert result.tool_calls[0].output == "asked and allowed"
    assert "the user refused this shout call" in result.tool_calls[1].error
    assert "calls matching 'echo(rm *)' are not allowed" in result.tool_calls[2].error
    asked = [(e.tool, e.args["text"]) for e in recorder.of_type(ApprovalRequested)]
    assert asked == [("echo", "asked and allowed"), ("shout", "asked and denied")]
    answered = [(e.tool, e.decision) for e in recorder.of_type(ApprovalAnswered)]
    assert answered == [("echo", "allow_once"), ("shout", "deny")]


@pytest.mark.parametrize("way", WAYS)
async def test_sandbox_hooks_act_through_the_entry_point(way, tmp_path):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()

    @kt.tool(name="write", concurrency_safe=False)
    async def write(path: str, content: str, ctx: kt.ToolContext) -> str:
        """Write a file.

        Args:
            path: Where, relative to the working directory.
            content: What.
        """
        (ctx.working_dir / path).write_text(content)
        return "written"

    calls = [
        ToolCall("write", {"path": "inside.txt", "content": "in"}),
        ToolCall("write", {"path": "../outside/escape.txt", "content": "out"}),
    ]
    llm = ScriptedLLM([calls, "done"])
    kernel = kernel_for(way)
    async with await kt.Agent.build(
        config(sandbox={"network": False}), llm=llm, tools=[write], kernel=kernel, pwd=work
    ) as agent:
        result = await agent.run("go")
    assert "## Sandbox" in agent.system_prompt and "- Network: off" in agent.system_prompt
    assert [c.status for c in result.tool_calls] == ["ok", "blocked"]
    assert result.tool_calls[1].error.startswith("Sandbox denied [fs_write]")
    assert (work / "inside.txt").read_text() == "in"
    assert not (outside / "escape.txt").exists()


@pytest.mark.parametrize("way", WAYS)
async def test_compaction_hooks_act_through_the_entry_point(way):
    written = []

    class Summaries:
        """The backend named by compact_model: the guard's kt_compact asks it for the summary."""

        def __init__(self, profile):
            self.profile = profile

        async def stream(self, request):
            written.append(request)
            yield kt.TextChunk("summary of u1")
            yield kt.LLMDone()

    class Backends:
        @kt.hookimpl
        def kt_llm_backends(self):
            return [kt.LLMBackendSpec("summaries", Summaries)]

    def reply(text, prompt_tokens):
        return ScriptEntry(text=text, usage=kt.Usage(prompt_tokens=prompt_tokens))

    compact = {"max_tokens": 1000, "threshold": 0.8, "keep_recent_turns": 1}
    compact["compact_model"] = "summaries/s1"
    creature = {**config(), "compact": compact}  # compaction needs no guard options
    llm = ScriptedLLM([reply("a1", 10), reply("a2", 900), reply("a3", 10)])
    kernel = kernel_for(way, Backends())
    async with await kt.Agent.build(creature, llm=llm, kernel=kernel) as agent:
        events = agent.subscribe()
        await agent.run("u1")
        await agent.run("u2")  # kt_post_llm_call: 900 ≥ 1000 × 0.8 starts a compaction
        with trio.fail_after(10):  # a deadline for a broken build, not a wait
            ended = await anext(e async for e in events if isinstance(e, COMPACTION_ENDED))
    assert isinstance(ended, CompactionCompleted), ended
    assert ended.summary == "summary of u1"  # kt_compact: written by the compact_model
    assert len(written) == 1 and llm.call_count == 2


@pytest.mark.parametrize("way", WAYS)
async def test_bad_options_fail_closed_through_the_entry_point(way):
    llm = ScriptedLLM([ToolCall("echo", {"text": "x"}), "done"])
    kernel = kernel_for(way)
    options = {"sandbox": {"network": 3}}
    async with await kt.Agent.build(config(**options), llm=llm, tools=[echo], kernel=kernel) as a:
        result = await a.run("go")
    assert result.status == "error" and llm.call_count == 0
    assert "at 'plugins[0].sandbox.network': must be a list of strings" in str(result.error)


async def test_a_creature_entry_reuses_the_kernels_guard_instead_of_adding_one():
    kernel = kernel_for("kernel")
    llm = ScriptedLLM([ToolCall("echo", {"text": "x"}), "done"])
    async with await kt.Agent.build(
        config(budgets={"tool_calls": 3}), llm=llm, tools=[echo], kernel=kernel
    ) as agent:
        await agent.run("go")
        impls = [name for name, _ in agent.runner.impls("kt_turn_started")]
    assert impls == ["kt_guard"]  # once: the entry only supplied options
    assert kt_guard.budget_status(agent)["tool_calls"]["used"] == 1
