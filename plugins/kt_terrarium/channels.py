"""Channels: named message routes between the creatures of a terrarium.

A channel lives in one graph of a :class:`kt_terrarium.Terrarium` and has a *kind*:

* ``broadcast``: every listener receives every message (except the sender: creatures never
  hear their own messages).
* ``queue``: each message goes to exactly one listener, round-robin over the listeners that
  are not stopped; with no listener at all, messages wait in the channel's backlog and are
  handed out, in order, as soon as one listens.

Who may do what is decided per creature: a *listen* edge makes the engine deliver the
channel's messages to the creature as turns, and a *send* edge lets it send. Privileged
creatures (a recipe's root) may send on, and subscribe to, every channel of their graph.

Tools and triggers written as plugins reach channels through one object, the
:class:`ChannelService` that the engine puts in every hosted creature's stash under
:data:`CHANNELS`::

    service = ctx.stash.get(kt.CHANNEL_SERVICE, None)      # inside a tool (kt.ToolContext)
    if service is None:
        return kt.ToolResult(error="no channels: this creature is not in a terrarium")
    message_id = await service.send("tasks", "Fix the failing test")

Every message sent is also an event, :class:`kt_terrarium.events.ChannelMessageSent` (type
``channel_message``), published by the sending creature (so ``kt_event`` persistence records it)
and on the engine's bus (``engine.subscribe()``). Routing a message to its listeners is the job
of :mod:`kt_terrarium.routing`; this module holds the values and the live channel.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import attrs
import trio

from kt import StashKey
from kt_terrarium.errors import TerrariumError

__all__ = [
    "CHANNELS",
    "CHANNEL_KINDS",
    "HISTORY_LIMIT",
    "Channel",
    "ChannelInfo",
    "ChannelKind",
    "ChannelMessage",
    "ChannelService",
    "check_channel_name",
    "content_text",
]

ChannelKind = Literal["queue", "broadcast"]
CHANNEL_KINDS: tuple[str, ...] = ("queue", "broadcast")
HISTORY_LIMIT = 200
"""Messages each channel keeps for observers and ``group_status`` (older ones are dropped)."""

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:>-]*$")


# -- Messages -----------------------------------------------------------------------------------


def content_text(content: Any) -> str:
    """A message's content as text: strings unchanged, anything else as compact JSON.

    Args:
        content: A string, or a JSON-able value (a mapping, a list of parts).

    Returns:
        The text a receiving creature's model sees.
    """
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False, default=str, separators=(",", ":"))


@attrs.frozen(kw_only=True)
class ChannelMessage:
    """One message on a channel, as listeners, subscribers and observers receive it.

    Attributes:
        channel: The channel's name.
        content: A string, or a JSON-able value (``content_text`` renders it).
        sender: The sending creature's id, or a label such as ``"human"`` for messages from
            outside the graph.
        message_id: Unique id, ``msg_<12 hex>``.
        graph_id: The graph the channel belonged to when the message was sent.
        kind: The channel's kind, ``queue`` or ``broadcast``.
        reply_to: The id of the message this one answers, if any.
        metadata: Free-form facts from the sender.
        timestamp: Wall-clock time of sending (``time.time()``).
    """

    channel: str
    content: Any
    sender: str
    message_id: str = attrs.field(factory=lambda: f"msg_{uuid.uuid4().hex[:12]}")
    graph_id: str = ""
    kind: str = "broadcast"
    reply_to: str | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    timestamp: float = attrs.field(factory=time.time)

    @property
    def text(self) -> str:
        """The content as text (see :func:`content_text`)."""
        return content_text(self.content)

    @property
    def sender_id(self) -> str:
        """The sender's stable id: the same as :attr:`sender` (a creature has one name)."""
        return self.sender


@attrs.frozen(kw_only=True)
class ChannelInfo:
    """A snapshot of one channel: what ``ChannelService.list()`` and ``engine.channels`` return.

    Attributes:
        name: The channel's name, unique within its graph.
        kind: ``queue`` or ``broadcast``.
        description: What the channel is for (shown to models in the graph description).
        graph_id: The graph the channel belongs to.
        listeners: Ids of the creatures with a listen edge, in the order they were added.
        senders: Ids of the creatures with a send edge, sorted.
        message_count: Messages sent on the channel so far.
        backlog: Queue channels: messages waiting for a listener.
    """

    name: str
    kind: str
    description: str = ""
    graph_id: str = ""
    listeners: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()
    message_count: int = 0
    backlog: int = 0


# -- The service tools and triggers use ---------------------------------------------------------


