"""Graphs: connected components, merge and split with session lineage, hot-plug (§17, 10-12)."""

from __future__ import annotations

import pytest
import trio
from test_engine_support import bare, drain, echo, records_of, with_sessions

import kt
import kt_terrarium
from kt.testing import ScriptedLLM
from kt_terrarium import GraphSessionStarted, TopologyChanged


def creatures_in(records: list[dict]) -> set[str]:
    return {r["creature"] for r in records if r.get("creature")}


async def test_a_standalone_creature_is_a_one_creature_graph():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=echo("a"))
        (graph,) = engine.graphs()
        assert graph.creature_ids == ("a",) and graph.graph_id == a.graph_id
        assert graph.origin == "new" and graph.parent_session_ids == ()
        assert (await a.run("hi")).text == "a got: hi"
        assert len(engine) == 1 and "a" in engine and list(engine) == ["a"]


async def test_ids_default_to_the_config_name_and_stay_unique():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        first = await engine.add_creature({"name": "helper"}, llm=echo("h"))
        second = await engine.add_creature({"name": "helper"}, llm=echo("h"))
        assert (first.id, second.id) == ("helper", "helper_2")
        assert second.agent.name == "helper_2"
        with pytest.raises(kt_terrarium.CreatureExistsError, match="already in the engine"):
            await engine.add_creature({"name": "x"}, llm=echo("x"), name="helper")
        with pytest.raises(kt_terrarium.CreatureNotFoundError, match="no creature 'ghost'"):
            engine["ghost"]


async def test_cross_graph_connect_merges_sessions_with_lineage(tmp_path):
    """Scenario 10: two persisted solo creatures; connect merges graphs and their stores."""
    async with kt_terrarium.Terrarium(kernel=with_sessions(), session_dir=tmp_path) as engine:
        events = engine.subscribe(types={"topology_changed", "graph_session"})
        a = await engine.add_creature({"name": "a"}, llm=echo("a"))
        b_llm = echo("b")
        b = await engine.add_creature({"name": "b"}, llm=b_llm)
        await a.run("a alone")
        await b.run("b alone")
        old = {g.graph_id: g for g in engine.graphs()}
        old_sessions = {g.session_id for g in old.values()}
        old_paths = [g.store_path for g in old.values()]

        change = await engine.connect("a", "b", channel="ab")

        assert change.delta == "merge" and change.channel == "ab"
        (graph,) = engine.graphs()
        assert graph.graph_id == a.graph_id == b.graph_id == change.graph_id
        assert set(graph.parent_session_ids) == old_sessions and graph.origin == "merge"
        seen = drain(events)
        merges = [e for e in seen if isinstance(e, TopologyChanged) and e.kind == "merge"]
        assert len(merges) == 1 and merges[0].affected == ("a", "b")
        (merged_session,) = [
            e for e in seen if isinstance(e, GraphSessionStarted) and e.origin == "merge"
        ]
        assert merged_session.session_id == graph.session_id

        await a.send("ab", "over the new channel")
        await engine.wait_idle()
        assert b_llm.calls[-1].last_user_text == "[Channel 'ab' from a]: over the new channel"
        merged_path = graph.store_path

    meta, records = records_of(merged_path)
    assert meta["origin"] == "merge" and set(meta["parent_session_ids"]) == old_sessions
    inputs = [r["input"] for r in records if r["type"] == "turn_started"]
    assert inputs[:2] == ["a alone", "b alone"]  # both histories were copied in
    assert {r.get("copied_from") for r in records[:4]} <= old_sessions
    # The parents' files are untouched after the merge: no store is written twice.
    for path in old_paths:
        _, parent_records = records_of(path)
        assert not any(r["type"] == "topology_changed" for r in parent_records)
        assert merged_path != path


async def test_disconnect_splits_and_each_side_keeps_its_history(tmp_path):
    """Scenario 11."""
    async with kt_terrarium.Terrarium(kernel=with_sessions(), session_dir=tmp_path) as engine:
        a = await engine.add_creature({"name": "a"}, llm=echo("a"))
        b_llm = echo("b")
        b = await engine.add_creature({"name": "b"}, llm=b_llm)
        await engine.connect("a", "b", channel="ab")
        await a.send("ab", "before the split")
        await engine.wait_idle()
        (merged,) = engine.graphs()

        change = await engine.disconnect("a", "b", channel="ab")

        assert change.delta == "split" and change.channels == ("ab",)
        graphs = engine.graphs()
        assert len(graphs) == 2 and a.graph_id != b.graph_id
        for graph in graphs:
            assert graph.parent_session_ids == (merged.session_id,) and graph.origin == "split"
        with pytest.raises(kt_terrarium.ChannelPermissionError):
            await a.send("ab", "after the split")
        calls = b_llm.call_count
        await engine.send("ab", "nobody listens", graph=a.graph_id)
        await engine.wait_idle()
        assert b_llm.call_count == calls
        paths = {g.creature_ids: g.store_path for g in graphs}

    for (creature,), path in paths.items():
        meta, records = records_of(path)
        assert meta["parent_session_ids"] == [merged.session_id]
        assert creatures_in(records) == {creature}
        if creature == "b":
            assert any(r.get("input") == "[Channel 'ab' from a]: before the split" for r in records)


