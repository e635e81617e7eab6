"""The terrarium engine: many creatures in one process, joined by channels and output wires.

A :class:`Terrarium` hosts creatures (each a :class:`kt.Agent`) in its own trio nursery and
keeps the graph between them:

* **Channels** (:mod:`kt.channels`): named, ``queue`` or ``broadcast``, with per-creature
  listen and send edges. A message is delivered to its listeners as turns the moment it is
  sent, so a listener can never miss one by "subscribing late": listening *is* an edge.
* **Output wires**: at the end of every turn, a creature's final text (or a bare lifecycle
  ping) is delivered to the creatures it is wired to, as a new turn of theirs; the source
  never waits for them. A wire that would close a loop (A→B→A) is refused unless it carries
  a hop limit.
* **Graphs**: the connected components of the creatures, where channel edges, output wires
  and parent→child links (a spawned creature) connect. Graphs merge when an edge joins two of
  them and split when removing an edge disconnects one. Each graph has a *session*: an id, its
  parents' ids (lineage across merges and splits), and, when persistence is on, a store that
  records every event of its creatures. Merging or splitting starts new stores that copy the
  old ones' records, so no store is ever written by two graphs and no creature's history is
  lost.
* **Privileged creatures** get graph-editing tools (:mod:`kt.graph_tools`); every creature
  gets ``send_message`` and an up-to-date description of its graph in its system prompt.
* **Recipes** (:mod:`kt.recipes`) populate an engine from a file: ``engine.apply_recipe``.

The engine runs no model and makes no decision: creatures do; the engine only routes. ::

    async with kt_terrarium.Terrarium() as engine:
        writer = await engine.add_creature({"name": "writer"}, llm=writer_llm)
        critic = await engine.add_creature({"name": "critic"}, llm=critic_llm)
        await engine.wire("writer", "critic")           # writer's turn-end text -> critic
        await writer.run("Write a haiku about trio")
        await engine.wait_idle()                        # critic's turn has run too

Everything happens in the engine's trio thread; synchronous callers use :class:`kt.Portal`.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs
import trio

from kt import Agent, Kernel, TurnContext, TurnStream
from kt.compose import Runnable
from kt.config import CreatureConfig, load_creature_config
from kt.errors import ComposeError, ConfigError
from kt.events import (
    AgentWarning,
    ErrorOccurred,
    Event,
    HistoryReplaced,
    TurnCompleted,
    TurnStarted,
    to_wire,
)
from kt.llm import LLMRequest, Message
from kt.plugins import hookimpl
from kt.results import TurnResult
from kt.specs import PromptSection
from kt.tools import ToolContext, ToolResult, ToolSpec, tool
from kt_terrarium import graph_tools
from kt_terrarium.channels import (
    CHANNEL_KINDS,
    CHANNELS,
    Channel,
    ChannelExistsError,
    ChannelInfo,
    ChannelMessage,
    ChannelMessageSent,
    ChannelNotFoundError,
    ChannelPermissionError,
    CreatureExistsError,
    CreatureNotFoundError,
    TerrariumError,
    TopologyError,
    WiringLoopError,
)
from kt_terrarium.recipes import (
    REPORT_CHANNEL,
    Recipe,
    WireSpec,
    find_wiring_loop,
    load_recipe,
    relocate_config_error,
)

__all__ = [
    "AppliedRecipe",
    "ChannelCreated",
    "ChannelEdgeChanged",
    "ChannelRemoved",
    "CreatureAdded",
    "CreatureHandle",
    "CreatureLink",
    "CreatureRemoved",
    "DirectMessage",
    "GraphChange",
    "GraphInfo",
    "GraphSessionStarted",
    "GraphStore",
    "JsonlGraphStore",
    "OutputWireAdded",
    "OutputWireDelivered",
    "OutputWireDropped",
    "OutputWireRemoved",
    "Terrarium",
    "TopologyChanged",
    "Wire",
]

DEFAULT_WIRE_PROMPT = "[output-wire from {source}] {content}"
DEFAULT_PING_PROMPT = "[output-wire from {source}] (turn-end signal, no content)"
CHANNEL_PROMPT = "[Channel '{channel}' from {sender}]: {content}"
DIRECT_PROMPT = "[direct from {sender}] {content}"
STOP_DEADLINE = 10.0
"""Seconds ``async with Terrarium`` waits, shielded, for its creatures to stop on exit."""

_ENGINE_SOURCES = frozenset({"channel", "output_wire", "direct"})
_LIVE = frozenset({"built", "starting", "running"})
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# -- Engine events ------------------------------------------------------------------------------
# Published on the engine's bus (``engine.subscribe()``) and recorded in graph stores. Events
# about one creature carry its id in ``creature``; graph-wide ones have ``creature == ""``.


@attrs.frozen(kw_only=True)
class CreatureAdded(Event):
    """A creature joined the engine (before it starts)."""

    type: ClassVar[str] = "creature_added"
    graph_id: str = ""
    privileged: bool = False
    parent: str | None = None


@attrs.frozen(kw_only=True)
class CreatureRemoved(Event):
    """A creature was stopped and removed from its graph."""

    type: ClassVar[str] = "creature_removed"
    graph_id: str = ""


@attrs.frozen(kw_only=True)
class ChannelCreated(Event):
    """A channel was declared in a graph."""

    type: ClassVar[str] = "channel_created"
    channel: str
    kind: str = "broadcast"
    description: str = ""
    graph_id: str = ""


@attrs.frozen(kw_only=True)
class ChannelRemoved(Event):
    """A channel was deleted (its backlog, if any, is dropped)."""

    type: ClassVar[str] = "channel_removed"
    channel: str
    graph_id: str = ""


@attrs.frozen(kw_only=True)
class ChannelEdgeChanged(Event):
    """A creature's listen or send edge on a channel was added (``added``) or removed."""

    type: ClassVar[str] = "channel_edge"
    channel: str
    direction: str
    added: bool = True
    graph_id: str = ""


@attrs.frozen(kw_only=True)
class OutputWireAdded(Event):
    """An output wire was added (``creature`` is its source)."""

    type: ClassVar[str] = "output_wire_added"
    edge_id: str
    target: str
    with_content: bool = True
    max_hops: int | None = None


@attrs.frozen(kw_only=True)
class OutputWireRemoved(Event):
    """An output wire was removed (``creature`` is its source)."""

    type: ClassVar[str] = "output_wire_removed"
    edge_id: str
    target: str


@attrs.frozen(kw_only=True)
class OutputWireDelivered(Event):
    """A source's turn-end output was delivered to this creature (``creature`` is the target).

    Attributes:
        source: The creature whose turn ended.
        edge_id: The wire.
        with_content: ``False`` for a lifecycle ping (``content`` is then ``""``).
        content: The source's final text (stripped).
        text: What the target's new turn receives (the rendered prompt).
        status: How the source's turn ended.
        hops: Wire deliveries in the chain that led here (1 for a turn not started by a wire).
    """

    type: ClassVar[str] = "output_wire"
    source: str
    edge_id: str
    with_content: bool = True
    content: str = ""
    text: str = ""
    status: str = "completed"
    hops: int = 1


@attrs.frozen(kw_only=True)
class OutputWireDropped(Event):
    """A wire delivered nothing (``creature`` is the source): unknown or stopped target, hops."""

    type: ClassVar[str] = "output_wire_dropped"
    edge_id: str
    target: str
    reason: str


@attrs.frozen(kw_only=True)
class DirectMessage(Event):
    """A direct message (``group_send``) reached this creature (``creature`` is the target)."""

    type: ClassVar[str] = "direct_message"
    sender: str
    content: str = ""


@attrs.frozen(kw_only=True)
class TopologyChanged(Event):
    """Graphs merged or split (``kind``), or edges changed within one (``nothing``).

    Attributes:
        kind: ``merge``, ``split`` or ``nothing``.
        old_graph_ids: The graphs before.
        new_graph_ids: The graphs after (for a split, the one that kept the id comes first).
        affected: Every creature of the graphs involved, sorted.
        reason: What caused it (``connect``, ``remove_creature``, ...).
    """

    type: ClassVar[str] = "topology_changed"
    kind: str = "nothing"
    old_graph_ids: tuple[str, ...] = ()
    new_graph_ids: tuple[str, ...] = ()
    affected: tuple[str, ...] = ()
    reason: str = ""


@attrs.frozen(kw_only=True)
class GraphSessionStarted(Event):
    """A graph's session began: a new graph, or the result of a merge or a split.

    Attributes:
        graph_id: The graph.
        session_id: The new session.
        parent_session_ids: The sessions it continues (two or more for a merge, one for a
            split, none for a new graph).
        origin: ``new``, ``recipe``, ``merge`` or ``split``.
        path: The session's store file, when it is persisted.
    """

    type: ClassVar[str] = "graph_session"
    graph_id: str
    session_id: str
    parent_session_ids: tuple[str, ...] = ()
    origin: str = "new"
    path: str | None = None


_BUS_EVENTS = (ChannelMessageSent, OutputWireDelivered, OutputWireDropped, DirectMessage)
"""Creature events that reach the bus even without ``creature_events=True``."""


# -- Values -------------------------------------------------------------------------------------


def _fnv1a(text: str) -> str:
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{value:08x}"


@attrs.frozen(kw_only=True)
class Wire:
    """One output wire: after each turn of ``source``, its text goes to ``target``.

    Attributes:
        edge_id: Derived from the values, so the same wire always has the same id.
        source: The creature whose turn ends.
        target: The creature that receives.
        with_content: ``False``: a lifecycle ping with no text.
        prompt: The template the target receives (``None``: the default).
        prompt_format: ``simple`` or ``jinja``.
        allow_self_trigger: Whether ``target`` may be ``source``.
        max_hops: Deliver only while the chain of wire deliveries is at most this long.
    """

    edge_id: str
    source: str
    target: str
    with_content: bool = True
    prompt: str | None = None
    prompt_format: str = "simple"
    allow_self_trigger: bool = False
    max_hops: int | None = None

    @classmethod
    def from_spec(cls, source: str, spec: WireSpec) -> Wire:
        """The wire *source* → ``spec.to``, with its value-derived id."""
        digest = _fnv1a(
            f"{spec.prompt or ''}|{spec.prompt_format}|{spec.allow_self_trigger}|{spec.max_hops}"
        )
        mode = "content" if spec.with_content else "ping"
        return cls(
            edge_id=f"wire_{source}_{spec.to}_{mode}_{digest}",
            source=source,
            target=spec.to,
            with_content=spec.with_content,
            prompt=spec.prompt,
            prompt_format=spec.prompt_format,
            allow_self_trigger=spec.allow_self_trigger,
            max_hops=spec.max_hops,
        )

    def as_dict(self) -> dict[str, Any]:
        """The wire as plain data."""
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class GraphInfo:
    """A snapshot of one graph (``engine.graphs()``).

    Attributes:
        graph_id: ``graph_<12 hex>``.
        creature_ids: Its creatures, sorted.
        channels: Its channels, sorted by name.
        wires: Output wires between its creatures, sorted by id.
        session_id: Its current session.
        parent_session_ids: The sessions this one continues.
        origin: ``new``, ``recipe``, ``merge`` or ``split``.
        store_path: Where its session is persisted, if anywhere.
        name: The recipe's name for graphs made by a recipe (kept through merges and splits).
    """

    graph_id: str
    creature_ids: tuple[str, ...]
    channels: tuple[ChannelInfo, ...] = ()
    wires: tuple[Wire, ...] = ()
    session_id: str = ""
    parent_session_ids: tuple[str, ...] = ()
    origin: str = "new"
    store_path: Path | None = None
    name: str = ""


