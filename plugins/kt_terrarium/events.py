"""The events of the terrarium engine, in the kernel's event model (:class:`kt.events.Event`).

Every class registers its ``type`` in :data:`kt.events.EVENT_TYPES` when this module is
imported, so :func:`kt.events.from_wire` rebuilds them from session files and transports.

Events about one creature carry its id in ``creature``; graph-wide ones have ``creature == ""``.
They are published on the engine's bus (``engine.subscribe()``) and recorded in graph stores:

* **Graph changes**, published by the engine: :class:`CreatureAdded`, :class:`CreatureRemoved`,
  :class:`ChannelCreated`, :class:`ChannelRemoved`, :class:`ChannelEdgeChanged`,
  :class:`OutputWireAdded`, :class:`OutputWireRemoved`, :class:`TopologyChanged` and
  :class:`GraphSessionStarted`.
* **Deliveries**, published by a creature (so its ``kt_event`` plugins see them too):
  :class:`ChannelMessageSent` by the sender, :class:`OutputWireDelivered` and
  :class:`DirectMessage` by the receiver, :class:`OutputWireDropped` by the wire's source. These
  are the :data:`BUS_EVENTS`: they reach every bus subscriber, even one that did not ask for
  creatures' own events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from kt.events import Event

__all__ = [
    "BUS_EVENTS",
    "ChannelCreated",
    "ChannelEdgeChanged",
    "ChannelMessageSent",
    "ChannelRemoved",
    "CreatureAdded",
    "CreatureRemoved",
    "DirectMessage",
    "GraphSessionStarted",
    "OutputWireAdded",
    "OutputWireDelivered",
    "OutputWireDropped",
    "OutputWireRemoved",
    "TopologyChanged",
]


# -- Graph changes ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CreatureAdded(Event):
    """A creature joined the engine (before it starts).

    ``source`` is the config it was built from when that was a path (made absolute) or an
    ``@pack/path`` reference, so a resume can build it again; ``None`` for a dict or a
    ``CreatureConfig``.
    """

    type: ClassVar[str] = "creature_added"
    graph_id: str = ""
    privileged: bool = False
    parent: str | None = None
    source: str | None = None


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


# -- Deliveries ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ChannelMessageSent(Event):
    """A message was sent on a channel (type ``channel_message``).

    Published by the sending creature (``creature`` is its id), so ``kt_event`` hooks record
    it in that creature's log, and on the engine's bus. Messages from outside the graph
    (``engine.send(..., sender="human")``) appear on the bus only, with ``creature == ""``.

    Attributes:
        channel: The channel's name.
        sender: The sender's id or label.
        message_id: The message's id.
        content: The content as sent.
        kind: The channel's kind.
        graph_id: The channel's graph.
        reply_to: The id of the message this one answers, if any.
        metadata: The sender's metadata.
        delivered_to: Ids of the creatures the engine delivered it to as a turn, in order.
        queued: ``True`` when a queue channel had no listener: the message waits in its
            backlog.
    """

    type: ClassVar[str] = "channel_message"
    channel: str
    sender: str
    message_id: str
    content: Any = ""
    kind: str = "broadcast"
    graph_id: str = ""
    reply_to: str | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    delivered_to: tuple[str, ...] = ()
    queued: bool = False


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
    """A wire delivered nothing (``creature`` is the source): unknown or stopped target, hops.

    Attributes:
        edge_id: The wire.
        target: Its target.
        reason: Why, in words.
        code: Why, typed: ``unknown_target``, ``target_stopped`` or ``hop_limit`` (a loop of
            wires spent its hop budget: the chain stops here).
    """

    type: ClassVar[str] = "output_wire_dropped"
    edge_id: str
    target: str
    reason: str
    code: str = ""


@attrs.frozen(kw_only=True)
class DirectMessage(Event):
    """A direct message (``group_send``) reached this creature (``creature`` is the target)."""

    type: ClassVar[str] = "direct_message"
    sender: str
    content: str = ""


BUS_EVENTS = (ChannelMessageSent, OutputWireDelivered, OutputWireDropped, DirectMessage)
"""Creature events that reach every bus subscriber, even without ``creature_events=True``."""
