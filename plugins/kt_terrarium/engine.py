"""The terrarium engine: many creatures, joined by channels and output wires.

A :class:`Terrarium` hosts creatures (each a :class:`kt.Agent`, in its own trio nursery or
elsewhere through a transport) and keeps the graph between them:

* **Channels**: named, ``queue`` or ``broadcast``, with per-creature listen and send edges. A
  message is delivered to its listeners as turns the moment it is sent, so a listener can never
  miss one by "subscribing late": listening *is* an edge.
* **Output wires**: at the end of every turn, a creature's final text (or a bare lifecycle
  ping) is delivered to the creatures it is wired to, as a new turn of theirs; the source
  never waits for them. A wire that would close a loop (A→B→A) is refused unless it carries
  a hop limit.
* **Graphs**: the connected components of the creatures, where channel edges, output wires
  and parent→child links (a spawned creature) connect. Graphs merge when an edge joins two of
  them and split when removing an edge disconnects one. Each graph has a *session*: an id, its
  parents' ids (lineage across merges and splits), and, when persistence is on, a store from
  the kernel's session store (``kt_sessions``: a ``.ktsession`` file) that records every event
  of its creatures.
* **Privileged creatures** get graph-editing tools (:mod:`kt_terrarium.graph_tools`); every
  creature gets ``send_message`` and an up-to-date description of its graph in its prompt.
* **Recipes** (:mod:`kt_terrarium.recipes`) populate an engine from a file.
* **Transports** (:mod:`kt_terrarium.transport`) host creatures elsewhere, driven like local ones.

The engine runs no model and makes no decision: creatures do; the engine only routes. ::

    async with Terrarium() as engine:
        writer = await engine.add_creature({"name": "writer"}, llm=writer_llm)
        critic = await engine.add_creature({"name": "critic"}, llm=critic_llm)
        await engine.wire("writer", "critic")           # writer's turn-end text -> critic
        await writer.run("Write a haiku about trio")
        await engine.wait_idle()                        # critic's turn has run too

This class is a facade: it checks arguments and the engine's lifecycle, and hands the work to
its parts, each in a module of its own: :mod:`~kt_terrarium.state` (what they share),
:mod:`~kt_terrarium.graphs` (graphs, merges, splits, sessions), :mod:`~kt_terrarium.routing`
(channels, edges, deliveries), :mod:`~kt_terrarium.wiring` (output wires),
:mod:`~kt_terrarium.hosting` and :mod:`~kt_terrarium.remote` (running creatures here or through a
transport), :mod:`~kt_terrarium.recipe_apply`, :mod:`~kt_terrarium.snapshots` (state as data) and
:mod:`~kt_terrarium.bus` (events to subscribers).

Everything happens in the engine's trio thread; synchronous callers use :class:`kt_portal.Portal`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import trio

from kt import Kernel
from kt.config import CreatureConfig
from kt.events import Event
from kt_terrarium.channels import ChannelInfo, ChannelMessage
from kt_terrarium.errors import CreatureExistsError, TerrariumError, TransportError
from kt_terrarium.events import CreatureRemoved
from kt_terrarium.graphs import GraphBook, GraphChange, GraphInfo
from kt_terrarium.handles import CreatureHandle
from kt_terrarium.hosting import STOP_DEADLINE, BuildArgs, Hosting
from kt_terrarium.persistence import GatheredStores, StoreFactory, graph_store_factory
from kt_terrarium.recipe_apply import AppliedRecipe, RecipeApplier
from kt_terrarium.recipes import Recipe, WireSpec, load_recipe
from kt_terrarium.remote import RemoteBody, TransportPool, refuse_what_cannot_cross
from kt_terrarium.routing import ChannelRouter, CreatureChannels
from kt_terrarium.snapshots import (
    creature_status,
    engine_status,
    group,
    group_snapshot,
    prompt_snapshot,
)
from kt_terrarium.state import EngineState
from kt_terrarium.wiring import OutputWiring, Wire

__all__ = ["STOP_DEADLINE", "CreatureHandle", "Terrarium"]

T = TypeVar("T")


class Terrarium:
    """Hosts creatures in one trio nursery and keeps the graph between them.

    Use it as an async context manager; leaving the block stops every creature (shielded,
    for at most :data:`~kt_terrarium.hosting.STOP_DEADLINE` seconds) and closes the session
    stores and transports. Enter and leave it in the same task.

    Args:
        kernel: The plugin set creatures are built with (default: ``kt.Kernel()``); its
            session stores persist graphs and its transports host creatures elsewhere.
        session_dir: Persist every graph's session in this folder (one session file per graph
            session, through the kernel's session store). ``None``: only graphs given
            ``session=`` are persisted.
        store_factory: Opens graph stores: ``factory(directory, meta)`` (default: the
            ``graph_store`` of the kernel's session store, ``kt_sessions``'). Give one to record
            graphs elsewhere.
        pwd: The default working directory of creatures (default: the process's current
            directory). The process's own directory is never changed.
        llm: The model of creatures added without ``llm=``: an LLM instance shared by all, or a
            function ``(creature_id, config) -> LLM | None`` (``None``: the config decides).
            Creatures hosted through a transport get theirs where they run.
        env: Variables for ``${VAR}`` interpolation in configs (default ``os.environ``).
        transports: Options for the transports the engine uses: name → keyword arguments of
            that transport's factory (``{"redis": {"url": "redis://..."}}``).
        place_on: Host creatures whose config names no ``on_node`` on this node of the
            engine's only transport (a name, ``labels:a,b``, ``*``: any) instead of here;
            privileged ones stay here. Also an attribute (a lab host sets it).

    Raises:
        SessionStoreMissingError: *session_dir* is given, without *store_factory*, and no
            loaded session store records graphs (install ``kt-terrarium[sessions]``).
    """

    def __init__(
        self,
        *,
        kernel: Kernel | None = None,
        session_dir: str | os.PathLike[str] | None = None,
        store_factory: StoreFactory | None = None,
        pwd: str | os.PathLike[str] | None = None,
        llm: Any = None,
        env: Mapping[str, str] | None = None,
        transports: Mapping[str, Mapping[str, Any]] | None = None,
        place_on: str | None = None,
    ) -> None:
        self.kernel = kernel if kernel is not None else Kernel()
        self.session_dir = Path(session_dir).resolve() if session_dir is not None else None
        self.store_factory = store_factory
        self._gathered: GatheredStores | None = None
        if self.session_dir is not None and store_factory is None:
            self.store_factory = graph_store_factory(self.kernel)  # fail now, not at a merge
        self.pwd = Path(pwd).resolve() if pwd is not None else Path.cwd()
        self.env = env
        self._state = EngineState()
        self._book = GraphBook(
            self._state, session_dir=self.session_dir, store_factory=self._stores
        )
        self._router = ChannelRouter(self._state, self._book)
        self._wiring = OutputWiring(self._state, self._book)
        self._hosting = Hosting(
            self, self._state, self._router, self._wiring, kernel=self.kernel, env=env, llm=llm
        )
        self._recipes = RecipeApplier(
            hosting=self._hosting,
            book=self._book,
            router=self._router,
            wiring=self._wiring,
            start=self._start,
            remove=self.remove_creature,
        )
        self._transports = TransportPool(self.kernel, transports or {})
        self._hosting.transports = self._transports  # configs naming on_node are placed there
        self._transports.state = self._state  # remote creatures' graph places are kept there
        self._hosting.place_on = place_on
        self._closed = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._nursery_cm: Any = None
        self._phase = "new"

    @property
    def place_on(self) -> str | None:
        """Where creatures whose config names no ``on_node`` are hosted (``None``: here)."""
        return self._hosting.place_on

    @place_on.setter
    def place_on(self, where: str | None) -> None:
        self._hosting.place_on = where

    @property
    def leave_remote(self) -> bool:
        """Whether shutting down leaves creatures hosted elsewhere running, for :meth:`adopt`."""
        return self._hosting.leave_remote

    @leave_remote.setter
    def leave_remote(self, leave: bool) -> None:
        self._hosting.leave_remote = leave

    def _stores(self) -> StoreFactory:
        return self._gathered if self._gathered is not None else self._real_stores()

    def _real_stores(self) -> StoreFactory:
        if self.store_factory is None:
            self.store_factory = graph_store_factory(self.kernel)
        return self.store_factory

    @contextlib.contextmanager
    def gather_sessions(
        self,
        earlier: Iterable[Mapping[str, Any]] = (),
        parents: Iterable[str] = (),
        origin: str = "new",
    ) -> Iterator[None]:
        """Record a graph built in steps as one session, not one per step.

        Each creature added without a parent starts a graph of its own, and each edge that
        joins two graphs starts the session of their merge, so building a team by hand leaves
        a session file per step. Inside this block, graph sessions are kept in memory; when
        it ends, those still open (the whole graphs) are written, and the others never are::

            with engine.gather_sessions():
                await engine.add_creature("creatures/lead", start=False)
                await engine.add_creature("creatures/worker", start=False)
                await engine.connect("lead", "worker", channel="team")
            for creature_id in ("lead", "worker"):
                await engine.start_creature(creature_id)

        Nothing of the block is durable until it ends, so keep it to building: start the
        creatures after it. :meth:`resume` gathers while it rebuilds a graph.

        The written sessions continue *parents*, not the steps' sessions, which were never
        written (for a graph built from nothing: no parents).

        Args:
            earlier: Records each written session starts with (``resume`` gives the resumed
                file's, as copies, so the new file is whole).
            parents: The sessions the written ones continue (``resume`` gives the resumed
                one).
            origin: The written sessions' origin (``resume`` gives ``resume``).

        Raises:
            TerrariumError: the engine is gathering already.
        """
        if self._gathered is not None:
            raise TerrariumError("the engine is gathering sessions already; end that block first")
        self._gathered = gathered = GatheredStores(self._real_stores)
        try:
            yield
        finally:
            self._gathered = None
            written = gathered.write_out(earlier, parents, origin)
            for graph in self._state.graphs.values():
                if graph.session_id in written:
                    graph.parents, graph.origin = written[graph.session_id], origin
            self._state.touch()  # graphs now name their files (a lab keeps them for adoption)

    # -- Lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Terrarium:
        if self._phase != "new":
            raise TerrariumError("a Terrarium can be entered once; make a new one")
        self._nursery_cm = trio.open_nursery()
        self._nursery = await self._nursery_cm.__aenter__()
        self._transports.nursery = self._nursery
        self._phase = "open"
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            with trio.move_on_after(STOP_DEADLINE, shield=True):
                await self.shutdown()
        finally:
            assert self._nursery is not None
            self._transports.close()
            self._nursery.cancel_scope.cancel()  # anything still running after the deadline
            # The block's own exception propagates as it is (not wrapped in an exception
            # group): the nursery only holds the creatures' host tasks and the transports.
            await self._nursery_cm.__aexit__(None, None, None)
        return None

    async def shutdown(self) -> None:
        """Stop every creature, close the stores, transports and subscriptions; idempotent.

        Creatures stop concurrently; each running turn ends ``cancelled``. Cancelling this
        call leaves the remaining creatures to be cancelled with the engine's nursery.
        """
        if self._phase != "open":
            return
        self._phase = "closing"
        self._hosting.leave_remote_running()
        async with trio.open_nursery() as nursery:
            for handle in list(self._state.creatures.values()):
                nursery.start_soon(self._hosting.stop, handle)
        self._book.close()
        self._transports.close()
        self._state.bus.close()
        self._phase = "closed"
        self._closed.set()

    async def serve(self, *, task_status: trio.TaskStatus[Terrarium] = trio.TASK_STATUS_IGNORED):
        """Run the engine until :meth:`shutdown` is called, for hosts without an ``async with``.

        A web server or a synchronous program keeps the engine in a thread of its own:
        ``engine = await nursery.start(Terrarium().serve)`` returns once the engine accepts
        calls, and the engine lives until some task calls ``await engine.shutdown()`` (from
        another thread: ``trio.from_thread.run(engine.shutdown, trio_token=...)``). Cancelling
        ``serve`` shuts the engine down as leaving ``async with`` does.

        Args:
            task_status: Receives the engine once it runs (``nursery.start``).
        """
        async with self:
            task_status.started(self)
            await self._closed.wait()

    def _check_open(self) -> None:
        if self._phase != "open":
            raise TerrariumError(
                "the engine is not running; use `async with kt_terrarium.Terrarium() as engine:`"
                if self._phase == "new"
                else "the engine has shut down; make a new kt_terrarium.Terrarium()"
            )

    # -- Looking creatures up ------------------------------------------------------------------

    def __getitem__(self, creature_id: str) -> CreatureHandle:
        return self._state.handle(creature_id)

    def __contains__(self, creature_id: object) -> bool:
        return creature_id in self._state.creatures

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._state.creatures))

    def __len__(self) -> int:
        return len(self._state.creatures)

    @property
    def creatures(self) -> dict[str, CreatureHandle]:
        """Every hosted creature by id (a copy)."""
        return dict(self._state.creatures)

    def is_privileged(self, creature_id: str) -> bool:
        """Whether *creature_id* is hosted and privileged."""
        return self._state.is_privileged(creature_id)

    def graph_of(self, creature_id: str) -> str:
        """The id of *creature_id*'s graph.

        Raises:
            CreatureNotFoundError: not hosted.
        """
        return self._state.handle(creature_id).graph_id

    def group(self, creature_id: str) -> set[str]:
        """*creature_id*'s group: the creatures of its graph and the ones it spawned."""
        return group(self._state, creature_id)

    # -- Adding and removing creatures ---------------------------------------------------------

    async def add_creature(
        self,
        config: Any,
        *,
        name: str | None = None,
        llm: Any = None,
        pwd: str | os.PathLike[str] | None = None,
        session: Any = None,
        is_privileged: bool = False,
        parent: str | None = None,
        tools: Sequence[Any] = (),
        plugins: Sequence[Any] = (),
        llm_selector: str | None = None,
        output: Any = None,
        start: bool = True,
        transport: str | None = None,
        node: str | None = None,
    ) -> CreatureHandle:
        """Build a creature, add it to the engine, and start it.

        Without ``parent`` it is a graph of its own (a standalone agent is a one-creature
        graph) until an edge joins it to others; with ``parent`` it joins the parent's graph as
        its child. Messages and wire deliveries that reach it before it starts wait for it.

        Args:
            config: What ``kt.Agent.build`` takes: a creature folder or file, an
                ``@pack/path`` reference, a dict (relative paths resolve against *pwd*), or a
                ``CreatureConfig`` (not with *transport*).
            name: Its id. Default: the config's name, with ``_2``, ``_3`` ... added when taken.
            llm: Its model (default: the engine's ``llm``, else the config's).
            pwd: Its working directory (default: the engine's ``pwd``; with *transport*: the
                worker's).
            session: A file path: its own session file, as ``Agent.build(session=path)``
                records one (created, or appended to when it exists; read it with
                ``kt.SessionReader``); its graph is then persisted as with ``None``.
                Otherwise the persistence of its new graph: ``None`` (the engine's
                ``session_dir``, if set), ``False`` (none), an existing folder, or a
                :class:`~kt_terrarium.persistence.GraphStore`; ignored with ``parent`` (the
                parent's graph decides).
            is_privileged: Give it the graph tools and rights over every channel of its graph.
            parent: The id of the creature that spawns it.
            tools: Extra tools (as for ``Agent.build``).
            plugins: Extra creature plugins.
            llm_selector: A ``BACKEND/MODEL`` selector overriding the config.
            output: An output module for its events (default ``None``: observers use
                ``engine.subscribe``; a terminal UI renders what it wants).
            start: Start it now.
            transport: Host it through this transport (a name in ``kernel.transports``)
                instead of in this process. Its model, tools and plugins are then the
                worker's: *llm*, *tools*, *plugins*, *output* and *is_privileged* cannot be
                given.
            node: The node to place it on (``None``: the transport chooses). Without
                *transport*, as if its config named ``on_node``: the engine's transport hosts it.

        Returns:
            Its handle.

        Raises:
            CreatureExistsError: *name* is taken.
            CreatureNotFoundError: *parent* is not hosted.
            ConfigError: the config is missing or invalid, or names something unknown.
            SessionStoreMissingError: its graph is to be persisted and no session store is
                loaded.
            UnknownTransportError: no loaded plugin provides *transport*.
            TransportError: an argument that cannot cross a transport, or the transport could
                not place it.
            TerrariumError: the engine is not running.

        Cancellation: if cancelled while building or starting, the creature may already be
        in the engine (stopped or starting); the engine stops it on shutdown.
        """
        self._check_open()
        workdir = Path(pwd).resolve() if pwd is not None else self.pwd
        if transport is not None:
            self._transports.check(transport)
            _check_remote(config, llm, tools, plugins, output, is_privileged, transport)
        if parent is not None:
            self._state.handle(parent)
        creature_config = self._hosting.load_config(config, workdir)
        if node is not None and transport is None:  # as if its config named it: on_node
            creature_config = attrs.evolve(creature_config, on_node=node)
        creature_id = self._hosting.claim_id(name, creature_config.name)
        try:
            recorder = self._own_session(session, config, creature_config, creature_id, transport)
            if recorder is not None:  # its record is its own file; its graph: the default
                plugins, session = (*plugins, recorder), None
            handle = self._hosting.new_handle(
                creature_id,
                attrs.evolve(creature_config, name=creature_id),
                privileged=is_privileged,
                parent=parent,
                transport=transport,
            )
            handle.source = _config_source(config)
            if transport is None:
                handle.body = self._hosting.local_body(
                    handle,
                    BuildArgs(
                        llm=llm,
                        llm_selector=llm_selector,
                        tools=tuple(tools),
                        plugins=tuple(plugins),
                        pwd=workdir,
                        output=output,
                    ),
                )
            else:
                handle.body = RemoteBody(
                    handle,
                    pool=self._transports,
                    transport=transport,
                    config=dict(config) if isinstance(config, Mapping) else os.fspath(config),
                    base_dir=str(workdir),
                    pwd=str(workdir) if pwd is not None else None,
                    llm_selector=llm_selector,
                    node=node,
                    engine_state=self._state,
                    service=CreatureChannels(self._router, creature_id),
                    sink=self._hosting.on_event,
                )
            return await self._add(handle, session=session, start=start)
        finally:
            self._state.reserved.discard(creature_id)

    def _own_session(
        self,
        session: Any,
        config: Any,
        creature_config: CreatureConfig,
        creature_id: str,
        transport: str | None,
    ) -> Any:
        """The session recorder for ``add_creature(session=<file path>)``, else ``None``.

        The file means what it means to ``Agent.build``: the kernel's session store opens its
        recorder the same way, and the recorder (a creature plugin) follows the creature
        through restarts. An existing folder keeps its older meaning (where its graph's
        sessions go), so only a path that is not a folder is a file.

        Raises:
            TransportError: with *transport*: the recorder would have to run in the worker.
            UnknownNameError: no loaded plugin provides a session store.
        """
        if not isinstance(session, str | os.PathLike) or Path(session).is_dir():
            return None
        if transport is not None:
            raise TransportError(
                f"session={os.fspath(session)!r} records the creature in this process, but "
                f"transport '{transport}' hosts it elsewhere; give a folder (its graph's "
                "sessions are recorded here) or Terrarium(session_dir=...)"
            )
        store = self.kernel.session_store()  # a file: its own session, whatever its session_key
        return store.factory(Path(session), name=creature_id, source=config)

    async def _add(self, handle: CreatureHandle, *, session: Any, start: bool) -> CreatureHandle:
        await self._hosting.build(handle)
        try:
            wires = self._wiring.config_wires(handle)  # config wiring: targets may come later
        except BaseException:
            with trio.CancelScope(shield=True):
                await handle.body.aclose()
            raise
        parent = self._state.creatures.get(handle.parent) if handle.parent else None
        if parent is not None:
            graph = self._state.graphs[parent.graph_id]
        else:
            try:
                graph = self._book.new_graph(origin="new", session=session)
            except BaseException:
                with trio.CancelScope(shield=True):
                    await handle.body.aclose()
                raise
        self._hosting.place(handle, graph)
        handle.wires.extend(wires)
        self._wiring.join_dangling(handle.id)
        if start:
            try:
                await self._start(handle)
            except BaseException:
                with trio.CancelScope(shield=True):
                    await self.remove_creature(handle.id)
                raise
        return await self._kept(handle, placed=handle.transport is not None)

    async def adopt(self, transport: str, *, session: Any = None) -> list[CreatureHandle]:
        """Take back the creatures *transport* placed for this engine before it restarted.

        They kept running where they were placed; each comes back with its conversation, its
        events from where the earlier engine stopped reading, and its place in the graph as
        the transport kept it: the channels it listened and sent on (name, kind,
        description) and its output wires to the other creatures taken back, so creatures
        that shared a graph share one again. Creatures whose ids are taken here are left
        alone. Edges and wires to creatures not taken back (local ones, such as a terrarium's
        privileged root) come back when the graph's session is resumed with them as
        ``hosted`` (``handle.recorded_session`` names the file; :meth:`resume`).

        Args:
            transport: The transport's name (its options name this host, e.g. ``host=``).
            session: Persistence of their new graphs (as for :meth:`add_creature`).

        Returns:
            The handles of the creatures taken back, running.

        Raises:
            UnknownTransportError: no loaded plugin provides *transport*.
            TransportError: it cannot list what it placed.
        """
        self._check_open()
        adopted = []
        for placement, link, catching_up, place in await self._transports.placed(transport):
            if placement.creature_id in self._state.creatures.keys() | self._state.reserved:
                await link.aclose()
                continue
            handle = self._hosting.adopted(
                placement.creature_id, transport, placement, link, catching_up
            )
            handle.recorded_session = (place or {}).get("session")
            self._hosting.place(handle, self._book.new_graph(origin="adopted", session=session))
            adopted.append((handle, place))
        await self._rejoin(adopted)
        for handle, _ in adopted:
            await self._start(handle)
        return [handle for handle, _ in adopted]

    async def _rejoin(self, adopted: list[tuple[CreatureHandle, Mapping[str, Any] | None]]) -> None:
        """Give adopted creatures back their recorded edges and the wires between them.

        A channel is one per recorded graph: creatures recorded in one graph meet on it again
        (their graphs merge), those of different graphs keep their same-named channels apart.
        """
        ids = {handle.id for handle, _ in adopted}
        homes: dict[tuple[str, str], str] = {}  # (recorded graph, channel) -> a creature on it
        for handle, place in adopted:
            if not place:
                continue
            for direction in ("listen", "send"):
                for name in place[direction]:
                    home = homes.setdefault((place["graph"], name), handle.id)
                    channel = place["channels"].get(name, {})
                    await self.add_edge(
                        handle.id,
                        name,
                        direction,
                        graph=self.graph_of(home),
                        create=True,
                        kind=channel.get("kind", "broadcast"),
                        description=channel.get("description", ""),
                    )
        for handle, place in adopted:
            for wire in (place or {}).get("wires", []):
                if wire["target"] in ids:
                    options = {k: v for k, v in wire.items() if k != "target"}
                    await self.wire(handle.id, wire["target"], **options)

    async def _kept(self, change: T, *, placed: bool = False) -> T:
        """*change*, once remote creatures' places are kept with their placements.

        A host killed right after a graph change then comes back with it (:meth:`adopt`).
        Without remote creatures this returns at once.
        """
        await self._transports.settle(placed=placed)
        return change

    async def _start(self, handle: CreatureHandle) -> None:
        self._check_open()
        assert self._nursery is not None
        await self._hosting.start(handle, self._nursery)

    async def remove_creature(self, creature_id: str) -> GraphChange:
        """Stop a creature and take it out of the engine.

        Its edges and the wires from and to it go; its channels stay. Its graph may split.

        Args:
            creature_id: The creature's id.

        Returns:
            What happened to its graph (``split`` when the rest fell apart).

        Raises:
            CreatureNotFoundError: not hosted.
        """
        state = self._state
        handle = state.handle(creature_id)
        await self._hosting.stop(handle)
        if state.creatures.get(creature_id) is not handle:
            return GraphChange()  # removed concurrently
        graph = state.graphs[handle.graph_id]
        self._router.leave(creature_id, graph)
        self._wiring.drop_wires_to(creature_id, graph.id)
        graph.creatures.discard(creature_id)
        del state.creatures[creature_id]
        handle.state = "removed"
        state.touch()
        state.publish(CreatureRemoved(creature=creature_id, graph_id=graph.id), (graph.id,))
        if not graph.creatures:
            self._book.drop(graph)
            return await self._kept(GraphChange(delta="nothing", graph_ids=()))
        parts = self._book.split_if_needed(graph.id, reason="remove_creature")
        return await self._kept(GraphChange.after_split(parts))

    async def start_creature(self, creature_id: str) -> None:
        """Start a creature added with ``start=False``, or start a stopped one again.

        A restarted creature gets a new agent with the same config, tools and model, and
        the old one's conversation, usage and turn count (a creature hosted through a
        transport is placed again, with them). Does nothing when it is running.

        Raises:
            CreatureNotFoundError: not hosted.
            ConfigError: the rebuild failed.
        """
        handle = self._state.handle(creature_id)
        if handle.state in ("running", "starting"):
            return
        if handle.state in ("stopping", "stopped"):
            if handle.state == "stopping":
                await handle.stopped.wait()
            await self._hosting.build(handle)
        await self._start(handle)

    async def stop_creature(self, creature_id: str) -> None:
        """Stop a creature; it stays in its graph, with its edges (deliveries to it are dropped).

        Its running turn ends ``cancelled``; turns still queued never run. Returns once it has
        stopped. Do not call it from the creature's own turn (it would cancel the caller).

        Raises:
            CreatureNotFoundError: not hosted.
        """
        await self._hosting.stop(self._state.handle(creature_id))

    # -- Channels ------------------------------------------------------------------------------

    @property
    def channels(self) -> list[ChannelInfo]:
        """Every channel of every graph, sorted by (graph, name)."""
        return [
            graph.channels[name].info()
            for graph in sorted(self._state.graphs.values(), key=lambda g: g.id)
            for name in sorted(graph.channels)
        ]

    async def add_channel(
        self,
        name: str,
        *,
        graph: str | None = None,
        creature: str | None = None,
        kind: str = "broadcast",
        description: str = "",
    ) -> ChannelInfo:
        """Declare a channel in a graph (nobody listens or sends until edges are added).

        Args:
            name: Unique in the graph.
            graph: The graph's id; or give *creature* to use its graph (with a single graph,
                neither is needed).
            creature: A creature of the graph.
            kind: ``broadcast`` (every listener gets every message) or ``queue`` (each
                message to one listener).
            description: What it is for (models see it).

        Returns:
            The channel.

        Raises:
            ChannelExistsError: the name is taken in that graph.
            TerrariumError: no such graph, or it is ambiguous; a bad name or kind.
        """
        self._check_open()
        target = self._book.find(graph, creature)
        return await self._kept(self._router.create_channel(target, name, kind, description).info())

    async def remove_channel(self, name: str, *, graph: str | None = None) -> GraphChange:
        """Delete a channel: its edges go, subscriptions end, a queue backlog is dropped.

        Args:
            name: The channel.
            graph: Its graph (needed when several graphs have a channel of that name).

        Returns:
            ``split`` when the graph fell apart without the channel.

        Raises:
            ChannelNotFoundError: no such channel.
        """
        self._check_open()
        return await self._kept(self._router.remove_channel(name, graph))

    async def add_edge(
        self,
        creature: str,
        channel: str,
        direction: str,
        *,
        graph: str | None = None,
        create: bool = False,
        kind: str = "broadcast",
        description: str = "",
    ) -> GraphChange:
        """Let *creature* listen on, or send on, *channel*.

        Listening takes effect at once: every message sent afterwards reaches the creature,
        and a queue channel's backlog is handed out. A channel of another graph joins the
        creature's graph into the channel's (``merge``).

        Args:
            creature: The creature.
            channel: The channel's name.
            direction: ``listen`` or ``send``.
            graph: Where to look for the channel (default: the creature's graph).
            create: Create the channel there when it does not exist.
            kind: The kind of a channel created here.
            description: The description of a channel created here.

        Returns:
            ``merge`` when graphs joined.

        Raises:
            ChannelNotFoundError: no such channel and not *create*.
            TopologyError: joining the graphs would clash (two channels of one name).
        """
        self._check_open()
        change = self._router.add_edge(
            creature,
            channel,
            direction,
            graph=graph,
            create=create,
            kind=kind,
            description=description,
        )
        return await self._kept(change)

    async def remove_edge(
        self, creature: str, channel: str, direction: str, *, graph: str | None = None
    ) -> GraphChange:
        """Take away *creature*'s listen or send edge on *channel*; its graph may split.

        Raises:
            ChannelNotFoundError: no such channel in the creature's graph (or *graph*).
        """
        self._check_open()
        return await self._kept(self._router.remove_edge(creature, channel, direction, graph=graph))

    async def connect(
        self,
        sender: str,
        receiver: str,
        *,
        channel: str | None = None,
        kind: str = "broadcast",
        description: str = "",
    ) -> GraphChange:
        """Let *sender* send to *receiver* through a channel: a send edge and a listen edge.

        Graphs of the two join first when they differ (the sender's keeps its id). The
        channel is looked up in the joined graph and created when missing; without a name,
        ``<sender>__<receiver>`` is used.

        Returns:
            ``merge`` when two graphs joined; ``channel`` names the channel.

        Raises:
            TopologyError: the graphs have channels of the same name.
        """
        self._check_open()
        change = self._router.connect(
            sender, receiver, channel=channel, kind=kind, description=description
        )
        return await self._kept(change)

    async def disconnect(
        self, sender: str, receiver: str, *, channel: str | None = None
    ) -> GraphChange:
        """Undo ``connect``: *sender*'s send edge and *receiver*'s listen edge go.

        Without *channel*, on every channel where the sender sends and the receiver listens.
        The graph may split.

        Returns:
            ``split`` when the graph fell apart; ``channels`` lists the channels touched.
        """
        self._check_open()
        return await self._kept(self._router.disconnect(sender, receiver, channel=channel))

    async def send(
        self,
        channel: str,
        content: Any,
        *,
        graph: str | None = None,
        sender: str = "human",
        reply_to: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ChannelMessage:
        """Send on a channel from outside the graph (a user, a web page, a test).

        No send edge is needed. With *sender* naming a creature of the channel's graph, the
        message is sent as that creature (and published by it), still without the edge check.

        Args:
            channel: The channel's name.
            content: Text or a JSON-able value.
            graph: The channel's graph (needed when several graphs have that name).
            sender: A label for the sender, or a creature id.
            reply_to: The id of the message this answers.
            metadata: Free-form facts.

        Returns:
            The message sent.

        Raises:
            ChannelNotFoundError: no such channel.
        """
        self._check_open()
        return await self._router.send(
            channel, content, graph=graph, sender=sender, reply_to=reply_to, metadata=metadata
        )

    async def send_direct(self, sender: str, target: str, content: str) -> bool:
        """Deliver a direct message: a turn ``[direct from SENDER] ...`` for *target*.

        Args:
            sender: Who sends (a creature id or a label).
            target: The receiving creature.
            content: The text.

        Returns:
            ``False`` when the target is stopped (nothing delivered).

        Raises:
            CreatureNotFoundError: *target* is not hosted.
        """
        self._check_open()
        return await self._router.send_direct(sender, target, content)

    # -- Output wiring -------------------------------------------------------------------------

    async def wire(
        self,
        source: str,
        target: str,
        *,
        with_content: bool = True,
        prompt: str | None = None,
        prompt_format: str = "simple",
        allow_self_trigger: bool = False,
        max_hops: int | None = None,
    ) -> Wire:
        """Deliver *source*'s turn-end text to *target* after every turn of *source*.

        The target gets a new turn with ``[output-wire from SOURCE] TEXT`` (or *prompt*),
        or, with ``with_content=False``, a lifecycle ping. The source never waits for it. A
        wire that closes a loop needs *max_hops* (a wire to itself: *allow_self_trigger*).
        Wiring two graphs joins them. Adding the same wire twice returns the existing one.

        Args:
            source: The creature whose turns end.
            target: The receiving creature.
            with_content: Deliver the text (``False``: a ping only).
            prompt: The template the target receives (placeholders ``source``, ``target``,
                ``content``, ``status``, ``turn_index``, ``hops``, ``with_content``).
            prompt_format: ``simple`` or ``jinja``.
            allow_self_trigger: Allow *target* == *source*.
            max_hops: Bound on the chain of wire deliveries through this wire.

        Returns:
            The wire (its ``edge_id`` is derived from the values).

        Raises:
            CreatureNotFoundError: either creature is not hosted.
            WiringLoopError: the wire closes a loop without a hop limit.
            TopologyError: joining the graphs would clash.
        """
        self._check_open()
        spec = WireSpec.parse(
            {
                "to": target,
                "with_content": with_content,
                "prompt": prompt,
                "prompt_format": prompt_format,
                "allow_self_trigger": allow_self_trigger,
                "max_hops": max_hops,
            }
        )
        return await self._kept(self._wiring.wire(source, spec))

    async def unwire(self, source: str, wire: str) -> list[Wire]:
        """Remove *source*'s wires whose ``edge_id`` is *wire*, or whose target is *wire*.

        Returns:
            The wires removed (empty when none matched); the graph may split.
        """
        self._check_open()
        return await self._kept(self._wiring.unwire(source, wire))

    # -- Events and idleness -------------------------------------------------------------------

    def subscribe(
        self,
        *,
        types: Iterable[str] | None = None,
        creatures: Iterable[str] | None = None,
        graphs: Iterable[str] | None = None,
        channels: Iterable[str] | None = None,
        creature_events: bool = False,
    ) -> trio.MemoryReceiveChannel[Event]:
        """A channel receiving the engine's events from now on, until the engine shuts down.

        Always included: engine events (creatures added and removed, channels, edges, wires,
        topology, sessions), channel messages (:class:`kt_terrarium.events.ChannelMessageSent`),
        wire deliveries and drops, and direct messages. With ``creature_events=True``, every
        event of every creature too (turns, text, tools), as ``agent.subscribe()`` would give
        them. Filters combine with AND; ``None`` means any. Subscribing never consumes
        anything: a queue channel's message still goes to its listener. Close the channel when
        done (it is unbounded).

        Args:
            types: Event ``type`` names (``"channel_message"``, ``"turn_completed"`` ...).
            creatures: Creature ids (``event.creature``; engine-wide events have ``""``).
            graphs: Graph ids the event concerns.
            channels: Channel names (events with a ``channel`` field).
            creature_events: Include creatures' own events.

        Returns:
            An unbounded receive channel of events.
        """
        return self._state.bus.subscribe(
            types=types,
            creatures=creatures,
            graphs=graphs,
            channels=channels,
            creature_events=creature_events,
        )

    @property
    def is_idle(self) -> bool:
        """Whether no hosted creature is running a turn or has an engine-queued turn waiting."""
        return self._state.is_idle

    async def wait_idle(self) -> None:
        """Wait until every running creature is idle: no turn running, none queued by the engine.

        Turns queued by the engine (channel messages, wires, direct messages,
        ``handle.inject``) count from the moment they are queued; turns queued through the
        agent directly (``agent.inject``, triggers) count once they start. Cancelling the wait
        has no effect on the creatures.
        """
        await self._state.wait_idle()

    async def wait_graphs_kept(self) -> None:
        """Wait until the transports keep every remote creature's place in the graph as it is.

        Remote creatures' channels, edges and wires are kept with their placements (for
        :meth:`adopt` after a restart) by a task that follows graph changes. Each change
        already waits for it (at most ``kt_terrarium.remote.KEEP_WAIT`` seconds, and not past
        a failed write); this waits until every change made so far is kept, however long that
        takes. Returns at once when no transport is in use. A transport that cannot be reached
        delays it until the next change kept.
        """
        await self._transports.wait_kept()

    async def resume(self, session: str | os.PathLike[str], **options: Any) -> list[str]:
        """Rebuild a recorded graph into this running engine, through the session store.

        Creatures come back under their recorded ids with their conversations; channels,
        listen/send edges and output wires are restored, and recording goes on in one new
        session file that starts with a copy of the old one's records (the graph is rebuilt
        inside :meth:`gather_sessions`, so its steps leave no files of their own). Use it on
        a fresh engine, or on one that took some of the graph's creatures back with
        :meth:`adopt` (name them in ``hosted=``: they are joined as they are, not built
        again)::

            async with kt_terrarium.Terrarium(session_dir=...) as engine:
                await engine.resume("swe_team_20261121-...")

        Args:
            session: The session file, or a name the store finds.
            **options: Store options (``llm=``, ``llm_selector=``, ``configs=``,
                ``session_dir=``, ``hosted=`` for ``kt_sessions``).

        Returns:
            The creature ids, in the order they were added.

        Raises:
            UnknownNameError: no loaded plugin provides a store that can resume a terrarium.
        """
        store = self.kernel.session_store(needs="resume_terrarium")
        return await store.resume_terrarium(session, self, **options)

    # -- Recipes -------------------------------------------------------------------------------

    async def apply_recipe(
        self,
        recipe: Recipe | str | os.PathLike[str] | Mapping[str, Any],
        *,
        llm: Any = None,
        llm_selector: str | None = None,
        pwd: str | os.PathLike[str] | None = None,
        session: Any = None,
        start: bool = True,
    ) -> AppliedRecipe:
        """Populate the engine from a recipe (see :mod:`kt_terrarium.recipes`) and start it.

        In order: every creature is built (a failure leaves the engine unchanged); the
        channels are declared (the recipe's, a direct channel per creature, and
        ``report_to_root`` with a root); each creature listens on its ``listen`` channels and
        its direct channel and may send on its ``can_send`` channels and on
        ``report_to_root``; the root listens on ``report_to_root``, its own channel, every
        broadcast channel and every queue channel nobody else listens on; the output wires
        are added; then every creature starts. Messages sent while the others are still
        starting wait for them.

        Args:
            recipe: A :class:`~kt_terrarium.recipes.Recipe`, a recipe folder or file, an
                ``@pack/path`` reference, or a mapping.
            llm: Models: one instance for all, a mapping ``creature id -> LLM``, or a function
                ``(creature_id, config) -> LLM | None``; creatures not covered use the engine's
                ``llm`` or their config.
            llm_selector: A ``BACKEND/MODEL`` selector for every creature.
            pwd: The creatures' working directory (default: the engine's ``pwd``).
            session: Persistence of the recipe's graph (as for ``add_creature``).
            start: Start the creatures.

        Returns:
            What was created.

        Raises:
            ConfigError: the recipe or a creature is invalid (key paths name the recipe's
                keys, e.g. ``creatures[1].tools[0].name``).
            CreatureExistsError: a recipe creature's id is taken (apply a recipe once per
                engine, or remove its creatures first).
        """
        self._check_open()
        if not isinstance(recipe, Recipe):
            recipe = load_recipe(
                recipe,
                base_dir=pwd if isinstance(recipe, Mapping) else None,
                env=self.env,
                resolve_ref=self.kernel.resolve_ref,
            )
        state = self._state
        taken = [
            c.name for c in recipe.creatures if c.name in state.creatures.keys() | state.reserved
        ]
        if taken:
            raise CreatureExistsError(
                f"recipe '{recipe.name}' has creature(s) {', '.join(taken)} whose ids are "
                "taken in this engine; remove them first, or use another engine"
            )
        ids = {c.name for c in recipe.creatures}
        state.reserved |= ids
        try:
            return await self._recipes.apply(
                recipe,
                llm=llm,
                llm_selector=llm_selector,
                workdir=Path(pwd).resolve() if pwd is not None else self.pwd,
                session=session,
                start=start,
            )
        finally:
            state.reserved -= ids

    # -- Reading the state ---------------------------------------------------------------------

    def graphs(self) -> list[GraphInfo]:
        """Every graph, sorted by id."""
        return [self.graph(graph_id) for graph_id in sorted(self._state.graphs)]

    def graph(self, graph_id: str) -> GraphInfo:
        """One graph.

        Raises:
            TerrariumError: no such graph.
        """
        return self._book.info(self._book.find(graph_id, None))

    def status(self, creature: str | None = None) -> dict[str, Any]:
        """The engine's state as plain data (for UIs and the HTTP API).

        Args:
            creature: One creature's id, for its status only.

        Returns:
            For one creature: ``id``, ``graph_id``, ``state``, ``running``, ``busy``,
            ``privileged``, ``parent``, ``listen``, ``send``, ``wires``, ``pwd``, ``model``,
            ``turn_index``, ``tools``, ``transport``. For the engine: ``{"running",
            "creatures": {id: status}, "graphs": {id: {"creature_ids", "channels",
            "session_id", "parent_session_ids"}}}``, every list sorted.

        Raises:
            CreatureNotFoundError: *creature* is not hosted.
        """
        if creature is not None:
            return creature_status(self._state, creature)
        return engine_status(self._state, running=self._phase == "open")

    def prompt_snapshot(self, creature_id: str) -> dict[str, Any] | None:
        """What :func:`~kt_terrarium.graph_tools.describe_graph` needs (``None``: gone)."""
        return prompt_snapshot(self._state, creature_id)

    def group_snapshot(self, creature_id: str, *, history: int = 0) -> dict[str, Any]:
        """What ``group_status`` shows *creature_id* about its group.

        Args:
            creature_id: The asking creature.
            history: Latest messages to include per channel (0: none).

        Returns:
            ``graph_id``, ``self``, ``creatures``, ``channels``, ``wires`` (plain data).
        """
        return group_snapshot(self._state, creature_id, history=history)


def _check_remote(
    config: Any,
    llm: Any,
    tools: Sequence[Any],
    plugins: Sequence[Any],
    output: Any,
    privileged: bool,
    transport: str,
) -> None:
    """Refuse what cannot cross a transport (objects of this process, the engine's own rights)."""
    where = f"a creature hosted through transport '{transport}'"
    if isinstance(config, CreatureConfig) or not isinstance(config, str | os.PathLike | Mapping):
        raise TransportError(
            f"{where} is built where it runs, from a folder, a file, an @pack/path reference "
            "or a dict; pass one of these instead of a loaded config"
        )
    refuse_what_cannot_cross(
        where, llm=llm, tools=tools, plugins=plugins, output=output, privileged=privileged
    )


def _config_source(config: Any) -> str | None:
    """*config* as a resume can load it again.

    A path that exists here is made absolute; an ``@pack/path`` reference, or a path only a
    worker has (a creature hosted elsewhere), is kept as given; a dict or a ``CreatureConfig``
    has none (``None``).
    """
    if not isinstance(config, str | os.PathLike):
        return None
    text = os.fspath(config)
    path = Path(text).expanduser()
    return str(path.resolve()) if not text.startswith("@") and path.exists() else text