@attrs.frozen(kw_only=True)
class GraphChange:
    """What a topology operation did.

    Attributes:
        delta: ``merge`` (graphs joined), ``split`` (a graph fell apart) or ``nothing``.
        graph_id: The graph of the operation's (first) creature afterwards.
        graph_ids: Every graph involved afterwards.
        channel: The channel used, for operations on one channel.
        channels: The channels touched, for ``disconnect``.
    """

    delta: str = "nothing"
    graph_id: str = ""
    graph_ids: tuple[str, ...] = ()
    channel: str | None = None
    channels: tuple[str, ...] = ()

    @property
    def delta_kind(self) -> str:
        """:attr:`delta`, under the reference framework's name."""
        return self.delta


@attrs.frozen(kw_only=True)
class AppliedRecipe:
    """What ``apply_recipe`` created.

    Attributes:
        name: The recipe's name.
        root: The root's id, or ``None``.
        creature_ids: Its creatures, in recipe order (root last).
        graph_ids: The graphs they ended up in (one, unless the recipe is disconnected).
        warnings: The recipe's warnings (dropped legacy keys and tools).
    """

    name: str
    root: str | None
    creature_ids: tuple[str, ...]
    graph_ids: tuple[str, ...]
    warnings: tuple[str, ...] = ()


# -- Persistence --------------------------------------------------------------------------------


@runtime_checkable
class GraphStore(Protocol):
    """Where one graph session's records go; one store per session, written by one graph only.

    A record is an event in its wire shape (:func:`kt.events.to_wire`) plus ``graph_id``;
    records copied from a parent session also carry ``copied_from`` (that session's id).
    A session store plugin can provide its own class through ``Terrarium(store_factory=...)``.
    """

    path: Path | None

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record (durably, before returning, for a store that promises it)."""

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record so far, oldest first."""

    def close(self) -> None:
        """Stop writing; further appends are errors."""


StoreFactory = Callable[[Path, Mapping[str, Any]], GraphStore]
"""``factory(directory, meta) -> GraphStore``; ``meta`` has ``session_id``, ``graph_id``,
``parent_session_ids``, ``origin``, ``name`` and ``created_at``."""