async def test_removing_a_bridge_splits_a_chain_but_removing_an_end_does_not():
    """Scenario 12."""
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        for name in "abc":
            await engine.add_creature({"name": name}, llm=echo(name))
        await engine.connect("a", "b", channel="ab")
        await engine.connect("b", "c", channel="bc")
        assert len(engine.graphs()) == 1
        change = await engine.remove_creature("b")
        assert change.delta == "split"
        assert sorted(g.creature_ids for g in engine.graphs()) == [("a",), ("c",)]
        channels = {c.name: c.graph_id for c in engine.channels}
        assert channels == {"ab": engine["a"].graph_id, "bc": engine["c"].graph_id}

    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        for name in "abc":
            await engine.add_creature({"name": name}, llm=echo(name))
        await engine.connect("a", "b", channel="ab")
        await engine.connect("b", "c", channel="bc")
        change = await engine.remove_creature("c")
        assert change.delta == "nothing"
        assert [g.creature_ids for g in engine.graphs()] == [("a", "b")]


async def test_the_graph_with_a_privileged_creature_keeps_its_id_on_a_split():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        boss = await engine.add_creature({"name": "boss"}, llm=echo("x"), is_privileged=True)
        for name in ("w1", "w2", "w3"):
            await engine.add_creature({"name": name}, llm=echo(name))
        await engine.connect("w1", "w2", channel="pair")
        await engine.connect("w2", "w3", channel="pair2")
        await engine.connect("boss", "w1", channel="orders")
        kept = boss.graph_id
        await engine.disconnect("boss", "w1")
        assert boss.graph_id == kept  # the smaller side, but it has the privileged creature
        assert engine["w1"].graph_id != kept


async def test_merging_graphs_with_clashing_channel_names_is_refused():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.add_creature({"name": "a"}, llm=echo("a"))
        await engine.add_creature({"name": "b"}, llm=echo("b"))
        await engine.add_channel("chat", creature="a")
        await engine.add_channel("chat", creature="b")
        with pytest.raises(kt_terrarium.TopologyError, match="both have a channel named 'chat'"):
            await engine.connect("a", "b", channel="ab")
        assert len(engine.graphs()) == 2  # nothing changed
        assert [c.name for c in engine.channels] == ["chat", "chat"]


async def test_unpersisted_creatures_joining_a_persisted_graph_record_their_history(tmp_path):
    async with kt_terrarium.Terrarium(kernel=with_sessions()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=echo("a"), session=tmp_path)
        b = await engine.add_creature({"name": "b"}, llm=echo("b"), session=False)
        await b.run("said before joining")
        await engine.connect("a", "b")
        (graph,) = engine.graphs()
        assert graph.store_path is not None and graph.store_path.parent == tmp_path
    _, records = records_of(graph.store_path)
    (snapshot,) = [r for r in records if r["type"] == "history_replaced"]
    assert snapshot["creature"] == "b" and snapshot["reason"] == "joined_persisted_graph"
    assert snapshot["messages"][0]["content"] == "said before joining"
    assert a.graph_id == b.graph_id


async def test_hot_plug_while_turns_run(autojump_clock):
    slow = ScriptedLLM([kt.testing.ScriptEntry(text="slow answer", delay=10)])
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        busy = await engine.add_creature({"name": "busy"}, llm=slow)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(busy.run, "long task")
            await trio.testing.wait_all_tasks_blocked()
            helper = await engine.add_creature({"name": "helper"}, llm=echo("helper"))
            await engine.connect("busy", "helper", channel="handoff")
            await engine.wire("busy", "helper")
            assert busy.status()["busy"]
        await engine.wait_idle()
        assert helper.agent.history[0].content == "[output-wire from busy] slow answer"
        await engine.remove_creature("helper")
        assert [g.creature_ids for g in engine.graphs()] == [("busy",)]


