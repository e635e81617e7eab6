"""The engine's side of creatures hosted through a transport.

A :class:`RemoteBody` is the body of a handle whose creature runs elsewhere
(``add_creature(..., transport=name)``). It speaks the messages of :mod:`kt_terrarium.transport`
over the creature's :class:`~kt_terrarium.transport.Link` and offers the handle what a local
agent offers: ``run``, ``run_stream``, ``inject``, ``interrupt``, starting and stopping. Every
event that comes back is handed to the engine like a local creature's, so the graph's store
records it, the bus publishes it, a turn's end runs the output wires and channel messages reach
the creature as turns.

:class:`TransportPool` builds each transport the engine uses once, from the kernel's
``kt_transports`` registry, and keeps it entered in a task of the engine's nursery.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kt import USE_CONFIG, TurnStream
from kt.errors import AgentNotStartedError, AgentStoppedError, KTError
from kt.events import (
    Event,
    HistoryReplaced,
    MessageAppended,
    TurnCompleted,
    TurnStarted,
    from_wire,
    to_wire,
)
from kt.llm import Usage
from kt.results import TurnResult
from kt_terrarium.errors import TransportError, UnknownTransportError
from kt_terrarium.hosting import STOP_DEADLINE
from kt_terrarium.transport import (
    Built,
    Cancel,
    EventOut,
    Failed,
    GraphUpdate,
    Interrupt,
    Link,
    Placement,
    Rejected,
    Reply,
    Request,
    Start,
    Started,
    Stop,
    Stopped,
    Transport,
    Turn,
    decode,
    encode,
    error_from,
)

if TYPE_CHECKING:
    from kt import Kernel
    from kt_terrarium.handles import CreatureHandle, EventSink
    from kt_terrarium.routing import CreatureChannels
    from kt_terrarium.state import EngineState

__all__ = [
    "RemoteBody",
    "RemoteTurnStream",
    "TransportPool",
    "record_graphs",
    "refuse_what_cannot_cross",
    "topologies",
    "topology",
]

log = logging.getLogger(__name__)

# How long a graph change waits for its remote creatures' places to be written before it
# returns anyway (a Redis that neither answers nor refuses must not hang the engine).
KEEP_WAIT = 5.0


class TransportPool:
    """The transports one engine uses, each built and entered once, on first use.

    Args:
        kernel: Whose ``transports`` registry names them.
        options: Transport name → options for its factory.
    """

    def __init__(self, kernel: Kernel, options: Mapping[str, Mapping[str, Any]]) -> None:
        self.kernel = kernel
        self.options = {name: dict(opts) for name, opts in options.items()}
        self.nursery: trio.Nursery | None = None
        self.state: EngineState | None = None  # set by the engine: whose graphs are recorded
        self._recording = False
        self.kept_version = -1  # the state's version every remote creature's place was kept at
        self.tried_version = -1  # the state's version the last whole pass was made for
        self.keeping = False  # whether the last pass found a link that keeps places
        self._kept = trio.Event()
        self._open: dict[str, Transport] = {}
        self._lock = trio.Lock()
        self._closing = trio.Event()

    def check(self, name: str) -> None:
        """Refuse a name no loaded plugin provides.

        Raises:
            UnknownTransportError: the message lists the loaded transports.
        """
        if name not in self.kernel.transports:
            loaded = ", ".join(sorted(self.kernel.transports)) or "none"
            raise UnknownTransportError(
                f"no transport '{name}' is loaded (transports: {loaded}); install and load the "
                "plugin that provides it (`kt plugins` lists what is loaded), or leave "
                "transport= out to host the creature in this process"
            )

    def default(self) -> str:
        """The transport a creature whose config names ``on_node`` goes through: the only one.

        Raises:
            UnknownTransportError: no transport is loaded, or several are (the message lists
                them; ``add_creature(transport=...)`` chooses).
        """
        loaded = sorted(self.kernel.transports)
        if len(loaded) == 1:
            return loaded[0]
        if not loaded:
            raise UnknownTransportError(
                "on_node hosts a creature on another node, but no transport is loaded; install "
                "and load one (the Laboratory: pip install 'kt-terrarium[lab]', plugin kt_lab)"
            )
        raise UnknownTransportError(
            f"on_node cannot choose among the loaded transports ({', '.join(loaded)}); add the "
            "creature with add_creature(config, transport=NAME, node=...) instead"
        )

    async def get(self, name: str) -> Transport:
        """The transport *name*, built and entered on first use.

        Raises:
            UnknownTransportError: no loaded plugin provides it.
            TransportError: the engine is not running.
        """
        self.check(name)
        async with self._lock:
            transport = self._open.get(name)
            if transport is None:
                if self.nursery is None or self._closing.is_set():
                    raise TransportError("the engine is not running; transports are closed")
                spec = self.kernel.transports[name]
                transport = spec.factory(**self.options.get(name, {}))
                await self.nursery.start(self._keep, name, transport)
                if not self._recording and self.state is not None:
                    self._recording = True
                    self.nursery.start_soon(record_graphs, self, self.state)
        return self._open[name]

    async def placed(
        self, name: str
    ) -> list[tuple[Placement, Link, bool, Mapping[str, Any] | None]]:
        """The creatures transport *name* placed for an engine before this one, attached.

        For each placement that still runs: the placement, the engine's end of its link
        (``transport.attach``: it reads the creature's messages from the start, those the
        earlier engine took in marked ``replayed``, the last one there was at attach time
        marked ``caught_up``), whether there is such a last one (``link.catching_up``), and
        its place in the earlier engine's graph (:func:`topology`, as :func:`record_graphs`
        had the transport keep it; ``None``: the transport kept none).

        Raises:
            UnknownTransportError: no loaded plugin provides it.
            TransportError: it cannot list what it placed (no ``placements``/``attach``).
        """
        transport: Any = await self.get(name)
        if not (hasattr(transport, "placements") and hasattr(transport, "attach")):
            raise TransportError(
                f"transport '{name}' cannot take back creatures placed before a restart (it "
                "has no placements() and attach())"
            )
        found = []
        for record in await transport.placements():
            link = await transport.attach(record["placement_id"])
            catching_up = bool(getattr(link, "catching_up", False))
            found.append((record["placement"], link, catching_up, record.get("graph")))
        return found

    async def _keep(
        self,
        name: str,
        transport: Transport,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        async with transport:
            self._open[name] = transport
            task_status.started()
            await self._closing.wait()
        self._open.pop(name, None)

    def kept(self, version: int, *, missed: bool = False) -> None:
        """(:func:`record_graphs`) A pass over every remote creature's place at *version* ended.

        Args:
            version: The state's version the pass was made for.
            missed: A transport could not keep some place (the next change tries again).
        """
        self.tried_version = version
        if not missed:
            self.kept_version = version
        self._kept.set()
        self._kept = trio.Event()

    async def wait_kept(self) -> None:
        """Wait until every remote creature's place, as it stands now, is kept."""
        if not self._recording or self.state is None:
            return  # no transport opened: no remote creature
        while self.kept_version != self.state.version:
            await self._kept.wait()

    async def settle(self, *, placed: bool = False) -> None:
        """Wait until the places as they stand now were written, or tried and not kept.

        The engine's graph changes return after it, so a change reported done is kept with
        the placements unless the transport failed (logged; the next change writes it) or
        took longer than :data:`KEEP_WAIT` seconds (it is still being written). Returns at
        once while no link keeps places (a transport without ``record_graph``), unless the
        change *placed* a creature (its link may be the first that does).
        """
        if not self._recording or self.state is None or not (self.keeping or placed):
            return
        version = self.state.version
        with trio.move_on_after(KEEP_WAIT) as waited:
            while self.tried_version < version:
                await self._kept.wait()
        if waited.cancelled_caught:
            log.warning("graph change not kept with the placements after %s s yet", KEEP_WAIT)
        elif self.kept_version < version:
            log.warning("graph change not kept with the placements: a transport failed")

    def close(self) -> None:
        """Leave every transport (their tasks end); no new one is opened."""
        self._closing.set()


