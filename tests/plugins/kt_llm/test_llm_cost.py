"""kt_llm.cost: every model call priced from the catalog, totals per turn and session, a budget."""

from __future__ import annotations

import pytest

import kt
import kt_llm
from kt.errors import AgentTerminatedError
from kt.testing import EventRecorder, ScriptedLLM, ScriptEntry, ToolCall
from kt_llm.cost import CostBudget, CostUpdated, costs_of
from kt_llm.models import ModelCatalog


@kt.tool
def noop() -> str:
    """Do nothing."""
    return "ok"


def priced_llm(script) -> ScriptedLLM:
    """A scripted model that carries the catalog facts of a real model, as backends do."""
    llm = ScriptedLLM(script)
    llm.model_info = ModelCatalog().lookup("openai", "gpt-4o")
    return llm


USAGE = kt.Usage(prompt_tokens=1_000_000, completion_tokens=100_000, total_tokens=1_100_000)


async def test_calls_are_priced_and_totals_kept_per_turn_and_session():
    recorder = EventRecorder()
    llm = priced_llm(
        [
            ScriptEntry(tool_calls=(ToolCall("noop", {}),), usage=USAGE),
            ScriptEntry(text="done", usage=USAGE),
            ScriptEntry(text="again", usage=USAGE),
        ]
    )
    info = llm.model_info
    per_call = info.cost(USAGE)
    assert per_call == pytest.approx(info.prices.input + info.prices.output / 10)
    async with await kt.Agent.build(
        {"name": "c"}, llm=llm, tools=[noop], kernel=kt.Kernel(plugins=[kt_llm, recorder])
    ) as agent:
        await agent.run("one")
        await agent.run("two")
        costs = costs_of(agent)
    updates = recorder.of_type(CostUpdated)
    assert [u.call_cost for u in updates] == pytest.approx([per_call] * 3)
    assert [u.turn_cost for u in updates] == pytest.approx([per_call, 2 * per_call, per_call])
    assert updates[-1].session_cost == pytest.approx(3 * per_call) == costs.session
    assert costs.complete and costs.calls == 3


async def test_an_unpriced_model_costs_none_and_marks_the_total_incomplete():
    recorder = EventRecorder()
    async with await kt.Agent.build(
        {"name": "c"}, llm=ScriptedLLM(["x"]), kernel=kt.Kernel(plugins=[kt_llm, recorder])
    ) as agent:
        await agent.run("one")
    [update] = recorder.of_type(CostUpdated)
    assert update.call_cost is None and not update.complete and update.session_cost == 0


async def test_a_budget_ends_the_run():
    llm = priced_llm([ScriptEntry(text="a", usage=USAGE), ScriptEntry(text="b", usage=USAGE)])
    async with await kt.Agent.build(
        {"name": "c"},
        llm=llm,
        kernel=kt.Kernel(plugins=[kt_llm]),
        plugins=[CostBudget(budget_usd=0.01)],
    ) as agent:
        await agent.run("expensive")
        with pytest.raises(AgentTerminatedError, match="over its budget"):
            await agent.run("more")


def test_the_event_reads_back_from_the_wire():
    event = CostUpdated(model="m", call_cost=0.5, turn_cost=0.5, session_cost=1.0)
    assert kt.events.from_wire(kt.events.to_wire(event)) == event
