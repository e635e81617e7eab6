"""Graph persistence through the kernel's session store: session files, nothing, or a typed error."""

from __future__ import annotations

import os

import pytest
from test_engine_support import bare, echo, records_of, with_sessions

import kt
import kt_sessions
import kt_terrarium
from kt_terrarium.persistence import INSTALL_HINT


async def test_a_terrarium_session_opens_with_kt_session_reader_like_a_creatures(tmp_path):
    async with kt_terrarium.Terrarium(kernel=with_sessions(), session_dir=tmp_path) as engine:
        a = await engine.add_creature({"name": "a"}, llm=echo("a"))
        await engine.add_creature({"name": "b"}, llm=echo("b"))
        await engine.connect("a", "b", channel="ab")
        await a.run("hello team")
        await a.send("ab", "over to you")
        await engine.wait_idle()
        (graph,) = engine.graphs()
    creature = await kt.Agent.build(
        {"name": "solo"},
        llm=echo("solo"),
        kernel=with_sessions(),
        session=True,
        session_dir=tmp_path / "solo",
    )
    async with creature:
        await creature.run("alone")
    (creature_file,) = (tmp_path / "solo").glob("*.ktsession")

    assert graph.store_path is not None and graph.store_path.suffix == ".ktsession"
    assert not list(tmp_path.glob("*.jsonl"))
    for path, creature in ((graph.store_path, "a"), (creature_file, "solo")):
        with kt.SessionReader(path) as reader:  # the default kernel finds the store by itself
            assert isinstance(reader, kt_sessions.SessionReader)
            assert reader.turns(creature)[0].completed
    with kt.SessionReader(graph.store_path) as reader:
        assert reader.meta["config_type"] == "terrarium"
        assert reader.meta["graph"]["graph_id"] == graph.graph_id
        assert set(reader.creatures) >= {"a", "b"}
        assert [t.input for t in reader.turns("b")] == ["[Channel 'ab' from a]: over to you"]
        types = [logged.type for logged in reader.events()]
    assert "channel_message" in types and "topology_changed" in types
    meta, records = records_of(graph.store_path)
    assert meta["origin"] == "merge" and len(meta["parent_session_ids"]) == 2
    copied = [r for r in records if "copied_from" in r]
    assert copied and {r["copied_from"] for r in copied} == set(meta["parent_session_ids"])
    assert all(r["graph_id"] == graph.graph_id for r in records if "copied_from" not in r)


async def test_without_a_session_dir_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The kt home (its plugin cache) lives elsewhere: this folder must stay empty.
    monkeypatch.setenv("KT_HOME", str(tmp_path.parent / f"{tmp_path.name}-home"))
    built = []

    def factory(directory, meta):  # must never be asked for a store
        built.append(meta)
        raise AssertionError("no store should be opened")

    for engine in (
        kt_terrarium.Terrarium(kernel=with_sessions()),
        kt_terrarium.Terrarium(kernel=with_sessions(), store_factory=factory),
    ):
        async with engine:
            for name in "abc":
                await engine.add_creature({"name": name}, llm=echo(name))
            await engine.connect("a", "b")
            await engine.wire("b", "c")
            await engine["a"].run("hi")
            await engine.wait_idle()
            await engine.remove_creature("b")  # a split
            assert all(g.store_path is None for g in engine.graphs())
    assert built == []
    assert os.listdir(tmp_path) == []


async def test_a_session_dir_without_a_session_store_is_a_typed_error(tmp_path):
    with pytest.raises(kt_terrarium.SessionStoreMissingError) as caught:
        kt_terrarium.Terrarium(kernel=bare(), session_dir=tmp_path)
    message = str(caught.value)
    assert INSTALL_HINT in message and "pip install 'kt-terrarium[sessions]'" in message
    assert "no session store is loaded" in message
    assert isinstance(caught.value, kt.errors.KTError)
    assert os.listdir(tmp_path) == []


async def test_a_session_folder_for_one_creature_without_a_store_is_the_same_error(tmp_path):
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        with pytest.raises(kt_terrarium.SessionStoreMissingError, match="kt-terrarium"):
            await engine.add_creature({"name": "a"}, llm=echo("a"), session=tmp_path)
        assert len(engine) == 0 and engine.graphs() == []
        a = await engine.add_creature({"name": "a"}, llm=echo("a"))  # the id was given back
        assert (await a.run("hi")).text == "a got: hi"