def topology(state: EngineState, creature_id: str) -> dict[str, Any]:
    """*creature_id*'s place in its graph, as plain data a transport can keep.

    Returns:
        ``graph`` (its graph's id), ``session`` (the graph's session file here, or ``None``:
        what rebuilds the graph's local creatures after a restart), ``listen`` and ``send``
        (channel names, sorted), ``channels`` (name → ``kind`` and ``description``, for those
        channels) and ``wires`` (its output wires: ``target`` and the options of
        ``Terrarium.wire``).
    """
    state.handle(creature_id)  # a typed error for a creature the engine does not have
    return topologies(state, {creature_id})[creature_id]


def topologies(state: EngineState, creature_ids: set[str]) -> dict[str, dict[str, Any]]:
    """:func:`topology` of each of *creature_ids*, reading each graph's channels once."""
    places = {}
    for graph_id in {state.creatures[cid].graph_id for cid in creature_ids}:
        graph = state.graphs[graph_id]
        wanted = graph.creatures & creature_ids
        edges: dict[str, tuple[list[str], list[str]]] = {cid: ([], []) for cid in wanted}
        for name in sorted(graph.channels):
            channel = graph.channels[name]
            for cid in wanted.intersection(channel.listeners):
                edges[cid][0].append(name)
            for cid in wanted.intersection(channel.senders):
                edges[cid][1].append(name)
        for cid, (listen, send) in edges.items():
            places[cid] = _place(state, state.creatures[cid], listen, send)
    return places


