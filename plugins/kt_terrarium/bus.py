"""The engine's message bus: every event of a terrarium, fanned out to its subscribers.

Each subscriber gets its own unbounded trio channel and its filters (:meth:`EventBus.subscribe`).
Publishing never blocks and never consumes anything: a subscriber that closed its end is dropped,
and a queue channel's message still goes to its listener whoever watches the bus.

Two kinds of events reach the bus: the engine's own (graph changes, published for every
subscriber) and the creatures' (``creature_event=True``), which only subscribers that asked for
creature events receive, except the deliveries in :data:`kt_terrarium.events.BUS_EVENTS`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import attrs
import trio

from kt.events import Event
from kt_terrarium.events import BUS_EVENTS

__all__ = ["EventBus", "Subscription"]


@attrs.define(eq=False)
class Subscription:
    """One subscriber: where its events go, and what it asked for (``None``: anything).

    Attributes:
        send: The subscriber's channel.
        types: Event ``type`` names.
        creatures: Creature ids (``event.creature``).
        graphs: Graph ids the event concerns.
        channels: Channel names (events with a ``channel`` field).
        creature_events: Whether it receives creatures' own events (turns, text, tools).
    """

    send: trio.MemorySendChannel[Event]
    types: frozenset[str] | None
    creatures: frozenset[str] | None
    graphs: frozenset[str] | None
    channels: frozenset[str] | None
    creature_events: bool

    def wants(self, event: Event, graphs: Iterable[str]) -> bool:
        """Whether *event*, concerning *graphs*, passes every filter."""
        if self.types is not None and event.type not in self.types:
            return False
        if self.creatures is not None and event.creature not in self.creatures:
            return False
        if self.graphs is not None and not self.graphs.intersection(graphs):
            return False
        if self.channels is not None and getattr(event, "channel", None) not in self.channels:
            return False
        return True


class EventBus:
    """The fan-out: one unbounded channel per subscriber."""

    def __init__(self) -> None:
        self.subscriptions: list[Subscription] = []
        self.closed = False

    def subscribe(
        self,
        *,
        types: Iterable[str] | None = None,
        creatures: Iterable[str] | None = None,
        graphs: Iterable[str] | None = None,
        channels: Iterable[str] | None = None,
        creature_events: bool = False,
    ) -> trio.MemoryReceiveChannel[Event]:
        """A channel receiving the events that pass the filters, until :meth:`close`.

        Subscribing after :meth:`close` gives a channel that is already at its end.
        """
        send, receive = trio.open_memory_channel[Event](math.inf)
        self.subscriptions.append(
            Subscription(
                send=send,
                types=frozenset(types) if types is not None else None,
                creatures=frozenset(creatures) if creatures is not None else None,
                graphs=frozenset(graphs) if graphs is not None else None,
                channels=frozenset(channels) if channels is not None else None,
                creature_events=creature_events,
            )
        )
        if self.closed:
            self.close()
        return receive

    def publish(self, event: Event, graphs: Iterable[str], *, creature_event: bool = False) -> None:
        """Give *event* (concerning *graphs*) to every subscriber that wants it; never blocks."""
        graphs = tuple(graphs)
        for sub in list(self.subscriptions):
            if creature_event and not sub.creature_events and not isinstance(event, BUS_EVENTS):
                continue
            if not sub.wants(event, graphs):
                continue
            try:
                sub.send.send_nowait(event)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.subscriptions.remove(sub)

    def close(self) -> None:
        """End every subscription (and the ones made later)."""
        self.closed = True
        for sub in self.subscriptions:
            sub.send.close()
        self.subscriptions.clear()
