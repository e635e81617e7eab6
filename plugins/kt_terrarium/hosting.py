"""Hosting creatures: building them, their lifetime in the engine's nursery, and their events.

:class:`Hosting` is the engine's part that turns a config into a hosted creature and runs it:
one task per creature owns its body (``async with body.running()``) until the creature is asked
to stop. Every event of a hosted creature comes back through :meth:`Hosting.on_event`: it is
recorded in the graph's store, published on the bus, counted for ``wait_idle``, and a turn's end
runs the creature's output wires.

:class:`LocalBody` runs a creature in this process as a :class:`kt.Agent`; creatures hosted
through a transport get a :class:`kt_terrarium.remote.RemoteBody` instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kt import Agent, TurnStream
from kt.config import CreatureConfig, load_creature_config
from kt.errors import ConfigError
from kt.events import ErrorOccurred, Event, TurnCompleted, TurnStarted
from kt.results import TurnResult
from kt_terrarium import graph_tools
from kt_terrarium.channels import CHANNELS
from kt_terrarium.errors import CreatureExistsError, TerrariumError
from kt_terrarium.events import CreatureAdded
from kt_terrarium.handles import CreatureBody, CreatureHandle
from kt_terrarium.persistence import record
from kt_terrarium.routing import ChannelRouter, CreatureChannels
from kt_terrarium.state import EngineState
from kt_terrarium.transport import Link, Placement, config_from_wire, config_to_wire
from kt_terrarium.wiring import OutputWiring

if TYPE_CHECKING:
    from kt import Kernel
    from kt_terrarium.engine import Terrarium
    from kt_terrarium.graphs import Graph
    from kt_terrarium.remote import TransportPool

__all__ = ["STOP_DEADLINE", "BuildArgs", "Hosting", "LocalBody"]

STOP_DEADLINE = 10.0
"""Seconds the engine waits, shielded, for creatures to stop (on exit, or after a failed start)."""

_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@attrs.define(eq=False)
class BuildArgs:
    """What is needed to build (and rebuild) a creature's agent besides its config."""

    llm: Any = None
    llm_selector: str | None = None
    tools: tuple[Any, ...] = ()
    plugins: tuple[Any, ...] = ()
    pwd: Path | None = None
    output: Any = None


