"""Budgets: soft warnings reach the model once, hard limits stop tools, model calls or turns."""

from __future__ import annotations

import pytest
import trio

import kt
import kt_guard
from kt.testing import EventRecorder, ScriptedLLM, ScriptEntry, ToolCall
from kt_guard import BudgetAlarm, BudgetExhaustedError, Guard


@kt.tool
async def echo(text: str) -> str:
    """Echo a text.

    Args:
        text: What to echo.
    """
    return text


@kt.tool
async def nap(seconds: float) -> str:
    """Sleep.

    Args:
        seconds: How long.
    """
    await trio.sleep(seconds)
    return "rested"


def build(llm, *, budgets, recorder=None, tools=(echo,)):
    plugins = [kt_guard.plugin] + ([recorder] if recorder else [])
    config = {"name": "t", "plugins": [{"name": "kt_guard", "budgets": budgets}]}
    return kt.Agent.build(config, llm=llm, tools=list(tools), kernel=kt.Kernel(plugins=plugins))


def texts(call) -> str:
    """What a model call was sent, without the system prompt (which explains the notes)."""
    return "\n".join(m.content for m in call.messages[1:] if isinstance(m.content, str))


async def test_scenario_16_tool_call_budget_soft_then_hard():
    """builtins-hooks scenario 16: [1, 2] runs two calls, blocks the third, alarms the model."""
    recorder = EventRecorder()
    script = [ToolCall("echo", {"text": str(i)}) for i in range(3)] + ["done"]
    llm = ScriptedLLM(script, exhausted="raise")
    async with await build(llm, budgets={"tool_calls": [1, 2]}, recorder=recorder) as agent:
        result = await agent.run("go")
    assert result.status == "completed"
    assert [c.status for c in result.tool_calls] == ["ok", "ok", "blocked"]
    blocked = result.tool_calls[2]
    assert blocked.error.startswith("Budget exhausted (tool_calls: 2/2)")
    assert blocked.error_type == "ToolBlockedError"
    # The model saw the refusal in the same turn, and each alarm exactly once, in order.
    assert "Blocked: Budget exhausted (tool_calls" in llm.calls[3].messages[-1].content
    assert "[budget soft] tool_calls is at 1/2" in texts(llm.calls[1])
    assert "[budget hard] tool_calls is at 2/2" in texts(llm.calls[2])
    assert "[budget soft]" not in texts(llm.calls[2])
    assert "[budget" not in texts(llm.calls[3])
    # Alarms ride on the request only: the history keeps the real tool results.
    assert not any("[budget" in str(m.content) for m in agent.history)
    alarms = recorder.of_type(BudgetAlarm)
    assert [(a.axis, a.level, a.used) for a in alarms] == [
        ("tool_calls", "soft", 1),
        ("tool_calls", "hard", 2),
    ]


async def test_parallel_calls_never_pass_the_hard_limit():
    llm = ScriptedLLM([[ToolCall("echo", {"text": str(i)}) for i in range(4)], "done"])
    async with await build(llm, budgets={"tool_calls": 2}) as agent:
        result = await agent.run("go")
    assert sorted(c.status for c in result.tool_calls) == ["blocked", "blocked", "ok", "ok"]


async def test_turn_budget_warns_then_refuses_the_next_turn():
    llm = ScriptedLLM(["one", "two", "three"])
    async with await build(llm, budgets={"turns": [1, 2]}) as agent:
        first = await agent.run("a")
        second = await agent.run("b")
        third = await agent.run("c")
    assert (first.status, second.status) == ("completed", "completed")
    assert "[budget soft] turns is at 1/2" in llm.calls[0].messages[-1].content
    assert (
        "[budget hard] turns is at 2/2. This is the last turn" in llm.calls[1].messages[-1].content
    )
    assert third.status == "error" and llm.call_count == 2
    assert isinstance(third.error, BudgetExhaustedError)
    assert third.error.axis == "turns"
    with pytest.raises(kt.BudgetExceededError, match="turns: 2/2"):
        third.raise_for_status()


async def test_model_call_budget_vetoes_the_call_past_the_limit():
    llm = ScriptedLLM([ToolCall("echo", {"text": "x"})])  # asks for a tool forever
    async with await build(llm, budgets={"model_calls": [2, 3]}) as agent:
        result = await agent.run("go")
    assert llm.call_count == 3
    assert "This is your last model call" in texts(llm.calls[2])
    assert result.status == "error"
    assert "Budget exhausted (model_calls: 3/3)" in str(result.error)
    assert kt.history.is_well_formed(agent.history)


