"""Terrarium sessions: the engine's graph records in a session file, and resuming from them.

``kt_terrarium.Terrarium`` persists each graph session through the kernel's session store: the
``sqlite`` store's ``graph_store`` member is :func:`graph_store`, which writes ``.ktsession``
files, so a terrarium's records get everything a creature's session has (``kt.SessionReader``,
search, export, ``kt sessions``)::

    async with kt_terrarium.Terrarium(session_dir="runs") as engine:   # kt_sessions loaded
        ...

This module needs only the records' wire shape, never the engine's classes, so ``kt_sessions``
does not depend on ``kt_terrarium``.

:func:`resume_terrarium` rebuilds a recorded graph into a running engine: its creatures (with
their conversations, usage and turn counters, closed like a resumed creature's when the run
died mid-turn), its channels and listen/send edges, and its output wires. The rebuilt graph
records into a new session of that engine (the engine opens one store per graph session and
never continues another's file).
"""

from __future__ import annotations

import datetime
import os
import time
import uuid
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from kt_sessions.errors import SessionError
from kt_sessions.finder import SUFFIX

__all__ = ["SQLiteGraphStore", "graph_store", "resume_terrarium"]


class SQLiteGraphStore:
    """A graph store (``kt_terrarium.GraphStore``) writing one graph session into a session file.

    Every record (an event's wire shape plus ``graph_id``, and ``copied_from`` for records
    copied from a parent session) is committed before :meth:`append` returns, except streamed
    text, which is written in batches (see :meth:`kt_sessions.store.SessionStore.append_wire`).

    Args:
        path: The file to create.
        meta: The graph session's metadata (``session_id``, ``graph_id``, ``parent_session_ids``,
            ``origin``, ``name``, ``created_at``).

    Raises:
        FileExistsError: the file exists (a store never continues another's file).
    """

    def __init__(self, path: Path, meta: Mapping[str, Any]) -> None:
        from kt_sessions.store import SessionStore

        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} exists; a graph store always starts a new file")
        self.meta = dict(meta)
        self._store = SessionStore.open(path, meta={"config_type": "terrarium", "graph": self.meta})
        self.path: Path | None = self._store.path
        self._store.users += 1
        self._store.mark_running(str(meta.get("graph_id", "graph")))
        self._creatures: set[str] = set()

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record (committed before returning; streamed text in batches)."""
        if self._store.closed:
            raise ValueError(f"graph store {self.path} is closed")
        creature = record.get("creature") or ""
        if creature and creature not in self._creatures and record["type"] == "creature_started":
            self._creatures.add(creature)
            self._store.add_creature(creature)
        self._store.append_wire(record)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record so far, oldest first."""
        return iter(self._store.wire_events())

    def close(self) -> None:
        """Stop writing (the session is then ``paused``); idempotent."""
        if self._store.closed:
            return
        self._store.users -= 1
        self._store.release(str(self.meta.get("graph_id", "graph")))
        self._store.close()


def graph_store(directory: Path, meta: Mapping[str, Any]) -> SQLiteGraphStore:
    """Open the session file of one graph session (the ``sqlite`` store's ``graph_store``).

    Also usable as ``kt_terrarium.Terrarium(store_factory=...)``. Names the file
    ``<recipe name or "terrarium">_<YYYYmmdd-HHMMSS>_<6 hex>.ktsession`` in *directory*.
    """
    stamp = datetime.datetime.fromtimestamp(meta.get("created_at") or time.time())
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in meta.get("name") or "")
    short = (str(meta.get("session_id") or "").split("_")[-1] or uuid.uuid4().hex)[:6]
    path = Path(directory) / f"{name or 'terrarium'}_{stamp:%Y%m%d-%H%M%S}_{short}{SUFFIX}"
    return SQLiteGraphStore(path, meta)


