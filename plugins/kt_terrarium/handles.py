"""Creature handles: what the engine and its users hold for each hosted creature.

A :class:`CreatureHandle` is a creature's place in the engine: its id, config, graph, edges and
wires, its lifecycle state, and the engine's bookkeeping of its turns (:class:`TurnAccounting`,
which ``wait_idle`` reads). Its *body* runs it: a :class:`kt_terrarium.hosting.LocalBody` (a
:class:`kt.Agent` in this process) or a :class:`kt_terrarium.remote.RemoteBody` (a creature
placed through a transport). The handle drives both the same way, so channels, wires and users
never know the difference.

:class:`CreatureLink` is the engine's per-creature plugin on a local agent: it hands each event
to the engine and keeps the terrarium section of the prompt current.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import trio

from kt import Agent, TurnStream
from kt.events import Event
from kt.plugins import hookimpl
from kt.results import TurnResult
from kt.tools import ToolContext, ToolResult, ToolSpec, tool
from kt_compose.errors import ComposeError
from kt_compose.steps import Runnable
from kt_terrarium.channels import ChannelMessage
from kt_terrarium.graph_tools import SectionKeeper, describe_graph

if TYPE_CHECKING:
    from kt.config import CreatureConfig
    from kt_terrarium.engine import Terrarium
    from kt_terrarium.routing import ChannelRouter
    from kt_terrarium.state import EngineState
    from kt_terrarium.wiring import Wire

__all__ = ["CreatureBody", "CreatureHandle", "CreatureLink", "EventSink", "TurnAccounting"]

EventSink = Callable[[str, Event], Awaitable[None]]
"""``sink(creature_id, event)``: what the engine does with each event of a hosted creature."""


class CreatureBody(Protocol):
    """What runs a hosted creature; the handle drives every body the same way.

    Attributes:
        accepting: Whether turns can be queued now (the creature runs).
        turn_index: Its latest turn.
        history: Its conversation so far.
        working_dir: Its working directory, when known.
        model: Its model's name, when known.
        tools: Its tool names.
    """

    accepting: bool
    turn_index: int
    history: list[Any]
    working_dir: Any
    model: str | None
    tools: list[str]

    @property
    def agent(self) -> Agent:
        """The creature's :class:`kt.Agent`, when it lives in this process."""

    async def build(self) -> None:
        """Build (or rebuild, keeping the conversation) what runs the creature."""

    def running(self) -> Any:
        """An async context manager: the creature runs inside it."""

    async def aclose(self) -> None:
        """Release a creature that was built but never started."""

    def owns(self, agent: Any) -> bool:
        """Whether *agent* is this creature's agent."""

    def inject(self, text: str, source: str) -> None:
        """Queue a turn nobody awaits."""

    async def emit(self, event: Event) -> None:
        """Publish an engine event as one of the creature's events."""

    async def run(self, input: Any, **options: Any) -> TurnResult:
        """Run one turn and return its result."""

    def run_stream(self, input: Any, **options: Any) -> Any:
        """Queue one turn and stream its events."""

    def interrupt(self) -> None:
        """Interrupt the running turn, if any."""


@attrs.define(eq=False)
class TurnAccounting:
    """The engine's bookkeeping of one creature's turns (what ``wait_idle`` waits for).

    Attributes:
        inbox: Turns ``(text, source)`` for a creature that has not started yet.
        queued: Turns the engine queued that have not started.
        waiting: The same turns, by ``TurnStarted.source``.
        wire_hops: Hop counts of queued output-wire turns, in order.
        hops: The hop count of the running turn.
        busy: Whether a turn runs.
    """

    inbox: deque[tuple[str, str]] = attrs.Factory(deque)
    queued: int = 0
    waiting: Counter[str] = attrs.Factory(Counter)
    wire_hops: deque[int] = attrs.Factory(deque)
    hops: int = 0
    busy: bool = False

    @property
    def idle(self) -> bool:
        """No turn running, none queued by the engine."""
        return not self.busy and not self.queued and not self.inbox

    def count(self, source: str) -> None:
        """The engine queued a turn from *source*."""
        self.waiting[source] += 1
        self.queued += 1

    def started(self, source: str) -> None:
        """A turn from *source* started: one engine-queued turn of that source, if any, ran."""
        if self.waiting[source] > 0:
            self.waiting[source] -= 1
            self.queued -= 1

    def reset(self) -> None:
        """The creature stopped: nothing runs or waits any more (the inbox is kept)."""
        self.waiting.clear()
        self.queued = 0
        self.busy = False
        self.wire_hops.clear()


