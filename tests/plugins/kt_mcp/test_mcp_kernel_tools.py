"""The two kernel methods kt_mcp relies on: ``Agent.add_tools`` and ``Agent.call_tool``."""

from __future__ import annotations

import pytest

import kt
from kt.events import ToolCallCompleted, ToolCallStarted
from kt.testing import EventRecorder, ScriptedLLM, ToolCall


@kt.tool
def count_words(text: str) -> str:
    """Count the words in a text."""
    return str(len(text.split()))


@kt.tool(guidance="Use shout for emphasis.")
def shout(text: str) -> str:
    """Say it loudly."""
    return text.upper()


class _Sections:
    """Lists the tools it sees in the prompt, like a plugin whose section depends on them."""

    @kt.hookimpl
    def kt_prompt_sections(self, creature):
        return [kt.PromptSection("tools.seen", "Tools: " + ", ".join(sorted(creature.tools)))]


async def test_add_tools_on_a_running_agent_updates_schemas_and_prompt():
    llm = ScriptedLLM([ToolCall("shout", {"text": "hi"}), "done"], exhausted="raise")
    kernel = kt.Kernel(plugins=[_Sections()])
    async with await kt.Agent.build(
        {"name": "t"}, llm=llm, tools=[count_words], kernel=kernel
    ) as agent:
        assert "Tools: count_words" in agent.system_prompt
        (added,) = await agent.add_tools([shout])
        assert added.name == "shout" and agent.tools["shout"] is added
        assert "Tools: count_words, shout" in agent.system_prompt
        assert "Use shout for emphasis." in agent.system_prompt
        result = await agent.run("go")
    assert result.tool_calls[0].output == "HI"
    offered = {schema.name: schema for schema in llm.calls[0].tools}
    assert set(offered) == {"count_words", "shout"}
    assert "run_in_background" in offered["shout"].parameters["properties"]
    assert llm.calls[0].messages[0].content == agent.system_prompt


async def test_add_tools_refuses_taken_names_and_adds_nothing():
    async with await kt.Agent.build(
        {"name": "t"}, llm=ScriptedLLM(["x"]), tools=[count_words], kernel=kt.Kernel(plugins=[])
    ) as agent:
        with pytest.raises(ValueError, match="already taken: count_words"):
            await agent.add_tools([shout, count_words])
        with pytest.raises(ValueError, match="already taken: shout"):
            await agent.add_tools([shout, shout])
        assert set(agent.tools) == {"count_words"}
    with pytest.raises(kt.AgentStoppedError):
        await agent.add_tools([shout])


async def test_add_tools_before_start_is_prepared_by_start():
    llm = ScriptedLLM(["x"])
    agent = await kt.Agent.build({"name": "t"}, llm=llm, kernel=kt.Kernel(plugins=[]))
    await agent.add_tools([shout])
    async with agent:
        await agent.run("go")
    assert [schema.name for schema in llm.calls[0].tools] == ["shout"]


class _NoShouting:
    @kt.hookimpl
    def kt_pre_tool_call(self, call):
        if call.args.get("text") == "forbidden":
            raise kt.PluginBlockError("not that word")


async def test_call_tool_runs_a_tool_outside_a_turn_with_validation_and_hooks():
    recorder = EventRecorder()
    kernel = kt.Kernel(plugins=[_NoShouting(), recorder])
    async with await kt.Agent.build(
        {"name": "t"}, llm=ScriptedLLM(["x"]), tools=[shout], kernel=kernel
    ) as agent:
        ok = await agent.call_tool("shout", {"text": "hey"})
        from_json = await agent.call_tool("shout", '{"text": "json"}')
        invalid = await agent.call_tool("shout", {"txt": "hey"})
        blocked = await agent.call_tool("shout", {"text": "forbidden"})
        unknown = await agent.call_tool("whisper", {})
        background = await agent.call_tool("shout", {"text": "now", "run_in_background": True})
        assert agent.history == []  # nothing enters the conversation
    assert (ok.status, ok.output) == ("ok", "HEY")
    assert from_json.output == "JSON"
    assert invalid.status == "error" and "missing required argument 'text'" in invalid.error
    assert blocked.status == "blocked" and blocked.error == "not that word"
    assert unknown.status == "error" and unknown.error_type == "ToolNotFoundError"
    assert (background.status, background.output) == ("ok", "NOW")  # never in the background
    started = recorder.of_type(ToolCallStarted)
    completed = recorder.of_type(ToolCallCompleted)
    assert len(started) == len(completed) == 6
    assert [e.call_id for e in started] == [e.call_id for e in completed]


async def test_call_tool_needs_a_running_agent():
    agent = await kt.Agent.build(
        {"name": "t"}, llm=ScriptedLLM(["x"]), tools=[shout], kernel=kt.Kernel(plugins=[])
    )
    with pytest.raises(kt.AgentNotStartedError):
        await agent.call_tool("shout", {"text": "x"})
