"""Agent.build fails at once, with typed errors naming the key path and the fix (R-ERRT-3)."""

from __future__ import annotations

import pytest
import trio

import kt
from kt.testing import ScriptedLLM


@pytest.fixture
def kernel():
    @kt.tool
    def bash(command: str) -> str:
        """Run a command."""
        return command

    class Tools:
        @kt.hookimpl
        def kt_tools(self):
            return [bash]

    return kt.Kernel(plugins=[Tools()])


async def build(config, kernel, **kwargs):
    kwargs.setdefault("llm", ScriptedLLM(["x"]))
    return await kt.Agent.build(config, kernel=kernel, **kwargs)


async def test_unknown_tool_names_path_and_suggests(kernel):
    with pytest.raises(kt.UnknownNameError) as info:
        await build({"name": "t", "tools": ["bash", "bsh"]}, kernel)
    assert info.value.path == "tools[1].name"
    assert "'bash'" in str(info.value) and "kt plugins" in str(info.value)


async def test_known_tool_resolves_with_generic_options(kernel):
    agent = await build({"name": "t", "tools": [{"name": "bash", "timeout": 5}]}, kernel)
    assert agent.tools["bash"].timeout == 5


async def test_tool_options_it_does_not_take(kernel):
    with pytest.raises(kt.ConfigValidationError, match="takes no options"):
        await build({"name": "t", "tools": [{"name": "bash", "shell": "zsh"}]}, kernel)


async def test_duplicate_tools(kernel):
    with pytest.raises(kt.ConfigValidationError, match="twice"):
        await build(
            {"name": "t", "tools": ["bash"]}, kernel, tools=[kt.tool(lambda: "", name="bash")]
        )


async def test_custom_tool_module_missing(kernel):
    with pytest.raises(kt.ModuleLoadError, match="no_such_module_xyz"):
        await build({"name": "t", "tools": [{"name": "x", "module": "no_such_module_xyz"}]}, kernel)