class CreatureHandle:
    """A creature hosted by a :class:`~kt_terrarium.Terrarium`: its place in the graph, controls.

    ``run``, ``run_stream`` and ``interrupt`` are its agent's own (see :class:`kt.Agent`),
    wherever the agent runs. The handle outlives its agent: a stopped creature started again
    gets a new agent that keeps the conversation.

    Attributes:
        id: The creature's id, unique in the engine; also its agent's name.
        engine: The engine hosting it.
        config: Its creature config (``name`` is :attr:`id`).
        parent: The id of the creature that spawned it, or ``None``.
        privileged: Whether it has the graph tools.
        transport: The transport hosting it, or ``None`` for this process.
        graph_id: Its graph.
        state: ``new``, ``built``, ``starting``, ``running``, ``stopping``, ``stopped`` or
            ``removed``.
        wires: Its output wires.
        turns: The engine's bookkeeping of its turns.
        body: What runs it.
        link: The engine's plugin on its local agent.
        source: The config it was built from, when that was a path (absolute) or an
            ``@pack/path`` reference; ``None`` for a dict or a ``CreatureConfig``.
        recorded_session: For a creature taken back by :meth:`Terrarium.adopt`: the session
            file its graph was recorded in by the engine before (``None``: none, or not
            adopted). Resuming it with ``hosted=`` brings back the graph's local creatures.
    """

    def __init__(
        self,
        engine: Terrarium,
        *,
        creature_id: str,
        config: CreatureConfig,
        privileged: bool,
        parent: str | None,
        engine_state: EngineState,
        router: ChannelRouter,
        sink: EventSink,
        transport: str | None = None,
    ) -> None:
        self.id = creature_id
        self.engine = engine
        self.config = config
        self.parent = parent
        self.privileged = privileged
        self.transport = transport
        self.graph_id = ""
        self.state = "new"  # new -> built -> starting -> running -> stopping -> stopped | removed
        self.wires: list[Wire] = []
        self.turns = TurnAccounting()
        self.body: CreatureBody = _Unbuilt(creature_id)
        self.link = CreatureLink(self, engine_state, sink)
        self.stop_requested = trio.Event()
        self.stopped = trio.Event()
        self.source: str | None = None
        self.recorded_session: str | None = None
        self._engine_state = engine_state
        self._router = router

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
        """The creature's current :class:`kt.Agent`.

        Raises:
            TransportError: the creature is hosted through a transport: its agent lives there.
        """
        return self.body.agent

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
        return self._engine_state.edges(self.id)[0]

    @property
    def send_channels(self) -> tuple[str, ...]:
        """The channels it may send on, sorted."""
        return self._engine_state.edges(self.id)[1]

    def status(self) -> dict[str, Any]:
        """Its status as plain data (see ``Terrarium.status``)."""
        return self.engine.status(self.id)

    # -- Driving it ----------------------------------------------------------------------------

    async def run(self, input: Any, **options: Any) -> TurnResult:
        """Run one turn and return its result: ``Agent.run`` (same arguments, same contract)."""
        return await self.body.run(input, **options)

    def run_stream(self, input: Any, **options: Any) -> TurnStream:
        """Queue one turn and stream its events: ``Agent.run_stream``."""
        return self.body.run_stream(input, **options)

    def interrupt(self) -> None:
        """Interrupt its running turn, if any: ``Agent.interrupt``."""
        self.body.interrupt()

    def inject(self, input: str, *, source: str = "user") -> None:
        """Queue a turn nobody awaits, counted by ``engine.wait_idle()``.

        Raises:
            AgentStoppedError: when the creature is stopped.
        """
        self.queue_turn(input, source, strict=True)

    def queue_turn(
        self, text: str, source: str, *, count: bool = True, strict: bool = False
    ) -> bool:
        """Queue a turn: now when it runs, at its start when it has not started yet.

        Args:
            text: The turn's input.
            source: Its ``TurnStarted.source`` (``channel``, ``output_wire``, ``direct``, ...).
            count: Count it for ``wait_idle`` from now on.
            strict: For a stopped creature, raise its agent's error instead of returning
                ``False``.

        Returns:
            Whether the turn was queued (``False``: the creature is stopped).
        """
        if self.state == "running" and self.body.accepting:
            self.body.inject(text, source)
        elif self.state in ("new", "built", "starting"):
            self.turns.inbox.append((text, source))
        else:
            if strict:
                self.body.inject(text, source)  # raises the agent's own error
            return False
        if count:
            self.turns.count(source)
        return True

    def flush_inbox(self) -> None:
        """Give the creature the turns that waited for its start."""
        while self.turns.inbox:
            text, source = self.turns.inbox.popleft()
            self.body.inject(text, source)

    async def send(self, channel: str, content: Any, **options: Any) -> ChannelMessage:
        """Send on *channel* as this creature (its send edges apply; see ``ChannelService``)."""
        return await self._router.send_from(self.id, channel, content, **options)

    def subscribe(self, channel: str) -> trio.MemoryReceiveChannel[ChannelMessage]:
        """Subscribe as this creature (see :meth:`kt_terrarium.ChannelService.subscribe`)."""
        return self._router.subscribe_for(self.id, channel)

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
            if ctx.agent is not None and handle.body.owns(ctx.agent):
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
        """This creature as a :mod:`kt_compose` step: ``str`` in, final text out.

        The step uses the hosted agent (its conversation carries on between runs) and
        raises like ``kt_compose.agent`` stages when a turn does not complete, so ``|`` and
        ``*`` react. ``await (engine["writer"].step() >> engine["critic"].step())("...")``.

        Args:
            timeout: Limit per turn in seconds (``None``: the config's).

        Returns:
            A runnable.
        """
        return _HostedStep(self, timeout)

    def __repr__(self) -> str:
        where = f" transport={self.transport!r}" if self.transport else ""
        return f"<CreatureHandle {self.id!r} graph={self.graph_id!r} state={self.state}{where}>"


