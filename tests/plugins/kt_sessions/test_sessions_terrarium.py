"""Terrarium sessions: graph records in a session file, and a graph rebuilt from them."""

from __future__ import annotations

import contextlib

import pytest
from kt_sessions_helpers import write

import kt
import kt_sessions
import kt_terrarium
from kt.testing import ScriptedLLM


def echo(name):
    def reply(request):
        last = [m for m in request.messages if m.role == "user"][-1]
        return f"{name} heard: {last.content}"

    return ScriptedLLM([reply])


def folders(tmp_path):
    for name in ("lead", "worker"):
        write(
            tmp_path / name / "creature.toml", f'name = "{name}"\nsystem_prompt = "I am {name}."\n'
        )
    return tmp_path


@contextlib.asynccontextmanager
async def recorded_team(kernel, runs, lead, worker, **engine_options):
    """An engine recording into *runs*, its *lead* and *worker* joined on channel ``team``."""
    async with kt_terrarium.Terrarium(  # the graph store comes from the kernel's session store
        kernel=kernel, session_dir=runs, llm=lambda cid, config: echo(cid), **engine_options
    ) as engine:
        await engine.add_creature(lead)
        await engine.add_creature(worker)
        await engine.connect("lead", "worker", channel="team")
        yield engine


async def test_a_recorded_graph_is_read_and_rebuilt_with_channels_and_conversations(tmp_path):
    base = folders(tmp_path)
    runs = tmp_path / "runs"
    kernel = kt.Kernel(plugins=[kt_sessions])
    async with recorded_team(kernel, runs, base / "lead", base / "worker") as engine:
        await engine["worker"].run("remember 42")
        await engine.send("team", "status?", sender="lead")
        await engine.wait_idle()
        worker_history = list(engine["worker"].agent.history)
        lead_history = list(engine["lead"].agent.history)
        graph = engine.graph(engine.graph_of("worker"))
    path = graph.store_path
    assert path is not None and str(path).endswith(".ktsession")
    assert {p.suffix for p in runs.iterdir()} == {".ktsession"}  # two graphs, then their merge
    with kt.SessionReader(path, kernel=kernel) as reader:
        assert isinstance(reader, kt_sessions.SessionReader)
        assert reader.meta["config_type"] == "terrarium"
        assert set(reader.creatures) >= {"lead", "worker"}
        assert [t.input for t in reader.turns("worker")][:1] == ["remember 42"]
        assert reader.search("remember 42", mode="fts")
        assert reader.conversation("worker") == worker_history

    async with kt_terrarium.Terrarium(
        kernel=kernel, llm=lambda cid, config: echo(f"{cid} again")
    ) as engine:
        ids = await engine.resume(path)  # through the kernel's session-store registry
        assert ids == ["lead", "worker"]
        assert engine["worker"].agent.history == worker_history
        assert engine["lead"].agent.history == lead_history
        (team,) = [c for c in engine.channels if c.name == "team"]
        assert list(team.listeners) == ["worker"]
        assert "lead" in team.senders
        await engine.send("team", "still there?", sender="lead")
        await engine.wait_idle()
        assert engine["worker"].agent.history[-1].content == (
            "worker again heard: [Channel 'team' from lead]: still there?"
        )


class RestoreWatcher:
    """A plugin that rebuilds its state from the log, as kt_tools' scratchpad does."""

    def __init__(self) -> None:
        self.restored: list[tuple[str, list[str]]] = []

    @kt.hookimpl
    def kt_session_restore(self, creature, reader) -> None:
        self.restored.append((creature.name, [t.input for t in reader.turns(creature.name)]))


async def test_a_resumed_graph_records_its_conversations_and_restores_plugin_state(tmp_path):
    base = folders(tmp_path)
    watcher = RestoreWatcher()
    kernel = kt.Kernel(plugins=[kt_sessions, watcher])
    async with recorded_team(kernel, tmp_path / "runs", base / "lead", base / "worker") as engine:
        await engine["worker"].run("remember 42")
        path = engine.graph(engine.graph_of("worker")).store_path
    assert watcher.restored == []

    async with kt_terrarium.Terrarium(
        kernel=kernel, session_dir=tmp_path / "again", llm=lambda cid, config: echo(cid)
    ) as engine:
        await engine.resume(path)
        history = list(engine["worker"].agent.history)
        new_path = engine.graph(engine.graph_of("worker")).store_path
    assert sorted(watcher.restored) == [("lead", []), ("worker", ["remember 42"])]
    with kt.SessionReader(new_path, kernel=kernel) as reader:
        replaced = [e for e in reader.events() if e.type == "history_replaced"]
        assert {(e.creature, e.wire["reason"]) for e in replaced} >= {("worker", "resume")}
        assert reader.conversation("worker") == history
        continued = reader.meta["graph"]["parent_session_ids"]
        assert reader.meta["graph"]["origin"] == "resume"
    # Rebuilt creature by creature, recorded as one file that continues the resumed one.
    assert list((tmp_path / "again").glob("*.ktsession")) == [new_path]
    with kt.SessionReader(path, kernel=kernel) as reader:
        assert continued == [reader.meta["graph"]["session_id"]]

    async with kt_terrarium.Terrarium(  # the new file alone brings everything back
        kernel=kernel, llm=lambda cid, config: echo(cid)
    ) as engine:
        assert await engine.resume(new_path) == ["lead", "worker"]
        assert engine["worker"].agent.history == history