@runtime_checkable
class ChannelService(Protocol):
    """The channels one creature can reach; found in its stash under :data:`CHANNELS`.

    The engine gives every creature it hosts its own service object, bound to that creature
    (:attr:`creature_id`): permissions are checked for it, and its graph is looked up at each
    call, so the service keeps working when graphs merge or split. Errors are
    :class:`~kt_terrarium.errors.ChannelNotFoundError` (a ``LookupError``) and
    :class:`~kt_terrarium.errors.ChannelPermissionError` (a ``PermissionError``), with messages
    written for a model to read.
    """

    creature_id: str

    def channels(self) -> Mapping[str, str]:
        """The channels this creature may send on: name -> ``"<kind>: <description>"``."""

    async def send(
        self,
        channel: str,
        content: Any,
        *,
        sender: str | None = None,
        reply_to: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Send *content* on *channel* of the creature's graph; return the message's id.

        Delivery to listeners is immediate (their turns are queued before this returns) and
        never waits for those turns. Cancellation: the message is either sent or not; a
        cancelled call may still have sent it.

        Args:
            channel: The channel's name.
            content: Text, or a JSON-able value.
            sender: ``None`` or the creature's own id (a creature cannot send as another).
            reply_to: The id of the message this one answers.
            metadata: Free-form facts for receivers and observers.

        Returns:
            The message id (``msg_<12 hex>``).

        Raises:
            ChannelNotFoundError: no such channel in the creature's graph (the message lists
                the channels that exist).
            ChannelPermissionError: the creature has no send edge on it (the message lists the
                channels it can send on), or *sender* is another creature.
        """

    def subscribe(self, channel: str) -> trio.MemoryReceiveChannel[ChannelMessage]:
        """Receive every later message of *channel* except the creature's own.

        The subscription exists when this returns, so nothing sent afterwards is missed. While
        it is open, the engine stops delivering that channel's messages to the creature as
        turns: the subscriber handles them (``watch_channel`` works this way). Close the
        returned channel (``aclose()``) to end the subscription; it also ends when the
        creature leaves the channel or stops.

        Args:
            channel: The channel's name.

        Returns:
            An unbounded receive channel of :class:`ChannelMessage`.

        Raises:
            ChannelNotFoundError: no such channel in the creature's graph.
            ChannelPermissionError: the creature may not listen on it (privileged creatures
                may subscribe to every channel of their graph).
        """

    def list(self) -> list[ChannelInfo]:
        """Every channel of the creature's graph, sorted by name, with its edges."""


try:  # the kernel's shared key (kt.CHANNEL_SERVICE), which kt_tools and kt_triggers read
    from kt import CHANNEL_SERVICE as CHANNELS
except ImportError:  # pragma: no cover - a kernel without it: the engine's own key
    CHANNELS: StashKey[ChannelService] = StashKey()  # type: ignore[no-redef]
"""Where the engine puts each hosted creature's :class:`ChannelService` (``agent.stash``);
the same key as ``kt.CHANNEL_SERVICE``."""


# -- The live channel (engine internal) ---------------------------------------------------------


@attrs.define(eq=False)
class _Tap:
    """A subscription: messages are copied into ``send``; ``owner`` is a creature id or None."""

    send: trio.MemorySendChannel[ChannelMessage]
    owner: str | None

    @property
    def open(self) -> bool:
        return self.send.statistics().open_receive_channels > 0


@attrs.define(eq=False)
class Channel:
    """A live channel, owned by the engine; readers use :class:`ChannelInfo` snapshots.

    Attributes:
        name: Unique within its graph.
        kind: ``queue`` or ``broadcast``.
        description: What it is for.
        graph_id: The graph it belongs to; the engine changes it when graphs merge or split.
        listeners: Ids with a listen edge, in the order they were added.
        senders: Ids with a send edge.
        history: The last :data:`HISTORY_LIMIT` messages.
        backlog: Queue channels: messages waiting for a listener.
        taps: Open subscriptions.
        message_count: Messages sent so far.
    """

    name: str
    kind: str
    description: str = ""
    graph_id: str = ""
    listeners: list[str] = attrs.Factory(list)
    senders: set[str] = attrs.Factory(set)
    history: deque[ChannelMessage] = attrs.Factory(lambda: deque(maxlen=HISTORY_LIMIT))
    backlog: deque[ChannelMessage] = attrs.Factory(deque)
    taps: list[_Tap] = attrs.Factory(list)
    message_count: int = 0
    _turn: int = 0  # round-robin position for queue channels

    def info(self) -> ChannelInfo:
        """A frozen snapshot."""
        return ChannelInfo(
            name=self.name,
            kind=self.kind,
            description=self.description,
            graph_id=self.graph_id,
            listeners=tuple(self.listeners),
            senders=tuple(sorted(self.senders)),
            message_count=self.message_count,
            backlog=len(self.backlog),
        )

    def members(self) -> set[str]:
        """Every creature with an edge on the channel."""
        return set(self.listeners) | self.senders

    def open_tap(self, owner: str | None) -> trio.MemoryReceiveChannel[ChannelMessage]:
        """A new subscription (see :meth:`ChannelService.subscribe`)."""
        send, receive = trio.open_memory_channel[ChannelMessage](math.inf)
        self.taps.append(_Tap(send, owner))
        return receive

    def has_tap(self, owner: str) -> bool:
        """Whether creature *owner* holds an open subscription here."""
        return any(tap.owner == owner and tap.open for tap in self.taps)

    def feed_taps(self, message: ChannelMessage) -> None:
        """Copy *message* into every open subscription but its sender's; drop closed ones."""
        for tap in list(self.taps):
            if not tap.open:
                self.taps.remove(tap)
                continue
            if tap.owner is not None and tap.owner == message.sender:
                continue
            tap.send.send_nowait(message)

    def close_taps(self, owner: str | None = None) -> None:
        """End the subscriptions of *owner* (every one when ``None``)."""
        for tap in list(self.taps):
            if owner is None or tap.owner == owner:
                tap.send.close()
                self.taps.remove(tap)

    def next_listener(self, candidates: Sequence[str]) -> str | None:
        """Round-robin choice among *candidates* (listeners in listen order) for queue delivery."""
        if not candidates:
            return None
        chosen = candidates[self._turn % len(candidates)]
        self._turn += 1
        return chosen


def check_channel_name(name: str) -> None:
    """Refuse a name that is not a channel name (letters, digits, ``_ - . :``).

    Raises:
        TerrariumError: the name is not a string or has other characters.
    """
    if not isinstance(name, str) or not _CHANNEL_NAME.match(name):
        raise TerrariumError(
            f"invalid channel name {name!r}: use letters, digits, '_', '-', '.' or ':'"
        )
