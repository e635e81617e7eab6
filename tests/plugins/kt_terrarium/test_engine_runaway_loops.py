"""No runaway loop of output wires can be built, by any path that creates a wire.

A loop of wires is money burnt: each creature's turn starts the next one's, forever. Every way
to create a wire (``Terrarium.wire``, a creature config's ``output_wiring``, a recipe) goes
through one check: a loop is refused unless it opts in, and an opted-in loop has a hop budget
by default. A creature whose loop spends its budget stops there, with a typed event.
"""

from __future__ import annotations

import itertools

import pytest
import trio
from test_engine_support import bare, drain

import kt_terrarium
from kt.errors import ConfigValidationError
from kt.testing import ScriptedLLM
from kt_terrarium import OutputWireDropped
from kt_terrarium.errors import WiringLoopError
from kt_terrarium.recipes import DEFAULT_LOOP_HOPS


def chatty(name: str) -> ScriptedLLM:
    """A model that answers every turn, forever (a loop would never run out of replies)."""
    return ScriptedLLM([lambda request, n=name: f"{n} says hi" for _ in range(10_000)])


async def wait_idle(engine, seconds=10.0):
    with trio.fail_after(seconds):  # a runaway loop never goes idle
        await engine.wait_idle()


async def test_a_config_wire_to_itself_is_refused():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        with pytest.raises(WiringLoopError, match="allow_self_trigger"):
            await engine.add_creature({"name": "a", "output_wiring": ["a"]}, llm=chatty("a"))
        assert "a" not in engine.creatures


async def test_config_wires_closing_a_loop_are_refused_when_the_loop_closes():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.add_creature({"name": "a", "output_wiring": ["b"]}, llm=chatty("a"))
        with pytest.raises(WiringLoopError, match="closes the loop"):
            await engine.add_creature({"name": "b", "output_wiring": ["a"]}, llm=chatty("b"))
        assert list(engine.creatures) == ["a"]


async def test_an_allowed_self_loop_without_max_hops_stops_after_the_default_budget():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        events = engine.subscribe(creature_events=True)
        llm = chatty("a")
        a = await engine.add_creature({"name": "a"}, llm=llm)
        wire = await engine.wire("a", "a", allow_self_trigger=True)
        assert wire.max_hops == DEFAULT_LOOP_HOPS
        await a.run("go")
        await wait_idle(engine)
        seen = drain(events)
    assert llm.call_count == DEFAULT_LOOP_HOPS + 1  # the user's turn, then one per hop
    (stopped,) = [e for e in seen if isinstance(e, OutputWireDropped)]
    assert stopped.code == "hop_limit" and stopped.creature == "a"


async def test_a_recipe_self_loop_gets_the_default_budget_too():
    recipe = {
        "creatures": [{"name": "a", "output_wiring": [{"to": "a", "allow_self_trigger": True}]}]
    }
    llm = chatty("a")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(recipe, llm={"a": llm})
        await engine["a"].run("go")
        await wait_idle(engine)
    assert llm.call_count == DEFAULT_LOOP_HOPS + 1


async def test_a_recipe_loop_without_max_hops_is_refused():
    recipe = {
        "creatures": [
            {"name": "a", "output_wiring": ["b"]},
            {"name": "b", "output_wiring": ["a"]},
        ]
    }
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        with pytest.raises(ConfigValidationError, match="closes the loop"):
            await engine.apply_recipe(recipe, llm={"a": chatty("a"), "b": chatty("b")})


OPTIONS = {
    "wire": {},
    "wire_self_allowed": {"allow_self_trigger": True},
    "wire_max_hops": {"max_hops": 3},
}
ROUTES = [*OPTIONS, "config"]


@pytest.mark.parametrize("routes", list(itertools.product(ROUTES, repeat=2)))
async def test_no_combination_of_wiring_paths_builds_an_unbounded_loop(routes):
    """a -> b then b -> a, each wire made by any path: refused, or bounded."""
    first, second = routes
    llms = {"a": chatty("a"), "b": chatty("b")}
    configs = {"a": {"name": "a"}, "b": {"name": "b"}}
    if first == "config":
        configs["a"]["output_wiring"] = ["b"]
    if second == "config":
        configs["b"]["output_wiring"] = ["a"]
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        try:
            await engine.add_creature(configs["a"], llm=llms["a"])
            await engine.add_creature(configs["b"], llm=llms["b"])
            if first != "config":
                await engine.wire("a", "b", **OPTIONS[first])
            if second != "config":
                await engine.wire("b", "a", **OPTIONS[second])
        except WiringLoopError:
            return  # refused: the loop does not exist
        await engine["a"].run("go")
        await wait_idle(engine)
    calls = llms["a"].call_count + llms["b"].call_count
    assert calls <= DEFAULT_LOOP_HOPS + 2