async def test_stop_and_restart_keeps_the_conversation_and_the_edges():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=echo("a"))
        b = await engine.add_creature({"name": "b"}, llm=ScriptedLLM(["one", "two"]))
        await engine.connect("a", "b", channel="ab")
        await b.run("first")
        first_agent = b.agent
        await b.stop()
        assert b.state == "stopped" and not b.is_running
        with pytest.raises(kt.AgentStoppedError):
            await b.run("while stopped")
        await b.start()
        assert b.agent is not first_agent and b.is_running
        assert b.listen_channels == ("ab",)
        second = await b.run("second")
        assert second.turn_index == 2 and second.text == "two"
        assert [m.content for m in b.agent.history][:2] == ["first", "one"]
        await a.send("ab", "still wired")
        await engine.wait_idle()
        assert b.agent.turn_index == 3


async def test_status_lists_creatures_and_graphs_sorted():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.add_creature({"name": "b"}, llm=echo("b"))
        await engine.add_creature({"name": "a"}, llm=echo("a"), is_privileged=True)
        await engine.connect("a", "b", channel="ab")
        status = engine.status()
    assert status["running"] is True
    assert list(status["creatures"]) == ["a", "b"]
    a = status["creatures"]["a"]
    assert a["send"] == ["ab"] and a["listen"] == [] and a["privileged"] is True
    assert "group_status" in a["tools"] and "send_message" in a["tools"]
    (graph,) = status["graphs"].values()
    assert graph["creature_ids"] == ["a", "b"] and graph["channels"] == ["ab"]


async def test_the_engine_refuses_work_outside_its_block():
    engine = kt_terrarium.Terrarium(kernel=bare())
    with pytest.raises(kt_terrarium.TerrariumError, match="async with kt_terrarium.Terrarium"):
        await engine.add_creature({"name": "a"}, llm=echo("a"))
    async with engine:
        await engine.add_creature({"name": "a"}, llm=echo("a"))
    assert engine["a"].state == "stopped"
    with pytest.raises(kt_terrarium.TerrariumError, match="shut down"):
        await engine.add_creature({"name": "b"}, llm=echo("b"))


async def test_an_error_in_the_block_propagates_unwrapped_and_stops_creatures():
    engine = kt_terrarium.Terrarium(kernel=bare())
    with pytest.raises(KeyError):
        async with engine:
            await engine.add_creature({"name": "a"}, llm=echo("a"))
            raise KeyError("boom")
    assert engine["a"].state == "stopped"


async def test_a_creature_whose_build_fails_is_not_added():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        with pytest.raises(kt.UnknownNameError, match="unknown tool 'nope'"):
            await engine.add_creature({"name": "a", "tools": ["nope"]}, llm=echo("a"))
        with pytest.raises(kt.LLMNotConfiguredError):
            await engine.add_creature({"name": "b"})
        assert len(engine) == 0 and engine.graphs() == []


async def test_working_directories_are_per_creature_and_never_chdir(tmp_path):
    import os

    here = os.getcwd()
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    async with kt_terrarium.Terrarium(kernel=bare(), pwd=tmp_path / "one") as engine:
        a = await engine.add_creature({"name": "a"}, llm=echo("a"))
        b = await engine.add_creature({"name": "b"}, llm=echo("b"), pwd=tmp_path / "two")
        assert a.agent.working_dir == tmp_path / "one"
        assert b.agent.working_dir == tmp_path / "two"
    assert os.getcwd() == here


async def test_concurrent_adds_get_distinct_ids():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(lambda: engine.add_creature({"name": "same"}, llm=echo("s")))
        assert sorted(engine) == sorted(["same"] + [f"same_{i}" for i in range(2, 11)])


async def test_serve_runs_the_engine_until_shutdown():
    async with trio.open_nursery() as nursery:
        engine = await nursery.start(kt_terrarium.Terrarium(kernel=bare()).serve)
        a = await engine.add_creature({"name": "a"}, llm=echo("a"))
        assert (await a.run("hi")).text == "a got: hi"
        await engine.shutdown()
    assert a.state == "stopped"
    with pytest.raises(kt_terrarium.TerrariumError, match="shut down"):
        await engine.add_creature({"name": "b"}, llm=echo("b"))


async def test_a_removed_bridge_keeps_its_history_in_the_part_that_keeps_the_id(tmp_path):
    async with kt_terrarium.Terrarium(kernel=with_sessions(), session_dir=tmp_path) as engine:
        for name in "abc":
            await engine.add_creature({"name": name}, llm=echo(name))
        await engine.connect("a", "b", channel="ab")
        await engine.connect("b", "c", channel="bc")
        await engine["b"].run("bridge speaking")
        kept = engine["a"].graph_id
        await engine.remove_creature("b")
        paths = {g.graph_id: g.store_path for g in engine.graphs()}
    kept_records = records_of(paths.pop(kept))[1]
    (other,) = paths.values()
    other_records = records_of(other)[1]
    assert any(r.get("input") == "bridge speaking" for r in kept_records)
    assert not any(r.get("creature") == "b" for r in other_records)
    assert creatures_in(other_records) == {"c"}
