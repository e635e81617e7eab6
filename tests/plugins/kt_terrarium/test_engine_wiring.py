"""Output wiring: turn-end text delivered to wired creatures (terrarium-studio §17, 1-5)."""

from __future__ import annotations

import pytest
import trio
from test_engine_support import bare, drain, echo, turn_inputs

import kt
import kt_terrarium
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall
from kt_terrarium import OutputWireDelivered, OutputWireDropped


@kt.tool
def noop() -> str:
    """Do nothing."""
    return "done"


async def test_two_creature_pipeline_delivers_a_text_to_b_without_waiting(autojump_clock):
    """Scenario 1: a -> b; b gets exactly one turn `[output-wire from a] HELLO-B`."""
    b_llm = ScriptedLLM([ScriptEntry(text="B done", delay=5.0)])
    recipe = {
        "creatures": [
            {"name": "a", "output_wiring": ["b"]},
            {"name": "b"},
        ]
    }
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        events = engine.subscribe(creature_events=True)
        await engine.apply_recipe(recipe, llm={"a": ScriptedLLM(["HELLO-B"]), "b": b_llm})
        t0 = trio.current_time()
        result = await engine["a"].run("go")
        assert result.status == "completed" and result.text == "HELLO-B"
        assert trio.current_time() - t0 < 1  # a's turn did not wait for b's (5 s) turn
        assert engine["b"].status()["busy"] or not engine.is_idle
        await engine.wait_idle()
        seen = drain(events)
    assert turn_inputs(seen, "b") == ["[output-wire from a] HELLO-B"]
    assert turn_inputs(seen, "b", "output_wire") == ["[output-wire from a] HELLO-B"]
    (delivered,) = [e for e in seen if isinstance(e, OutputWireDelivered)]
    assert (delivered.creature, delivered.source, delivered.content) == ("b", "a", "HELLO-B")
    assert b_llm.call_count == 1


async def test_wiring_with_the_python_api_and_the_default_templates():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        writer = await engine.add_creature({"name": "writer"}, llm=ScriptedLLM(["A haiku."]))
        critic_llm = echo("critic")
        await engine.add_creature({"name": "critic"}, llm=critic_llm)
        wire = await engine.wire("writer", "critic")
        assert wire.edge_id == (await engine.wire("writer", "critic")).edge_id  # idempotent
        await writer.run("write")
        await engine.wait_idle()
    assert critic_llm.calls[0].last_user_text == "[output-wire from writer] A haiku."


async def test_only_the_last_round_text_is_delivered():
    """Scenario 2: text before a tool call in round 1 is not part of the delivery."""
    a_llm = ScriptedLLM([ScriptEntry(text="thinking…", tool_calls=[ToolCall("noop")]), "FINAL"])
    b_llm = echo("b")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=a_llm, tools=[noop])
        await engine.add_creature({"name": "b"}, llm=b_llm)
        await engine.wire("a", "b")
        await a.run("go")
        await engine.wait_idle()
    assert b_llm.calls[0].last_user_text == "[output-wire from a] FINAL"


async def test_a_turn_that_fails_before_its_first_round_sends_no_stale_text():
    a_llm = ScriptedLLM(["first", kt.LLMRateLimitError("slow down")])
    b_llm = echo("b")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=a_llm)
        await engine.add_creature({"name": "b"}, llm=b_llm)
        await engine.wire("a", "b")
        await a.run("one")
        second = await a.run("two")
        await engine.wait_idle()
    assert second.status == "error"
    texts = [call.last_user_text for call in b_llm.calls]
    assert texts == ["[output-wire from a] first", "[output-wire from a]"]


async def test_metadata_ping_sends_no_content():
    """Scenario 3: with_content = false."""
    b_llm = echo("b")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        events = engine.subscribe(types={"output_wire"})
        a = await engine.add_creature({"name": "a"}, llm=ScriptedLLM(["secret text"]))
        await engine.add_creature({"name": "b"}, llm=b_llm)
        await engine.wire("a", "b", with_content=False)
        await a.run("go")
        await engine.wait_idle()
        (delivered,) = drain(events)
    assert b_llm.calls[0].last_user_text == "[output-wire from a] (turn-end signal, no content)"
    assert delivered.content == "" and delivered.with_content is False
    assert "secret" not in b_llm.calls[0].messages[-1].content


async def test_custom_prompt_templates():
    b_llm = echo("b")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=ScriptedLLM(["X"]))
        await engine.add_creature({"name": "b"}, llm=b_llm)
        await engine.wire("a", "b", prompt="{source} said {content} ({status}) {unknown}")
        await a.run("go")
        await engine.wait_idle()
    assert b_llm.calls[0].last_user_text == "a said X (completed)"


