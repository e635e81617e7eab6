"""The drawing of a live session's graph: creatures, channels, who sends and listens, wires.

The server lays the graph out and the ``graph.html`` template draws it (an inline SVG), so the
drawing needs no script and no library; the terrarium page asks for it again when the topology
changes. The layout is a ring: creatures on the outer circle, channels on an inner one, each in
a stable (sorted) order so a drawing changes only where the graph did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = ["Drawing", "draw"]

SIZE = 640  # the drawing's view box is SIZE x SIZE; the page scales it to fit
CREATURE_RING = 0.38  # radii, as a share of SIZE
CHANNEL_RING = 0.17
CREATURE_BOX = (118, 44)  # width, height of a creature's box
CHANNEL_RADIUS = 30


@attrs.frozen
class Node:
    """A creature or a channel, where the drawing puts it."""

    name: str
    kind: str  # "creature" or "channel"
    x: float
    y: float
    status: str = ""  # a creature's: idle, busy, stopped ...
    detail: str = ""  # what its tooltip says


@attrs.frozen
class Edge:
    """An arrow: ``send`` (creature to channel), ``listen`` (channel to creature) or ``wire``."""

    kind: str
    source: str
    target: str
    x1: float
    y1: float
    x2: float
    y2: float


@attrs.frozen
class Drawing:
    """What ``graph.html`` draws."""

    size: int
    creatures: tuple[Node, ...]
    channels: tuple[Node, ...]
    edges: tuple[Edge, ...]

    @property
    def description(self) -> str:
        """The graph in words, for people who do not see the drawing."""
        parts = [f"{c.name} ({c.status})" for c in self.creatures] + [
            f"channel {c.name}" for c in self.channels
        ]
        links = [f"{e.source} {_VERBS[e.kind]} {e.target}" for e in self.edges]
        return "; ".join(parts + links)


_VERBS = {"send": "sends to", "listen": "is heard by", "wire": "is wired to"}


def draw(graphs: Iterable[Mapping[str, Any]]) -> Drawing:
    """Lay out *graphs* (Studio's ``sessions.graph()`` entries of one session) as one drawing."""
    graphs = list(graphs)
    statuses = {c["id"]: c for g in graphs for c in g["creatures"]}
    channels = {c["name"]: c for g in graphs for c in g["channels"]}
    creature_at = _ring(sorted(statuses), CREATURE_RING)
    # half a step round from the creatures, so an arrow rarely runs through another channel
    channel_at = _ring(sorted(channels), CHANNEL_RING if len(channels) > 1 else 0, offset=0.5)
    creatures = tuple(
        Node(name, "creature", *creature_at[name], _status(s), s.get("model") or "")
        for name, s in sorted(statuses.items())
    )
    channel_nodes = tuple(
        Node(name, "channel", *channel_at[name], detail=c.get("description") or c.get("kind", ""))
        for name, c in sorted(channels.items())
    )
    edges = []
    for name, channel in sorted(channels.items()):
        for sender in channel.get("senders", ()):
            if sender in creature_at:
                edges.append(_edge("send", sender, name, creature_at[sender], channel_at[name]))
        for listener in channel.get("listeners", ()):
            if listener in creature_at:
                edges.append(
                    _edge("listen", name, listener, channel_at[name], creature_at[listener])
                )
    for graph in graphs:
        for wire in graph.get("edges", ()):
            source, target = wire.get("source"), wire.get("target")
            if source in creature_at and target in creature_at:
                edges.append(
                    _edge("wire", source, target, creature_at[source], creature_at[target])
                )
    return Drawing(SIZE, creatures, channel_nodes, tuple(edges))


def _status(status: Mapping[str, Any]) -> str:
    if not status.get("running", True):
        return status.get("state") or "stopped"
    return "busy" if status.get("busy") else "idle"


def _ring(names: list[str], radius: float, offset: float = 0.0) -> dict[str, tuple[float, float]]:
    """Points on a circle around the centre, clockwise from the top (turned *offset* steps)."""
    centre = SIZE / 2
    count = max(len(names), 1)
    angles = {name: 2 * math.pi * (i + offset) / count for i, name in enumerate(names)}
    return {
        name: (
            round(centre + radius * SIZE * math.sin(angle), 1),
            round(centre - radius * SIZE * math.cos(angle), 1),
        )
        for name, angle in angles.items()
    }


def _edge(
    kind: str, source: str, target: str, start: tuple[float, float], end: tuple[float, float]
) -> Edge:
    """An arrow from the edge of the source's shape to the edge of the target's."""
    (x1, y1), (x2, y2) = start, end
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    start_gap = _gap(kind in ("send", "wire"), ux, uy)
    end_gap = _gap(kind in ("listen", "wire"), ux, uy) + 4  # room for the arrow head
    return Edge(
        kind,
        source,
        target,
        round(x1 + ux * start_gap, 1),
        round(y1 + uy * start_gap, 1),
        round(x2 - ux * end_gap, 1),
        round(y2 - uy * end_gap, 1),
    )


def _gap(creature: bool, ux: float, uy: float) -> float:
    """How far from a shape's centre its border is, in direction (ux, uy)."""
    if not creature:
        return CHANNEL_RADIUS
    half_w, half_h = CREATURE_BOX[0] / 2, CREATURE_BOX[1] / 2
    return min(half_w / abs(ux) if ux else math.inf, half_h / abs(uy) if uy else math.inf)
