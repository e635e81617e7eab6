"""The host's side: the ``redis`` transport the engine places creatures through.

:class:`RedisTransport` is what ``kt.TransportSpec("redis", ...)`` builds. Placing a creature
stores its :class:`~kt_terrarium.transport.Placement` under a fresh placement id, picks a node
(:func:`choose_node`) and writes an ``own`` order on that node's control stream; the worker
takes the creature's lease and builds it. The engine's end of the creature's link
(:class:`HostLink`) writes turns to the creature's inbox stream and everything else to its
control stream, and reads the creature's event stream from its last id, through one blocking
``XREAD`` per host that watches every placed creature.

Liveness: the host checks every creature's lease, one pipelined round trip per tick. When a
lease lapses (the owner died, or was drained) and the creature has not stopped, the host orders
another live node to own it;
that node rebuilds it from the event stream (see :mod:`kt_lab.worker`). The engine keeps
reading the same stream, so it sees the takeover's events and the rest of the turn as if
nothing had moved. Only when no node takes the creature within ``orphan_timeout`` does the link
report a failure.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import attrs
import cattrs
import trio

from kt_lab.errors import LabConfigError, LabUnavailableError
from kt_lab.keys import CreatureKeys, LabKeys
from kt_lab.redis_io import BLOCK_MS, Redis, dumps, loads
from kt_lab.status import NodeInfo, read_nodes
from kt_terrarium.errors import TransportError
from kt_terrarium.transport import Placement

__all__ = ["HostLink", "RedisTransport", "choose_node"]

LABELS_PREFIX = "labels:"
RETRY_EVERY = 0.5  # seconds between two reads while Redis cannot be reached


def choose_node(
    nodes: Sequence[NodeInfo], wanted: str | None, *, avoid: str | None = None
) -> NodeInfo:
    """The node a creature goes to.

    *wanted* is a node name, ``labels:a,b`` (a live node carrying every label), or ``None``
    (any live node). Among the candidates the least loaded wins (creatures / capacity); a
    node at capacity is not a candidate. *avoid* (a node that just lost the creature) is only
    chosen when nothing else fits.

    Raises:
        TransportError: no live node fits; the message lists the live nodes.
    """
    alive = [n for n in nodes if n.alive]
    if wanted and wanted.startswith(LABELS_PREFIX):
        labels = {label for label in wanted[len(LABELS_PREFIX) :].split(",") if label}
        fits = [n for n in alive if labels <= set(n.labels)]
        what = f"carrying labels {', '.join(sorted(labels))}"
    elif wanted:
        fits = [n for n in alive if n.name == wanted]
        what = f"named '{wanted}'"
    else:
        fits, what = alive, "at all"
    free = [n for n in fits if len(n.creatures) < n.capacity]
    if not free:
        listed = ", ".join(f"{n.name} ({','.join(n.labels) or 'no labels'})" for n in alive)
        full = " (every fitting node is at capacity)" if fits else ""
        raise TransportError(
            f"no live node {what}{full}; live nodes: {listed or 'none'}. Start one with "
            "`kt worker --redis URL --name NAME`"
        )
    free.sort(key=lambda n: (n.name == avoid, len(n.creatures) / n.capacity, n.name))
    return free[0]


class HostLink:
    """The engine's end of one creature's link over Redis."""

    def __init__(
        self,
        transport: RedisTransport,
        placement_id: str,
        keys: CreatureKeys,
        *,
        wanted: str | None = None,
    ) -> None:
        self.transport = transport
        self.placement_id = placement_id
        self.keys = keys
        self.wanted = wanted  # what placement asked for (a node name, labels:..., None)
        self.ordered_to: str | None = None  # the node ordered last to own it
        self.ordered_at = 0.0
        self.orphaned_at: float | None = None  # since when no lease was seen
        self.cursor = "0-0"  # the last event-stream id read from Redis
        self.consumed = "0-0"  # the last id the engine took from receive(): the stored cursor
        self.stored = "0-0"
        self.replay_until = "0-0"  # entries up to here were taken in by an earlier host
        self.caught_up_at = ""  # (attached) the stream's last entry when this host attached
        self.catching_up = False  # whether that entry exists (the engine waits for it)
        self.done = False  # Stopped or Failed came, or the link closed
        self._n = 0
        self._send_in, self._receive_in = trio.open_memory_channel[tuple[str, Any]](math.inf)

    async def send(self, message: Mapping[str, Any]) -> None:
        """Append one message to the creature's inbox (turns) or control stream.

        Raises:
            trio.ClosedResourceError: this end was closed.
        """
        if self.done:
            raise trio.ClosedResourceError("the link to this creature is closed")
        self._n += 1
        stream = self.keys.inbox if message.get("kind") == "turn" else self.keys.control
        redis = self.transport.redis
        await redis.call(redis.client.xadd, stream, {"m": dumps({**message, "n": self._n})})

    async def record_graph(self, topology: Mapping[str, Any]) -> None:
        """Keep the creature's place in the engine's graph with its placement.

        A restarted host reads it back (:meth:`placements`) to join the creatures it adopts
        by their channels and wires again.

        Raises:
            LabUnavailableError: Redis cannot be reached (the engine records it again later).
        """
        redis = self.transport.redis
        await redis.call(redis.client.hset, self.keys.placement, "graph", dumps(dict(topology)))

    def receive(self) -> AsyncIterator[dict[str, Any]]:
        """The creature's messages, in order, until it stopped or the link closed."""
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        with contextlib.suppress(trio.ClosedResourceError):
            async for entry_id, message in self._receive_in:
                yield message
                if "replayed" not in message:  # asked for the next: this one was handled
                    self.consumed = entry_id

    def take(self, entry_id: str, message: dict[str, Any]) -> None:
        """(The host's reader) One event-stream entry arrived."""
        self.cursor = entry_id
        # An earlier host took it in (a stream id compared only for an attached link).
        replayed = self.replay_until != "0-0" and not _id_after(entry_id, self.replay_until)
        marks = {"replayed": True} if replayed else {}
        if entry_id == self.caught_up_at:
            marks["caught_up"] = True
        if marks:
            message = {**message, **marks}
        if not replayed and message.get("kind") in ("stopped", "failed"):
            self.done = True
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            self._send_in.send_nowait((entry_id, message))
            if self.done:
                self._send_in.close()

    def fail(self, error: str) -> None:
        """End the link with a failure the engine reports (no node took the creature)."""
        self.done = True
        failed = {"kind": "failed", "stage": "run", "error_type": "TransportError", "error": error}
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            self._send_in.send_nowait((self.cursor, failed))
            self._send_in.close()

    async def aclose(self) -> None:
        """Close this end; the host stops reading and watching the creature. Idempotent.

        The cursor is stored first: an engine that leaves the creature running (a lab host
        stopping) reads on from here when it comes back.
        """
        self.done = True
        self._send_in.close()
        self._receive_in.close()
        if self.transport.links.get(self.placement_id) is self:
            with trio.CancelScope(shield=True):
                await self.transport.store_cursors([self])
            self.transport.links.pop(self.placement_id, None)