async def test_jinja_prompt_templates():
    pytest.importorskip("jinja2")
    c_llm = echo("c")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=ScriptedLLM(["X"]))
        await engine.add_creature({"name": "c"}, llm=c_llm)
        await engine.wire(
            "a", "c", prompt="{{ source | upper }}:{{ content }}:{{ hops }}", prompt_format="jinja"
        )
        await a.run("go")
        await engine.wait_idle()
    assert c_llm.calls[0].last_user_text == "A:X:1"


async def test_self_wire_is_refused_without_allow_self_trigger():
    """Scenario 4, first half: a wire to itself is a loop and is refused."""
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.add_creature({"name": "a"}, llm=ScriptedLLM(["x"]))
        with pytest.raises(kt_terrarium.WiringLoopError, match="allow_self_trigger"):
            await engine.wire("a", "a")
        assert engine["a"].status()["wires"] == []


async def test_self_trigger_allowed_runs_one_extra_turn():
    """Scenario 4, second half: allow_self_trigger with max_hops=1: exactly one extra turn."""
    a_llm = ScriptedLLM(["again", "stop"], exhausted="raise")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        events = engine.subscribe(creature_events=True)
        a = await engine.add_creature({"name": "a"}, llm=a_llm)
        await engine.wire("a", "a", allow_self_trigger=True, max_hops=1)
        await a.run("go")
        await engine.wait_idle()
        seen = drain(events)
    assert turn_inputs(seen, "a") == ["go", "[output-wire from a] again"]
    (dropped,) = [e for e in seen if isinstance(e, OutputWireDropped)]
    assert dropped.reason == "hop limit 1 reached"


async def test_a_loop_between_two_creatures_needs_a_hop_limit():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=ScriptedLLM(["ping"]))
        await engine.add_creature({"name": "b"}, llm=ScriptedLLM(["pong"]))
        await engine.wire("a", "b")
        with pytest.raises(kt_terrarium.WiringLoopError, match="b -> a -> b"):
            await engine.wire("b", "a")
        await engine.wire("b", "a", max_hops=3)
        events = engine.subscribe(creature_events=True)
        await a.run("start")
        await engine.wait_idle()
        seen = drain(events)
    # a(start) -> b (hop 1) -> a (hop 2) -> b (hop 3) -> a would be hop 4 > 3: dropped.
    assert turn_inputs(seen, "a") == ["start", "[output-wire from b] pong"]
    assert turn_inputs(seen, "b") == ["[output-wire from a] ping"] * 2
    assert [e.reason for e in seen if isinstance(e, OutputWireDropped)] == ["hop limit 3 reached"]


async def test_stopped_and_unknown_targets_get_nothing_and_the_turn_succeeds():
    """Scenario 5: wire a -> ghost and a -> b with b stopped."""
    b_llm = echo("b")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        events = engine.subscribe(types={"output_wire_dropped", "output_wire"})
        a = await engine.add_creature(
            {"name": "a", "output_wiring": ["ghost"]}, llm=ScriptedLLM(["out"])
        )
        b = await engine.add_creature({"name": "b"}, llm=b_llm)
        await engine.wire("a", "b")
        await b.stop()
        result = await a.run("go")
        await engine.wait_idle()
        seen = drain(events)
    assert result.status == "completed"
    assert b_llm.call_count == 0
    assert sorted((e.target, e.reason) for e in seen) == [
        ("b", "target stopped"),
        ("ghost", "unknown target"),
    ]


async def test_a_wire_to_a_creature_added_later_joins_the_graphs_and_delivers():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        a = await engine.add_creature(
            {"name": "a", "output_wiring": [{"to": "late", "with_content": False}]},
            llm=ScriptedLLM(["x"]),
        )
        late = await engine.add_creature({"name": "late"}, llm=(late_llm := echo("late")))
        assert late.graph_id == a.graph_id
        await a.run("go")
        await engine.wait_idle()
    assert late_llm.call_count == 1


async def test_wiring_edge_ids_are_value_derived():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.add_creature({"name": "a"}, llm=ScriptedLLM(["x"]))
        await engine.add_creature({"name": "b"}, llm=ScriptedLLM(["y"]))
        content = await engine.wire("a", "b")
        ping = await engine.wire("a", "b", with_content=False)
        assert content.edge_id != ping.edge_id
        assert content.edge_id.startswith("wire_a_b_content_")
        assert [w.edge_id for w in await engine.unwire("a", ping.edge_id)] == [ping.edge_id]
        assert await engine.unwire("a", ping.edge_id) == []
        assert [w.target for w in engine["a"].wires] == ["b"]