class LocalBody:
    """A creature run in this process: a :class:`kt.Agent` built with the engine's kernel.

    Args:
        handle: The creature.
        args: How to build it.
        kernel: The engine's plugin set.
        env: Variables for ``${VAR}`` interpolation.
        default_llm: The engine's model for *handle* when ``args.llm`` is ``None``.
        service: Its channel service (put in its stash).
    """

    def __init__(
        self,
        handle: CreatureHandle,
        args: BuildArgs,
        *,
        kernel: Kernel,
        env: Mapping[str, str] | None,
        default_llm: Callable[[CreatureHandle], Any],
        service: CreatureChannels,
    ) -> None:
        self._handle = handle
        self._args = args
        self._kernel = kernel
        self._env = env
        self._default_llm = default_llm
        self._service = service
        self._agent: Agent | None = None

    # -- What it is ----------------------------------------------------------------------------

    @property
    def agent(self) -> Agent:
        """The current agent (a restart replaces it)."""
        assert self._agent is not None
        return self._agent

    @property
    def accepting(self) -> bool:
        """Whether its agent runs."""
        return self._agent is not None and self._agent.is_running

    @property
    def turn_index(self) -> int:
        """Its agent's turn counter."""
        return self._agent.turn_index if self._agent else 0

    @property
    def history(self) -> list[Any]:
        """Its agent's conversation."""
        return self._agent.history if self._agent else []

    @property
    def working_dir(self) -> Path | None:
        """Its agent's working directory."""
        return self._agent.working_dir if self._agent else None

    @property
    def model(self) -> str | None:
        """Its agent's model name."""
        return self._agent.llm_name if self._agent else None

    @property
    def tools(self) -> list[str]:
        """Its agent's tool names, sorted."""
        return sorted(self._agent.tools) if self._agent else []

    def owns(self, agent: Any) -> bool:
        """Whether *agent* is the current agent."""
        return agent is self._agent and agent is not None

    # -- Building and running ------------------------------------------------------------------

    async def build(self) -> None:
        """Build the agent; a rebuild keeps the old one's conversation, usage and turn count."""
        handle, args = self._handle, self._args
        taken = {entry.name for entry in handle.config.tools} | {
            getattr(t, "name", None) or getattr(t, "__name__", "") for t in args.tools
        }
        extra = [
            *args.tools,
            *graph_tools.tools_for(
                privileged=handle.privileged, taken=taken, registry=self._kernel.tools
            ),
        ]
        llm = args.llm if args.llm is not None else self._default_llm(handle)
        agent = await Agent.build(
            handle.config,
            llm=llm,
            tools=extra,
            plugins=[handle.link, *args.plugins],
            pwd=args.pwd,
            kernel=self._kernel,
            llm_selector=args.llm_selector,
            env=self._env,
            output=args.output,
        )
        agent.stash[CHANNELS] = self._service
        agent.stash[graph_tools.LINK] = handle.link
        old, self._agent = self._agent, agent
        if old is not None:
            agent.restore(old.history, usage=old.usage, turn_index=old.turn_index)

    def running(self) -> Agent:
        """``async with body.running():`` runs the agent (``async with agent``)."""
        return self.agent

    async def aclose(self) -> None:
        """Nothing to release for an agent that never started."""

    # -- Driving it ----------------------------------------------------------------------------

    def inject(self, text: str, source: str) -> None:
        """``Agent.inject``."""
        self.agent.inject(text, source=source)

    async def emit(self, event: Event) -> None:
        """``Agent.emit``: the creature publishes *event* (its plugins and readers see it)."""
        await self.agent.emit(event)

    async def run(self, input: Any, **options: Any) -> TurnResult:
        """``Agent.run``."""
        return await self.agent.run(input, **options)

    def run_stream(self, input: Any, **options: Any) -> TurnStream:
        """``Agent.run_stream``."""
        return self.agent.run_stream(input, **options)

    def interrupt(self) -> None:
        """``Agent.interrupt`` (nothing before the first build)."""
        if self._agent is not None:
            self._agent.interrupt()