async def resume_terrarium(
    session: str | os.PathLike[str],
    engine: Any,
    *,
    configs: Mapping[str, Any] | None = None,
    llm: Any = None,
    llm_selector: str | None = None,
    session_dir: str | os.PathLike[str] | None = None,
    hosted: Collection[str] = (),
) -> list[str]:
    """Rebuild a recorded graph into *engine* (a running ``kt_terrarium.Terrarium``) and start it.

    Creatures come back under their recorded ids, built from their recorded creature folder
    (``configs`` gives a config for those built from a dict), with their conversation,
    usage and turn counter; then channels, listen/send edges and output wires (with the
    default prompt: custom wire prompts are not in the records). The graph is rebuilt inside
    ``engine.gather_sessions``: it is recorded in one new file, which starts with a copy of
    *session*'s records, so the new file alone resumes everything. Once they run, each rebuilt
    creature records its conversation in the new file (``history_replaced``, reason
    ``resume``) and its plugins get ``kt_session_restore`` with a reader of *session*, as a
    creature resumed on its own does; a creature hosted elsewhere is left to its host.

    Args:
        session: A session file written by :func:`graph_store` (or a name in *session_dir*).
        engine: The engine to rebuild into.
        configs: Creature id → config, overriding the recorded folders.
        llm: A model for every creature, or ``fn(creature_id, config) -> model``. Default:
            the recorded ``--llm`` selector when a loaded backend provides it, else the
            engine's or the config's model.
        llm_selector: A selector for every creature.
        session_dir: Where names are looked up.
        hosted: Recorded creatures the engine hosts already (taken back from their workers
            with ``Terrarium.adopt``): joined as they are, not built again; the channels they
            are on are the ones the others join.

    Returns:
        The creature ids, in the order they were added.

    Raises:
        SessionError: a creature has no recorded folder and no entry in *configs*.
    """
    from kt_sessions.reader import SessionReader

    configs = dict(configs or {})
    hosted = set(hosted)
    with SessionReader(session, session_dir=session_dir) as reader:
        graph = _Graph.replay(reader)
        built = [cid for cid in graph.creatures if cid not in hosted]
        states = {cid: reader.state(cid) for cid in built}
        earlier = _copies(reader)
        resumed = _session_id(reader)
    missing = [c for c in built if c not in configs and not graph.sources.get(c)]
    if missing:
        raise SessionError(
            f"creatures {', '.join(missing)} were not built from a folder, so the session cannot "
            "rebuild them; pass configs={id: config} for them"
        )
    gone = {  # a path that is not there any more (a recorded dict or @pack/path is kept as is)
        c: source
        for c in built
        if c not in configs
        and isinstance(source := graph.sources[c], str)
        and not source.startswith("@")
        and not Path(source).exists()
    }
    if gone:
        where = ", ".join(f"{c} from {source}" for c, source in gone.items())
        raise SessionError(
            f"creatures were built from configs that are gone ({where}); put them back, or pass "
            "configs={id: config} for those creatures"
        )
    # Built whole before it records: one new file, starting with the old one's records.
    with engine.gather_sessions(earlier, parents=(resumed,), origin="resume"):
        backends = engine.kernel.llm_backends
        for cid in built:
            config = configs.get(cid) or graph.sources[cid]
            options: dict[str, Any] = {}
            if llm is not None:
                options["llm"] = llm if hasattr(llm, "stream") else llm(cid, config)
            elif llm_selector is not None:
                options["llm_selector"] = llm_selector
            else:
                model = graph.models.get(cid, "")
                if any(model.startswith((f"{b}:", f"{b}/")) for b in backends):
                    options["llm_selector"] = model
            parent = graph.parents.get(cid)
            handle = await engine.add_creature(
                config,
                name=cid,
                is_privileged=graph.privileged.get(cid, False),
                parent=parent if parent in engine else None,
                start=False,
                **options,
            )
            closed = states[cid].closed()
            handle.agent.restore(
                closed.messages,
                usage=states[cid].usage + states[cid].open_turn_usage,
                turn_index=states[cid].turn_index,
            )
        homes: dict[str, str] = {}  # channel -> a creature whose graph holds it
        # The hosted creatures' edges first: their channels exist, and the others join them there.
        edges = sorted(graph.edges.items(), key=lambda edge: edge[0][2] not in hosted)
        for (channel, direction, creature), (kind, description) in edges:
            home = homes.setdefault(channel, creature)
            await engine.add_edge(
                creature,
                channel,
                direction,
                graph=engine.graph_of(home),  # the channel's graph: joining it merges graphs
                create=True,
                kind=kind,
                description=description,
            )
        for source, target, with_content, max_hops in graph.wires.values():
            await engine.wire(source, target, with_content=with_content, max_hops=max_hops)
    for cid in graph.creatures:
        await engine.start_creature(cid)
    await _restore(engine, built, SessionReader(session, session_dir=session_dir))
    return list(graph.creatures)


