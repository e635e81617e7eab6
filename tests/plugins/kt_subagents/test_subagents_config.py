"""kt_subagents as a plugin: registration, prompts, entry options, and the kt-biome creature."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

import kt
import kt_subagents
import kt_triggers
from kt.config import load_creature_config
from kt.plugins import new_plugin_manager
from kt.testing import ScriptedLLM, ToolCall
from kt_subagents import BUILTINS, render_prompt

KT_BIOME = Path(__file__).parents[4] / "shared" / "fixtures" / "kt-biome"


@kt.tool
async def read(path: str) -> str:
    """Read a file.

    Args:
        path: The file.
    """
    return "text"


@kt.tool
async def stop_task(job_id: str) -> str:
    """Stop a job.

    Args:
        job_id: The job.
    """
    return "stopped"


async def build(config, *, llm=None, tools=(read,), plugins=()):
    return await kt.Agent.build(
        {"name": "parent", **config},
        llm=llm or ScriptedLLM(["ok"]),
        tools=list(tools),
        kernel=kt.Kernel(plugins=[kt_subagents, *plugins]),
    )


def test_hook_kt_subagents_registers_the_six_builtins():
    pm = new_plugin_manager()
    pm.register(kt_subagents, name="kt_subagents")
    pm.check_pending()
    (specs,) = pm.hook.kt_subagents()
    names = ["explore", "plan", "worker", "critic", "summarize", "research"]
    assert [s.name for s in specs] == names
    assert all(isinstance(s, kt.SubAgentSpec) and s.description for s in specs)
    assert list(kt.Kernel(plugins=[kt_subagents]).subagents) == names


async def test_hook_kt_prompt_sections_lists_the_creatures_sub_agents():
    config = {"subagents": ["explore", "worker"]}
    async with await build(config, tools=(read, stop_task)) as agent:
        prompt = agent.system_prompt
        assert set(agent.tools) == {"read", "stop_task", "explore", "worker"}
    assert "## Sub-agents" in prompt
    assert "- explore: Find things in the codebase" in prompt
    assert "- worker [can modify files]: Carry out" in prompt
    assert "run_in_background: false" in prompt
    assert "`stop_task`" in prompt
    async with await build({}) as plain:
        assert "Sub-agents" not in plain.system_prompt


@pytest.mark.parametrize("name", list(BUILTINS))
def test_every_builtin_prompt_renders_with_its_budget_and_shape(name):
    definition = BUILTINS[name]
    prompt = render_prompt(definition, max_turns=17)
    assert prompt.startswith(f"# {name.capitalize()} sub-agent")
    assert "at most 17 model calls" in prompt
    assert definition.response_shape.strip() in prompt
    assert ("You are read-only" in prompt) == (not definition.can_modify)
    assert "{" not in prompt.replace("{{", "")  # nothing left unformatted


async def test_entry_options_shape_the_child():
    def reply(request):
        if request.messages[-1].role == "tool":
            return "ok"
        return ToolCall("scout", {"task": "look"})

    entry = {
        "name": "scout",
        "description": "A scout.",
        "tools": ["read", "nonexistent"],
        "max_turns": 7,
        "extra_prompt": "Always answer in French.",
        "background": False,
    }
    llm = ScriptedLLM([reply])
    kernel = kt.Kernel(plugins=[kt_subagents, _Scout()])
    agent = await kt.Agent.build(
        {"name": "parent", "subagents": [entry]}, llm=llm, tools=[read], kernel=kernel
    )
    spec = agent.tools["scout"]
    assert spec.description == "Sub-agent: A scout."
    assert spec.parameters["required"] == ["task"]
    assert "Default false" in spec.parameters["properties"]["run_in_background"]["description"]
    async with agent:
        result = await agent.run("go")
    assert result.tool_calls[0].metadata["job_id"] is None  # foreground by the entry's default
    child = llm.calls[1]
    system = child.messages[0].content
    assert "at most 7 model calls" in system
    assert system.index("## Additional instructions\nAlways answer in French.") > 0
    assert "not available to you here: nonexistent" in system
    assert [t.name for t in child.tools] == ["read"]


class _Scout:
    """Offers a sub-agent named 'scout' built like explore (custom names come from plugins)."""

    @kt.hookimpl
    def kt_subagents(self):
        return [kt_subagents.subagent_spec(attrs.evolve(BUILTINS["explore"], name="scout"))]


async def test_system_prompt_option_replaces_the_builtin_prompt():
    def reply(request):
        if request.messages[-1].role == "tool":
            return "ok"
        return ToolCall("critic", {"task": "review", "run_in_background": False})

    llm = ScriptedLLM([reply])
    config = {"subagents": [{"name": "critic", "system_prompt": "You only say LGTM."}]}
    async with await build(config, llm=llm) as agent:
        await agent.run("go")
    assert llm.calls[1].messages[0].content.startswith("You only say LGTM.")


@pytest.mark.parametrize(
    ("entry", "path", "fragment"),
    [
        ({"name": "explore", "max_turn": 3}, "subagents[0].max_turn", "no option 'max_turn'"),
        ({"name": "explore", "max_turns": -1}, "subagents[0].max_turns", "whole number"),
        ({"name": "explore", "max_turns": 2.5}, "subagents[0].max_turns", "whole number"),
        ({"name": "explore", "timeout": "soon"}, "subagents[0].timeout", "number of seconds"),
        ({"name": "explore", "background": "yes"}, "subagents[0].background", "true or false"),
        ({"name": "explore", "extra_prompt": 3}, "subagents[0].extra_prompt", "a string"),
    ],
)
async def test_bad_entry_options_fail_at_build_with_the_key_path(entry, path, fragment):
    with pytest.raises(kt.ConfigValidationError) as info:
        await build({"subagents": [entry]})
    assert info.value.path == path and fragment in str(info.value)


async def test_max_turns_zero_means_the_creatures_max_iterations():
    agent = await build({"subagents": [{"name": "plan", "max_turns": 0}], "max_iterations": 12})
    (settings,) = kt_subagents.offered_subagents(agent)
    assert settings.max_turns == 12


async def test_a_sub_agent_named_like_a_tool_is_refused():
    @kt.tool(name="explore")
    async def explore_tool(x: str) -> str:
        """Clash.

        Args:
            x: x.
        """
        return x

    with pytest.raises(kt.ConfigValidationError, match="same name as a tool"):
        await build({"subagents": ["explore"]}, tools=(explore_tool,))


class _GeneralToolStubs:
    """Stand-ins for the kt-biome general creature's tools that other plugins provide."""

    NAMES = (
        "bash python read write edit multi_edit notebook_read notebook_edit glob grep tree "
        "scratchpad info ask_user json_read json_write send_message stop_task search_memory "
        "web_fetch web_search"
    ).split()

    @kt.hookimpl
    def kt_tools(self):
        return [
            kt.ToolSpec(n, f"{n} stand-in", {"type": "object", "properties": {}}, fn=lambda: "")
            for n in self.NAMES
        ]


