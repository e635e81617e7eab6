"""``llm=`` takes a selector string as well as a model object, checked when the agent is built."""

from __future__ import annotations

import pytest

import kt
from kt.errors import ConfigValidationError, KTError, UnknownNameError


async def test_a_selector_string_is_resolved_at_build(tmp_path):
    replies = tmp_path / "replies.toml"
    replies.write_text('[[replies]]\ntext = "from the script"\n')
    async with await kt.Agent.build(
        {"name": "s"}, llm=f"scripted:{replies}", kernel=kt.Kernel(plugins=[])
    ) as agent:
        assert (await agent.run("hi")).text == "from the script"


async def test_an_unknown_name_fails_the_build_with_a_typed_error():
    with pytest.raises(KTError):
        await kt.Agent.build({"name": "s"}, llm="nonexistent/model", kernel=kt.Kernel(plugins=[]))


async def test_a_profile_object_is_built_by_its_backend_and_a_non_model_is_refused(tmp_path):
    replies = tmp_path / "replies.toml"
    replies.write_text('[[replies]]\ntext = "from the profile"\n')
    profile = kt.LLMProfile(name="mine", backend="scripted", model=str(replies))
    async with await kt.Agent.build({"name": "p"}, llm=profile, kernel=kt.Kernel(plugins=[])) as a:
        assert (await a.run("hi")).text == "from the profile"
    with pytest.raises(ConfigValidationError, match="llm= takes a model") as caught:
        await kt.Agent.build({"name": "p"}, llm=42, kernel=kt.Kernel(plugins=[]))
    assert caught.value.path == "llm"
    lost = kt.LLMProfile(name="lost", backend="scriptd", model="x")
    with pytest.raises(UnknownNameError, match="did you mean 'scripted'|Did you mean 'scripted'"):
        await kt.Agent.build({"name": "p"}, llm=lost, kernel=kt.Kernel(plugins=[]))


async def test_the_engine_takes_a_selector_string_too(tmp_path):
    kt_terrarium = pytest.importorskip("kt_terrarium")
    replies = tmp_path / "replies.toml"
    replies.write_text('[[replies]]\ntext = "engine reply"\n')
    async with kt_terrarium.Terrarium(kernel=kt.Kernel(plugins=[])) as engine:
        await engine.add_creature({"name": "a"}, llm=f"scripted:{replies}")
        assert (await engine["a"].run("hi")).text == "engine reply"


async def test_an_inline_tool_runs_in_the_creatures_thread_and_others_in_a_worker():
    import threading

    from kt.testing import ScriptedLLM, ToolCall

    threads = {}

    @kt.tool(inline=True)
    def quick(x: int) -> str:
        """Double."""
        threads["quick"] = threading.current_thread()
        return str(2 * x)

    @kt.tool
    def slow(x: int) -> str:
        """Double, in a worker thread."""
        threads["slow"] = threading.current_thread()
        return str(2 * x)

    llm = ScriptedLLM([ToolCall("quick", {"x": 2}), ToolCall("slow", {"x": 3}), "done"])
    async with await kt.Agent.build(
        {"name": "t"}, llm=llm, tools=[quick, slow], kernel=kt.Kernel(plugins=[])
    ) as agent:
        result = await agent.run("go")
    assert [c.output for c in result.tool_calls] == ["4", "6"]
    assert threads["quick"] is threading.current_thread()
    assert threads["slow"] is not threading.current_thread()
