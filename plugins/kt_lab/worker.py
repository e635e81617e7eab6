"""The worker: an ordinary kernel plus the loop that owns creatures placed on this node.

``kt worker --redis URL --name N`` runs :class:`LabWorker`. It registers the node (a hash, and
an ``alive`` key it keeps refreshing), then reads, with one blocking ``XREADGROUP``, its node's
control stream and the inbox and control streams of every creature it owns. It reads through a
consumer group named after the node: when a creature moves, its new owner's group starts where
the old owner's stopped, so an old owner still reading (a zombie) never takes an entry from the
new one. A ``own`` order on
the node's stream makes it take a creature: it takes the creature's lease (``SET NX PX`` with a
new epoch), builds the creature and serves it with
:func:`kt_terrarium.worker.serve_creature`, the same loop every transport uses, over a
:class:`WorkerLink`. Leases are renewed every third of their TTL; a lease found lost fences the
creature here at once.

Taking over: when the creature's event stream already holds events (its owner died, or was
drained), the new owner rebuilds it from them (:mod:`kt_lab.recovery`), takes the inbox entries
the old owner had been given and never acknowledged, tells the engine what happened (a
``warning`` event with source ``kt_lab.turn_restart``, one per in-doubt tool call with source
``kt_lab.in_doubt``, and the rebuilt history), and finishes the open turn with a continuation
turn. The engine already has the creature's ``built``/``started`` messages and its
``creature_started`` event: those are not sent twice.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import attrs
import cattrs
import trio

import kt
from kt.events import AgentWarning, HistoryReplaced, to_wire
from kt_lab.errors import FencedError, LabConfigError, LabUnavailableError
from kt_lab.keys import CreatureKeys, LabKeys
from kt_lab.recovery import Rebuilt, continuation_input, rebuild
from kt_lab.redis_io import BLOCK_MS, Redis, dumps, loads
from kt_terrarium.transport import Placement
from kt_terrarium.worker import serve_creature

__all__ = ["LabWorker", "WorkerLink", "check_node_name"]

FLUSH_BATCH = 512  # at most this many entries per fenced append
CLOSE_DEADLINE = 5.0  # seconds a closing link may take to flush what it still holds
RETRY_EVERY = 0.5  # seconds between two attempts while Redis cannot be reached


def check_node_name(name: str) -> str:
    """Refuse a node name that cannot be a key part or a consumer name.

    Raises:
        LabConfigError: empty, too long, or with characters other than letters, digits,
            ``-``, ``_`` and ``.``.
    """
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise LabConfigError(
            f"node name {name!r} is not usable: use 1-64 letters, digits, '-', '_' or '.' "
            "(for example gpu-1)"
        )
    return name


@attrs.define(eq=False)
class _Delivered:
    """An inbox entry handed to the creature, until its turn completes (then it is acked)."""

    entry_id: str
    ref: str | None
    input: Any
    started: bool = False


class WorkerLink:
    """The worker's end of a creature's link: receives from Redis, appends fenced.

    Messages from the engine arrive through :meth:`deliver` (the worker's reader); messages to
    the engine are queued by :meth:`send` and appended in batches by :meth:`write`, each batch
    one fenced Lua call. A ``turn_completed`` event acks its inbox entry in the same call, so a
    turn is done exactly when its last event is durable.
    """

    def __init__(
        self,
        redis: Redis,
        keys: CreatureKeys,
        token: str,
        *,
        already_sent: frozenset[str] = frozenset(),
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.token = token
        self.fenced = trio.Event()
        self.stopped = False  # the creature sent Stopped: it ended on purpose
        self.delivered: list[_Delivered] = []
        self.turns: dict[int, str] = {}  # turn index -> inbox entry id
        self._skip = set(already_sent)  # "built", "started", "creature_started"
        self._in_send, self._in_receive = trio.open_memory_channel[dict[str, Any]](math.inf)
        self._out_send, self._out_receive = trio.open_memory_channel[Any](math.inf)
        self._written = trio.Event()

    # -- Engine → creature ---------------------------------------------------------------------

    def deliver(self, message: dict[str, Any], entry_id: str | None) -> None:
        """Hand the creature one message (*entry_id*: its inbox entry, for a turn)."""
        if message.get("kind") == "turn" and entry_id is not None:
            self.delivered.append(_Delivered(entry_id, message.get("ref"), message.get("input")))
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            self._in_send.send_nowait(message)

    def receive(self) -> AsyncIterator[dict[str, Any]]:
        """The engine's messages, in order, until the link closes."""
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        with contextlib.suppress(trio.ClosedResourceError):
            async for message in self._in_receive:
                yield message

    # -- Creature → engine ---------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """Queue one message for the event stream (the writer appends it, fenced).

        Raises:
            trio.BrokenResourceError: the lease was lost; nothing more is written.
        """
        if self.fenced.is_set():
            raise trio.BrokenResourceError("the creature's lease was lost")
        kind = message.get("kind")
        event = message.get("event") or {}
        mark = event.get("type") if kind == "event" else kind
        if mark in self._skip:  # the engine has it from the creature's first owner
            self._skip.discard(mark)
            return
        inbox_id, acks = "", []
        if kind == "event" and mark == "turn_started":
            entry = self._entry_for(message.get("ref"), event.get("input"))
            if entry is not None:
                entry.started = True
                inbox_id = entry.entry_id
                self.turns[event.get("turn_index", 0)] = entry.entry_id
        elif kind == "event" and mark == "turn_completed":
            done = self.turns.pop(event.get("turn_index", 0), None)
            if done is not None:
                acks.append(done)
                self.delivered = [d for d in self.delivered if d.entry_id != done]
        elif kind == "rejected":
            for entry in [d for d in self.delivered if d.ref == message.get("ref")]:
                acks.append(entry.entry_id)
                self.delivered.remove(entry)
        elif kind == "stopped":
            self.stopped = True
        self._out_send.send_nowait((dumps(message), inbox_id, acks))

    def _entry_for(self, ref: str | None, input: Any) -> _Delivered | None:
        for entry in self.delivered:
            if entry.started:
                continue
            if (ref is not None and entry.ref == ref) or (
                ref is None and entry.ref is None and entry.input == input
            ):
                return entry
        return None

    async def write(self) -> None:
        """Append queued messages in fenced batches until the link is closed and drained.

        While Redis cannot be reached the same batch is retried (its number makes a retry
        after a lost reply write nothing twice); the lease decides whether it ever lands.
        """
        number = 0
        try:
            async for first in self._out_receive:
                batch = [first]
                while len(batch) < FLUSH_BATCH:
                    try:
                        batch.append(self._out_receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                number += 1
                while True:
                    try:
                        await self.redis.append(
                            keys=self.keys,
                            token=self.token,
                            batch=number,
                            entries=[(text, inbox_id) for text, inbox_id, _ in batch],
                            acks=[ack for _, _, acks in batch for ack in acks],
                        )
                        break
                    except LabUnavailableError:
                        await trio.sleep(RETRY_EVERY)
        except FencedError:
            self.fenced.set()
        finally:
            self._written.set()

    async def aclose(self) -> None:
        """Stop receiving, flush what is queued (bounded by a deadline); idempotent."""
        self._in_send.close()
        self._out_send.close()
        with trio.move_on_after(CLOSE_DEADLINE, shield=True):
            await self._written.wait()

    def fence(self) -> None:
        """The lease is gone: write nothing more."""
        self.fenced.set()

    def note(self, event: Any) -> None:
        """Queue an event of the transport's own (a takeover's report) for the engine."""
        self._out_send.send_nowait((dumps({"kind": "event", "event": to_wire(event)}), "", []))


@attrs.define(eq=False)
class _Owned:
    keys: CreatureKeys
    token: str
    link: WorkerLink
    scope: trio.CancelScope
    creature_id: str


class LabWorker:
    """A node of the Laboratory: owns creatures placed on it, over Redis.

    Args:
        url: The Redis URL (``redis://``, ``rediss://``, ``unix://``).
        name: The node's name, unique in the deployment (``gpu-1``).
        capacity: How many creatures it takes at most; placement prefers the least loaded.
        labels: Labels placement can ask for (``labels:gpu``).
        kernel: The plugin set creatures are built with (default: every installed plugin).
        llm: A model for every creature (an instance or ``fn(creature_id, config)``), for
            tests; ``None``: each config decides.
        lease_ttl: Seconds a lease lives without renewal: how soon another node takes over.
        prefix: Key prefix (see :class:`kt_lab.keys.LabKeys`).
        password_file: A file with the Redis password or ``user:password``.
        report: Called with one line for what an operator should know (a creature taken,
            fenced, handed back); default: nothing.
    """

    def __init__(
        self,
        url: str,
        name: str,
        *,
        capacity: int = 100,
        labels: tuple[str, ...] = (),
        kernel: kt.Kernel | None = None,
        llm: Any = None,
        lease_ttl: float = 6.0,
        prefix: str = "kt",
        password_file: str | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        if capacity < 1:
            raise LabConfigError(f"capacity must be at least 1, not {capacity}")
        if lease_ttl < 0.3:
            raise LabConfigError(f"lease_ttl must be at least 0.3 seconds, not {lease_ttl}")
        for label in labels:
            check_node_name(label)
        self.name = check_node_name(name)
        self.capacity = capacity
        self.labels = tuple(labels)
        self.kernel = kernel
        self.llm = llm
        self.lease_ms = int(lease_ttl * 1000)
        self.keys = LabKeys(prefix)
        self.redis = Redis(url, password_file=password_file)
        self.owned: dict[str, _Owned] = {}
        self.report = report or (lambda line: None)
        self._reported_outage = -math.inf
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Register, then serve until cancelled; on the way out, give every lease back."""
        await self.redis.check()
        if self.kernel is None:
            self.kernel = kt.Kernel()
        await self._register()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._heartbeat)
                nursery.start_soon(self._read)
                task_status.started()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_DEADLINE):
                await self._leave()

    async def _register(self) -> None:
        keys, client = self.keys, self.redis.client
        await self.redis.ensure_group(self.name, keys.node_control(self.name))

        def register() -> None:
            pipe = client.pipeline(transaction=False)
            pipe.hset(
                keys.node(self.name),
                mapping={
                    "capacity": self.capacity,
                    "labels": ",".join(self.labels),
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "version": _version(),
                    "started": time.time(),
                    "lease_ttl": self.lease_ms / 1000,
                },
            )
            pipe.sadd(keys.nodes, self.name)
            pipe.set(keys.node_alive(self.name), time.time(), px=self.lease_ms)
            pipe.execute()

        await self.redis.call(register)

    async def _leave(self) -> None:
        """Hand every creature back (their leases go now, not after a TTL) and go offline."""
        client = self.redis.client
        for placement_id, owned in list(self.owned.items()):
            await self.redis.release(owned.keys.lease, owned.token)
            await self.redis.call(client.srem, self.keys.node_creatures(self.name), placement_id)
        await self.redis.call(client.delete, self.keys.node_alive(self.name))
        self.redis.close()

    async def _heartbeat(self) -> None:
        client = self.redis.client
        while True:
            await trio.sleep(self.lease_ms / 3000)
            owned = list(self.owned.items())
            leases = [(o.keys.lease, o.token) for _, o in owned]
            try:
                held_now = await self.redis.call(self._beat, client, leases)
            except LabUnavailableError as error:
                await self._unreachable(error)
                continue
            for (_, creature), held in zip(owned, held_now, strict=True):
                if not held:
                    creature.link.fence()
                    creature.scope.cancel()

    async def _unreachable(self, error: LabUnavailableError) -> None:
        """Redis went away (a restart, a network cut): say so once in a while, then retry."""
        now = trio.current_time()
        if now - self._reported_outage > 10:
            self._reported_outage = now
            self.report(f"{error}; retrying")
        await trio.sleep(RETRY_EVERY)

    def _beat(self, client: Any, leases: list[tuple[str, str]]) -> list[bool]:
        """(Blocking) Say this node is alive; renew the leases; which are still held."""
        client.set(self.keys.node_alive(self.name), time.time(), px=self.lease_ms)
        return self.redis.renew_many(leases, self.lease_ms)

    # -- Reading -------------------------------------------------------------------------------

    async def _read(self) -> None:
        client, node_control = self.redis.client, self.keys.node_control(self.name)
        while True:
            streams = {node_control: ">"}
            routes: dict[str, tuple[_Owned, bool]] = {}
            for owned in self.owned.values():
                streams[owned.keys.inbox] = ">"
                streams[owned.keys.control] = ">"
                routes[owned.keys.inbox] = (owned, True)
                routes[owned.keys.control] = (owned, False)
            try:
                answer = await self.redis.call(
                    client.xreadgroup, self.name, self.name, streams, block=BLOCK_MS
                )
            except LabUnavailableError as error:
                await self._unreachable(error)
                continue
            acks: list[tuple[str, str]] = []
            arrived: dict[int, list[tuple[int, dict[str, Any], str | None]]] = {}
            for stream, entries in answer or []:
                if stream == node_control:
                    for entry_id, fields in entries:
                        acks.append((stream, entry_id))
                        self._order(fields)
                    continue
                route = routes.get(stream)
                if route is None:
                    continue
                owned, is_inbox = route
                for entry_id, fields in entries:
                    message = loads(fields["m"])
                    arrived.setdefault(id(owned), []).append(
                        (message.get("n", 0), message, entry_id if is_inbox else None)
                    )
                    if not is_inbox:
                        acks.append((stream, entry_id))
            owners = {id(owned): owned for owned, _ in routes.values()}
            for key, messages in arrived.items():  # both lanes, in the order the engine sent
                for _, message, inbox_id in sorted(messages, key=lambda item: item[0]):
                    owners[key].link.deliver(message, inbox_id)
            if acks:
                await self.redis.call(_ack_all, client, self.name, acks)

    def _order(self, fields: Mapping[str, str]) -> None:
        if fields.get("op") == "own" and fields.get("sid") not in self.owned:
            assert self._nursery is not None
            self._nursery.start_soon(self._own, fields["sid"])

    async def _wake(self) -> None:
        """Make the blocked reader start over (it reads a new creature's streams)."""
        stream = self.keys.node_control(self.name)
        await self.redis.call(
            self.redis.client.xadd, stream, {"op": "wake"}, maxlen=1000, approximate=True
        )

    # -- Owning one creature -------------------------------------------------------------------

    async def _own(self, placement_id: str) -> None:
        keys = self.keys.creature(placement_id)
        token = await self.redis.acquire(keys.lease, keys.epoch, self.name, self.lease_ms)
        if token is None:
            return  # another node holds it
        client = self.redis.client
        record = await self.redis.call(client.hgetall, keys.placement)
        if not record or record.get("state") == "stopped":
            await self.redis.release(keys.lease, token)
            return
        placement = _converter.structure(loads(record["placement"]), Placement)
        log = await self.redis.call(client.xrange, keys.events)
        previous = record.get("owner") or None
        pending = await self.redis.call(self.redis.handover, keys.inbox, self.name, previous)
        stale = await self.redis.call(self.redis.handover, keys.control, self.name, previous)
        if stale and previous == self.name:  # control entries are replayed from the stream
            await self.redis.call(client.xack, keys.control, self.name, *[i for i, _ in stale])
        sent = frozenset(_marks(log))
        link = WorkerLink(self.redis, keys, token, already_sent=sent)
        owned = _Owned(keys, token, link, trio.CancelScope(), placement.creature_id)
        await self.redis.call(
            client.hset, keys.placement, mapping={"owner": self.name, "token": token}
        )
        await self.redis.call(client.sadd, self.keys.node_creatures(self.name), placement_id)
        if log:
            placement = await self._take_over(placement, owned, log, pending, previous or "?")
        self.report(f"creature '{placement.creature_id}' owned here ({token})")
        self.owned[placement_id] = owned
        await self._wake()
        try:
            with owned.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(link.write)
                    nursery.start_soon(_cancel_when_fenced, owned)
                    await serve_creature(placement, link, kernel=self.kernel, llm=self.llm)
                    nursery.cancel_scope.cancel()
        finally:
            self.owned.pop(placement_id, None)
            with trio.CancelScope(shield=True):
                await self._let_go(placement_id, owned)

    async def _let_go(self, placement_id: str, owned: _Owned) -> None:
        client, keys = self.redis.client, owned.keys
        await self.redis.call(client.srem, self.keys.node_creatures(self.name), placement_id)
        if owned.link.fenced.is_set():
            self.report(
                f"creature '{owned.creature_id}' fenced: its lease ({owned.token}) was lost; "
                "another node owns it now"
            )
            return  # touch nothing of its
        if owned.link.stopped:
            await self.redis.call(client.hset, keys.placement, "state", "stopped")
            await self.redis.call(client.srem, self.keys.placements, placement_id)
        await self.redis.release(keys.lease, owned.token)

    async def _take_over(
        self, placement: Placement, owned: _Owned, log: list[Any], pending: list[Any], lost: str
    ) -> Placement:
        """Rebuild from the log, take the unacknowledged inbox, queue what the engine sent."""
        client, keys, link = self.redis.client, owned.keys, owned.link
        rebuilt = rebuild(
            placement.history,
            placement.usage,
            [(loads(f["m"]), f.get("in", "")) for _, f in log],
            lost_node=lost,
        )
        control = [loads(f["m"]) for _, f in await self.redis.call(client.xrange, keys.control)]
        self._tell_engine(placement.creature_id, rebuilt, link, lost)
        cancelled = {m.get("ref") for m in control if m.get("kind") == "cancel"}
        if any(m.get("kind") == "start" for m in control):
            link.deliver({"kind": "start"}, None)
        graphs = [m for m in control if m.get("kind") == "graph"]
        if graphs:
            link.deliver(graphs[-1], None)
        open_turn = rebuilt.open_turn
        for entry_id, fields in pending:
            message = loads(fields["m"])
            if open_turn is not None and entry_id == open_turn.inbox_id:
                message = {
                    **message,
                    "input": continuation_input(open_turn, lost_node=lost, node=self.name),
                    "source": "turn_restart",
                }
            elif message.get("ref") in cancelled or message.get("ref") in rebuilt.completed_refs:
                await self.redis.call(client.xack, keys.inbox, self.name, entry_id)
                continue
            link.deliver(message, entry_id)
        if any(m.get("kind") == "stop" for m in control):
            link.deliver({"kind": "stop"}, None)
        history = HistoryReplaced(
            creature=placement.creature_id,
            turn_index=rebuilt.turn_index,
            messages=tuple(rebuilt.messages),
            reason="turn_restart",
        )
        return attrs.evolve(placement, history=to_wire(history), usage=attrs.asdict(rebuilt.usage))

    def _tell_engine(self, creature: str, rebuilt: Rebuilt, link: WorkerLink, lost: str) -> None:
        """Queue the takeover's events: what happened, each in-doubt call, the history."""
        index = rebuilt.turn_index
        turn = rebuilt.open_turn
        what = f"turn {turn.index} continues here" if turn is not None else "no turn was open"
        notes = [
            AgentWarning(
                creature=creature,
                turn_index=index,
                source="kt_lab.turn_restart",
                message=f"node '{self.name}' took creature '{creature}' over from node "
                f"'{lost}', rebuilt from its event log; {what}",
            )
        ]
        for call_id, name in turn.in_doubt if turn is not None else ():
            notes.append(
                AgentWarning(
                    creature=creature,
                    turn_index=index,
                    source="kt_lab.in_doubt",
                    message=f"tool call {call_id} ({name}) started on node '{lost}' without a "
                    "recorded result; it is in doubt and was not run again",
                )
            )
        notes.append(
            HistoryReplaced(
                creature=creature,
                turn_index=index,
                messages=tuple(rebuilt.messages),
                reason="turn_restart",
            )
        )
        for note in notes:
            link.note(note)


_converter = cattrs.Converter()


async def _cancel_when_fenced(owned: _Owned) -> None:
    """A zombie stops at once: the creature's work here is void once another node owns it."""
    await owned.link.fenced.wait()
    owned.scope.cancel()


def _marks(log: list[Any]) -> list[str]:
    """What the log says the engine already has: built, started, creature_started."""
    marks = []
    for _, fields in log:
        message = loads(fields["m"])
        kind = message.get("kind")
        if kind in ("built", "started"):
            marks.append(kind)
        elif kind == "event" and message["event"].get("type") == "creature_started":
            marks.append("creature_started")
    return marks


def _ack_all(client: Any, group: str, acks: list[tuple[str, str]]) -> None:
    pipe = client.pipeline(transaction=False)
    for stream, entry_id in acks:
        pipe.xack(stream, group, entry_id)
    pipe.execute()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kt-terrarium")
    except PackageNotFoundError:
        return "0"