async def test_a_creature_whose_folder_is_gone_is_named_with_the_folder(tmp_path):
    base = folders(tmp_path)
    kernel = kt.Kernel(plugins=[kt_sessions])
    async with recorded_team(kernel, tmp_path / "runs", base / "lead", base / "worker") as engine:
        path = engine.graph(engine.graph_of("worker")).store_path
    (base / "worker" / "creature.toml").unlink()
    (base / "worker").rmdir()
    async with kt_terrarium.Terrarium(kernel=kernel, llm=lambda cid, config: echo(cid)) as engine:
        with pytest.raises(kt_sessions.SessionError, match=f"worker from {base / 'worker'}"):
            await engine.resume(path)
        configs = {"worker": {"name": "worker"}}
        assert await engine.resume(path, configs=configs) == ["lead", "worker"]


async def test_creatures_built_from_a_dict_are_named_when_a_resume_cannot_rebuild_them(tmp_path):
    kernel = kt.Kernel(plugins=[kt_sessions])
    lead, worker = {"name": "lead"}, {"name": "worker"}
    async with recorded_team(kernel, tmp_path / "runs", lead, worker, pwd=tmp_path) as engine:
        path = engine.graph(engine.graph_of("worker")).store_path
    async with kt_terrarium.Terrarium(kernel=kernel, llm=echo("x")) as engine:
        with pytest.raises(kt_sessions.SessionError, match="creatures lead, worker were not"):
            await engine.resume(path)
        configs = {"lead": {"name": "lead"}, "worker": {"name": "worker"}}
        assert await engine.resume(path, configs=configs) == ["lead", "worker"]


async def test_a_graph_that_joins_a_persisted_one_is_recorded_whole_and_resumes(tmp_path):
    base = folders(tmp_path)
    runs = tmp_path / "runs"
    runs.mkdir()
    kernel = kt.Kernel(plugins=[kt_sessions])
    async with kt_terrarium.Terrarium(  # no session_dir: only the lead's graph is persisted
        kernel=kernel, llm=lambda cid, config: echo(cid)
    ) as engine:
        await engine.add_creature(base / "lead", session=runs)
        await engine.add_creature(base / "worker")
        await engine.add_channel("notes", graph=engine.graph_of("worker"))
        await engine.add_edge("worker", "notes", "listen")
        await engine["worker"].run("remember 42")
        history = list(engine["worker"].agent.history)
        await engine.connect("lead", "worker", channel="team")
        path = engine.graph(engine.graph_of("worker")).store_path
    async with kt_terrarium.Terrarium(kernel=kernel, llm=lambda cid, config: echo(cid)) as engine:
        assert await engine.resume(path) == ["lead", "worker"]
        assert engine["worker"].agent.history == history
        assert set(engine["worker"].listen_channels) == {"notes", "team"}


async def test_creatures_with_their_own_files_come_back_from_the_recorded_dicts(tmp_path):
    # Their own session files record what Agent.build was given (session_attached.source),
    # here a dict, so the graph's resume needs no configs= for them.
    kernel = kt.Kernel(plugins=[kt_sessions])
    async with kt_terrarium.Terrarium(
        kernel=kernel, session_dir=tmp_path / "runs", llm=lambda cid, config: echo(cid)
    ) as engine:
        lead = {"name": "lead", "system_prompt": "I am the lead."}
        await engine.add_creature(lead, session=tmp_path / "lead.ktsession")
        await engine.add_creature({"name": "worker"}, session=tmp_path / "worker.ktsession")
        await engine.connect("lead", "worker", channel="team")
        await engine["lead"].run("remember 42")
        history = list(engine["lead"].agent.history)
        path = engine.graph(engine.graph_of("lead")).store_path
    async with kt_terrarium.Terrarium(kernel=kernel, llm=lambda cid, config: echo(cid)) as engine:
        assert await engine.resume(path) == ["lead", "worker"]
        assert engine["lead"].agent.history == history
        assert engine["lead"].agent.config.system_prompt == "I am the lead."