def _place(
    state: EngineState, handle: CreatureHandle, listen: Sequence[str], send: Sequence[str]
) -> dict[str, Any]:
    graph = state.graphs[handle.graph_id]
    channels = {
        name: {"kind": graph.channels[name].kind, "description": graph.channels[name].description}
        for name in sorted({*listen, *send})
    }
    wires = [
        {
            "target": wire.target,
            "with_content": wire.with_content,
            "prompt": wire.prompt,
            "prompt_format": wire.prompt_format,
            "allow_self_trigger": wire.allow_self_trigger,
            "max_hops": wire.max_hops,
        }
        for wire in sorted(handle.wires, key=lambda w: w.edge_id)
    ]
    session = getattr(graph.store, "path", None)
    return {
        "graph": handle.graph_id,
        "session": str(session) if session else None,
        "listen": list(listen),
        "send": list(send),
        "channels": channels,
        "wires": wires,
    }


async def record_graphs(pool: TransportPool, state: EngineState) -> None:
    """Have the transports keep each remote creature's place in the graph, while it changes.

    A link that can (``link.record_graph``, e.g. the Laboratory's) gets the creature's
    :func:`topology` whenever it differs from what it last kept, so an engine that restarts
    and adopts the creatures (``Terrarium.adopt``) joins them again by their channels and
    wires. One task for the whole engine: a change costs one pass over the creatures, however
    many are remote. A transport that cannot be reached keeps the older record until the next
    change. Each pass that kept everything tells *pool* (:meth:`TransportPool.wait_kept`).
    """
    recorded: dict[Any, dict[str, Any]] = {}  # link -> what it keeps
    while True:
        version, missed = state.version, False
        remote = {}
        for handle in state.creatures.values():
            link = handle.body.link if isinstance(handle.body, RemoteBody) else None
            if link is not None and hasattr(link, "record_graph"):
                remote[handle.id] = link
        pool.keeping = bool(remote)
        for creature_id, now in topologies(state, set(remote)).items():
            link = remote[creature_id]
            if recorded.get(link) != now:
                try:
                    await link.record_graph(now)
                except (KTError, trio.ClosedResourceError):
                    missed = True  # kept at the next change
                else:
                    recorded[link] = now
        links = set(remote.values())
        recorded = {link: kept for link, kept in recorded.items() if link in links}
        if state.version == version:
            pool.kept(version, missed=missed)
            await state.graph_changed()


@attrs.define(eq=False)
class _Awaited:
    """A turn the engine awaits: ``run`` (no stream) or ``run_stream``."""

    ref: str
    stream: trio.MemorySendChannel[Event] | None = None
    turn_index: int | None = None
    result: TurnResult | None = None
    error: BaseException | None = None
    done: trio.Event = attrs.Factory(trio.Event)

    def finish(self, *, result: TurnResult | None = None, error: BaseException | None = None):
        if self.done.is_set():
            return
        self.result, self.error = result, error
        self.done.set()
        if self.stream is not None:
            self.stream.close()