def _holds_config(folder: str | None) -> bool:
    from kt.config import CONFIG_FILE_NAMES

    return bool(folder) and any((Path(folder) / name).is_file() for name in CONFIG_FILE_NAMES)


def _session_id(reader: Any) -> str:
    """The graph session *reader*'s file holds."""
    return (reader.meta.get("graph") or {}).get("session_id") or reader.name


def _copies(reader: Any) -> list[dict[str, Any]]:
    """The records of *reader*'s file, as copies for the session that continues it."""
    session = _session_id(reader)
    return [
        {**logged.wire, "copied_from": logged.wire.get("copied_from", session)}
        for logged in reader.events()
    ]


async def _restore(engine: Any, creature_ids: list[str], reader: Any) -> None:
    """The rebuilt creatures' conversations recorded, their plugins' state back (*reader*)."""
    from kt.errors import KTError

    with reader:
        for cid in creature_ids:
            try:
                agent = engine[cid].agent
            except KTError:  # hosted through a transport: its worker restores it
                continue
            await agent.replace_history(agent.history, reason="resume")
            if agent.runner.has("kt_session_restore"):
                await agent.runner.notify("kt_session_restore", creature=agent, reader=reader)


class _Graph:
    """The topology at the end of a graph session's records."""

    def __init__(self) -> None:
        self.creatures: dict[str, None] = {}  # ordered set
        self.parents: dict[str, str | None] = {}
        self.privileged: dict[str, bool] = {}
        self.sources: dict[str, str | None] = {}
        self.models: dict[str, str] = {}
        self.channels: dict[str, tuple[str, str]] = {}
        self.edges: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.wires: dict[str, tuple[str, str, bool, int | None]] = {}

    @classmethod
    def replay(cls, reader: Any) -> _Graph:
        graph = cls()
        for logged in reader.events():
            wire, type_, creature = logged.wire, logged.type, logged.creature
            if type_ == "creature_added":
                graph.creatures[creature] = None
                graph.parents[creature] = wire.get("parent")
                graph.privileged[creature] = bool(wire.get("privileged"))
                if wire.get("source"):  # the path or @pack reference it was built from
                    graph.sources[creature] = wire["source"]
            elif type_ == "creature_removed":
                graph.creatures.pop(creature, None)
                graph.edges = {k: v for k, v in graph.edges.items() if k[2] != creature}
                graph.wires = {k: v for k, v in graph.wires.items() if creature not in (v[0], v[1])}
            elif type_ == "creature_started":
                config = wire.get("config") or {}
                folder = config.get("folder")
                # Without a recorded source (a CreatureConfig, or an older file), its folder,
                # if it is a creature's: a dict's folder is only where its paths resolve.
                if creature not in graph.sources and _holds_config(folder):
                    graph.sources[creature] = folder
                graph.models[creature] = wire.get("model", "")
            elif type_ == "session_attached" and wire.get("source"):
                graph.sources[creature] = wire["source"]
            elif type_ == "channel_created":
                graph.channels[wire["channel"]] = (
                    wire.get("kind", "broadcast"),
                    wire.get("description", ""),
                )
            elif type_ == "channel_removed":
                graph.channels.pop(wire["channel"], None)
                graph.edges = {k: v for k, v in graph.edges.items() if k[0] != wire["channel"]}
            elif type_ == "channel_edge":
                key = (wire["channel"], wire["direction"], creature)
                if wire.get("added", True):
                    graph.edges[key] = graph.channels.get(wire["channel"], ("broadcast", ""))
                else:
                    graph.edges.pop(key, None)
            elif type_ == "output_wire_added":
                graph.wires[wire["edge_id"]] = (
                    creature,
                    wire["target"],
                    bool(wire.get("with_content", True)),
                    wire.get("max_hops"),
                )
            elif type_ == "output_wire_removed":
                graph.wires.pop(wire["edge_id"], None)
        return graph