class Hosting:
    """Building, starting, stopping hosted creatures, and taking in their events.

    Args:
        engine: The facade (handles point back to it).
        state: The engine's shared state.
        router: Channel routing (for channel services and queue backlogs).
        wiring: Output wiring (run at each turn's end).
        kernel: The plugin set creatures are built with.
        env: Variables for ``${VAR}`` interpolation.
        llm: The engine's ``llm`` (an instance, or ``fn(creature_id, config)``).
    """

    def __init__(
        self,
        engine: Terrarium,
        state: EngineState,
        router: ChannelRouter,
        wiring: OutputWiring,
        *,
        kernel: Kernel,
        env: Mapping[str, str] | None,
        llm: Any,
    ) -> None:
        self.engine = engine
        self.state = state
        self.router = router
        self.wiring = wiring
        self.kernel = kernel
        self.env = env
        self.llm = llm
        self.transports: TransportPool | None = None  # set by the engine
        self.place_on: str | None = None  # where creatures without on_node go (None: here)
        self.leave_remote = False  # at shutdown, leave creatures hosted elsewhere running

    # -- Configs and ids -----------------------------------------------------------------------

    def load_config(self, config: Any, workdir: Path) -> CreatureConfig:
        """What ``Agent.build`` would load for *config* (dicts resolve against *workdir*)."""
        if isinstance(config, CreatureConfig):
            return config
        return load_creature_config(
            config if isinstance(config, Mapping) else os.fspath(config),
            base_dir=workdir if isinstance(config, Mapping) else None,
            env=self.env,
            resolve_ref=self.kernel.resolve_ref,
        )

    def claim_id(self, name: str | None, default: str) -> str:
        """Reserve an id until the creature is placed (concurrent adds never share one).

        Raises:
            TerrariumError: *name* is not a valid id.
            CreatureExistsError: *name* is taken.
        """
        taken = self.state.creatures.keys() | self.state.reserved
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
        self.state.reserved.add(candidate)
        return candidate

    # -- Handles -------------------------------------------------------------------------------

    def new_handle(
        self,
        creature_id: str,
        config: CreatureConfig,
        *,
        privileged: bool,
        parent: str | None,
        transport: str | None = None,
    ) -> CreatureHandle:
        """A handle for a creature about to be built (its body is set by the caller)."""
        return CreatureHandle(
            self.engine,
            creature_id=creature_id,
            config=config,
            privileged=privileged,
            parent=parent,
            engine_state=self.state,
            router=self.router,
            sink=self.on_event,
            transport=transport,
        )

    def local_body(self, handle: CreatureHandle, args: BuildArgs) -> CreatureBody:
        """A body running *handle* in this process, unless its config says where else.

        A config naming ``on_node`` (or, without it, the engine's :attr:`place_on`) is hosted
        through the engine's transport instead (:meth:`placed_body`); a privileged creature
        keeps to this process when only :attr:`place_on` asks (its graph tools need the engine).

        Raises:
            TransportError: ``on_node`` on a privileged creature, or with *args* that cannot
                cross a transport.
            UnknownTransportError: ``on_node`` and no single transport to use.
        """
        where = handle.config.on_node
        if where is None and not handle.privileged:
            where = self.place_on
        if where is not None:
            return self.placed_body(handle, args, where)
        return LocalBody(
            handle,
            args,
            kernel=self.kernel,
            env=self.env,
            default_llm=self._default_llm,
            service=CreatureChannels(self.router, handle.id),
        )

    def placed_body(self, handle: CreatureHandle, args: BuildArgs, where: str) -> CreatureBody:
        """A body hosting *handle* on node *where* (a name, ``labels:a,b``, ``*``: any).

        The worker gets the config the engine loaded (``Placement.loaded``), builds the model
        from its own keys and works in its own directory.
        """
        from kt_terrarium.remote import RemoteBody, refuse_what_cannot_cross  # (imports us)

        assert self.transports is not None
        refuse_what_cannot_cross(
            f"creature '{handle.id}', placed on node '{where}',",
            llm=args.llm,
            tools=args.tools,
            plugins=args.plugins,
            output=args.output,
            privileged=handle.privileged,
        )
        transport = self.transports.default()
        handle.transport = transport
        return RemoteBody(
            handle,
            pool=self.transports,
            transport=transport,
            config=config_to_wire(handle.config),
            base_dir=str(handle.config.folder) if handle.config.folder else None,
            pwd=None,
            llm_selector=args.llm_selector,
            node=None if where == "*" else where,
            engine_state=self.state,
            service=CreatureChannels(self.router, handle.id),
            sink=self.on_event,
            loaded=True,
        )

    def adopted(
        self, creature_id: str, transport: str, placement: Placement, link: Link, catching_up: bool
    ) -> CreatureHandle:
        """A handle for a creature an earlier engine placed and that still runs (``built``).

        Its config is the placement's (loaded here again when it is a path or a mapping; a
        reference this machine cannot resolve leaves the handle a bare config of that name:
        the worker holds the real one).
        """
        from kt_terrarium.remote import RemoteBody  # remote imports this module

        assert self.transports is not None
        if placement.loaded:
            config = config_from_wire(placement.config)
        else:
            try:
                config = self.load_config(placement.config, Path(placement.base_dir or "."))
            except ConfigError:
                config = CreatureConfig(name=creature_id)
        handle = self.new_handle(
            creature_id,
            attrs.evolve(config, name=creature_id),
            privileged=False,
            parent=None,
            transport=transport,
        )
        body = RemoteBody(
            handle,
            pool=self.transports,
            transport=transport,
            config=placement.config,
            base_dir=placement.base_dir,
            pwd=placement.pwd,
            llm_selector=placement.llm_selector,
            node=placement.node,
            engine_state=self.state,
            service=CreatureChannels(self.router, creature_id),
            sink=self.on_event,
            loaded=placement.loaded,
        )
        body.attach(link, catching_up=catching_up)
        handle.body = body
        handle.state = "built"
        return handle

    def _default_llm(self, handle: CreatureHandle) -> Any:
        llm = self.llm
        if llm is None or hasattr(llm, "stream"):
            return llm
        return llm(handle.id, handle.config)

    async def build(self, handle: CreatureHandle) -> None:
        """Build (or rebuild) *handle*'s body; it is then ``built``."""
        await handle.body.build()
        handle.state = "built"

    def place(self, handle: CreatureHandle, graph: Graph) -> None:
        """Put a built creature into *graph* and the engine; publish ``creature_added``."""
        graph.creatures.add(handle.id)
        handle.graph_id = graph.id
        self.state.creatures[handle.id] = handle
        self.state.touch()
        self.state.publish(
            CreatureAdded(
                creature=handle.id,
                graph_id=graph.id,
                privileged=handle.privileged,
                parent=handle.parent,
                source=handle.source,
            ),
            (graph.id,),
        )

    # -- Running -------------------------------------------------------------------------------

    async def start(self, handle: CreatureHandle, nursery: trio.Nursery) -> None:
        """Start *handle*'s lifetime task in *nursery*; return once it runs (or raise)."""
        handle.stop_requested = trio.Event()
        handle.stopped = trio.Event()
        await nursery.start(self.host, handle)

    async def host(
        self,
        handle: CreatureHandle,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The task that owns one creature's body until it is asked to stop."""
        handle.state = "starting"
        started = False
        try:
            async with handle.body.running():
                handle.state = "running"
                handle.flush_inbox()
                self.router.drain_backlogs(handle)
                self.state.touch()
                started = True
                task_status.started()
                await handle.stop_requested.wait()
                handle.state = "stopping"
        except Exception as error:
            if not started:
                handle.state = "built"
                raise
            self.state.publish(  # the creature failed after it started: say so, keep the engine up
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
            handle.turns.reset()
            graph = self.state.graphs.get(handle.graph_id)
            if graph is not None:
                for channel in graph.channels.values():
                    channel.close_taps(handle.id)
            handle.stopped.set()
            self.state.touch()
            self.state.signal()

    def leave_remote_running(self) -> None:
        """(At shutdown, with :attr:`leave_remote`) Stopping a remote creature only detaches it."""
        from kt_terrarium.remote import RemoteBody  # remote imports this module

        if not self.leave_remote:
            return
        for handle in self.state.creatures.values():
            if isinstance(handle.body, RemoteBody):
                handle.body.leave()

    async def stop(self, handle: CreatureHandle) -> None:
        """Stop *handle* and wait until it has stopped; a creature never started just stops."""
        if handle.state in ("running", "starting", "stopping"):
            handle.state = "stopping"
            handle.stop_requested.set()
            await handle.stopped.wait()
        elif handle.state in ("new", "built"):
            handle.state = "stopped"
            await handle.body.aclose()
            handle.turns.inbox.clear()
            handle.turns.reset()
            self.state.touch()
            self.state.signal()

    # -- Events --------------------------------------------------------------------------------

    async def on_event(self, creature_id: str, event: Event) -> None:
        """Take in one event of a hosted creature: record, publish, count, run wires."""
        handle = self.state.creatures.get(creature_id)
        if handle is None or handle.state == "removed":
            return
        graph = self.state.graphs.get(handle.graph_id)
        if graph is not None and graph.store is not None:
            graph.store.append(record(event, graph.id))
        self.state.bus.publish(event, (handle.graph_id,), creature_event=True)
        turns = handle.turns
        if isinstance(event, TurnStarted):
            turns.started(event.source)
            turns.busy = True
            hops = 0
            if event.source == "output_wire" and turns.wire_hops:
                hops = turns.wire_hops.popleft()
            turns.hops = hops
        elif isinstance(event, TurnCompleted):
            try:
                if handle.state == "running":
                    await self.wiring.after_turn(handle, event.result)
            finally:
                turns.busy = False
                turns.hops = 0
                self.state.signal()