class CreatureLink(SectionKeeper):
    """The engine's per-creature plugin: events, turn ends and the graph prompt section.

    Registered on each creature hosted in this process (``plugins=``), so its hooks see that
    creature only: ``kt_event`` hands events to the engine (recorded in the graph's store,
    published on the bus, turn ends run the output wiring); ``kt_prompt_sections`` and
    ``kt_pre_llm_call`` keep the terrarium section of the system prompt current. Also in the
    creature's stash under :data:`kt_terrarium.graph_tools.LINK`, so the graph tools find the
    engine.

    Attributes:
        engine: The engine.
        creature_id: The creature's id.
    """

    kt_plugin_name = "kt_terrarium"

    def __init__(self, handle: CreatureHandle, engine_state: EngineState, sink: EventSink) -> None:
        self.engine = handle.engine
        self.creature_id = handle.id
        self._handle = handle
        self._engine_state = engine_state
        self._sink = sink
        self._cache: tuple[int, str] = (-1, "")

    @hookimpl(trylast=True)  # after persistence plugins: the event is recorded before it fans out
    async def kt_event(self, event: Event, creature: Agent) -> None:
        """Record, publish and act on one of the creature's events."""
        if self.owns(creature):
            await self._sink(self.creature_id, event)

    def owns(self, creature: Agent) -> bool:
        """Whether *creature* is the hosted agent (a plugin object could be shared further)."""
        handle = self._handle
        return self._engine_state.creatures.get(self.creature_id) is handle and handle.body.owns(
            creature
        )

    def section_text(self) -> str:
        """The current terrarium section (cached until the graph changes)."""
        version = self._engine_state.version
        if self._cache[0] != version:
            snapshot = self.engine.prompt_snapshot(self.creature_id)
            text = describe_graph(snapshot) if snapshot else ""
            self._cache = (version, text)
        return self._cache[1]


class _Unbuilt:
    """The body of a handle whose creature is not built yet: nothing runs, nothing is queued."""

    accepting = False
    turn_index = 0
    working_dir = None
    model = None

    def __init__(self, creature_id: str) -> None:
        self.creature_id = creature_id
        self.history: list[Any] = []
        self.tools: list[str] = []

    @property
    def agent(self) -> Agent:
        raise AssertionError(f"creature '{self.creature_id}' has no agent yet")

    def owns(self, agent: Any) -> bool:
        return False

    def interrupt(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


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