async def test_token_budget_stops_tools_and_leaves_a_final_call():
    usage = kt.Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120)
    tool = ScriptEntry(tool_calls=[ToolCall("echo", {"text": "x"})], usage=usage)
    llm = ScriptedLLM([tool, tool, tool, "never"], exhausted="raise")
    async with await build(llm, budgets={"tokens": [50, 200]}) as agent:
        result = await agent.run("go")
    # Call 1 (120 tokens) ran its tool. Call 2 reached 240 ≥ 200 (its usage arrives with the
    # end of its stream, before its tool is admitted), so its tool was refused. Call 3 is the
    # one final call: the model is told to answer, asks for a tool anyway, which is refused.
    # Call 4 would be past the final call: vetoed before the model is asked.
    assert [c.status for c in result.tool_calls] == ["ok", "blocked", "blocked"]
    assert "Budget exhausted (tokens: 240/200)" in result.tool_calls[1].error
    assert "[budget soft] tokens is at 120/200" in texts(llm.calls[1])
    assert "[budget hard] tokens is at 240/200" in texts(llm.calls[2])
    assert llm.call_count == 3
    assert result.status == "error" and result.error.axis == "tokens"
    assert "the 1 final model call(s) were used" in str(result.error)
    assert kt.history.is_well_formed(agent.history)


async def test_token_budget_lets_the_model_answer_after_the_stop():
    usage = kt.Usage(total_tokens=300)
    llm = ScriptedLLM(
        [ScriptEntry(tool_calls=[ToolCall("echo", {"text": "x"})], usage=usage), "ok"]
    )
    async with await build(llm, budgets={"tokens": 100}) as agent:
        result = await agent.run("go")
    assert result.status == "completed" and result.text == "ok"
    assert "[budget hard] tokens is at 300/100. Tool calls are refused" in texts(llm.calls[1])


async def test_wall_time_budget(autojump_clock):
    script = [ToolCall("nap", {"seconds": 6}), ToolCall("nap", {"seconds": 6}), "late"]
    script.append(ToolCall("nap", {"seconds": 1}))
    llm = ScriptedLLM(script + ["answer"])
    async with await build(llm, budgets={"wall_time": [5, 10]}, tools=[nap]) as agent:
        result = await agent.run("go")
        second = await agent.run("again")
    assert [c.status for c in result.tool_calls] == ["ok", "ok"]
    assert "[budget soft] wall_time is at 6s/10s" in texts(llm.calls[1])
    assert "[budget hard] wall_time is at 12s/10s" in texts(llm.calls[2])
    assert result.text == "late"
    # The final call is spent: the next turn is stopped before the model is asked.
    assert second.status == "error" and second.error.axis == "wall_time"


async def test_sub_agents_are_refused_once_tokens_ran_out():
    # Sub-agent plugins call kt_pre_subagent through the creature's hook runner, like this.
    usage = kt.Usage(total_tokens=500)
    llm = ScriptedLLM([ScriptEntry(text="spent", usage=usage)])
    guard = Guard(budgets={"tokens": 100})
    async with await kt.Agent.build(
        {"name": "t"}, llm=llm, plugins=[guard], kernel=kt.Kernel(plugins=[])
    ) as agent:
        ctx = kt.TurnContext(creature=agent, turn_index=0)
        task = await agent.runner.chain(
            "kt_pre_subagent", "task", "t", vetoable=True, name="w", ctx=ctx
        )
        assert task == "t"
        await agent.run("go")
        with pytest.raises(BudgetExhaustedError, match="No more sub-agents are allowed"):
            await agent.runner.chain(
                "kt_pre_subagent", "task", "t", vetoable=True, name="w", ctx=ctx
            )


async def test_counters_belong_to_each_guard_and_creature():
    guard = Guard(budgets={"tool_calls": 1})
    kernel = kt.Kernel(plugins=[])
    results = []
    for name in ("a", "b"):
        llm = ScriptedLLM([ToolCall("echo", {"text": "x"}), "done"])
        async with await kt.Agent.build(
            {"name": name}, llm=llm, tools=[echo], plugins=[guard], kernel=kernel
        ) as agent:
            results.append(await agent.run("go"))
    assert [r.tool_calls[0].status for r in results] == ["ok", "ok"]