@pytest.mark.skipif(not KT_BIOME.is_dir(), reason="kt-biome fixture not found")
async def test_the_kt_biome_general_creature_resolves_every_sub_agent_and_trigger_tool():
    def resolve(ref):
        return KT_BIOME / ref.removeprefix("@kt-biome/") if ref.startswith("@kt-biome/") else None

    config = load_creature_config(KT_BIOME / "creatures" / "general", env={}, resolve_ref=resolve)
    config = attrs.evolve(config, plugins=())  # kt-biome's own plugins are not ours to load
    kernel = kt.Kernel(plugins=[kt_subagents, kt_triggers, _GeneralToolStubs()])
    agent = await kt.Agent.build(config, llm=ScriptedLLM(["ok"]), kernel=kernel, output=None)
    assert kernel.tools.origin("add_timer") == "kt_triggers"
    assert {"add_timer", "add_schedule"} <= set(agent.tools)
    for name in ("explore", "plan", "worker", "critic", "summarize", "research"):
        assert agent.tools[name].description.startswith("Sub-agent")
    assert len(agent.tools) == 23 + 6
    async with agent:
        assert "## Sub-agents" in agent.system_prompt


def test_loading_the_plugin_does_not_import_trio():
    """`kt --help` builds a kernel with every plugin: registering this one must stay cheap."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, kt, kt_subagents; kt.Kernel(plugins=[kt_subagents]); "
        "print('trio' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr
