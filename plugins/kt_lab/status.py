"""What the Laboratory looks like now: its nodes, their creatures, and whether Redis answers.

:class:`Lab` is the small API a lab host's web server calls: ``GET /api/nodes`` answers
``[node.as_dict() for node in await lab.nodes()]`` and ``/readyz`` answers 503 until
``await lab.ready()`` is true. It needs no engine: it reads what workers registered.
"""

from __future__ import annotations

from typing import Any

import attrs

from kt_lab.keys import LabKeys
from kt_lab.redis_io import Redis, loads

__all__ = ["Lab", "NodeInfo", "read_nodes"]


@attrs.frozen(kw_only=True)
class NodeInfo:
    """One node of the Laboratory.

    Attributes:
        name: Its name (``kt worker --name``).
        alive: Whether it refreshed its ``alive`` key within its lease TTL.
        capacity: How many creatures it takes at most.
        labels: Its labels.
        creatures: The creatures it owns now: ``(creature id, placement id)``.
        host: The machine's host name it reported.
        pid: Its process id there.
        version: The kt-terrarium version it runs.
        started: When it registered (epoch seconds).
    """

    name: str
    alive: bool
    capacity: int = 0
    labels: tuple[str, ...] = ()
    creatures: tuple[tuple[str, str], ...] = ()
    host: str = ""
    pid: int = 0
    version: str = ""
    started: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (``GET /api/nodes`` answers a list of these)."""
        data = attrs.asdict(self)
        data["status"] = "alive" if self.alive else "lost"
        data["labels"] = list(self.labels)
        data["creatures"] = [{"id": c, "placement": p} for c, p in self.creatures]
        return data


def read_nodes(client: Any, keys: LabKeys) -> list[NodeInfo]:
    """(Blocking) Every registered node, by name, read in two pipelined round trips."""
    names = sorted(client.smembers(keys.nodes))
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(keys.node(name))
        pipe.exists(keys.node_alive(name))
        pipe.smembers(keys.node_creatures(name))
    answers = pipe.execute()
    owned = [sorted(answers[3 * i + 2]) for i in range(len(names))]
    pipe = client.pipeline(transaction=False)
    for placements in owned:
        for placement_id in placements:
            pipe.hget(keys.creature(placement_id).placement, "creature")
    creature_ids = iter(pipe.execute())
    nodes = []
    for i, name in enumerate(names):
        info, alive = answers[3 * i], answers[3 * i + 1]
        nodes.append(
            NodeInfo(
                name=name,
                alive=bool(alive),
                capacity=int(info.get("capacity", 0) or 0),
                labels=tuple(label for label in info.get("labels", "").split(",") if label),
                creatures=tuple((next(creature_ids) or "?", p) for p in owned[i]),
                host=info.get("host", ""),
                pid=int(info.get("pid", 0) or 0),
                version=info.get("version", ""),
                started=float(info.get("started", 0) or 0),
            )
        )
    return nodes


class Lab:
    """A read-only view of a Laboratory, for dashboards and health checks.

    Args:
        url: The Redis URL the workers use.
        prefix: Their key prefix.
        password_file: A file with the Redis password or ``user:password``.
    """

    def __init__(self, url: str, *, prefix: str = "kt", password_file: str | None = None):
        self.redis = Redis(url, password_file=password_file)
        self.keys = LabKeys(prefix)

    async def ready(self) -> bool:
        """Whether Redis answers and is recent enough (never raises)."""
        from kt_lab.errors import LabError

        try:
            await self.redis.check()
        except LabError:
            return False
        return True

    async def nodes(self) -> list[NodeInfo]:
        """Every registered node, alive or lost, with its creatures.

        Raises:
            LabUnavailableError: Redis cannot be reached.
        """
        return await self.redis.call(read_nodes, self.redis.client, self.keys)

    async def events(self, placement_id: str, after: str = "0-0") -> list[tuple[str, Any]]:
        """The messages of one creature's event stream after id *after*: ``(id, message)``."""
        keys = self.keys.creature(placement_id)
        entries = await self.redis.call(self.redis.client.xrange, keys.events, f"({after}")
        return [(entry_id, loads(fields["m"])) for entry_id, fields in entries]

    def close(self) -> None:
        """Close its connections."""
        self.redis.close()
