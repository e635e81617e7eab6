"""What every part of one engine shares: its creatures, its graphs, its bus and its change signals.

The :class:`~kt_terrarium.Terrarium` facade owns one :class:`EngineState` and gives it to the
parts that do the work (graphs, channel routing, output wiring, hosting). Everything happens in
the engine's trio thread, so the parts read and change it without locks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import trio

from kt.events import Event
from kt_terrarium.bus import EventBus
from kt_terrarium.errors import CreatureNotFoundError
from kt_terrarium.persistence import record

if TYPE_CHECKING:
    from kt_terrarium.graphs import Graph
    from kt_terrarium.handles import CreatureHandle

__all__ = ["LIVE_STATES", "EngineState"]

LIVE_STATES = frozenset({"built", "starting", "running"})
"""Creature states in which deliveries to it are kept (queued or given at once)."""


class EngineState:
    """The shared state of one engine.

    Attributes:
        creatures: Hosted creatures by id.
        reserved: Ids claimed by creatures being built (never given twice).
        graphs: Graphs by id.
        bus: The event fan-out.
        version: Grows at every change of the graph or of a creature's state; prompt sections
            are recomputed when it moved.
    """

    def __init__(self) -> None:
        self.creatures: dict[str, CreatureHandle] = {}
        self.reserved: set[str] = set()
        self.graphs: dict[str, Graph] = {}
        self.bus = EventBus()
        self.version = 0
        self._idle_changed = trio.Event()
        self._graph_changed = trio.Event()

    # -- Change signals ------------------------------------------------------------------------

    def touch(self) -> None:
        """The graph (or a creature's state) changed: prompt sections must be recomputed."""
        self.version += 1
        if self._graph_changed.statistics().tasks_waiting:  # creatures hosted elsewhere
            self._graph_changed.set()
            self._graph_changed = trio.Event()

    async def graph_changed(self) -> None:
        """Wait for the next :meth:`touch`."""
        await self._graph_changed.wait()

    def signal(self) -> None:
        """A creature's turn accounting changed: wake ``wait_idle``."""
        self._idle_changed.set()
        self._idle_changed = trio.Event()

    @property
    def is_idle(self) -> bool:
        """Whether no hosted creature runs a turn or has an engine-queued turn waiting."""
        for handle in self.creatures.values():  # a plain loop: this runs at every wake-up
            if handle.state in ("running", "starting"):
                turns = handle.turns
                if turns.busy or turns.queued or turns.inbox:
                    return False
        return True

    async def wait_idle(self) -> None:
        """Wait until :attr:`is_idle`."""
        while not self.is_idle:
            await self._idle_changed.wait()

    # -- Events --------------------------------------------------------------------------------

    def publish(self, event: Event, graphs: Iterable[str]) -> None:
        """An engine event: into the stores of *graphs*, then onto the bus."""
        graphs = tuple(graphs)
        for graph_id in graphs:
            graph = self.graphs.get(graph_id)
            if graph is not None and graph.store is not None:
                graph.store.append(record(event, graph_id))
        self.bus.publish(event, graphs)

    # -- Lookups -------------------------------------------------------------------------------

    def handle(self, creature_id: str) -> CreatureHandle:
        """The hosted creature *creature_id*.

        Raises:
            CreatureNotFoundError: not hosted (the message lists who is).
        """
        handle = self.creatures.get(creature_id)
        if handle is None:
            known = ", ".join(sorted(self.creatures)) or "none"
            raise CreatureNotFoundError(
                f"no creature '{creature_id}' in the engine; creatures: {known}"
            )
        return handle

    def is_privileged(self, creature_id: str) -> bool:
        """Whether *creature_id* is hosted and privileged."""
        handle = self.creatures.get(creature_id)
        return handle is not None and handle.privileged

    def graph_of(self, creature_id: str) -> Graph:
        """The graph of hosted creature *creature_id*."""
        return self.graphs[self.handle(creature_id).graph_id]

    def edges(self, creature_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The channels *creature_id* listens on and may send on, each sorted."""
        handle = self.handle(creature_id)
        graph = self.graphs.get(handle.graph_id)
        if graph is None:
            return (), ()
        listen = tuple(sorted(n for n, c in graph.channels.items() if creature_id in c.listeners))
        send = tuple(sorted(n for n, c in graph.channels.items() if creature_id in c.senders))
        return listen, send