class JsonlGraphStore:
    """The default graph store: one JSON-lines file per session, append-only.

    The first line is the session's metadata (``{"kind": "graph_session", ...}``); each
    further line is one record, flushed as it is written. The file is created exclusively,
    so a store can never be opened twice or continue another's file.

    Args:
        path: The file to create.
        meta: The session's metadata.

    Raises:
        FileExistsError: the file exists.
    """

    SUFFIX = ".ktgraph.jsonl"

    def __init__(self, path: Path, meta: Mapping[str, Any]) -> None:
        self.path: Path | None = Path(path)
        self.meta = dict(meta)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: Any = self.path.open("x", encoding="utf-8")
        self._write({"kind": "graph_session", **self.meta})

    @classmethod
    def create(cls, directory: Path, meta: Mapping[str, Any]) -> JsonlGraphStore:
        """A store named after the session in *directory* (a :data:`StoreFactory`)."""
        return cls(Path(directory) / f"{meta['session_id']}{cls.SUFFIX}", meta)

    def _write(self, data: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        self._file.flush()

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record and flush it."""
        if self._file is None:
            raise ValueError(f"graph store {self.path} is closed")
        self._write(record)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record written so far (the metadata line excluded)."""
        assert self.path is not None
        _, records = self.read(self.path)
        return iter(records)

    def close(self) -> None:
        """Close the file; idempotent."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @staticmethod
    def read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Read a store file: its metadata and its records.

        Args:
            path: The file.

        Returns:
            ``(meta, records)``.
        """
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        parsed = [json.loads(line) for line in lines if line.strip()]
        if not parsed:
            return {}, []
        return parsed[0], parsed[1:]


# -- Graphs and the bus (internal) --------------------------------------------------------------


@attrs.define(eq=False)
class _Graph:
    id: str
    session_id: str
    parents: tuple[str, ...] = ()
    origin: str = "new"
    store: GraphStore | None = None
    creatures: set[str] = attrs.Factory(set)
    channels: dict[str, Channel] = attrs.Factory(dict)
    name: str = ""


@attrs.define(eq=False)
class _Subscription:
    send: trio.MemorySendChannel[Event]
    types: frozenset[str] | None
    creatures: frozenset[str] | None
    graphs: frozenset[str] | None
    channels: frozenset[str] | None
    creature_events: bool

    def wants(self, event: Event, graphs: Iterable[str]) -> bool:
        if self.types is not None and event.type not in self.types:
            return False
        if self.creatures is not None and event.creature not in self.creatures:
            return False
        if self.graphs is not None and not self.graphs.intersection(graphs):
            return False
        if self.channels is not None and getattr(event, "channel", None) not in self.channels:
            return False
        return True


class _Bus:
    """The engine's event fan-out: one unbounded channel per subscriber."""

    def __init__(self) -> None:
        self.subscriptions: list[_Subscription] = []

    @property
    def wants_creature_events(self) -> bool:
        return any(s.creature_events for s in self.subscriptions)

    def publish(self, event: Event, graphs: Iterable[str], *, creature_event: bool = False):
        graphs = tuple(graphs)
        for sub in list(self.subscriptions):
            if creature_event and not sub.creature_events and not isinstance(event, _BUS_EVENTS):
                continue
            if not sub.wants(event, graphs):
                continue
            try:
                sub.send.send_nowait(event)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.subscriptions.remove(sub)

    def close(self) -> None:
        for sub in self.subscriptions:
            sub.send.close()
        self.subscriptions.clear()


# -- Creatures ----------------------------------------------------------------------------------


@attrs.define(eq=False)
class _BuildArgs:
    """What is needed to build (and rebuild) a creature's agent."""

    llm: Any = None
    llm_selector: str | None = None
    tools: tuple[Any, ...] = ()
    plugins: tuple[Any, ...] = ()
    pwd: Path | None = None
    output: Any = None


class CreatureLink:
    """The engine's per-creature plugin: events, turn ends and the graph prompt section.

    Registered on each hosted creature (``plugins=``), so its hooks see that creature only:
    ``kt_event`` records events in the graph's store, publishes them on the bus, tracks turns
    and runs the output wiring at turn end; ``kt_prompt_sections`` and ``kt_pre_llm_call``
    keep the terrarium section of the system prompt current. Also in the creature's stash under
    :data:`kt.graph_tools.LINK`, so the graph tools find the engine.
    """

    kt_plugin_name = "kt_terrarium"

    def __init__(self, engine: Terrarium, creature_id: str) -> None:
        self.engine = engine
        self.creature_id = creature_id
        self._cache: tuple[int, str] = (-1, "")

    @hookimpl(trylast=True)  # after persistence plugins: the event is recorded before it fans out
    async def kt_event(self, event: Event, creature: Agent) -> None:
        """Record, publish and act on one of the creature's events."""
        if self._is_mine(creature):
            await self.engine._on_creature_event(self.creature_id, event)

    @hookimpl
    def kt_prompt_sections(self, creature: Agent) -> list[PromptSection]:
        """The terrarium section, as the creature starts."""
        if not self._is_mine(creature):
            return []
        text = self.section_text()
        return (
            [PromptSection("terrarium.graph", graph_tools.wrap_section(text), 900)] if text else []
        )

    @hookimpl
    def kt_pre_llm_call(self, request: LLMRequest, ctx: TurnContext) -> LLMRequest | None:
        """Bring the terrarium section of the system message up to date for this call."""
        if not self._is_mine(ctx.creature):
            return None
        text = self.section_text()
        messages = request.messages
        if messages and messages[0].role == "system" and isinstance(messages[0].content, str):
            updated = graph_tools.replace_section(messages[0].content, text)
            if updated == messages[0].content:
                return None
            first = attrs.evolve(messages[0], content=updated)
            return attrs.evolve(request, messages=(first, *messages[1:]))
        if not text:
            return None
        system = Message("system", graph_tools.wrap_section(text))
        return attrs.evolve(request, messages=(system, *messages))

    def _is_mine(self, creature: Agent) -> bool:
        """Whether *creature* is the hosted agent (a plugin object could be shared further)."""
        handle = self.engine._creatures.get(self.creature_id)
        return handle is not None and handle._agent is creature

    def section_text(self) -> str:
        """The current terrarium section (cached until the graph changes)."""
        version = self.engine._version
        if self._cache[0] != version:
            snapshot = self.engine.prompt_snapshot(self.creature_id)
            text = graph_tools.describe_graph(snapshot) if snapshot else ""
            self._cache = (version, text)
        return self._cache[1]


class _CreatureChannels:
    """The :class:`kt.channels.ChannelService` the engine puts in each creature's stash."""

    def __init__(self, engine: Terrarium, creature_id: str) -> None:
        self._engine = engine
        self.creature_id = creature_id

    def channels(self) -> dict[str, str]:
        handle = self._engine._handle(self.creature_id)
        graph = self._engine._graphs[handle.graph_id]
        return {
            name: f"{c.kind}: {c.description}" if c.description else c.kind
            for name, c in sorted(graph.channels.items())
            if handle.privileged or self.creature_id in c.senders
        }

    async def send(
        self,
        channel: str,
        content: Any,
        *,
        sender: str | None = None,
        reply_to: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        if sender not in (None, self.creature_id):
            raise ChannelPermissionError(
                f"creature '{self.creature_id}' cannot send as '{sender}'; leave sender out"
            )
        message = await self._engine._send_from(
            self.creature_id, channel, content, reply_to=reply_to, metadata=metadata
        )
        return message.message_id

    def subscribe(self, channel: str) -> trio.MemoryReceiveChannel[ChannelMessage]:
        return self._engine._subscribe_for(self.creature_id, channel)

    def list(self) -> list[ChannelInfo]:
        graph = self._engine._graph_of_creature(self.creature_id)
        return [graph.channels[name].info() for name in sorted(graph.channels)]


class CreatureHandle:
    """A creature hosted by a :class:`Terrarium`: its agent, its place in the graph, controls.

    ``run``, ``run_stream`` and ``interrupt`` are the agent's own (see :class:`kt.Agent`).
    The handle outlives its agent: a stopped creature started again gets a new agent that
    keeps the conversation.

    Attributes:
        id: The creature's id, unique in the engine; also its agent's name.
        engine: The engine hosting it.
        config: Its creature config (``name`` is :attr:`id`).
        parent: The id of the creature that spawned it, or ``None``.
    """

    def __init__(
        self,
        engine: Terrarium,
        *,
        creature_id: str,
        config: CreatureConfig,
        build: _BuildArgs,
        privileged: bool,
        parent: str | None,
    ) -> None:
        self.id = creature_id
        self.engine = engine
        self.config = config
        self.parent = parent
        self.privileged = privileged
        self.graph_id = ""
        self.state = "new"  # new -> built -> starting -> running -> stopping -> stopped | removed
        self.wires: list[Wire] = []
        self.link = CreatureLink(engine, creature_id)
        self._agent: Agent | None = None
        self._build_args = build
        self._inbox: deque[tuple[str, str]] = deque()  # turns for a creature not started yet
        self._wire_hops: deque[int] = deque()  # hop counts of queued output-wire turns
        self._hops = 0  # hop count of the running turn
        self._queued = 0  # turns the engine queued that have not started
        self._busy = False
        self._stop_requested = trio.Event()
        self._stopped = trio.Event()

    # -- What it is ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The creature's id (creatures have one name)."""
        return self.id

    @property
    def creature_id(self) -> str:
        """The creature's id (the reference framework's name for :attr:`id`)."""
        return self.id

    @property
    def agent(self) -> Agent:
        """The creature's current :class:`kt.Agent`."""
        assert self._agent is not None
        return self._agent

    @property
    def is_running(self) -> bool:
        """Whether its agent is running."""
        return self.state == "running"

    @property
    def is_privileged(self) -> bool:
        """Whether it has the graph tools."""
        return self.privileged

    @property
    def listen_channels(self) -> tuple[str, ...]:
        """The channels it listens on, sorted."""
        return self.engine._edges(self.id)[0]

    @property
    def send_channels(self) -> tuple[str, ...]:
        """The channels it may send on, sorted."""
        return self.engine._edges(self.id)[1]

    def status(self) -> dict[str, Any]:
        """Its status as plain data (see ``Terrarium.status``)."""
        return self.engine.status(self.id)

    # -- Driving it ----------------------------------------------------------------------------

    async def run(self, input: Any, **options: Any) -> TurnResult:
        """Run one turn and return its result: ``Agent.run`` (same arguments, same contract)."""
        return await self.agent.run(input, **options)

    def run_stream(self, input: Any, **options: Any) -> TurnStream:
        """Queue one turn and stream its events: ``Agent.run_stream``."""
        return self.agent.run_stream(input, **options)

    def interrupt(self) -> None:
        """Interrupt its running turn, if any: ``Agent.interrupt``."""
        if self._agent is not None:
            self._agent.interrupt()

    def inject(self, input: str, *, source: str = "user") -> None:
        """Queue a turn nobody awaits, counted by ``engine.wait_idle()``.

        Raises:
            AgentStoppedError: when the creature is stopped.
        """
        self.engine._deliver(self, input, source, count=True, strict=True)

    async def send(self, channel: str, content: Any, **options: Any) -> ChannelMessage:
        """Send on *channel* as this creature (its send edges apply; see ``ChannelService``)."""
        return await self.engine._send_from(self.id, channel, content, **options)

    def subscribe(self, channel: str) -> trio.MemoryReceiveChannel[ChannelMessage]:
        """Subscribe as this creature (see :meth:`kt.channels.ChannelService.subscribe`)."""
        return self.engine._subscribe_for(self.id, channel)

    async def stop(self) -> None:
        """Stop it; it stays in its graph (``engine.stop_creature``)."""
        await self.engine.stop_creature(self.id)

    async def start(self) -> None:
        """Start it, or start it again after a stop (``engine.start_creature``)."""
        await self.engine.start_creature(self.id)

    # -- Composition ---------------------------------------------------------------------------

    def as_tool(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> ToolSpec:
        """This creature as a tool for another creature ("agent as tool").

        A call runs one turn of this creature with the call's ``task`` and returns its final
        text; a turn that does not complete is an error result. The caller's turn waits for
        it (use ``run_in_background`` to not wait). A creature asking itself is refused: its
        own turn would wait for itself.

        Args:
            name: The tool's name (default ``ask_<id>``).
            description: For the model (default: says which creature answers).
            timeout: Limit for the creature's turn, in seconds (``None``: its config's).

        Returns:
            A tool spec to pass as ``tools=[...]`` when building or adding the caller.
        """
        handle = self

        async def ask(task: str, ctx: ToolContext) -> ToolResult:
            """Ask the creature to do a task and return its answer.

            Args:
                task: What to do, with everything it needs to know.
                ctx: The call's context (the kernel passes it; not a model argument).
            """
            if ctx.agent is not None and ctx.agent is handle._agent:
                return ToolResult(error=f"'{handle.id}' cannot ask itself")
            if not handle.is_running:
                return ToolResult(error=f"'{handle.id}' is not running")
            options = {} if timeout is None else {"timeout": timeout}
            result = await handle.run(task, **options)
            if result.status != "completed":
                detail = f": {result.error}" if result.error else ""
                return ToolResult(
                    output=result.text,
                    error=f"'{handle.id}' ended its turn with status '{result.status}'{detail}",
                )
            return ToolResult(output=result.text)

        tool_name = name or "ask_" + re.sub(r"[^A-Za-z0-9_-]", "_", self.id)
        about = description or (
            f"Ask the creature '{self.id}' to do a task; returns its final answer."
        )
        return tool(name=tool_name, description=about)(ask)

    def step(self, *, timeout: float | None = None) -> Runnable:
        """This creature as a :mod:`kt.compose` step: ``str`` in, final text out.

        The step uses the hosted agent (its conversation carries on between runs) and
        raises like ``kt.compose.agent`` stages when a turn does not complete, so ``|`` and
        ``*`` react. ``await (engine["writer"].step() >> engine["critic"].step())("...")``.

        Args:
            timeout: Limit per turn in seconds (``None``: the config's).

        Returns:
            A runnable.
        """
        return _HostedStep(self, timeout)

    def __repr__(self) -> str:
        return f"<CreatureHandle {self.id!r} graph={self.graph_id!r} state={self.state}>"


class _HostedStep(Runnable):
    """A hosted creature as a compose step (see :meth:`CreatureHandle.step`)."""

    def __init__(self, handle: CreatureHandle, timeout: float | None) -> None:
        self.handle = handle
        self.timeout = timeout

    async def run(self, input: Any) -> str:
        """Run one turn of the hosted creature with *input*; return its final text.

        Args:
            input: The user message (a ``str``).

        Returns:
            The turn's final text, stripped.

        Raises:
            ComposeError: *input* is not a string.
            KTError: the turn did not complete (``result.raise_for_status()``).
        """
        if not isinstance(input, str):
            raise ComposeError(
                f"{self!r} got {type(input).__name__}, but a creature takes a string; convert "
                "it first (`... >> str >> step`)"
            )
        options = {} if self.timeout is None else {"timeout": self.timeout}
        result = await self.handle.run(input, **options)
        result.raise_for_status()
        return (result.text or "").strip()

    def __repr__(self) -> str:
        return f"hosted({self.handle.id!r})"


# -- The engine ---------------------------------------------------------------------------------


class Terrarium:
    """Hosts creatures in one trio nursery and keeps the graph between them.

    Use it as an async context manager; leaving the block stops every creature (shielded,
    for at most :data:`STOP_DEADLINE` seconds) and closes the session stores. Enter and leave
    it in the same task.

    Args:
        kernel: The plugin set creatures are built with (default: ``kt.Kernel()``).
        session_dir: Persist every graph's session in this folder (one store per session).
            ``None``: only graphs given ``session=`` are persisted.
        store_factory: Builds a :class:`GraphStore`: ``factory(directory, meta)`` (default:
            :meth:`JsonlGraphStore.create`).
        pwd: The default working directory of creatures (default: the process's current
            directory). The process's own directory is never changed.
        llm: The model of creatures added without ``llm=``: an LLM instance shared by all, or a
            function ``(creature_id, config) -> LLM | None`` (``None``: the config decides).
        env: Variables for ``${VAR}`` interpolation in configs (default ``os.environ``).
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
    ) -> None:
        self.kernel = kernel if kernel is not None else Kernel()
        self.session_dir = Path(session_dir).resolve() if session_dir is not None else None
        self.store_factory: StoreFactory = store_factory or JsonlGraphStore.create
        self.pwd = Path(pwd).resolve() if pwd is not None else Path.cwd()
        self.env = env
        self._llm = llm
        self._creatures: dict[str, CreatureHandle] = {}
        self._reserved: set[str] = set()  # ids of creatures being built
        self._graphs: dict[str, _Graph] = {}
        self._bus = _Bus()
        self._version = 0
        self._idle_changed = trio.Event()
        self._closed = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._nursery_cm: Any = None
        self._state = "new"

    # -- Lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Terrarium:
        if self._state != "new":
            raise TerrariumError("a Terrarium can be entered once; make a new one")
        self._nursery_cm = trio.open_nursery()
        self._nursery = await self._nursery_cm.__aenter__()
        self._state = "open"
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            with trio.move_on_after(STOP_DEADLINE, shield=True):
                await self.shutdown()
        finally:
            assert self._nursery is not None
            self._nursery.cancel_scope.cancel()  # anything still running after the deadline
            # The block's own exception propagates as it is (not wrapped in an exception
            # group): the nursery only ever holds the creatures' host tasks.
            await self._nursery_cm.__aexit__(None, None, None)
        return None

    async def shutdown(self) -> None:
        """Stop every creature, close the stores and end every subscription; idempotent.

        Creatures stop concurrently; each running turn ends ``cancelled``. Cancelling this
        call leaves the remaining creatures to be cancelled with the engine's nursery.
        """
        if self._state != "open":
            return
        self._state = "closing"
        async with trio.open_nursery() as nursery:
            for handle in list(self._creatures.values()):
                nursery.start_soon(self._stop, handle)
        for graph in self._graphs.values():
            for channel in graph.channels.values():
                channel.close_taps()
            if graph.store is not None:
                graph.store.close()
        self._bus.close()
        self._state = "closed"
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
        if self._state != "open":
            raise TerrariumError(
                "the engine is not running; use `async with kt_terrarium.Terrarium() as engine:`"
                if self._state == "new"
                else "the engine has shut down; make a new kt_terrarium.Terrarium()"
            )

    # -- Looking creatures up ------------------------------------------------------------------

    def __getitem__(self, creature_id: str) -> CreatureHandle:
        return self._handle(creature_id)

    def __contains__(self, creature_id: object) -> bool:
        return creature_id in self._creatures

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._creatures))

    def __len__(self) -> int:
        return len(self._creatures)

    @property
    def creatures(self) -> dict[str, CreatureHandle]:
        """Every hosted creature by id (a copy)."""
        return dict(self._creatures)

    def _handle(self, creature_id: str) -> CreatureHandle:
        handle = self._creatures.get(creature_id)
        if handle is None:
            known = ", ".join(sorted(self._creatures)) or "none"
            raise CreatureNotFoundError(
                f"no creature '{creature_id}' in the engine; creatures: {known}"
            )
        return handle

    def is_privileged(self, creature_id: str) -> bool:
        """Whether *creature_id* is hosted and privileged."""
        handle = self._creatures.get(creature_id)
        return handle is not None and handle.privileged

    def graph_of(self, creature_id: str) -> str:
        """The id of *creature_id*'s graph.

        Raises:
            CreatureNotFoundError: not hosted.
        """
        return self._handle(creature_id).graph_id

    def group(self, creature_id: str) -> set[str]:
        """*creature_id*'s group: the creatures of its graph and the ones it spawned."""
        handle = self._handle(creature_id)
        members = set(self._graphs[handle.graph_id].creatures)
        members |= {h.id for h in self._creatures.values() if h.parent == creature_id}
        return members

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
    ) -> CreatureHandle:
        """Build a creature, add it to the engine, and start it.

        Without ``parent`` it is a graph of its own (a standalone agent is a one-creature
        graph) until an edge joins it to others; with ``parent`` it joins the parent's graph as
        its child. Messages and wire deliveries that reach it before it starts wait for it.

        Args:
            config: What ``kt.Agent.build`` takes: a creature folder or file, an
                ``@pack/path`` reference, a dict (relative paths resolve against *pwd*), or a
                ``CreatureConfig``.
            name: Its id. Default: the config's name, with ``_2``, ``_3`` ... added when taken.
            llm: Its model (default: the engine's ``llm``, else the config's).
            pwd: Its working directory (default: the engine's ``pwd``).
            session: Persistence of its new graph: ``None`` (the engine's ``session_dir``, if
                set), ``False`` (none), a folder, or a :class:`GraphStore`. Ignored with
                ``parent`` (the parent's graph decides).
            is_privileged: Give it the graph tools and rights over every channel of its graph.
            parent: The id of the creature that spawns it.
            tools: Extra tools (as for ``Agent.build``).
            plugins: Extra creature plugins.
            llm_selector: A ``BACKEND/MODEL`` selector overriding the config.
            output: An output module for its events (default ``None``: observers use
                ``engine.subscribe``; a terminal UI renders what it wants).
            start: Start it now.

        Returns:
            Its handle.

        Raises:
            CreatureExistsError: *name* is taken.
            CreatureNotFoundError: *parent* is not hosted.
            ConfigError: the config is missing or invalid, or names something unknown.
            TerrariumError: the engine is not running.

        Cancellation: if cancelled while building or starting, the creature may already be
        in the engine (stopped or starting); the engine stops it on shutdown.
        """
        self._check_open()
        workdir = Path(pwd).resolve() if pwd is not None else self.pwd
        if parent is not None:
            self._handle(parent)
        creature_config = self._load_config(config, workdir)
        creature_id = self._claim_id(name, creature_config.name)
        try:
            return await self._add(
                creature_id,
                creature_config,
                llm=llm,
                llm_selector=llm_selector,
                tools=tools,
                plugins=plugins,
                workdir=workdir,
                output=output,
                is_privileged=is_privileged,
                parent=parent,
                session=session,
                start=start,
            )
        finally:
            self._reserved.discard(creature_id)

    async def _add(
        self,
        creature_id: str,
        creature_config: CreatureConfig,
        *,
        llm: Any,
        llm_selector: str | None,
        tools: Sequence[Any],
        plugins: Sequence[Any],
        workdir: Path,
        output: Any,
        is_privileged: bool,
        parent: str | None,
        session: Any,
        start: bool,
    ) -> CreatureHandle:
        handle = CreatureHandle(
            self,
            creature_id=creature_id,
            config=attrs.evolve(creature_config, name=creature_id),
            build=_BuildArgs(
                llm=llm,
                llm_selector=llm_selector,
                tools=tuple(tools),
                plugins=tuple(plugins),
                pwd=workdir,
                output=output,
            ),
            privileged=is_privileged,
            parent=parent,
        )
        await self._build(handle)
        if parent is not None and parent in self._creatures:
            graph = self._graphs[self._creatures[parent].graph_id]
        else:
            graph = self._new_graph(origin="new", session=session)
        self._place(handle, graph)
        for spec in creature_config.output_wiring:  # config wiring: targets may come later
            wire = Wire.from_spec(
                creature_id,
                WireSpec(
                    to=spec.to,
                    with_content=spec.with_content,
                    prompt=spec.prompt,
                    prompt_format=spec.prompt_format,
                ),
            )
            handle.wires.append(wire)
        self._join_dangling_wires(creature_id)
        if start:
            try:
                await self._start(handle)
            except BaseException:
                with trio.CancelScope(shield=True):
                    await self.remove_creature(creature_id)
                raise
        return handle

    def _load_config(self, config: Any, workdir: Path) -> CreatureConfig:
        if isinstance(config, CreatureConfig):
            return config
        return load_creature_config(
            config if isinstance(config, Mapping) else os.fspath(config),
            base_dir=workdir if isinstance(config, Mapping) else None,
            env=self.env,
            resolve_ref=self.kernel.resolve_ref,
        )

    def _claim_id(self, name: str | None, default: str) -> str:
        """Reserve an id until the creature is placed (concurrent adds never share one)."""
        taken = self._creatures.keys() | self._reserved
        if name is not None:
            if not _ID.match(name):
                raise TerrariumError(
                    f"invalid creature id {name!r}: use letters, digits, '_', '-' or '.'"
                )
            if name in taken:
                raise CreatureExistsError(
                    f"a creature '{name}' is already in the engine; choose another name"
                )
            candidate = name
        else:
            base = re.sub(r"[^A-Za-z0-9_.-]", "_", default) or "creature"
            if not _ID.match(base):
                base = f"c_{base}"
            candidate, n = base, 1
            while candidate in taken:
                n += 1
                candidate = f"{base}_{n}"
        self._reserved.add(candidate)
        return candidate

    async def _build(self, handle: CreatureHandle) -> None:
        args = handle._build_args
        taken = {entry.name for entry in handle.config.tools} | {
            getattr(t, "name", None) or getattr(t, "__name__", "") for t in args.tools
        }
        extra = [
            *args.tools,
            *graph_tools.tools_for(
                privileged=handle.privileged, taken=taken, registry=self.kernel.tools
            ),
        ]
        llm = args.llm if args.llm is not None else self._default_llm(handle)
        agent = await Agent.build(
            handle.config,
            llm=llm,
            tools=extra,
            plugins=[handle.link, *args.plugins],
            pwd=args.pwd,
            kernel=self.kernel,
            llm_selector=args.llm_selector,
            env=self.env,
            output=args.output,
        )
        agent.stash[CHANNELS] = _CreatureChannels(self, handle.id)
        agent.stash[graph_tools.LINK] = handle.link
        handle._agent = agent
        handle.state = "built"

    def _default_llm(self, handle: CreatureHandle) -> Any:
        llm = self._llm
        if llm is None or hasattr(llm, "stream"):
            return llm
        return llm(handle.id, handle.config)

    def _place(self, handle: CreatureHandle, graph: _Graph) -> None:
        graph.creatures.add(handle.id)
        handle.graph_id = graph.id
        self._creatures[handle.id] = handle
        self._touch()
        self._publish(
            CreatureAdded(
                creature=handle.id,
                graph_id=graph.id,
                privileged=handle.privileged,
                parent=handle.parent,
            ),
            (graph.id,),
        )

    def _join_dangling_wires(self, creature_id: str) -> None:
        """Wires naming *creature_id* (either end) now connect: join the graphs they span."""
        handle = self._creatures[creature_id]
        for other in list(self._creatures.values()):
            linked = any(w.target == creature_id for w in other.wires) or any(
                w.target == other.id for w in handle.wires
            )
            if linked and other.graph_id != handle.graph_id:
                self._merge(other.graph_id, handle.graph_id, reason="output_wire")

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
        handle = self._handle(creature_id)
        await self._stop(handle)
        if self._creatures.get(creature_id) is not handle:
            return GraphChange()  # removed concurrently
        graph = self._graphs[handle.graph_id]
        for channel in graph.channels.values():
            if creature_id in channel.listeners:
                channel.listeners.remove(creature_id)
            channel.senders.discard(creature_id)
            channel.close_taps(creature_id)
        for other in self._creatures.values():
            for wire in [w for w in other.wires if w.target == creature_id]:
                other.wires.remove(wire)
                self._publish(
                    OutputWireRemoved(creature=other.id, edge_id=wire.edge_id, target=creature_id),
                    (graph.id,),
                )
        graph.creatures.discard(creature_id)
        del self._creatures[creature_id]
        handle.state = "removed"
        self._touch()
        self._publish(CreatureRemoved(creature=creature_id, graph_id=graph.id), (graph.id,))
        if not graph.creatures:
            self._drop_graph(graph)
            return GraphChange(delta="nothing", graph_ids=())
        parts = self._split_if_needed(graph.id, reason="remove_creature")
        return GraphChange(
            delta="split" if len(parts) > 1 else "nothing",
            graph_id=parts[0],
            graph_ids=tuple(parts),
        )

    async def start_creature(self, creature_id: str) -> None:
        """Start a creature added with ``start=False``, or start a stopped one again.

        A restarted creature gets a new agent with the same config, tools and model, and
        the old one's conversation, usage and turn count. Does nothing when it is running.

        Raises:
            CreatureNotFoundError: not hosted.
            ConfigError: the rebuild failed.
        """
        handle = self._handle(creature_id)
        if handle.state in ("running", "starting"):
            return
        if handle.state in ("stopping", "stopped"):
            if handle.state == "stopping":
                await handle._stopped.wait()
            old = handle.agent
            await self._build(handle)
            handle.agent.restore(old.history, usage=old.usage, turn_index=old.turn_index)
        await self._start(handle)

    async def stop_creature(self, creature_id: str) -> None:
        """Stop a creature; it stays in its graph, with its edges (deliveries to it are dropped).

        Its running turn ends ``cancelled``; turns still queued never run. Returns once it has
        stopped. Do not call it from the creature's own turn (it would cancel the caller).

        Raises:
            CreatureNotFoundError: not hosted.
        """
        await self._stop(self._handle(creature_id))

    async def _start(self, handle: CreatureHandle) -> None:
        self._check_open()
        assert self._nursery is not None
        handle._stop_requested = trio.Event()
        handle._stopped = trio.Event()
        await self._nursery.start(self._host, handle)

    async def _host(
        self,
        handle: CreatureHandle,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The task that owns one agent: ``async with agent`` until asked to stop."""
        agent = handle.agent
        handle.state = "starting"
        started = False
        try:
            async with agent:
                handle.state = "running"
                self._flush_inbox(handle)
                self._drain_backlogs(handle)
                self._touch()
                started = True
                task_status.started()
                await handle._stop_requested.wait()
                handle.state = "stopping"
        except Exception as error:
            if not started:
                handle.state = "built"
                raise
            self._publish(  # the agent failed after it started: say so, keep the engine up
                ErrorOccurred(
                    creature=handle.id,
                    message=f"creature '{handle.id}' failed: {type(error).__name__}: {error}",
                    error_type=type(error).__name__,
                    source="terrarium:host",
                ),
                (handle.graph_id,),
            )
        finally:
            if handle.state != "removed":
                handle.state = "stopped" if started else handle.state
            handle._queued = 0
            handle._busy = False
            handle._wire_hops.clear()
            if handle.graph_id in self._graphs:
                for channel in self._graphs[handle.graph_id].channels.values():
                    channel.close_taps(handle.id)
            handle._stopped.set()
            self._touch()
            self._signal()

    async def _stop(self, handle: CreatureHandle) -> None:
        if handle.state in ("running", "starting", "stopping"):
            handle.state = "stopping"
            handle._stop_requested.set()
            await handle._stopped.wait()
        elif handle.state in ("new", "built"):
            handle.state = "stopped"
            handle._inbox.clear()
            handle._queued = 0
            self._touch()
            self._signal()

    # -- Channels ------------------------------------------------------------------------------

    @property
    def channels(self) -> list[ChannelInfo]:
        """Every channel of every graph, sorted by (graph, name)."""
        return [
            graph.channels[name].info()
            for graph in sorted(self._graphs.values(), key=lambda g: g.id)
            for name in sorted(graph.channels)
        ]

    def _graph_for(self, graph: str | None, creature: str | None) -> _Graph:
        if graph is not None:
            found = self._graphs.get(graph)
            if found is None:
                raise TerrariumError(
                    f"no graph '{graph}'; graphs: {', '.join(sorted(self._graphs)) or 'none'}"
                )
            return found
        if creature is not None:
            return self._graphs[self._handle(creature).graph_id]
        if len(self._graphs) == 1:
            return next(iter(self._graphs.values()))
        raise TerrariumError(
            "say which graph: pass graph= or creature= "
            f"({len(self._graphs)} graphs: {', '.join(sorted(self._graphs)) or 'none'})"
        )

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
        target = self._graph_for(graph, creature)
        channel = self._create_channel(target, name, kind, description)
        return channel.info()

    def _create_channel(self, graph: _Graph, name: str, kind: str, description: str) -> Channel:
        _check_channel_name(name)
        if kind not in CHANNEL_KINDS:
            raise TerrariumError(f"a channel's kind is 'queue' or 'broadcast', not {kind!r}")
        if name in graph.channels:
            raise ChannelExistsError(
                f"graph {graph.id} already has a channel '{name}'; pick another name"
            )
        channel = Channel(name=name, kind=kind, description=description, graph_id=graph.id)
        graph.channels[name] = channel
        self._touch()
        self._publish(
            ChannelCreated(channel=name, kind=kind, description=description, graph_id=graph.id),
            (graph.id,),
        )
        return channel

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
        owner = self._graph_with_channel(name, graph)
        channel = owner.channels.pop(name)
        channel.close_taps()
        self._touch()
        self._publish(ChannelRemoved(channel=name, graph_id=owner.id), (owner.id,))
        parts = self._split_if_needed(owner.id, reason="remove_channel")
        return GraphChange(
            delta="split" if len(parts) > 1 else "nothing",
            graph_id=parts[0],
            graph_ids=tuple(parts),
            channel=name,
        )

    def _graph_with_channel(self, name: str, graph: str | None) -> _Graph:
        if graph is not None:
            owner = self._graph_for(graph, None)
            if name not in owner.channels:
                raise ChannelNotFoundError(
                    f"no channel '{name}' in graph {owner.id}; channels: "
                    f"{', '.join(sorted(owner.channels)) or 'none'}"
                )
            return owner
        owners = [g for g in self._graphs.values() if name in g.channels]
        if not owners:
            known = sorted({c for g in self._graphs.values() for c in g.channels})
            raise ChannelNotFoundError(
                f"no channel '{name}' in any graph; channels: {', '.join(known) or 'none'}"
            )
        if len(owners) > 1:
            raise TerrariumError(
                f"several graphs have a channel '{name}' "
                f"({', '.join(sorted(g.id for g in owners))}); pass graph="
            )
        return owners[0]

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
        _check_direction(direction)
        handle = self._handle(creature)
        where = self._graph_for(graph, creature)
        target = where.channels.get(channel)
        if target is None:
            if not create:
                raise ChannelNotFoundError(_missing_channel(channel, where, handle.id))
            target = self._create_channel(where, channel, kind, description)
        delta = "nothing"
        if target.graph_id != handle.graph_id:
            self._merge(target.graph_id, handle.graph_id, reason="channel_edge")
            delta = "merge"
        self._set_edge(handle.id, target, direction, True)
        return GraphChange(
            delta=delta, graph_id=target.graph_id, graph_ids=(target.graph_id,), channel=channel
        )

    async def remove_edge(
        self, creature: str, channel: str, direction: str, *, graph: str | None = None
    ) -> GraphChange:
        """Take away *creature*'s listen or send edge on *channel*; its graph may split.

        Raises:
            ChannelNotFoundError: no such channel in the creature's graph (or *graph*).
        """
        self._check_open()
        _check_direction(direction)
        handle = self._handle(creature)
        where = self._graph_for(graph, creature)
        target = where.channels.get(channel)
        if target is None:
            raise ChannelNotFoundError(_missing_channel(channel, where, handle.id))
        self._set_edge(handle.id, target, direction, False)
        parts = self._split_if_needed(where.id, reason="channel_edge")
        return GraphChange(
            delta="split" if len(parts) > 1 else "nothing",
            graph_id=handle.graph_id,
            graph_ids=tuple(parts),
            channel=channel,
        )

    def _set_edge(self, creature_id: str, channel: Channel, direction: str, on: bool) -> None:
        if direction == "listen":
            if on and creature_id not in channel.listeners:
                channel.listeners.append(creature_id)
            elif not on and creature_id in channel.listeners:
                channel.listeners.remove(creature_id)
                if not self.is_privileged(creature_id):
                    channel.close_taps(creature_id)
            else:
                return
        else:
            if on == (creature_id in channel.senders):
                return
            (channel.senders.add if on else channel.senders.discard)(creature_id)
        self._touch()
        self._publish(
            ChannelEdgeChanged(
                creature=creature_id,
                channel=channel.name,
                direction=direction,
                added=on,
                graph_id=channel.graph_id,
            ),
            (channel.graph_id,),
        )
        if on and direction == "listen" and channel.kind == "queue":
            self._drain_backlog(channel)

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
        a, b = self._handle(sender), self._handle(receiver)
        if channel is not None:
            _check_channel_name(channel)
        delta = "nothing"
        if a.graph_id != b.graph_id:
            self._merge(a.graph_id, b.graph_id, reason="connect")
            delta = "merge"
        graph = self._graphs[a.graph_id]
        name = channel or self._free_channel_name(graph, f"{sender}__{receiver}")
        target = graph.channels.get(name) or self._create_channel(graph, name, kind, description)
        self._set_edge(a.id, target, "send", True)
        self._set_edge(b.id, target, "listen", True)
        return GraphChange(delta=delta, graph_id=graph.id, graph_ids=(graph.id,), channel=name)

    @staticmethod
    def _free_channel_name(graph: _Graph, base: str) -> str:
        name, n = base, 1
        while name in graph.channels:
            n += 1
            name = f"{base}_{n}"
        return name

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
        a, b = self._handle(sender), self._handle(receiver)
        if a.graph_id != b.graph_id:
            return GraphChange(graph_id=a.graph_id, graph_ids=(a.graph_id, b.graph_id))
        graph = self._graphs[a.graph_id]
        if channel is not None:
            if channel not in graph.channels:
                raise ChannelNotFoundError(_missing_channel(channel, graph, a.id))
            names = [channel]
        else:
            names = sorted(
                n for n, c in graph.channels.items() if a.id in c.senders and b.id in c.listeners
            )
        for name in names:
            self._set_edge(a.id, graph.channels[name], "send", False)
            self._set_edge(b.id, graph.channels[name], "listen", False)
        parts = self._split_if_needed(graph.id, reason="disconnect")
        return GraphChange(
            delta="split" if len(parts) > 1 else "nothing",
            graph_id=a.graph_id,
            graph_ids=tuple(parts),
            channels=tuple(names),
        )

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
        owner = self._graph_with_channel(channel, graph)
        if sender in owner.creatures:  # one of the graph's creatures: it sends (no edge check)
            return await self._send_from(
                sender,
                channel,
                content,
                reply_to=reply_to,
                metadata=metadata,
                check=False,
                graph=owner,
            )
        message, event = self._route(owner.channels[channel], content, sender, reply_to, metadata)
        self._publish(event, (owner.id,))
        return message

    async def _send_from(
        self,
        creature_id: str,
        channel: str,
        content: Any,
        *,
        reply_to: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        check: bool = True,
        graph: _Graph | None = None,
    ) -> ChannelMessage:
        handle = self._handle(creature_id)
        graph = graph or self._graphs[handle.graph_id]
        target = graph.channels.get(channel)
        if target is None:
            raise ChannelNotFoundError(_missing_channel(channel, graph, creature_id))
        if check and not handle.privileged and creature_id not in target.senders:
            allowed = sorted(n for n, c in graph.channels.items() if creature_id in c.senders)
            raise ChannelPermissionError(
                f"'{creature_id}' may not send on channel '{channel}'; it can send on: "
                f"{', '.join(allowed) or 'no channel'}. A privileged creature can allow it "
                f"with group_channel(action='wire', channel='{channel}', "
                f"creature='{creature_id}', direction='send')."
            )
        message, event = self._route(target, content, creature_id, reply_to, metadata)
        await handle.agent.emit(event)  # recorded and published by the creature link
        return message

    def _route(
        self,
        channel: Channel,
        content: Any,
        sender: str,
        reply_to: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> tuple[ChannelMessage, ChannelMessageSent]:
        """Deliver one message now; return it and its event (not yet published)."""
        message = ChannelMessage(
            channel=channel.name,
            content=content,
            sender=sender,
            graph_id=channel.graph_id,
            kind=channel.kind,
            reply_to=reply_to,
            metadata=dict(metadata or {}),
        )
        channel.history.append(message)
        channel.message_count += 1
        channel.feed_taps(message)
        delivered: list[str] = []
        queued = False
        if channel.kind == "broadcast":
            for creature_id in list(channel.listeners):
                if creature_id == sender or channel.has_tap(creature_id):
                    continue
                handle = self._creatures.get(creature_id)
                if handle is not None and self._deliver_message(handle, message):
                    delivered.append(creature_id)
        else:
            target = self._queue_target(channel, exclude=sender)
            if target is None:
                channel.backlog.append(message)
                queued = True
            else:
                self._deliver_message(target, message)
                delivered.append(target.id)
        event = ChannelMessageSent(
            creature=sender if sender in self._creatures else "",
            channel=channel.name,
            sender=sender,
            message_id=message.message_id,
            content=content,
            kind=channel.kind,
            graph_id=channel.graph_id,
            reply_to=reply_to,
            metadata=message.metadata,
            delivered_to=tuple(delivered),
            queued=queued,
        )
        return message, event

    def _queue_target(self, channel: Channel, *, exclude: str) -> CreatureHandle | None:
        candidates = [
            cid
            for cid in channel.listeners
            if cid != exclude
            and cid in self._creatures
            and self._creatures[cid].state in _LIVE
            and not channel.has_tap(cid)
        ]
        chosen = channel.next_listener(candidates)
        return self._creatures[chosen] if chosen is not None else None

    def _drain_backlog(self, channel: Channel) -> None:
        while channel.backlog:
            message = channel.backlog[0]
            target = self._queue_target(channel, exclude=message.sender)
            if target is None:
                return
            channel.backlog.popleft()
            self._deliver_message(target, message)

    def _drain_backlogs(self, handle: CreatureHandle) -> None:
        graph = self._graphs.get(handle.graph_id)
        if graph is None:
            return
        for channel in graph.channels.values():
            if channel.kind == "queue" and channel.backlog and handle.id in channel.listeners:
                self._drain_backlog(channel)

    def _deliver_message(self, handle: CreatureHandle, message: ChannelMessage) -> bool:
        text = CHANNEL_PROMPT.format(
            channel=message.channel, sender=message.sender, content=message.text
        )
        return self._deliver(handle, text, "channel")

    def _deliver(
        self,
        handle: CreatureHandle,
        text: str,
        source: str,
        *,
        count: bool = True,
        strict: bool = False,
    ) -> bool:
        """Queue a turn for *handle*: now when running, at start when not started yet."""
        if handle.state == "running" and handle.agent.is_running:
            handle.agent.inject(text, source=source)
        elif handle.state in ("new", "built", "starting"):
            handle._inbox.append((text, source))
        else:
            if strict:
                handle.agent.inject(text, source=source)  # raises the agent's own error
            return False
        if count:
            handle._queued += 1
        return True

    def _flush_inbox(self, handle: CreatureHandle) -> None:
        while handle._inbox:
            text, source = handle._inbox.popleft()
            handle.agent.inject(text, source=source)

    def _subscribe_for(
        self, creature_id: str, channel: str
    ) -> trio.MemoryReceiveChannel[ChannelMessage]:
        handle = self._handle(creature_id)
        graph = self._graphs[handle.graph_id]
        target = graph.channels.get(channel)
        if target is None:
            raise ChannelNotFoundError(_missing_channel(channel, graph, creature_id))
        if not handle.privileged and creature_id not in target.listeners:
            listening = sorted(n for n, c in graph.channels.items() if creature_id in c.listeners)
            raise ChannelPermissionError(
                f"'{creature_id}' may not listen on channel '{channel}'; it listens on: "
                f"{', '.join(listening) or 'no channel'}"
            )
        return target.open_tap(creature_id)

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
        handle = self._handle(target)
        text = DIRECT_PROMPT.format(sender=sender, content=content)
        if not self._deliver(handle, text, "direct"):
            return False
        await handle.agent.emit(DirectMessage(sender=sender, content=content))
        return True

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
        handle, receiver = self._handle(source), self._handle(target)
        edges = {h.id: [w.target for w in h.wires] for h in self._creatures.values()}
        loop = find_wiring_loop(edges, source, target)
        if loop is not None:
            allowed = (
                (allow_self_trigger or max_hops is not None)
                if source == target
                else max_hops is not None
            )
            if not allowed:
                chain = " -> ".join(loop)
                raise WiringLoopError(
                    f"wire {source} -> {target} closes the loop {chain}; pass max_hops=N to "
                    "bound it (for a wire to itself, allow_self_trigger=True), or remove a wire"
                )
        wire = Wire.from_spec(source, spec)
        for existing in handle.wires:
            if existing.edge_id == wire.edge_id:
                return existing
        if handle.graph_id != receiver.graph_id:
            self._merge(handle.graph_id, receiver.graph_id, reason="output_wire")
        handle.wires.append(wire)
        self._touch()
        self._publish(
            OutputWireAdded(
                creature=source,
                edge_id=wire.edge_id,
                target=target,
                with_content=with_content,
                max_hops=max_hops,
            ),
            (handle.graph_id,),
        )
        return wire

    async def unwire(self, source: str, wire: str) -> list[Wire]:
        """Remove *source*'s wires whose ``edge_id`` is *wire*, or whose target is *wire*.

        Returns:
            The wires removed (empty when none matched); the graph may split.
        """
        self._check_open()
        handle = self._handle(source)
        removed = [w for w in handle.wires if wire in (w.edge_id, w.target)]
        for item in removed:
            handle.wires.remove(item)
            self._publish(
                OutputWireRemoved(creature=source, edge_id=item.edge_id, target=item.target),
                (handle.graph_id,),
            )
        if removed:
            self._touch()
            self._split_if_needed(handle.graph_id, reason="output_wire")
        return removed

    async def _after_turn(self, handle: CreatureHandle, result: TurnResult) -> None:
        """Run *handle*'s output wires for the turn that just ended."""
        hops = handle._hops + 1
        for wire in list(handle.wires):
            target = self._creatures.get(wire.target)
            reason = None
            if target is None:
                reason = "unknown target"
            elif target.state not in _LIVE:
                reason = "target stopped"
            elif wire.max_hops is not None and hops > wire.max_hops:
                reason = f"hop limit {wire.max_hops} reached"
            if reason is not None or target is None:
                await handle.agent.emit(
                    OutputWireDropped(edge_id=wire.edge_id, target=wire.target, reason=reason or "")
                )
                continue
            content = (result.text or "").strip() if wire.with_content else ""
            text = _render_wire(wire, content=content, result=result, hops=hops)
            target._wire_hops.append(hops)
            self._deliver(target, text, "output_wire")
            await target.agent.emit(
                OutputWireDelivered(
                    source=handle.id,
                    edge_id=wire.edge_id,
                    with_content=wire.with_content,
                    content=content,
                    text=text,
                    status=result.status,
                    hops=hops,
                )
            )

    # -- Creature events -----------------------------------------------------------------------

    async def _on_creature_event(self, creature_id: str, event: Event) -> None:
        handle = self._creatures.get(creature_id)
        if handle is None or handle.state == "removed":
            return
        graph = self._graphs.get(handle.graph_id)
        if graph is not None and graph.store is not None:
            graph.store.append(self._record(event, graph.id))
        self._bus.publish(event, (handle.graph_id,), creature_event=True)
        if isinstance(event, TurnStarted):
            if event.source in _ENGINE_SOURCES and handle._queued:
                handle._queued -= 1
            handle._busy = True
            hops = 0
            if event.source == "output_wire" and handle._wire_hops:
                hops = handle._wire_hops.popleft()
            handle._hops = hops
        elif isinstance(event, TurnCompleted):
            try:
                if handle.state == "running":
                    await self._after_turn(handle, event.result)
            finally:
                handle._busy = False
                handle._hops = 0
                self._signal()

    @staticmethod
    def _record(event: Event, graph_id: str) -> dict[str, Any]:
        return {**to_wire(event), "graph_id": graph_id}

    def _publish(self, event: Event, graphs: Iterable[str]) -> None:
        """An engine event: into the stores of *graphs*, then onto the bus."""
        graphs = tuple(graphs)
        for graph_id in graphs:
            graph = self._graphs.get(graph_id)
            if graph is not None and graph.store is not None:
                graph.store.append(self._record(event, graph_id))
        self._bus.publish(event, graphs)

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
        topology, sessions), channel messages (:class:`kt.channels.ChannelMessageSent`), wire
        deliveries and drops, and direct messages. With ``creature_events=True``, every event
        of every creature too (turns, text, tools), as ``agent.subscribe()`` would give them.
        Filters combine with AND; ``None`` means any. Subscribing never consumes anything: a
        queue channel's message still goes to its listener. Close the channel when done
        (it is unbounded).

        Args:
            types: Event ``type`` names (``"channel_message"``, ``"turn_completed"`` ...).
            creatures: Creature ids (``event.creature``; engine-wide events have ``""``).
            graphs: Graph ids the event concerns.
            channels: Channel names (events with a ``channel`` field).
            creature_events: Include creatures' own events.

        Returns:
            An unbounded receive channel of events.
        """
        send, receive = trio.open_memory_channel[Event](math.inf)
        self._bus.subscriptions.append(
            _Subscription(
                send=send,
                types=frozenset(types) if types is not None else None,
                creatures=frozenset(creatures) if creatures is not None else None,
                graphs=frozenset(graphs) if graphs is not None else None,
                channels=frozenset(channels) if channels is not None else None,
                creature_events=creature_events,
            )
        )
        if self._state == "closed":
            send.close()
        return receive

    # -- Idleness ------------------------------------------------------------------------------

    def _signal(self) -> None:
        self._idle_changed.set()
        self._idle_changed = trio.Event()

    def _touch(self) -> None:
        """The graph (or a creature's state) changed: prompt sections must be recomputed."""
        self._version += 1

    @property
    def is_idle(self) -> bool:
        """Whether no hosted creature is running a turn or has an engine-queued turn waiting."""
        return all(
            not handle._busy and handle._queued == 0 and not handle._inbox
            for handle in self._creatures.values()
            if handle.state in ("running", "starting")
        )

    async def resume(self, session: str | os.PathLike[str], **options: Any) -> list[str]:
        """Rebuild a recorded graph into this running engine, through the session store.

        Creatures come back under their recorded ids with their conversations; channels,
        listen/send edges and output wires are restored, and recording goes on in a new
        session file linked to the old one. Use it on a fresh engine::

            async with kt_terrarium.Terrarium(session_dir=...) as engine:
                await engine.resume("swe_team_20261121-...")

        Args:
            session: The session file, or a name the store finds.
            **options: Store options (``llm=``, ``llm_selector=``, ``configs=``,
                ``session_dir=`` for ``kt_sessions``).

        Returns:
            The creature ids, in the order they were added.

        Raises:
            UnknownNameError: no loaded plugin provides a store that can resume a terrarium.
        """
        store = self.kernel.session_store(needs="resume_terrarium")
        return await store.resume_terrarium(session, self, **options)

    async def wait_idle(self) -> None:
        """Wait until every running creature is idle: no turn running, none queued by the engine.

        Turns queued by the engine (channel messages, wires, direct messages,
        ``handle.inject``) count from the moment they are queued; turns queued through the
        agent directly (``agent.inject``, triggers) count once they start. Cancelling the wait
        has no effect on the creatures.
        """
        while not self.is_idle:
            await self._idle_changed.wait()

    # -- Merging and splitting graphs ----------------------------------------------------------

    def _new_graph(
        self,
        *,
        origin: str,
        session: Any = None,
        parents: tuple[str, ...] = (),
        name: str = "",
        store_dir: Path | None = None,
        graph_id: str | None = None,
    ) -> _Graph:
        graph = _Graph(
            id=graph_id or _new_id("graph"),
            session_id=_new_id("session"),
            parents=parents,
            origin=origin,
            name=name,
        )
        if (
            session is not None
            and session is not False
            and session is not True
            and isinstance(session, GraphStore)
        ):
            graph.store = session
        else:
            directory = store_dir
            if directory is None and session is not False:
                if isinstance(session, str | os.PathLike):
                    directory = Path(session)
                elif self.session_dir is not None:
                    directory = self.session_dir
                elif session is True:
                    raise TerrariumError("session=True needs Terrarium(session_dir=...)")
            if directory is not None:
                graph.store = self.store_factory(directory, self._meta(graph))
        self._graphs[graph.id] = graph
        self._publish(
            GraphSessionStarted(
                graph_id=graph.id,
                session_id=graph.session_id,
                parent_session_ids=parents,
                origin=origin,
                path=str(graph.store.path) if graph.store and graph.store.path else None,
            ),
            (graph.id,),
        )
        return graph

    @staticmethod
    def _meta(graph: _Graph) -> dict[str, Any]:
        return {
            "session_id": graph.session_id,
            "graph_id": graph.id,
            "parent_session_ids": list(graph.parents),
            "origin": graph.origin,
            "name": graph.name,
            "created_at": time.time(),
        }

    def _store_dir(self, *graphs: _Graph) -> Path | None:
        """Where successors of *graphs* are persisted: ``None`` when none of them was."""
        stores = [g.store for g in graphs if g.store is not None]
        if not stores:
            return None
        if self.session_dir is not None:
            return self.session_dir
        for store in stores:
            if store.path is not None:
                return Path(store.path).parent
        return None

    def _merge(self, keep_id: str, other_id: str, *, reason: str) -> None:
        """Fold graph *other_id* into *keep_id* (which keeps its id); a new session begins."""
        keep, other = self._graphs[keep_id], self._graphs[other_id]
        clash = sorted(keep.channels.keys() & other.channels.keys())
        if clash:
            raise TopologyError(
                f"cannot join graphs {keep.id} and {other.id}: both have a channel named "
                f"{', '.join(repr(c) for c in clash)}; remove or rename one of them first"
            )
        directory = self._store_dir(keep, other)
        before = [
            (keep.session_id, keep.store, set(keep.creatures)),
            (other.session_id, other.store, set(other.creatures)),
        ]
        for channel in other.channels.values():
            channel.graph_id = keep.id
            keep.channels[channel.name] = channel
        for creature_id in other.creatures:
            self._creatures[creature_id].graph_id = keep.id
        keep.creatures |= other.creatures
        del self._graphs[other.id]
        parents = (keep.session_id, other.session_id)
        keep.session_id = _new_id("session")
        keep.parents = parents
        keep.origin = "merge"
        keep.name = keep.name or other.name
        keep.store = None
        if directory is not None:
            store = self.store_factory(directory, self._meta(keep))
            for session_id, old, members in before:
                if old is not None:
                    _copy_records(old, store, session_id=session_id)
                    old.close()
                else:  # never persisted: record where its creatures' conversations stand
                    for creature_id in sorted(members):
                        store.append(self._snapshot(creature_id, keep.id))
            keep.store = store
        self._touch()
        self._publish(
            TopologyChanged(
                kind="merge",
                old_graph_ids=(keep.id, other.id),
                new_graph_ids=(keep.id,),
                affected=tuple(sorted(keep.creatures)),
                reason=reason,
            ),
            (keep.id,),
        )
        self._publish(
            GraphSessionStarted(
                graph_id=keep.id,
                session_id=keep.session_id,
                parent_session_ids=parents,
                origin="merge",
                path=str(keep.store.path) if keep.store and keep.store.path else None,
            ),
            (keep.id,),
        )

    def _snapshot(self, creature_id: str, graph_id: str) -> dict[str, Any]:
        agent = self._creatures[creature_id].agent
        event = HistoryReplaced(
            creature=creature_id,
            turn_index=agent.turn_index,
            messages=tuple(agent.history),
            reason="joined_persisted_graph",
        )
        return self._record(event, graph_id)

    def _components(self, graph: _Graph) -> list[set[str]]:
        parent = {cid: cid for cid in graph.creatures}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[rb] = ra

        for channel in graph.channels.values():
            members = [cid for cid in channel.members() if cid in parent]
            for other in members[1:]:
                union(members[0], other)
        for cid in graph.creatures:
            handle = self._creatures[cid]
            for wire in handle.wires:
                if wire.target in parent:
                    union(cid, wire.target)
            if handle.parent in parent:
                union(cid, handle.parent)
        groups: dict[str, set[str]] = {}
        for cid in graph.creatures:
            groups.setdefault(find(cid), set()).add(cid)
        return list(groups.values())

    def _split_if_needed(self, graph_id: str, *, reason: str) -> list[str]:
        """Split *graph_id* into its connected components; return the resulting ids.

        The component that keeps the id: the one with a privileged creature, else the
        largest; ties go to the one with the alphabetically first creature id. Channels go
        with their members; channels nobody uses stay with the kept graph.
        """
        graph = self._graphs.get(graph_id)
        if graph is None:
            return []
        parts = self._components(graph)
        if len(parts) <= 1:
            self._publish(
                TopologyChanged(
                    kind="nothing",
                    old_graph_ids=(graph.id,),
                    new_graph_ids=(graph.id,),
                    affected=tuple(sorted(graph.creatures)),
                    reason=reason,
                ),
                (graph.id,),
            )
            return [graph.id]
        parts.sort(
            key=lambda part: (
                not any(self._creatures[c].privileged for c in part),
                -len(part),
                min(part),
            )
        )
        directory = self._store_dir(graph)
        old_store, parent_session = graph.store, graph.session_id
        records = list(old_store.records()) if old_store is not None else []
        if old_store is not None:
            old_store.close()
        kept, *others = parts
        results = [graph]
        for part in others:
            piece = _Graph(id=_new_id("graph"), session_id="", name=graph.name, creatures=set(part))
            for name, channel in list(graph.channels.items()):
                if channel.members() & part:
                    channel.graph_id = piece.id
                    piece.channels[name] = graph.channels.pop(name)
            for creature_id in part:
                self._creatures[creature_id].graph_id = piece.id
            graph.creatures -= part
            self._graphs[piece.id] = piece
            results.append(piece)
        for piece in results:  # a creature's subscription ends when it leaves the channel's graph
            for channel in piece.channels.values():
                for tap in list(channel.taps):
                    if tap.owner is not None and tap.owner not in piece.creatures:
                        channel.close_taps(tap.owner)
        for piece in results:
            piece.session_id = _new_id("session")
            piece.parents = (parent_session,)
            piece.origin = "split"
            piece.store = None
            if directory is not None:
                # Each part gets its own creatures' records and the graph's; the part that
                # keeps the id also gets those of creatures that left (a removed bridge).
                piece.store = self.store_factory(directory, self._meta(piece))
                members = piece.creatures
                for record in records:
                    creature = record.get("creature", "")
                    if (
                        not creature
                        or creature in members
                        or (piece is graph and creature not in self._creatures)
                    ):
                        piece.store.append(
                            {**record, "copied_from": record.get("copied_from", parent_session)}
                        )
        self._touch()
        new_ids = tuple(piece.id for piece in results)
        self._publish(
            TopologyChanged(
                kind="split",
                old_graph_ids=(graph.id,),
                new_graph_ids=new_ids,
                affected=tuple(sorted(kept | set().union(*others))),
                reason=reason,
            ),
            new_ids,
        )
        for piece in results:
            self._publish(
                GraphSessionStarted(
                    graph_id=piece.id,
                    session_id=piece.session_id,
                    parent_session_ids=(parent_session,),
                    origin="split",
                    path=str(piece.store.path) if piece.store and piece.store.path else None,
                ),
                (piece.id,),
            )
        return list(new_ids)

    def _drop_graph(self, graph: _Graph) -> None:
        for channel in graph.channels.values():
            channel.close_taps()
        if graph.store is not None:
            graph.store.close()
        del self._graphs[graph.id]
        self._touch()

    def _graph_of_creature(self, creature_id: str) -> _Graph:
        return self._graphs[self._handle(creature_id).graph_id]

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
        """Populate the engine from a recipe (see :mod:`kt.recipes`) and start its creatures.

        In order: every creature is built (a failure leaves the engine unchanged); the
        channels are declared (the recipe's, a direct channel per creature, and
        ``report_to_root`` with a root); each creature listens on its ``listen`` channels and
        its direct channel and may send on its ``can_send`` channels and on
        ``report_to_root``; the root listens on ``report_to_root``, its own channel, every
        broadcast channel and every queue channel nobody else listens on; the output wires
        are added; then every creature starts. Messages sent while the others are still
        starting wait for them.

        Args:
            recipe: A :class:`kt.recipes.Recipe`, a recipe folder or file, an ``@pack/path``
                reference, or a mapping.
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
        taken = [
            c.name for c in recipe.creatures if c.name in self._creatures.keys() | self._reserved
        ]
        if taken:
            raise CreatureExistsError(
                f"recipe '{recipe.name}' has creature(s) {', '.join(taken)} whose ids are "
                "taken in this engine; remove them first, or use another engine"
            )
        ids = {c.name for c in recipe.creatures}
        self._reserved |= ids
        try:
            return await self._apply(
                recipe, llm=llm, llm_selector=llm_selector, pwd=pwd, session=session, start=start
            )
        finally:
            self._reserved -= ids

    async def _apply(
        self,
        recipe: Recipe,
        *,
        llm: Any,
        llm_selector: str | None,
        pwd: str | os.PathLike[str] | None,
        session: Any,
        start: bool,
    ) -> AppliedRecipe:
        workdir = Path(pwd).resolve() if pwd is not None else self.pwd
        handles: list[CreatureHandle] = []
        for creature in recipe.creatures:
            handle = CreatureHandle(
                self,
                creature_id=creature.name,
                config=creature.config,
                build=_BuildArgs(
                    llm=_pick_llm(llm, creature.name, creature.config),
                    llm_selector=llm_selector,
                    pwd=workdir,
                ),
                privileged=creature.privileged or creature.is_root,
                parent=None,
            )
            try:
                await self._build(handle)
            except ConfigError as error:
                raise relocate_config_error(
                    error, prefix=creature.path, file=recipe.file, creature=creature.name
                ) from error
            handles.append(handle)
        graph = self._new_graph(origin="recipe", session=session, name=recipe.name)
        for declared in recipe.channels:
            self._create_channel(graph, declared.name, declared.kind, declared.description)
        for handle in handles:
            self._place(handle, graph)
        for warning in recipe.warnings:
            self._publish(
                AgentWarning(message=warning, source=f"recipe:{recipe.name}"), (graph.id,)
            )
        root = recipe.root
        for creature in recipe.creatures:
            if creature.is_root:
                continue
            for name in (*creature.listen, creature.name):
                self._set_edge(creature.name, graph.channels[name], "listen", True)
            for name in (*creature.can_send, *((REPORT_CHANNEL,) if root else ())):
                self._set_edge(creature.name, graph.channels[name], "send", True)
        if root is not None:
            spec = recipe.creature(root)
            hears = {REPORT_CHANNEL, root, *spec.listen}
            for channel in graph.channels.values():
                if channel.kind == "broadcast" or not channel.listeners:
                    hears.add(channel.name)
            for name in sorted(hears):
                self._set_edge(root, graph.channels[name], "listen", True)
            for name in spec.can_send:
                self._set_edge(root, graph.channels[name], "send", True)
        for creature in recipe.creatures:
            handle = self._creatures[creature.name]
            for wire_spec in creature.output_wiring:
                wire = Wire.from_spec(creature.name, wire_spec)
                handle.wires.append(wire)
                self._publish(
                    OutputWireAdded(
                        creature=creature.name,
                        edge_id=wire.edge_id,
                        target=wire.target,
                        with_content=wire.with_content,
                        max_hops=wire.max_hops,
                    ),
                    (graph.id,),
                )
        self._touch()
        graph_ids = self._split_if_needed(graph.id, reason="recipe")
        if start:
            try:
                for handle in handles:
                    await self._start(handle)
            except BaseException:  # all or nothing: take the recipe's creatures out again
                with trio.move_on_after(STOP_DEADLINE, shield=True):
                    for handle in handles:
                        if handle.id in self._creatures:
                            await self.remove_creature(handle.id)
                raise
        return AppliedRecipe(
            name=recipe.name,
            root=root,
            creature_ids=tuple(h.id for h in handles),
            graph_ids=tuple(graph_ids),
            warnings=recipe.warnings,
        )

    # -- Reading the state ---------------------------------------------------------------------

    def _edges(self, creature_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        handle = self._handle(creature_id)
        graph = self._graphs.get(handle.graph_id)
        if graph is None:
            return (), ()
        listen = tuple(sorted(n for n, c in graph.channels.items() if creature_id in c.listeners))
        send = tuple(sorted(n for n, c in graph.channels.items() if creature_id in c.senders))
        return listen, send

    def graphs(self) -> list[GraphInfo]:
        """Every graph, sorted by id."""
        return [self.graph(graph_id) for graph_id in sorted(self._graphs)]

    def graph(self, graph_id: str) -> GraphInfo:
        """One graph.

        Raises:
            TerrariumError: no such graph.
        """
        graph = self._graph_for(graph_id, None)
        wires = sorted(
            (w for cid in graph.creatures for w in self._creatures[cid].wires),
            key=lambda w: w.edge_id,
        )
        return GraphInfo(
            graph_id=graph.id,
            creature_ids=tuple(sorted(graph.creatures)),
            channels=tuple(graph.channels[n].info() for n in sorted(graph.channels)),
            wires=tuple(wires),
            session_id=graph.session_id,
            parent_session_ids=graph.parents,
            origin=graph.origin,
            store_path=Path(graph.store.path) if graph.store and graph.store.path else None,
            name=graph.name,
        )

    def status(self, creature: str | None = None) -> dict[str, Any]:
        """The engine's state as plain data (for UIs and the HTTP API).

        Args:
            creature: One creature's id, for its status only.

        Returns:
            For one creature: ``id``, ``graph_id``, ``state``, ``running``, ``busy``,
            ``privileged``, ``parent``, ``listen``, ``send``, ``wires``, ``pwd``, ``model``,
            ``turn_index``, ``tools``. For the engine: ``{"running", "creatures": {id:
            status}, "graphs": {id: {"creature_ids", "channels", "session_id",
            "parent_session_ids"}}}``, every list sorted.

        Raises:
            CreatureNotFoundError: *creature* is not hosted.
        """
        if creature is not None:
            handle = self._handle(creature)
            listen, send = self._edges(creature)
            agent = handle._agent
            return {
                "id": handle.id,
                "graph_id": handle.graph_id,
                "state": handle.state,
                "running": handle.is_running,
                "busy": handle._busy,
                "privileged": handle.privileged,
                "parent": handle.parent,
                "listen": list(listen),
                "send": list(send),
                "wires": [w.as_dict() for w in sorted(handle.wires, key=lambda w: w.edge_id)],
                "pwd": str(agent.working_dir) if agent else None,
                "model": agent.llm_name if agent else None,
                "turn_index": agent.turn_index if agent else 0,
                "tools": sorted(agent.tools) if agent else [],
            }
        return {
            "running": self._state == "open",
            "creatures": {cid: self.status(cid) for cid in sorted(self._creatures)},
            "graphs": {
                graph.id: {
                    "creature_ids": sorted(graph.creatures),
                    "channels": sorted(graph.channels),
                    "session_id": graph.session_id,
                    "parent_session_ids": list(graph.parents),
                }
                for graph in sorted(self._graphs.values(), key=lambda g: g.id)
            },
        }

    def prompt_snapshot(self, creature_id: str) -> dict[str, Any] | None:
        """What :func:`kt.graph_tools.describe_graph` needs for *creature_id* (``None``: gone)."""
        handle = self._creatures.get(creature_id)
        graph = self._graphs.get(handle.graph_id) if handle else None
        if handle is None or graph is None:
            return None
        listen, send = self._edges(creature_id)
        channels = {
            name: {"kind": c.kind, "description": c.description}
            for name, c in graph.channels.items()
        }
        wires_in = sorted(
            {h.id for h in self._creatures.values() for w in h.wires if w.target == creature_id}
        )
        snapshot: dict[str, Any] = {
            "creature": creature_id,
            "members": sorted(graph.creatures),
            "listen": list(listen),
            "send": list(graph.channels) if handle.privileged else list(send),
            "wires_out": [
                {"to": w.target, "with_content": w.with_content}
                for w in sorted(handle.wires, key=lambda w: (w.target, w.edge_id))
            ],
            "wires_in": wires_in,
            "privileged": handle.privileged,
            "channels": channels,
            "creatures": [],
        }
        if handle.privileged:
            snapshot["send"] = sorted(graph.channels)
            for cid in sorted(graph.creatures):
                other_listen, other_send = self._edges(cid)
                other = self._creatures[cid]
                snapshot["creatures"].append(
                    {
                        "id": cid,
                        "running": other.state in ("running", "starting"),
                        "privileged": other.privileged,
                        "listen": list(other_listen),
                        "send": list(other_send),
                    }
                )
        return snapshot

    def group_snapshot(self, creature_id: str, *, history: int = 0) -> dict[str, Any]:
        """What ``group_status`` shows *creature_id* about its group.

        Args:
            creature_id: The asking creature.
            history: Latest messages to include per channel (0: none).

        Returns:
            ``graph_id``, ``self``, ``creatures``, ``channels``, ``wires`` (plain data).
        """
        handle = self._handle(creature_id)
        graph = self._graphs[handle.graph_id]
        creatures = []
        for cid in sorted(self.group(creature_id)):
            other = self._creatures[cid]
            listen, send = self._edges(cid)
            creatures.append(
                {
                    "id": cid,
                    "running": other.is_running,
                    "busy": other._busy,
                    "privileged": other.privileged,
                    "parent": other.parent,
                    "graph_id": other.graph_id,
                    "in_my_graph": other.graph_id == graph.id,
                    "listen": list(listen),
                    "send": list(send),
                }
            )
        channels = []
        for name in sorted(graph.channels):
            channel = graph.channels[name]
            entry: dict[str, Any] = {
                "name": name,
                "kind": channel.kind,
                "description": channel.description,
                "listeners": list(channel.listeners),
                "senders": sorted(channel.senders),
                "messages": channel.message_count,
                "backlog": len(channel.backlog),
            }
            if history:
                entry["history"] = [
                    graph_tools.history_entry(m) for m in list(channel.history)[-history:]
                ]
            channels.append(entry)
        wires = [w.as_dict() for cid in sorted(graph.creatures) for w in self._creatures[cid].wires]
        return {
            "graph_id": graph.id,
            "self": {"id": creature_id, "privileged": handle.privileged},
            "creatures": creatures,
            "channels": channels,
            "wires": wires,
        }


# -- Helpers ------------------------------------------------------------------------------------


def _check_channel_name(name: str) -> None:
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.:>-]*$", name):
        raise TerrariumError(
            f"invalid channel name {name!r}: use letters, digits, '_', '-', '.' or ':'"
        )


def _check_direction(direction: str) -> None:
    if direction not in ("listen", "send"):
        raise TerrariumError(f"direction is 'listen' or 'send', not {direction!r}")


def _missing_channel(name: str, graph: _Graph, creature_id: str) -> str:
    listed = ", ".join(f"{n} ({graph.channels[n].kind})" for n in sorted(graph.channels)) or "none"
    return (
        f"no channel '{name}' in the graph of '{creature_id}'; its channels: {listed}. "
        "Use one of these names; channels are not created by sending."
    )


def _pick_llm(llm: Any, creature_id: str, config: CreatureConfig) -> Any:
    if llm is None or hasattr(llm, "stream"):
        return llm
    if isinstance(llm, Mapping):
        return llm.get(creature_id)
    return llm(creature_id, config)


def _copy_records(source: GraphStore, target: GraphStore, *, session_id: str) -> None:
    for record in source.records():
        target.append({**record, "copied_from": record.get("copied_from", session_id)})


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _render_wire(wire: Wire, *, content: str, result: TurnResult, hops: int) -> str:
    values = {
        "source": wire.source,
        "target": wire.target,
        "content": content,
        "status": result.status,
        "turn_index": result.turn_index,
        "hops": hops,
        "with_content": wire.with_content,
    }
    template = wire.prompt
    if template is None:
        template = DEFAULT_WIRE_PROMPT if wire.with_content else DEFAULT_PING_PROMPT
    if wire.prompt_format == "jinja":
        from jinja2.sandbox import SandboxedEnvironment  # checked when the wire was added

        return SandboxedEnvironment().from_string(template).render(**values).strip()
    return template.format_map(_Blank(values)).strip()
