"""``Terrarium.add_creature(ref, llm=, pwd=, session=)`` as ``Agent.build`` takes them.

``session=<file path>`` is the creature's own session file, the same file ``Agent.build``
writes for that path; an existing folder keeps meaning where its graph's sessions go.
"""

from __future__ import annotations

import pytest
from test_engine_support import bare, echo, with_sessions

import kt
import kt_terrarium
from kt_terrarium.testing import LoopbackTransport


def turns_of(path) -> list[tuple[str, str, str]]:
    with kt.SessionReader(path, kernel=with_sessions()) as reader:
        return [(t.status, t.user_text, t.assistant_text) for t in reader.turns()]


async def test_a_file_path_is_the_creatures_session_file_as_for_agent_build(tmp_path):
    built_path, added_path = tmp_path / "built.ktsession", tmp_path / "added.ktsession"
    async with await kt.Agent.build(
        {"name": "a"}, llm=echo("a"), kernel=with_sessions(), session=built_path
    ) as agent:
        await agent.run("hello")
    async with kt_terrarium.Terrarium(kernel=with_sessions()) as engine:
        added = await engine.add_creature({"name": "a"}, llm=echo("a"), session=added_path)
        await added.run("hello")
        (graph,) = engine.graphs()
        assert graph.store_path is None  # no session_dir: the graph itself is not recorded

    assert added_path.is_file() and built_path.is_file()
    assert turns_of(added_path) == turns_of(built_path) == [("completed", "hello", "a got: hello")]
    with kt.SessionReader(added_path, kernel=with_sessions()) as reader:
        assert reader.creatures == ["a"]
        assert reader.creature_record()["pwd"] == str(tmp_path.cwd())


async def test_an_existing_file_is_appended_to_and_a_restart_keeps_recording(tmp_path):
    path = tmp_path / "runs" / "worker.ktsession"  # its folder is created, as Agent.build does
    async with kt_terrarium.Terrarium(kernel=with_sessions()) as engine:
        worker = await engine.add_creature({"name": "worker"}, llm=echo("w"), session=path)
        await worker.run("one")
        await engine.stop_creature("worker")
        await engine.start_creature("worker")
        await engine.creatures["worker"].run("two")
        await engine.remove_creature("worker")
        again = await engine.add_creature({"name": "worker"}, llm=echo("w"), session=path)
        await again.run("three")
    assert [user for _, user, _ in turns_of(path)] == ["one", "two", "three"]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["worker.ktsession"]


async def test_the_engines_session_dir_still_records_the_graph_beside_the_file(tmp_path):
    graphs = tmp_path / "graphs"
    async with kt_terrarium.Terrarium(kernel=with_sessions(), session_dir=graphs) as engine:
        solo = await engine.add_creature(
            {"name": "solo"}, llm=echo("s"), session=tmp_path / "solo.ktsession"
        )
        await solo.run("hi")
        (graph,) = engine.graphs()
    assert graph.store_path is not None and graph.store_path.parent == graphs
    assert turns_of(tmp_path / "solo.ktsession") == [("completed", "hi", "s got: hi")]


async def test_an_existing_folder_still_holds_the_graphs_session(tmp_path):
    async with kt_terrarium.Terrarium(kernel=with_sessions()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=echo("a"), session=tmp_path)
        await a.run("hi")
        (graph,) = engine.graphs()
    assert graph.store_path is not None and graph.store_path.parent == tmp_path
    assert [p.suffix for p in tmp_path.iterdir()] == [".ktsession"]


async def test_a_file_without_a_session_store_fails_typed_and_frees_the_name(tmp_path):
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        with pytest.raises(kt.errors.KTError, match=r"kt-terrarium\[sessions\]"):
            await engine.add_creature(
                {"name": "a"}, llm=echo("a"), session=tmp_path / "a.ktsession"
            )
        assert len(engine) == 0 and not (tmp_path / "a.ktsession").exists()
        a = await engine.add_creature({"name": "a"}, llm=echo("a"))
        assert (await a.run("hi")).text == "a got: hi"


async def test_a_file_with_a_transport_is_refused_before_anything_starts(tmp_path):
    class Loopback:
        @kt.hookimpl
        def kt_transports(self):
            return [kt.TransportSpec("loopback", lambda **options: LoopbackTransport(**options))]

    engine = kt_terrarium.Terrarium(kernel=kt.Kernel(plugins=[Loopback(), "kt_sessions"]))
    async with engine:
        with pytest.raises(kt_terrarium.TransportError, match="hosts it elsewhere"):
            await engine.add_creature(
                {"name": "far"}, transport="loopback", session=tmp_path / "far.ktsession"
            )
        assert len(engine) == 0
    assert not (tmp_path / "far.ktsession").exists()


async def test_llm_selector_strings_and_pwd_as_agent_build_takes_them(tmp_path):
    kernel = kt.Kernel(plugins=["kt_llm", "kt_openai"], env={"OPENAI_API_KEY": "sk-test"})
    async with kt_terrarium.Terrarium(kernel=kernel) as engine:
        chosen = await engine.add_creature({"name": "c"}, llm="openai/gpt-4o-mini", pwd=tmp_path)
        assert chosen.agent.llm_name == "openai/gpt-4o-mini"
        assert chosen.agent.working_dir == tmp_path.resolve()
        with pytest.raises(kt.errors.UnknownNameError, match="Did you mean 'openai'"):
            await engine.add_creature({"name": "typo"}, llm="opnai/gpt-4o")
        assert list(engine.creatures) == ["c"]
