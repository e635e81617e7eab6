"""Where the Laboratory keeps things in Redis: one function per key, nowhere else spells one.

A creature's keys share the hash tag ``{placement_id}``, so in a Redis Cluster they live in one
slot and the fenced Lua scripts may touch them together. Placement ids are unique per placement
(a restarted creature is placed again under a new id), so a host never reads an older run's
entries.
"""

from __future__ import annotations

import attrs

__all__ = ["CreatureKeys", "LabKeys"]


@attrs.frozen
class CreatureKeys:
    """The keys of one placed creature.

    Attributes:
        inbox: Stream of turns (engine → creature), read through the ``owner`` group.
        control: Stream of everything else engine → creature (start, stop, graph, interrupt).
        events: Stream of creature → engine messages: the durable event log.
        lease: ``node:epoch`` of the owner, with a TTL; every append checks it (fencing).
        epoch: Counter: each new owner takes the next epoch.
        placement: The placement (JSON) and its bookkeeping, a hash.
    """

    inbox: str
    control: str
    events: str
    lease: str
    epoch: str
    placement: str


@attrs.frozen
class LabKeys:
    """The key layout under one prefix (``kt`` unless a deployment shares a Redis).

    Attributes:
        prefix: What every key starts with.
    """

    prefix: str = "kt"

    def creature(self, placement_id: str) -> CreatureKeys:
        """The keys of the creature placed as *placement_id*."""
        base = f"{self.prefix}:{{{placement_id}}}"
        return CreatureKeys(
            inbox=f"{base}:in",
            control=f"{base}:ctl",
            events=f"{base}:ev",
            lease=f"{base}:lease",
            epoch=f"{base}:epoch",
            placement=f"{base}:placement",
        )

    @property
    def nodes(self) -> str:
        """Set of every node name that ever registered."""
        return f"{self.prefix}:nodes"

    @property
    def placements(self) -> str:
        """Set of the placement ids of creatures not yet stopped."""
        return f"{self.prefix}:placements"

    def node(self, name: str) -> str:
        """Hash describing node *name* (capacity, labels, pid, version, started)."""
        return f"{self.prefix}:node:{name}"

    def node_alive(self, name: str) -> str:
        """Key that exists while node *name* is alive (refreshed, with a TTL)."""
        return f"{self.prefix}:node:{name}:alive"

    def node_control(self, name: str) -> str:
        """Stream of placement orders for node *name* (``place``, ``adopt``)."""
        return f"{self.prefix}:node:{name}:ctl"

    def node_creatures(self, name: str) -> str:
        """Set of the placement ids node *name* owns now."""
        return f"{self.prefix}:node:{name}:creatures"

    def host_wake(self, host: str) -> str:
        """Stream a host writes to itself to wake its blocked reader."""
        return f"{self.prefix}:host:{host}:wake"