async def test_a_store_that_cannot_record_graphs_is_named_in_the_error(tmp_path):
    class ReadOnly:
        @kt.hookimpl
        def kt_session_stores(self):
            return [kt.SessionStoreSpec("readonly", dict, reader=dict)]

    with pytest.raises(kt_terrarium.SessionStoreMissingError, match="readonly, none of which"):
        kt_terrarium.Terrarium(kernel=kt.Kernel(plugins=[ReadOnly()]), session_dir=tmp_path)


async def test_graph_stores_come_from_the_first_session_store_that_records_graphs(tmp_path):
    opened = []

    class MemoryStore:
        def __init__(self, directory, meta):
            self.path = None
            self.meta = meta
            self.kept = []
            opened.append(self)

        def append(self, record):
            self.kept.append(dict(record))

        def records(self):
            return iter(self.kept)

        def close(self):
            pass

    class Memory:
        @kt.hookimpl
        def kt_session_stores(self):
            return [kt.SessionStoreSpec("memory", dict, graph_store=MemoryStore)]

    kernel = kt.Kernel(plugins=[Memory()])
    async with kt_terrarium.Terrarium(kernel=kernel, session_dir=tmp_path) as engine:
        a = await engine.add_creature({"name": "a"}, llm=echo("a"))
        await a.run("remember me")
    (store,) = opened
    assert store.meta["graph_id"] == a.graph_id and store.meta["origin"] == "new"
    assert [r["type"] for r in store.kept][:2] == ["graph_session", "creature_added"]
    assert any(r.get("input") == "remember me" for r in store.kept)
    assert all(r["graph_id"] == a.graph_id for r in store.kept)
    assert os.listdir(tmp_path) == []


async def test_a_graph_built_in_steps_is_recorded_as_one_session_when_gathered(tmp_path):
    async with kt_terrarium.Terrarium(kernel=with_sessions(), session_dir=tmp_path) as engine:
        with engine.gather_sessions():
            await engine.add_creature({"name": "a"}, llm=echo("a"), start=False)
            await engine.add_creature({"name": "b"}, llm=echo("b"), start=False)
            await engine.connect("a", "b", channel="ab")
            (graph,) = engine.graphs()
            assert graph.store_path is None  # in memory until the block ends
            assert not list(tmp_path.iterdir())
        (graph,) = engine.graphs()
        assert graph.parent_session_ids == ()  # its steps were never written: built from nothing
        await engine.start_creature("a")
        await engine["a"].run("hello")
    (path,) = tmp_path.glob("*.ktsession")
    assert path == graph.store_path
    meta, records = records_of(path)
    assert meta["parent_session_ids"] == [] and meta["origin"] == "new"
    assert [r["creature"] for r in records if r["type"] == "creature_added"] == ["a", "b"]
    with kt.SessionReader(path) as reader:
        assert [t.input for t in reader.turns("a")] == ["hello"]


async def test_gathering_follows_a_creatures_own_session_folder_and_does_not_nest(tmp_path):
    async with kt_terrarium.Terrarium(kernel=with_sessions()) as engine:  # no session_dir
        with engine.gather_sessions():
            await engine.add_creature({"name": "a"}, llm=echo("a"), session=tmp_path, start=False)
            await engine.add_creature({"name": "b"}, llm=echo("b"), start=False)
            await engine.connect("a", "b", channel="ab")  # the merge goes where a's went
            with pytest.raises(kt_terrarium.TerrariumError, match="gathering sessions already"):
                with engine.gather_sessions():
                    pass
    (path,) = tmp_path.glob("*.ktsession")  # the merge only, in a's folder
    _, records = records_of(path)
    assert "a" in {r["creature"] for r in records if r["type"] == "creature_added"}
    assert any(r["type"] == "topology_changed" for r in records)


async def test_a_creature_built_from_a_folder_records_where_it_came_from(tmp_path, monkeypatch):
    folder = tmp_path / "creatures" / "helper"
    folder.mkdir(parents=True)
    (folder / "creature.toml").write_text('name = "helper"\n')
    monkeypatch.chdir(tmp_path)
    async with kt_terrarium.Terrarium(kernel=with_sessions(), session_dir=tmp_path / "s") as engine:
        await engine.add_creature("creatures/helper", llm=echo("h"), start=False)
        await engine.add_creature({"name": "inline"}, llm=echo("i"), start=False)
        paths = {g.store_path for g in engine.graphs()}
    sources = {}
    for path in paths:
        _, records = records_of(path)
        sources |= {r["creature"]: r["source"] for r in records if r["type"] == "creature_added"}
    assert sources == {"helper": str(folder), "inline": None}
