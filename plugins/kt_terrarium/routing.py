"""Channel routing: channels and edges in graphs, and every message delivered as a turn.

:class:`ChannelRouter` is the engine's part that declares and deletes channels, adds and removes
listen and send edges (merging graphs when an edge joins two, splitting when one falls apart),
and routes messages: a broadcast message to every listener, a queue message to one listener
round-robin (or into the backlog when nobody listens), a direct message to one creature. A
delivery is a new turn of the receiver, queued the moment the message is sent; the sender never
waits for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio

from kt_terrarium.channels import (
    CHANNEL_KINDS,
    Channel,
    ChannelInfo,
    ChannelMessage,
    check_channel_name,
)
from kt_terrarium.errors import (
    ChannelExistsError,
    ChannelNotFoundError,
    ChannelPermissionError,
    TerrariumError,
)
from kt_terrarium.events import (
    ChannelCreated,
    ChannelEdgeChanged,
    ChannelMessageSent,
    ChannelRemoved,
    DirectMessage,
)
from kt_terrarium.graphs import Graph, GraphBook, GraphChange
from kt_terrarium.state import LIVE_STATES, EngineState

if TYPE_CHECKING:
    from kt_terrarium.handles import CreatureHandle

__all__ = ["CHANNEL_PROMPT", "DIRECT_PROMPT", "ChannelRouter", "CreatureChannels"]

CHANNEL_PROMPT = "[Channel '{channel}' from {sender}]: {content}"
DIRECT_PROMPT = "[direct from {sender}] {content}"


class ChannelRouter:
    """Channels, edges and message delivery for one engine.

    Args:
        state: The engine's shared state.
        book: The engine's graphs.
    """

    def __init__(self, state: EngineState, book: GraphBook) -> None:
        self.state = state
        self.book = book

    # -- Channels ------------------------------------------------------------------------------

    def create_channel(self, graph: Graph, name: str, kind: str, description: str) -> Channel:
        """Declare channel *name* in *graph* (see ``Terrarium.add_channel``)."""
        check_channel_name(name)
        if kind not in CHANNEL_KINDS:
            raise TerrariumError(f"a channel's kind is 'queue' or 'broadcast', not {kind!r}")
        if name in graph.channels:
            raise ChannelExistsError(
                f"graph {graph.id} already has a channel '{name}'; pick another name"
            )
        channel = Channel(name=name, kind=kind, description=description, graph_id=graph.id)
        graph.channels[name] = channel
        self.state.touch()
        self.state.publish(
            ChannelCreated(channel=name, kind=kind, description=description, graph_id=graph.id),
            (graph.id,),
        )
        return channel

    def remove_channel(self, name: str, graph: str | None) -> GraphChange:
        """Delete a channel (see ``Terrarium.remove_channel``)."""
        owner = self.book.with_channel(name, graph)
        channel = owner.channels.pop(name)
        channel.close_taps()
        self.state.touch()
        self.state.publish(ChannelRemoved(channel=name, graph_id=owner.id), (owner.id,))
        parts = self.book.split_if_needed(owner.id, reason="remove_channel")
        return GraphChange.after_split(parts, channel=name)

    # -- Edges ---------------------------------------------------------------------------------

    def add_edge(
        self,
        creature: str,
        channel: str,
        direction: str,
        *,
        graph: str | None,
        create: bool,
        kind: str,
        description: str,
    ) -> GraphChange:
        """Give *creature* a listen or send edge (see ``Terrarium.add_edge``)."""
        _check_direction(direction)
        handle = self.state.handle(creature)
        where = self.book.find(graph, creature)
        target = where.channels.get(channel)
        if target is None:
            if not create:
                raise ChannelNotFoundError(_missing_channel(channel, where, handle.id))
            target = self.create_channel(where, channel, kind, description)
        delta = "nothing"
        if target.graph_id != handle.graph_id:
            self.book.merge(target.graph_id, handle.graph_id, reason="channel_edge")
            delta = "merge"
        self.set_edge(handle.id, target, direction, True)
        return GraphChange(
            delta=delta, graph_id=target.graph_id, graph_ids=(target.graph_id,), channel=channel
        )

    def remove_edge(
        self, creature: str, channel: str, direction: str, *, graph: str | None
    ) -> GraphChange:
        """Take away *creature*'s edge (see ``Terrarium.remove_edge``)."""
        _check_direction(direction)
        handle = self.state.handle(creature)
        where = self.book.find(graph, creature)
        target = where.channels.get(channel)
        if target is None:
            raise ChannelNotFoundError(_missing_channel(channel, where, handle.id))
        self.set_edge(handle.id, target, direction, False)
        parts = self.book.split_if_needed(where.id, reason="channel_edge")
        return GraphChange.after_split(parts, graph_id=handle.graph_id, channel=channel)

    def set_edge(self, creature_id: str, channel: Channel, direction: str, on: bool) -> None:
        """Add (*on*) or remove an edge; publish the change; a new queue listener drains it."""
        if direction == "listen":
            if on and creature_id not in channel.listeners:
                channel.listeners.append(creature_id)
            elif not on and creature_id in channel.listeners:
                channel.listeners.remove(creature_id)
                if not self.state.is_privileged(creature_id):
                    channel.close_taps(creature_id)
            else:
                return
        else:
            if on == (creature_id in channel.senders):
                return
            (channel.senders.add if on else channel.senders.discard)(creature_id)
        self.state.touch()
        self.state.publish(
            ChannelEdgeChanged(
                creature=creature_id,
                channel=channel.name,
                direction=direction,
                added=on,
                graph_id=channel.graph_id,
            ),
            (channel.graph_id,),
        )
        if on and direction == "listen" and channel.kind == "queue":
            self.drain_backlog(channel)

    def connect(
        self, sender: str, receiver: str, *, channel: str | None, kind: str, description: str
    ) -> GraphChange:
        """A send edge and a listen edge on one channel (see ``Terrarium.connect``)."""
        a, b = self.state.handle(sender), self.state.handle(receiver)
        if channel is not None:
            check_channel_name(channel)
        delta = "nothing"
        if a.graph_id != b.graph_id:
            self.book.merge(a.graph_id, b.graph_id, reason="connect")
            delta = "merge"
        graph = self.state.graphs[a.graph_id]
        name = channel or _free_channel_name(graph, f"{sender}__{receiver}")
        target = graph.channels.get(name) or self.create_channel(graph, name, kind, description)
        self.set_edge(a.id, target, "send", True)
        self.set_edge(b.id, target, "listen", True)
        return GraphChange(delta=delta, graph_id=graph.id, graph_ids=(graph.id,), channel=name)

    def disconnect(self, sender: str, receiver: str, *, channel: str | None) -> GraphChange:
        """Undo ``connect`` (see ``Terrarium.disconnect``)."""
        a, b = self.state.handle(sender), self.state.handle(receiver)
        if a.graph_id != b.graph_id:
            return GraphChange(graph_id=a.graph_id, graph_ids=(a.graph_id, b.graph_id))
        graph = self.state.graphs[a.graph_id]
        if channel is not None:
            if channel not in graph.channels:
                raise ChannelNotFoundError(_missing_channel(channel, graph, a.id))
            names = [channel]
        else:
            names = sorted(
                n for n, c in graph.channels.items() if a.id in c.senders and b.id in c.listeners
            )
        for name in names:
            self.set_edge(a.id, graph.channels[name], "send", False)
            self.set_edge(b.id, graph.channels[name], "listen", False)
        parts = self.book.split_if_needed(graph.id, reason="disconnect")
        return GraphChange.after_split(parts, graph_id=a.graph_id, channels=tuple(names))

    def leave(self, creature_id: str, graph: Graph) -> None:
        """Take *creature_id*'s edges and subscriptions away (it is being removed)."""
        for channel in graph.channels.values():
            if creature_id in channel.listeners:
                channel.listeners.remove(creature_id)
            channel.senders.discard(creature_id)
            channel.close_taps(creature_id)

    # -- Sending -------------------------------------------------------------------------------

    async def send(
        self,
        channel: str,
        content: Any,
        *,
        graph: str | None,
        sender: str,
        reply_to: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> ChannelMessage:
        """Send from outside the graph (see ``Terrarium.send``)."""
        owner = self.book.with_channel(channel, graph)
        if sender in owner.creatures:  # one of the graph's creatures: it sends (no edge check)
            return await self.send_from(
                sender,
                channel,
                content,
                reply_to=reply_to,
                metadata=metadata,
                check=False,
                graph=owner,
            )
        message, event = self.route(owner.channels[channel], content, sender, reply_to, metadata)
        self.state.publish(event, (owner.id,))
        return message

    async def send_from(
        self,
        creature_id: str,
        channel: str,
        content: Any,
        *,
        reply_to: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        check: bool = True,
        graph: Graph | None = None,
    ) -> ChannelMessage:
        """Send as *creature_id*, its send edges checked unless not *check*.

        Raises:
            ChannelNotFoundError: no such channel in its graph.
            ChannelPermissionError: no send edge (and not privileged).
        """
        handle = self.state.handle(creature_id)
        graph = graph or self.state.graphs[handle.graph_id]
        target = graph.channels.get(channel)
        if target is None:
            raise ChannelNotFoundError(_missing_channel(channel, graph, creature_id))
        if check and not handle.privileged and creature_id not in target.senders:
            allowed = sorted(n for n, c in graph.channels.items() if creature_id in c.senders)
            raise ChannelPermissionError(
                f"'{creature_id}' may not send on channel '{channel}'; it can send on: "
                f"{', '.join(allowed) or 'no channel'}. A privileged creature can allow it "
                f"with group_channel(action='wire', channel='{channel}', "
                f"creature='{creature_id}', direction='send')."
            )
        message, event = self.route(target, content, creature_id, reply_to, metadata)
        await handle.body.emit(event)  # recorded and published as the creature's event
        return message

    def route(
        self,
        channel: Channel,
        content: Any,
        sender: str,
        reply_to: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> tuple[ChannelMessage, ChannelMessageSent]:
        """Deliver one message now; return it and its event (not yet published)."""
        message = ChannelMessage(
            channel=channel.name,
            content=content,
            sender=sender,
            graph_id=channel.graph_id,
            kind=channel.kind,
            reply_to=reply_to,
            metadata=dict(metadata or {}),
        )
        channel.history.append(message)
        channel.message_count += 1
        channel.feed_taps(message)
        delivered: list[str] = []
        queued = False
        if channel.kind == "broadcast":
            for creature_id in list(channel.listeners):
                if creature_id == sender or channel.has_tap(creature_id):
                    continue
                handle = self.state.creatures.get(creature_id)
                if handle is not None and self._deliver_message(handle, message):
                    delivered.append(creature_id)
        else:
            target = self._queue_target(channel, exclude=sender)
            if target is None:
                channel.backlog.append(message)
                queued = True
            else:
                self._deliver_message(target, message)
                delivered.append(target.id)
        event = ChannelMessageSent(
            creature=sender if sender in self.state.creatures else "",
            channel=channel.name,
            sender=sender,
            message_id=message.message_id,
            content=content,
            kind=channel.kind,
            graph_id=channel.graph_id,
            reply_to=reply_to,
            metadata=message.metadata,
            delivered_to=tuple(delivered),
            queued=queued,
        )
        return message, event

    def _queue_target(self, channel: Channel, *, exclude: str) -> CreatureHandle | None:
        creatures = self.state.creatures
        candidates = [
            cid
            for cid in channel.listeners
            if cid != exclude
            and cid in creatures
            and creatures[cid].state in LIVE_STATES
            and not channel.has_tap(cid)
        ]
        chosen = channel.next_listener(candidates)
        return creatures[chosen] if chosen is not None else None

    def drain_backlog(self, channel: Channel) -> None:
        """Hand a queue channel's waiting messages to its listeners, in order."""
        while channel.backlog:
            message = channel.backlog[0]
            target = self._queue_target(channel, exclude=message.sender)
            if target is None:
                return
            channel.backlog.popleft()
            self._deliver_message(target, message)

    def drain_backlogs(self, handle: CreatureHandle) -> None:
        """The queue channels *handle* listens on give it their backlogs (it just started)."""
        graph = self.state.graphs.get(handle.graph_id)
        if graph is None:
            return
        for channel in graph.channels.values():
            if channel.kind == "queue" and channel.backlog and handle.id in channel.listeners:
                self.drain_backlog(channel)

    def _deliver_message(self, handle: CreatureHandle, message: ChannelMessage) -> bool:
        text = CHANNEL_PROMPT.format(
            channel=message.channel, sender=message.sender, content=message.text
        )
        return handle.queue_turn(text, "channel")

    async def send_direct(self, sender: str, target: str, content: str) -> bool:
        """A ``[direct from SENDER] ...`` turn for *target* (see ``Terrarium.send_direct``)."""
        handle = self.state.handle(target)
        text = DIRECT_PROMPT.format(sender=sender, content=content)
        if not handle.queue_turn(text, "direct"):
            return False
        await handle.body.emit(DirectMessage(sender=sender, content=content))
        return True

    # -- Subscriptions -------------------------------------------------------------------------

    def subscribe_for(
        self, creature_id: str, channel: str
    ) -> trio.MemoryReceiveChannel[ChannelMessage]:
        """A subscription of *creature_id* to *channel* (see ``ChannelService.subscribe``)."""
        handle = self.state.handle(creature_id)
        graph = self.state.graphs[handle.graph_id]
        target = graph.channels.get(channel)
        if target is None:
            raise ChannelNotFoundError(_missing_channel(channel, graph, creature_id))
        if not handle.privileged and creature_id not in target.listeners:
            listening = sorted(n for n, c in graph.channels.items() if creature_id in c.listeners)
            raise ChannelPermissionError(
                f"'{creature_id}' may not listen on channel '{channel}'; it listens on: "
                f"{', '.join(listening) or 'no channel'}"
            )
        return target.open_tap(creature_id)


class CreatureChannels:
    """The :class:`~kt_terrarium.channels.ChannelService` the engine puts in a creature's stash.

    Bound to one creature; its graph is looked up at each call, so it keeps working when graphs
    merge or split.
    """

    def __init__(self, router: ChannelRouter, creature_id: str) -> None:
        self._router = router
        self.creature_id = creature_id

    def channels(self) -> dict[str, str]:
        """The channels the creature may send on: name -> ``"<kind>: <description>"``."""
        state = self._router.state
        handle = state.handle(self.creature_id)
        graph = state.graphs[handle.graph_id]
        return {
            name: f"{c.kind}: {c.description}" if c.description else c.kind
            for name, c in sorted(graph.channels.items())
            if handle.privileged or self.creature_id in c.senders
        }

    async def send(
        self,
        channel: str,
        content: Any,
        *,
        sender: str | None = None,
        reply_to: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Send as the creature; return the message id (see ``ChannelService.send``)."""
        if sender not in (None, self.creature_id):
            raise ChannelPermissionError(
                f"creature '{self.creature_id}' cannot send as '{sender}'; leave sender out"
            )
        message = await self._router.send_from(
            self.creature_id, channel, content, reply_to=reply_to, metadata=metadata
        )
        return message.message_id

    def subscribe(self, channel: str) -> trio.MemoryReceiveChannel[ChannelMessage]:
        """Subscribe as the creature (see ``ChannelService.subscribe``)."""
        return self._router.subscribe_for(self.creature_id, channel)

    def list(self) -> list[ChannelInfo]:
        """Every channel of the creature's graph, sorted by name."""
        graph = self._router.state.graph_of(self.creature_id)
        return [graph.channels[name].info() for name in sorted(graph.channels)]


def _check_direction(direction: str) -> None:
    if direction not in ("listen", "send"):
        raise TerrariumError(f"direction is 'listen' or 'send', not {direction!r}")


def _free_channel_name(graph: Graph, base: str) -> str:
    name, n = base, 1
    while name in graph.channels:
        n += 1
        name = f"{base}_{n}"
    return name


def _missing_channel(name: str, graph: Graph, creature_id: str) -> str:
    listed = ", ".join(f"{n} ({graph.channels[n].kind})" for n in sorted(graph.channels)) or "none"
    return (
        f"no channel '{name}' in the graph of '{creature_id}'; its channels: {listed}. "
        "Use one of these names; channels are not created by sending."
    )