class RemoteBody:
    """A creature hosted through a transport, driven like a local agent.

    Args:
        handle: The creature.
        pool: The engine's transports.
        transport: The transport's name.
        config: What the worker loads (a folder or file path, an ``@pack/path``, a mapping).
        base_dir: Where a mapping's relative paths resolve.
        pwd: The creature's working directory on the worker.
        llm_selector: A ``BACKEND/MODEL`` selector.
        node: The node asked for.
        loaded: *config* is a loaded config in its wire shape (``Placement.loaded``).
        engine_state: The engine's shared state (graph changes are pushed to the creature).
        service: The creature's channel service, which answers its requests.
        sink: Where its events go (the engine's ``Hosting.on_event``).
    """

    def __init__(
        self,
        handle: CreatureHandle,
        *,
        pool: TransportPool,
        transport: str,
        config: Any,
        base_dir: str | None,
        pwd: str | None,
        llm_selector: str | None,
        node: str | None,
        engine_state: EngineState,
        service: CreatureChannels,
        sink: EventSink,
        loaded: bool = False,
    ) -> None:
        self._handle = handle
        self._pool = pool
        self._transport = transport
        self._config = config
        self._base_dir = base_dir
        self._pwd = pwd
        self._llm_selector = llm_selector
        self._node = node
        self._loaded = loaded
        self._engine_state = engine_state
        self._service = service
        self._sink = sink
        self._link: Link | None = None
        self._incoming: AsyncIterator[dict[str, Any]] | None = None
        self._outbox: trio.MemorySendChannel[Any] | None = None
        self._phase = "new"  # new -> built -> running -> stopping -> stopped
        self._started = trio.Event()
        self._stopped = trio.Event()
        self._awaited: dict[str, _Awaited] = {}
        self._by_turn: dict[int, _Awaited] = {}
        self._graph: GraphUpdate | None = None
        self._in_turn = trio.Event()  # set while a turn of it runs (graph changes are pushed)
        self._failure: BaseException | None = None
        self._scope = trio.CancelScope()
        self._placed = False
        self._attached = False  # taken over from an engine before this one: it runs already
        self._leaving = False  # the engine shuts down and leaves it running (see leave)
        self._caught_up = trio.Event()  # (attached) the earlier engine's messages were replayed
        self.turn_index = 0
        self.history: list[Any] = []
        self.usage = Usage()
        self.model: str | None = None
        self.tools: list[str] = []
        self.working_dir: Path | None = Path(pwd) if pwd else None

    # -- What it is ----------------------------------------------------------------------------

    @property
    def link(self) -> Link | None:
        """The transport's link to the creature (``None``: not placed yet)."""
        return self._link

    @property
    def agent(self) -> Any:
        """Never available: the agent lives where the transport placed it.

        Raises:
            TransportError: always (use the handle's ``run``, ``run_stream``, ``inject``).
        """
        raise TransportError(
            f"creature '{self._handle.id}' runs through transport '{self._transport}': its agent "
            "lives there; drive it with handle.run(), run_stream(), inject() and interrupt()"
        )

    @property
    def accepting(self) -> bool:
        """Whether the creature runs and takes turns."""
        return self._phase == "running"

    def owns(self, agent: Any) -> bool:
        """Never: no agent of this process is this creature."""
        return False

    # -- Building ------------------------------------------------------------------------------

    async def build(self) -> None:
        """Place the creature; placed again (after a stop or a lost worker), with its conversation.

        The conversation, usage and turn count come from the creature's events (and its last
        ``Stopped`` message), so a creature whose worker vanished keeps what was recorded.

        Raises:
            UnknownTransportError: the transport is not loaded.
            ConfigError: the worker could not build it (the worker's message).
            TransportError: the transport could not place it, or the link closed.
        """
        again = self._placed
        placement = Placement(
            creature_id=self._handle.id,
            placement_id=f"{self._handle.id}_{uuid.uuid4().hex[:12]}",
            config=self._config,
            base_dir=self._base_dir,
            pwd=self._pwd,
            llm_selector=self._llm_selector,
            node=self._node,
            history=self._history_wire() if again else None,
            usage=attrs.asdict(self.usage) if again else None,
            loaded=self._loaded,
        )
        transport = await self._pool.get(self._transport)
        link = await transport.place(placement)
        incoming = aiter(link.receive())
        try:
            try:
                first = decode(await anext(incoming))
            except StopAsyncIteration:
                raise TransportError(
                    f"the link to creature '{self._handle.id}' closed before it was built"
                ) from None
            if isinstance(first, Failed):
                raise error_from(first.error_type, first.error)
            if not isinstance(first, Built):
                raise TransportError(
                    f"transport '{self._transport}' sent {type(first).__name__} before the "
                    f"creature '{self._handle.id}' was built"
                )
        except BaseException:
            with trio.CancelScope(shield=True):
                await link.aclose()
            raise
        self._link, self._incoming = link, incoming
        self._placed = True
        self._phase = "built"
        self._started, self._stopped = trio.Event(), trio.Event()
        self._graph = None
        self._learn_built(first)

    def attach(self, link: Link, *, catching_up: bool) -> None:
        """Take over a creature an engine before this one placed, and that still runs there.

        *link* is the transport's end for it (``transport.attach``): its messages taken in
        by the earlier engine come marked ``replayed`` and only bring this body's conversation,
        usage and turn count up to date; the rest are handled as usual. Starting it
        (:meth:`running`) sends no ``Start`` (it is running) and, with *catching_up*, returns
        once the message marked ``caught_up`` (the last one there was at attach time) was
        taken in.
        """
        self._caught_up = trio.Event()
        if not catching_up:
            self._caught_up.set()
        self._link, self._incoming = link, aiter(link.receive())
        self._placed = self._attached = True
        self._phase = "built"
        self._started, self._stopped = trio.Event(), trio.Event()
        self._graph = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """``async with body.running():``: start the creature; stop it on the way out.

        A failure of the creature or of its link (a :class:`~kt_terrarium.transport.Failed`
        message, a link that closes before :class:`~kt_terrarium.transport.Stopped`) cancels
        the block and is raised from it, unwrapped.
        """
        link, incoming = self._link, self._incoming
        if link is None or incoming is None:
            raise AgentStoppedError(f"creature '{self._handle.id}' was stopped; start it again")
        send, receive = trio.open_memory_channel[Any](math.inf)
        self._outbox = send
        self._failure = None
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                nursery.start_soon(self._guard, self._write, link, receive)
                nursery.start_soon(self._guard, self._read, incoming)
                if self._attached:
                    await self._caught_up.wait()
                else:
                    self._post(Start())
                    await self._started.wait()
                self._attached = False  # started again later: placed again
                self._phase = "running"
                self._sync_graph()
                nursery.start_soon(self._watch_graph)
                try:
                    yield
                finally:
                    self._phase = "stopping"
                    if self._failure is None and not self._leaving:
                        with trio.move_on_after(STOP_DEADLINE, shield=True):
                            self._post(Stop())
                            await self._stopped.wait()
                    nursery.cancel_scope.cancel()
            if self._failure is not None:
                raise self._failure
        finally:
            self._phase = "stopped"
            self._outbox = None
            self._link = self._incoming = None
            self._fail_awaited(AgentStoppedError(f"agent '{self._handle.id}' stopped"))
            with trio.CancelScope(shield=True):
                if self._leaving:
                    await self._keep_place(link)
                await link.aclose()

    async def _keep_place(self, link: Link) -> None:
        """(Leaving it running) Have the transport keep where it stands in the graph now.

        :func:`record_graphs` keeps it while the engine runs; this last record does not
        depend on that task having caught up when the engine stops.
        """
        handle, state = self._handle, self._engine_state
        if not hasattr(link, "record_graph") or state.creatures.get(handle.id) is not handle:
            return
        if handle.graph_id not in state.graphs:
            return
        with (
            contextlib.suppress(KTError, trio.ClosedResourceError),
            trio.move_on_after(STOP_DEADLINE),
        ):
            await link.record_graph(topology(state, handle.id))

    async def _guard(self, part: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run one task of the link; its failure ends the creature's block (see running)."""
        try:
            await part(*args)
        except Exception as error:
            if not isinstance(error, KTError):
                error = TransportError(
                    f"the link to creature '{self._handle.id}' (transport '{self._transport}') "
                    f"broke: {type(error).__name__}: {error}"
                )
            if self._failure is None:
                self._failure = error
            self._stopped.set()
            self._scope.cancel()

    def leave(self) -> None:
        """Let the creature run on where it is when the engine stops it: only the link closes.

        For an engine that shuts down to come back (a lab host restarting): the next one
        takes the creature back (``engine.adopt``).
        """
        self._leaving = True

    async def aclose(self) -> None:
        """Give up a creature that was built but never started (its link closes)."""
        link, self._link, self._incoming = self._link, None, None
        self._phase = "stopped"
        if link is not None:
            with trio.CancelScope(shield=True):
                await link.aclose()

    # -- Driving it ----------------------------------------------------------------------------

    def inject(self, text: str, source: str) -> None:
        """Queue a turn nobody awaits.

        Raises:
            AgentNotStartedError / AgentStoppedError: the creature does not run.
        """
        self._check_running()
        self._post(Turn(input=_input_wire(text), source=source))

    async def run(self, input: Any, **options: Any) -> TurnResult:
        """Run one turn there and return its result (``Agent.run``'s contract).

        Cancellation: the caller's cancellation cancels the turn there (it ends ``cancelled``)
        and propagates.

        Raises:
            AgentNotStartedError / AgentStoppedError: the creature does not run, or stopped
                before the turn started.
        """
        awaited = self._submit(input, options, stream=None)
        try:
            await awaited.done.wait()
        except trio.Cancelled:
            self._cancel(awaited)
            raise
        if awaited.error is not None:
            raise awaited.error
        assert awaited.result is not None
        return awaited.result

    def run_stream(self, input: Any, **options: Any) -> RemoteTurnStream:
        """Queue one turn there and stream its events (``Agent.run_stream``'s contract)."""
        send, receive = trio.open_memory_channel[Event](math.inf)
        awaited = self._submit(input, options, stream=send)
        return RemoteTurnStream(self, awaited, receive)

    def interrupt(self) -> None:
        """Interrupt the running turn, if any."""
        if self._phase == "running":
            self._post(Interrupt())

    async def emit(self, event: Event) -> None:
        """Publish an engine event as the creature's (recorded and published by the engine).

        The event does not travel to the creature: plugins where it runs do not see it.
        """
        object.__setattr__(event, "creature", self._handle.id)
        object.__setattr__(event, "turn_index", self.turn_index)
        await self._dispatch(event, ref=None)

    def _check_running(self) -> None:
        if self._phase == "running":
            return
        if self._phase in ("new", "built"):
            raise AgentNotStartedError(f"agent '{self._handle.id}' is not started")
        raise AgentStoppedError(f"agent '{self._handle.id}' was stopped; start it again")

    def _submit(
        self,
        input: Any,
        options: Mapping[str, Any],
        *,
        stream: trio.MemorySendChannel[Event] | None,
    ) -> _Awaited:
        self._check_running()
        timeout = options.get("timeout", USE_CONFIG)
        awaited = _Awaited(ref=f"turn_{uuid.uuid4().hex[:12]}", stream=stream)
        self._awaited[awaited.ref] = awaited
        self._post(
            Turn(
                input=_input_wire(input),
                source="user",
                ref=awaited.ref,
                timeout=None if timeout is USE_CONFIG else timeout,
                timeout_given=timeout is not USE_CONFIG,
                max_iterations=options.get("max_iterations"),
            )
        )
        return awaited

    def _cancel(self, awaited: _Awaited) -> None:
        if not awaited.done.is_set() and self._phase == "running":
            self._post(Cancel(ref=awaited.ref))

    # -- The link ------------------------------------------------------------------------------

    def _post(self, message: Any) -> None:
        """Queue *message* for the link, in order; a turn first brings the graph up to date."""
        if self._outbox is None:
            return
        if isinstance(message, Turn):
            self._sync_graph()
        self._outbox.send_nowait(message)

    async def _write(self, link: Link, outbox: trio.MemoryReceiveChannel[Any]) -> None:
        async for message in outbox:
            await link.send(encode(message))

    def _sync_graph(self) -> None:
        """Send the creature its prompt section and channels when they changed.

        Called before each turn the engine sends, when a turn starts there (a trigger of the
        worker may start one), and on graph changes while a turn runs (:meth:`_watch_graph`).
        """
        if self._phase != "running" or self._outbox is None:
            return
        handle = self._handle
        if self._engine_state.creatures.get(handle.id) is not handle:
            return
        update = GraphUpdate(
            section=handle.link.section_text(),
            channels=dict(self._service.channels()),
            listing=tuple(attrs.asdict(info) for info in self._service.list()),
        )
        if update != self._graph:
            self._graph = update
            self._outbox.send_nowait(update)

    async def _watch_graph(self) -> None:
        """Push graph changes while a turn runs; an idle creature gets them with its next turn.

        Waiting on every change only during turns keeps a change's cost independent of the
        number of idle remote creatures: the engine wakes only the busy ones, so N creatures
        added one by one cost O(N), not O(N^2).
        """
        while True:
            await self._in_turn.wait()
            self._sync_graph()  # what changed since the last look (no checkpoint until the wait)
            await self._engine_state.graph_changed()

    async def _read(self, incoming: AsyncIterator[dict[str, Any]]) -> None:
        """Take in the creature's messages until it stopped; a lost link is an error."""
        async for data in incoming:
            message = decode(data)  # (the transport's marks are not message fields)
            if data.get("replayed"):
                self._learn_replayed(message)
            elif await self._take(message):
                self._caught_up.set()
                return
            if data.get("caught_up"):
                self._caught_up.set()
        if not self._stopped.is_set():
            raise TransportError(
                f"the link to creature '{self._handle.id}' (transport '{self._transport}') "
                "closed before the creature stopped"
            )

    async def _take(self, message: Any) -> bool:
        """Handle one message of the creature; ``True`` when it stopped (nothing follows)."""
        if isinstance(message, EventOut):
            await self._dispatch(from_wire(message.event), ref=message.ref)
        elif isinstance(message, Request):
            await self._answer(message)
        elif isinstance(message, Rejected):
            awaited = self._awaited.pop(message.ref, None)
            if awaited is not None:
                awaited.finish(error=error_from(message.error_type, message.error))
        elif isinstance(message, Started):
            self._started.set()
        elif isinstance(message, Stopped):
            self._restore_from(message)
            self._stopped.set()
            return True
        elif isinstance(message, Failed):
            raise error_from(message.error_type, message.error)
        return False

    def _learn_replayed(self, message: Any) -> None:
        """A message an earlier engine took in: learn from it, publish nothing."""
        if isinstance(message, EventOut):
            self._learn(from_wire(message.event))
        elif isinstance(message, Built):
            self._learn_built(message)
        elif isinstance(message, Stopped):
            self._restore_from(message)

    def _learn_built(self, built: Built) -> None:
        """What the worker said when it built the creature: its model, tools and directory."""
        self.model = built.model
        self.tools = sorted(built.tools)
        if built.working_dir:
            self.working_dir = Path(built.working_dir)

    def _learn(self, event: Event) -> None:
        """What an event tells about the conversation, its usage and the turn count."""
        if isinstance(event, TurnStarted):
            self.turn_index = event.turn_index
        elif isinstance(event, MessageAppended):
            self.history.append(event.message)
        elif isinstance(event, HistoryReplaced):
            self.history = list(event.messages)
        elif isinstance(event, TurnCompleted):
            self.usage = self.usage + event.result.usage

    async def _dispatch(self, event: Event, *, ref: str | None) -> None:
        """Hand *event* to the engine, then to the turn stream awaiting it (as a local agent)."""
        self._learn(event)
        if isinstance(event, TurnStarted):
            self._in_turn.set()
            self._sync_graph()
            awaited = self._awaited.get(ref) if ref else None
            if awaited is not None:
                awaited.turn_index = event.turn_index
                self._by_turn[event.turn_index] = awaited
        elif isinstance(event, TurnCompleted):
            self._in_turn = trio.Event()
        await self._sink(self._handle.id, event)
        awaited = self._by_turn.get(event.turn_index)
        if awaited is None:
            return
        if awaited.stream is not None and not isinstance(event, MessageAppended):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                awaited.stream.send_nowait(event)
        if isinstance(event, TurnCompleted):
            del self._by_turn[event.turn_index]
            self._awaited.pop(awaited.ref, None)
            awaited.finish(result=event.result)

    async def _answer(self, request: Request) -> None:
        if request.method != "send":
            self._post(
                Reply(
                    ref=request.ref,
                    error_type="TransportError",
                    error=f"unknown request {request.method!r}",
                )
            )
            return
        try:
            message_id = await self._service.send(**request.args)
        except KTError as error:
            self._post(Reply(ref=request.ref, error_type=type(error).__name__, error=str(error)))
        else:
            self._post(Reply(ref=request.ref, result=message_id))

    def _history_wire(self) -> dict[str, Any]:
        """The conversation so far (from the creature's events), for placing it again."""
        replaced = HistoryReplaced(
            creature=self._handle.id,
            turn_index=self.turn_index,
            messages=tuple(self.history),
            reason="placed_again",
        )
        return to_wire(replaced)

    def _restore_from(self, stopped: Stopped) -> None:
        """Take the worker's final word on the conversation (its events said the same)."""
        if stopped.history:
            replaced = from_wire(stopped.history)
            self.history = list(replaced.messages)
            self.turn_index = replaced.turn_index
        if stopped.usage:
            self.usage = _usage(stopped.usage)

    def _fail_awaited(self, error: BaseException) -> None:
        for awaited in list(self._awaited.values()):
            awaited.finish(error=error)
        self._awaited.clear()
        self._by_turn.clear()


class RemoteTurnStream(TurnStream):
    """The events of one turn of a creature hosted elsewhere (``Agent.run_stream``'s contract).

    An async iterator and an async context manager; the last event is the turn's
    ``TurnCompleted``. Leaving early cancels the turn there; a link that fails before the turn
    completed raises its error from the iteration.
    """

    def __init__(
        self, body: RemoteBody, awaited: _Awaited, receive: trio.MemoryReceiveChannel[Event]
    ) -> None:
        super().__init__(receive, functools.partial(body._cancel, awaited))
        self._awaited = awaited

    def _ended_early(self) -> None:
        if self._awaited.error is not None:
            raise self._awaited.error from None

    def __del__(self) -> None:
        pass  # cancelling posts to the link, which a garbage collection may find closed


def refuse_what_cannot_cross(
    where: str, *, llm: Any, tools: Any, plugins: Any, output: Any, privileged: bool
) -> None:
    """Refuse objects of this process and the engine's own rights for a creature hosted elsewhere.

    Args:
        where: What the creature is, for the message (``a creature hosted through ...``).
        llm: A model object given for it.
        tools: Tool objects given for it.
        plugins: Plugin objects given for it.
        output: An output module object given for it.
        privileged: Whether it was to be privileged.

    Raises:
        TransportError: naming what cannot cross and what to do instead.
    """
    objects = [
        label
        for label, value in (
            ("llm", llm),
            ("tools", tools),
            ("plugins", plugins),
            ("output", output),
        )
        if value
    ]
    if objects:
        raise TransportError(
            f"{where} cannot take {', '.join(objects)}: objects of this process do not cross "
            "the transport; configure them in the creature's config (or llm_selector=), where "
            "it runs"
        )
    if privileged:
        raise TransportError(
            f"{where} cannot be privileged: the graph tools act on the engine directly; host "
            "privileged creatures in the engine's process"
        )


def _input_wire(input: Any) -> Any:
    """A turn's input in ``TurnStarted.input``'s wire shape (text, or content parts)."""
    return to_wire(TurnStarted(input=input if isinstance(input, str) else tuple(input)))["input"]


def _usage(data: Mapping[str, Any]) -> Usage:
    """A ``kt.Usage`` from its plain fields, ignoring fields this kernel does not know."""
    known = {field.name for field in attrs.fields(Usage)}
    return Usage(**{k: v for k, v in data.items() if k in known})