async def test_custom_tool_from_module_attribute(kernel, tmp_path, monkeypatch):
    (tmp_path / "my_tools.py").write_text(
        "def shout(text: str) -> str:\n    '''Shout.'''\n    return text.upper()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {"name": "t", "tools": [{"name": "shout", "module": "my_tools"}]}
    agent = await build(config, kernel)
    assert agent.tools["shout"]("a") == "A"


async def test_unknown_tool_format(kernel):
    with pytest.raises(kt.UnknownNameError, match="kt_formats") as info:
        await build({"name": "t", "controller": {"tool_format": "bracket"}}, kernel)
    assert info.value.path == "controller.tool_format"


async def test_unknown_subagent(kernel):
    with pytest.raises(kt.UnknownNameError, match="sub-agent 'explore'"):
        await build({"name": "t", "subagents": ["explore"]}, kernel)


async def test_no_model_configured_says_how(kernel):
    with pytest.raises(kt.LLMNotConfiguredError, match="--llm") as info:
        await kt.Agent.build({"name": "t"}, kernel=kernel)
    assert "scripted" in str(info.value)


async def test_unknown_backend(kernel):
    with pytest.raises(kt.UnknownNameError, match="unknown LLM backend 'openai'"):
        await kt.Agent.build({"name": "t", "controller": {"llm": "openai/gpt-4o"}}, kernel=kernel)


async def test_unknown_plugin_by_name(kernel):
    with pytest.raises(kt.UnknownNameError, match="not installed"):
        await build({"name": "t", "plugins": ["no_such_plugin"]}, kernel)


async def test_plugin_module_missing(kernel):
    config = {
        "name": "t",
        "plugins": [{"name": "p", "module": "kt_biome.plugins.nope", "class": "X"}],
    }
    with pytest.raises(kt.ModuleLoadError, match="plugins\\[0\\]"):
        await build(config, kernel)


async def test_unknown_config_key(kernel):
    with pytest.raises(kt.ConfigValidationError, match="tool_formt"):
        await build({"name": "t", "tool_formt": "native"}, kernel)


async def test_missing_creature_folder(kernel, tmp_path):
    with pytest.raises(kt.ConfigNotFoundError):
        await build(tmp_path / "nowhere", kernel)


async def test_creature_folder_with_toml(kernel, tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "system.md").write_text("You count words.")
    (tmp_path / "creature.toml").write_text(
        'name = "counter"\nsystem_prompt_file = "prompts/system.md"\n'
        'tools = [{ name = "bash" }]\n[controller]\ntool_format = "native"\n'
    )
    llm = ScriptedLLM(["ok"])
    async with await build(tmp_path, kernel, llm=llm) as agent:
        await agent.run("hi")
    assert agent.name == "counter"
    assert llm.last_call.messages[0].content == "You count words."
    assert [t.name for t in llm.last_call.tools] == ["bash"]


async def test_working_directory_is_per_agent(kernel, tmp_path):
    agent = await build({"name": "t"}, kernel, pwd=tmp_path)
    assert agent.working_dir == tmp_path.resolve()


async def test_creature_folder_carries_its_code_and_replies(kernel, tmp_path):
    (tmp_path / "tools.py").write_text(
        "def count_words(text: str) -> str:\n    '''Count words.'''\n    return str(len(text.split()))\n"
    )
    (tmp_path / "replies.toml").write_text(
        '[[replies]]\ntool_calls = [{ name = "count_words", args = { text = "a b c" } }]\n'
        '[[replies]]\ntext = "There are 3 words."\n'
    )
    (tmp_path / "creature.toml").write_text(
        'name = "counter"\ntools = [{ name = "count_words", module = "./tools.py" }]\n'
        '[controller]\nllm = "scripted:replies.toml"\n'
    )
    async with await kt.Agent.build(tmp_path, kernel=kernel) as agent:
        result = await agent.run("count a b c")
    assert result.tool_calls[0].output == "3"
    assert result.text == "There are 3 words."


async def test_config_triggers_and_outputs_are_wired(tmp_path):
    seen = []

    class Printer:
        def __init__(self, entry, agent):
            self.prefix = entry.options.get("prefix", "")

        async def on_event(self, event):
            if event.type == "text_delta":
                seen.append(self.prefix + event.text)

    class Once:
        def __init__(self, entry, agent):
            self.prompt = entry.prompt

        async def run(self, agent, *, task_status=trio.TASK_STATUS_IGNORED):
            task_status.started()
            agent.inject(self.prompt)

    class Plugin:
        @kt.hookimpl
        def kt_outputs(self):
            return [kt.OutputSpec("printer", Printer)]

        @kt.hookimpl
        def kt_triggers(self):
            return [kt.TriggerSpec("once", Once)]

    kernel = kt.Kernel(plugins=[Plugin()])
    config = {
        "name": "t",
        "output": {"type": "printer", "prefix": "> "},
        "triggers": [{"type": "once", "prompt": "wake up"}],
    }
    llm = ScriptedLLM(["good morning"])
    async with await kt.Agent.build(config, llm=llm, kernel=kernel) as agent:
        events = agent.subscribe()
        with trio.fail_after(2):
            async for event in events:
                if event.type == "turn_completed":
                    break
    assert seen == ["> good morning"]
    assert llm.last_call.last_user_text == "wake up"


async def test_unknown_trigger_and_output_types(kernel):
    with pytest.raises(kt.UnknownNameError, match="trigger type 'timer'"):
        await build({"name": "t", "triggers": [{"type": "timer"}]}, kernel)
    with pytest.raises(kt.UnknownNameError, match="output type 'stdout'") as info:
        await build({"name": "t", "output": {"type": "stdout"}}, kernel)
    assert info.value.path == "output.type"


async def test_config_turn_timeout_applies_unless_overridden(kernel, autojump_clock):
    from kt.testing import ScriptEntry

    llm = ScriptedLLM([ScriptEntry(text="x" * 30, chunk_size=1, delay=0.1)])
    config = {"name": "t", "controller": {"turn_timeout": 1}}
    async with await build(config, kernel, llm=llm) as agent:
        assert (await agent.run("a")).status == "timeout"
        assert (await agent.run("b", timeout=None)).status == "completed"