class RedisTransport:
    """The ``redis`` transport: creatures on Laboratory workers (``kt worker``).

    Args:
        url: The Redis URL: ``redis://[user@]host:port/db``, ``rediss://`` (TLS), ``unix://``.
        prefix: Key prefix shared with the workers (``kt``).
        password_file: A file with the Redis password or ``user:password``.
        place_timeout: Seconds a node has to take a creature before another is asked.
        orphan_timeout: Seconds a creature may stay without an owner before its link fails.
        watch_every: Seconds between two checks of a creature's lease (default: 1).
        host: This host's name: the creatures it placed, and its cursor in each creature's
            event stream, are stored under it, so a restarted host finds them
            (:meth:`placements`, :meth:`attach`).
        retention: Seconds a stopped creature's streams stay in Redis (default: 7 days; its
            events are in the engine's session by then); ``None`` keeps them.

    Attributes:
        ready: Whether it is connected (``/readyz`` of a lab host answers from this).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "kt",
        password_file: str | None = None,
        place_timeout: float = 15.0,
        orphan_timeout: float = 60.0,
        watch_every: float = 1.0,
        host: str = "host",
        retention: float | None = 7 * 24 * 3600,
    ) -> None:
        if place_timeout <= 0 or orphan_timeout <= 0 or watch_every <= 0:
            raise LabConfigError("place_timeout, orphan_timeout and watch_every must be > 0")
        if retention is not None and retention <= 0:
            raise LabConfigError(f"retention must be > 0 seconds (or None: keep), not {retention}")
        self.retention = retention
        self.redis = Redis(url, password_file=password_file)
        self.keys = LabKeys(prefix)
        self.place_timeout = place_timeout
        self.orphan_timeout = orphan_timeout
        self.watch_every = watch_every
        self.host = host
        self.host_id = uuid.uuid4().hex[:12]  # this run's wake stream
        self.links: dict[str, HostLink] = {}
        self.ready = False
        self._nursery: trio.Nursery | None = None
        self._nursery_cm: Any = None

    async def __aenter__(self) -> RedisTransport:
        await self.redis.check()
        self._nursery_cm = trio.open_nursery()
        self._nursery = await self._nursery_cm.__aenter__()
        self._nursery.start_soon(self._read)
        self._nursery.start_soon(self._watch)
        self.ready = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.ready = False
        assert self._nursery is not None
        if exc_info[0] is None:  # a host that leaves in order re-reads nothing
            with trio.CancelScope(shield=True):
                await self.store_cursors()
        self._nursery.cancel_scope.cancel()
        await self._nursery_cm.__aexit__(None, None, None)
        self._nursery = None
        for link in list(self.links.values()):
            await link.aclose()
        with contextlib.suppress(LabUnavailableError), trio.CancelScope(shield=True):
            await self.redis.call(self.redis.client.delete, self.keys.host_wake(self.host_id))
        self.redis.close()

    async def nodes(self) -> list[NodeInfo]:
        """Every node that registered, with whether it is alive and the creatures it owns."""
        return await self.redis.call(read_nodes, self.redis.client, self.keys)

    async def place(self, placement: Placement) -> HostLink:
        """Store the placement, order a node to own it, return the engine's end of its link.

        Raises:
            TransportError: not entered, or no live node fits ``placement.node``.
        """
        if self._nursery is None:
            raise TransportError("the redis transport is not entered; use `async with`")
        node = choose_node(await self.nodes(), placement.node)
        placement_id = f"{placement.creature_id}.{placement.placement_id}"
        keys = self.keys.creature(placement_id)
        record = {
            "placement": dumps(_converter.unstructure(placement)),
            "creature": placement.creature_id,
            "wanted": placement.node or "",
            "host": self.host,
            "state": "placed",
        }
        client = self.redis.client
        await self.redis.call(client.hset, keys.placement, mapping=record)
        await self.redis.call(client.sadd, self.keys.placements, placement_id)
        link = HostLink(self, placement_id, keys, wanted=placement.node)
        self.links[placement_id] = link
        await self._order(node.name, placement_id)
        link.ordered_at, link.ordered_to = trio.current_time(), node.name
        await self._wake()
        return link

    async def _order(self, node: str, placement_id: str) -> None:
        stream = self.keys.node_control(node)
        await self.redis.call(self.redis.client.xadd, stream, {"op": "own", "sid": placement_id})

    async def _wake(self) -> None:
        stream = self.keys.host_wake(self.host_id)
        await self.redis.call(
            self.redis.client.xadd, stream, {"op": "wake"}, maxlen=10, approximate=False
        )

    # -- Reading every creature's events -------------------------------------------------------

    async def _read(self) -> None:
        client, wake = self.redis.client, self.keys.host_wake(self.host_id)
        wake_cursor = "0-0"  # the wake stream is this run's own: it starts empty
        while True:
            links = list(self.links.values())
            streams = {wake: wake_cursor, **{link.keys.events: link.cursor for link in links}}
            try:
                answer = await self.redis.call(client.xread, streams, block=BLOCK_MS)
            except LabUnavailableError:
                self.ready = False
                await trio.sleep(RETRY_EVERY)  # Redis restarts or the network is cut: retry
                continue
            self.ready = True
            by_stream = {link.keys.events: link for link in links}
            stopped: list[HostLink] = []
            for stream, entries in answer or []:
                if stream == wake:
                    wake_cursor = entries[-1][0]
                    continue
                link = by_stream.get(stream)
                if link is None or link.done:
                    continue
                for entry_id, fields in entries:
                    message = loads(fields["m"])
                    link.take(entry_id, message)
                    if message.get("kind") == "stopped":
                        stopped.append(link)
            if stopped:
                with contextlib.suppress(LabUnavailableError):  # the worker marks it too
                    await self.redis.call(self._forget, stopped)

    def _forget(self, stopped: list[HostLink]) -> None:
        """(Blocking) Creatures that stopped are nothing to adopt or watch any more."""
        pipe = self.redis.client.pipeline(transaction=False)
        for link in stopped:
            pipe.hset(link.keys.placement, "state", "stopped")
            pipe.srem(self.keys.placements, link.placement_id)
            if self.retention is not None:
                keys = link.keys
                for key in (keys.inbox, keys.control, keys.events, keys.epoch, keys.placement):
                    pipe.expire(key, int(self.retention))
        pipe.execute()

    async def store_cursors(self, links: list[HostLink] | None = None) -> None:
        """Remember how far the engine took each creature's events (at most one tick behind).

        A host that dies between two stores reads those few events again when it comes back:
        events reach the engine at least once, never skipped.

        Args:
            links: Only these (default: every link).
        """
        chosen = self.links.values() if links is None else links
        moved = [link for link in chosen if link.consumed != link.stored]
        if not moved:
            return

        def store() -> None:
            pipe = self.redis.client.pipeline(transaction=False)
            for link in moved:
                pipe.hset(link.keys.placement, "cursor", link.consumed)
            pipe.execute()

        with contextlib.suppress(LabUnavailableError):  # stored again next tick
            await self.redis.call(store)
            for link in moved:
                link.stored = link.consumed

    # -- After a restart -----------------------------------------------------------------------

    async def placements(self) -> list[dict[str, Any]]:
        """The creatures this host placed that have not stopped: what a restarted host adopts.

        Each is ``{"placement_id", "creature", "owner", "cursor", "wanted", "placement",
        "graph"}``; ``cursor`` is the last event-stream id this host took in before it went
        away, ``placement`` the :class:`~kt_terrarium.transport.Placement` it was placed with,
        ``graph`` its place in the engine's graph as last recorded (:meth:`HostLink.record_graph`;
        ``None``: never recorded).
        """
        client = self.redis.client
        ids = sorted(await self.redis.call(client.smembers, self.keys.placements))
        found = []
        for placement_id in ids:
            record = await self.redis.call(
                client.hgetall, self.keys.creature(placement_id).placement
            )
            if record.get("host") == self.host and record.get("state") != "stopped":
                found.append(
                    {
                        "placement_id": placement_id,
                        "creature": record.get("creature", ""),
                        "owner": record.get("owner", ""),
                        "cursor": record.get("cursor", "0-0"),
                        "wanted": record.get("wanted", ""),
                        "placement": _converter.structure(loads(record["placement"]), Placement),
                        "graph": loads(record["graph"]) if record.get("graph") else None,
                    }
                )
        return found

    async def attach(self, placement_id: str) -> HostLink:
        """The engine's end of the link to a creature placed before this host restarted.

        It reads the creature's events from the start of its stream; those up to the stored
        cursor (what the earlier host had taken in) come marked ``replayed: True``, so the
        engine learns the creature's conversation from them without publishing them again;
        nothing after the cursor is missed. The stream's last entry at this moment comes
        marked ``caught_up: True`` (``link.catching_up``: there is one), so the engine knows
        when it has caught up. The creature kept running meanwhile.

        Raises:
            TransportError: no such placement, or it stopped.
        """
        if self._nursery is None:
            raise TransportError("the redis transport is not entered; use `async with`")
        keys = self.keys.creature(placement_id)
        record = await self.redis.call(self.redis.client.hgetall, keys.placement)
        if not record or record.get("state") == "stopped":
            raise TransportError(
                f"no running placement '{placement_id}'; `placements()` lists what this host "
                "can attach to"
            )
        link = HostLink(self, placement_id, keys, wanted=record.get("wanted") or None)
        link.consumed = link.stored = link.replay_until = record.get("cursor", "0-0")
        last = await self.redis.call(self.redis.client.xrevrange, keys.events, count=1)
        if last:
            link.caught_up_at, link.catching_up = last[0][0], True
        link.ordered_to, link.ordered_at = record.get("owner") or None, trio.current_time()
        self.links[placement_id] = link
        await self._wake()
        return link

    # -- Liveness ------------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Every ``watch_every`` seconds: store the cursors, check every lease (one round trip)."""
        client = self.redis.client
        while True:
            await trio.sleep(self.watch_every)
            await self.store_cursors()
            links = [link for link in self.links.values() if not link.done]
            if not links:
                continue

            try:
                held_now = await self.redis.call(_leases_held, client, links)
            except LabUnavailableError:
                continue  # the reader notes it; leases are checked again next tick
            nodes: list[NodeInfo] = []  # read once per tick, when a creature needs a node
            for link, held in zip(links, held_now, strict=True):
                if held:
                    link.orphaned_at = None
                elif not link.done:
                    await self._rescue(link, nodes)

    async def _rescue(self, link: HostLink, nodes: list[NodeInfo]) -> None:
        """The creature has no owner: order a live node to own it (or give up, in time).

        *nodes* is this tick's list of nodes, read here when empty and shared by the tick's
        rescues (after a node's death, one read serves all its creatures).
        """
        now = trio.current_time()
        if link.orphaned_at is None:
            link.orphaned_at = now
        record = await self.redis.call(self.redis.client.hgetall, link.keys.placement)
        if record.get("state") == "stopped":
            return
        if link.ordered_to is not None and now - link.ordered_at < self.place_timeout:
            if link.ordered_at > link.orphaned_at or record.get("owner") is None:
                return  # the node ordered last may still be taking it
        if now - link.orphaned_at > self.orphan_timeout:
            link.fail(
                f"no node took creature '{record.get('creature')}' within "
                f"{self.orphan_timeout:g}s after its owner was lost; start a worker or raise "
                "orphan_timeout"
            )
            return
        lost = record.get("owner") or link.ordered_to
        if not nodes:
            nodes.extend(await self.nodes())
        try:
            node = choose_node(nodes, _move_within(link.wanted), avoid=lost)
        except TransportError:
            link.ordered_to = None
            return
        await self._order(node.name, link.placement_id)
        link.ordered_at, link.ordered_to = now, node.name
        # Count it there for the tick's next choices, so moved creatures spread by load.
        taken = (*node.creatures, (record.get("creature", ""), link.placement_id))
        nodes[nodes.index(node)] = attrs.evolve(node, creatures=taken)


def _id_after(entry_id: str, other: str) -> bool:
    """Whether stream id *entry_id* comes after *other* (``ms-seq``, compared as numbers)."""
    ms, _, seq = entry_id.partition("-")
    other_ms, _, other_seq = other.partition("-")
    return (int(ms), int(seq or 0)) > (int(other_ms), int(other_seq or 0))


def _leases_held(client: Any, links: list[HostLink]) -> list[int]:
    pipe = client.pipeline(transaction=False)
    for link in links:
        pipe.exists(link.keys.lease)
    return pipe.execute()


def _move_within(wanted: str | None) -> str | None:
    """Where a creature may move when its node is lost: labels bind, a node name does not."""
    if wanted and wanted.startswith(LABELS_PREFIX):
        return wanted
    return None


_converter = cattrs.Converter()
