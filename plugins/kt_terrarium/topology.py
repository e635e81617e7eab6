"""The engine's graph logic on plain data: connected components, splits, merges and wiring loops.

Nothing here knows about agents, channels' messages or trio: the functions take creature ids,
sets and dicts, and return new values, so they are tested on their own and the engine only
applies their answers.

* A **link** is a group of creatures that something connects: the members of a channel (its
  listeners and senders), the two ends of an output wire, a parent and its child.
  :func:`links` builds them from a graph's channels, wires and parents.
* A **graph** is a connected component of creatures under the links (:func:`components`).
* A **split** (:func:`plan_split`) orders a graph's components so that the part which keeps the
  graph's id comes first, and says which part each channel goes with.
* A **merge** is refused when both graphs have a channel of one name (:func:`channel_clash`).
* A new output wire that would close a loop is found by :func:`find_wiring_loop` (a breadth-first
  search from the wire's target back to its source).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence

import attrs

__all__ = [
    "SplitPlan",
    "channel_clash",
    "components",
    "find_wiring_loop",
    "links",
    "plan_split",
]


def links(
    *,
    channels: Mapping[str, Iterable[str]] | None = None,
    wires: Mapping[str, Iterable[str]] | None = None,
    parents: Mapping[str, str | None] | None = None,
) -> list[tuple[str, ...]]:
    """The links of a graph.

    Args:
        channels: Channel name → the creatures with an edge on it.
        wires: Creature id → the targets of its output wires.
        parents: Creature id → the id of the creature that spawned it (or ``None``).

    Returns:
        One tuple of creature ids per link: each channel's members (sorted), each wire's
        ``(source, target)``, each ``(child, parent)``.
    """
    found = [tuple(sorted(members)) for members in (channels or {}).values()]
    found += [(src, dst) for src, targets in (wires or {}).items() for dst in targets]
    found += [(child, parent) for child, parent in (parents or {}).items() if parent is not None]
    return found


def components(creatures: Iterable[str], links: Iterable[Iterable[str]]) -> list[set[str]]:
    """Split *creatures* into connected components.

    Args:
        creatures: The nodes.
        links: Groups of nodes that are connected to each other; ids that are not in
            *creatures* are ignored (a wire to a creature of another graph connects nothing
            here).

    Returns:
        The components, in the order of their first member in *creatures*.
    """
    parent = {creature: creature for creature in creatures}

    def find(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for link in links:
        members = [node for node in link if node in parent]
        for other in members[1:]:
            a, b = find(members[0]), find(other)
            if a != b:
                parent[b] = a
    groups: dict[str, set[str]] = {}
    for creature in parent:
        groups.setdefault(find(creature), set()).add(creature)
    return list(groups.values())


@attrs.frozen
class SplitPlan:
    """How a graph falls apart (see :func:`plan_split`).

    Attributes:
        parts: The components; the first keeps the graph's id.
        channels: For each part, the names of the channels that go with it, sorted; channels
            nobody uses are with the first part.
    """

    parts: tuple[frozenset[str], ...]
    channels: tuple[tuple[str, ...], ...]


def plan_split(
    parts: Sequence[Collection[str]],
    *,
    privileged: Collection[str] = (),
    channels: Mapping[str, Iterable[str]] | None = None,
) -> SplitPlan:
    """Order the parts of a split graph and hand out its channels.

    The part that keeps the id is the one with a privileged creature, else the largest; ties go
    to the part with the alphabetically first creature id. A channel goes with the first other
    part that has one of its members, and stays with the kept part otherwise.

    Args:
        parts: The graph's components (:func:`components`).
        privileged: Ids of privileged creatures.
        channels: Channel name → its members.

    Returns:
        The plan.
    """
    ordered = sorted(
        (frozenset(part) for part in parts),
        key=lambda part: (not any(c in privileged for c in part), -len(part), min(part)),
    )
    handed: list[list[str]] = [[] for _ in ordered]
    for name, members in (channels or {}).items():
        users = set(members)
        home = next((i for i, part in enumerate(ordered) if i and users & part), 0)
        handed[home].append(name)
    return SplitPlan(tuple(ordered), tuple(tuple(sorted(names)) for names in handed))


def channel_clash(first: Iterable[str], second: Iterable[str]) -> list[str]:
    """The channel names two graphs share (they cannot merge while there are any), sorted."""
    return sorted(set(first) & set(second))


def find_wiring_loop(
    edges: Mapping[str, Iterable[str]], source: str, target: str
) -> list[str] | None:
    """The loop a new wire *source* → *target* would close, or ``None``.

    Args:
        edges: Existing wires: source id → target ids.
        source: The new wire's source.
        target: The new wire's target.

    Returns:
        The creatures along the loop, starting and ending at *source*
        (``["a", "b", "a"]``), or ``None`` when the wire closes no loop. The loop found is a
        shortest one.
    """
    if source == target:
        return [source, source]
    previous: dict[str, str] = {}
    frontier = deque([target])
    seen = {target}
    while frontier:
        node = frontier.popleft()
        for nxt in edges.get(node, ()):
            if nxt in seen:
                continue
            previous[nxt] = node
            if nxt == source:
                path = [source]
                while path[-1] != target:
                    path.append(previous[path[-1]])
                return [source, *reversed(path)]
            seen.add(nxt)
            frontier.append(nxt)
    return None
