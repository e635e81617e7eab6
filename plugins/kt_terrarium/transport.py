"""Hosting creatures elsewhere: the protocol between the engine and a transport.

A transport plugin contributes ``kt.TransportSpec(name, factory)`` through ``kt_transports()``.
``engine.add_creature(config, transport=name)`` hosts a creature through it: the engine builds the
transport once, on first use, with ``factory(**Terrarium(transports={name: options})[name])``,
enters it (``async with transport:``) in a task of its own nursery, and leaves it when the engine
shuts down, after its creatures stopped. For each creature it calls
``await transport.place(placement)`` and gets a :class:`Link`: the engine's end of a two-way,
ordered line of messages to wherever the creature runs.

At the other end, :func:`kt_terrarium.worker.serve_creature` runs the creature: it builds the
agent from the :class:`Placement` with the worker's own kernel (its plugins, its keys, its
packs) and answers the engine's messages. Every transport uses that one worker loop, so a
transport only places and carries; the engine drives a creature hosted elsewhere exactly like a
local one (its handle's ``run``, ``run_stream``, ``inject``, ``interrupt``, ``stop``), and the
creature's events come back into the engine (recorded, published on the bus, wired, delivered
through channels).

**Messages** are plain JSON-able dicts (:func:`encode` / :func:`decode`), each with a ``kind``;
events travel in their wire shape (:func:`kt.events.to_wire`). Engine → creature messages have a
``lane``:

* ``inbox``: turns (:class:`Turn`), delivered in order (a Redis transport: the creature's inbox
  stream, read through a consumer group).
* ``control``: everything else (:class:`Start`, :class:`Interrupt`, :class:`Cancel`,
  :class:`Stop`, :class:`GraphUpdate`, :class:`Reply`), in order among themselves, and never
  queued behind a running turn (a Redis transport: the creature's control stream).

Creature → engine messages (:class:`Built`, :class:`Started`, :class:`EventOut`,
:class:`Request`, :class:`Rejected`, :class:`Failed`, :class:`Stopped`) form one ordered stream
(a Redis transport: the creature's event stream, read from the engine's last id).

A creature's life over a link::

    engine                                      worker (serve_creature)
      place(Placement)  ───────────────────►    builds the agent
                        ◄───────────────────    Built(model, tools) | Failed
      Start             ───────────────────►    async with agent
                        ◄───────────────────    EventOut(creature_started) ... Started
      GraphUpdate       ───────────────────►    the prompt section, the channels it may use
      Turn(input, ref)  ───────────────────►    agent.run_stream / agent.inject
                        ◄───────────────────    EventOut(turn_started, ref) ... EventOut(...)
                        ◄───────────────────    Request(send on a channel)
      Reply             ───────────────────►
      Stop              ───────────────────►    the agent stops
                        ◄───────────────────    EventOut(creature_stopped), Stopped(history)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import PurePath
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs
import cattrs

from kt.config import CreatureConfig
from kt.errors import KTError
from kt_terrarium.errors import TransportError

__all__ = [
    "Built",
    "Cancel",
    "EventOut",
    "Failed",
    "GraphUpdate",
    "Interrupt",
    "Link",
    "Placement",
    "Rejected",
    "Reply",
    "Request",
    "Start",
    "Started",
    "Stop",
    "Stopped",
    "Transport",
    "Turn",
    "config_from_wire",
    "config_to_wire",
    "decode",
    "encode",
    "error_from",
]


# -- What a transport plugin implements ---------------------------------------------------------


@runtime_checkable
class Link(Protocol):
    """One end of the line between the engine and a placed creature.

    The engine's end sends engine → creature messages and receives creature → engine ones; the
    worker's end (given to :func:`~kt_terrarium.worker.serve_creature`) the other way round.

    An engine's end may also have ``async record_graph(topology)``: it keeps the creature's
    place in the engine's graph (:func:`kt_terrarium.remote.topology`: its channels, edges and
    wires) where the transport keeps the placement, so an engine that adopts the creature after
    a restart rebuilds the graph (:meth:`kt_terrarium.Terrarium.adopt`). The engine calls it
    only when the link has it.
    """

    async def send(self, message: Mapping[str, Any]) -> None:
        """Send one encoded message (:func:`encode`); keep each lane's order.

        Raises:
            trio.ClosedResourceError: this end was closed.
            trio.BrokenResourceError: the other end is gone.
        """

    def receive(self) -> AsyncIterator[dict[str, Any]]:
        """The encoded messages from the other end, in order; ends when it closed its end.

        Called once per link: the caller keeps reading the same iterator to the end.
        """

    async def aclose(self) -> None:
        """Close this end (the other end's :meth:`receive` ends); idempotent."""


@runtime_checkable
class Transport(Protocol):
    """What ``TransportSpec.factory(**options)`` returns.

    The engine enters it (``async with``) before its first placement and leaves it at shutdown,
    in one task of its own: a transport may open a nursery, a connection pool or a client there.
    """

    async def __aenter__(self) -> Any:
        """Connect (open clients, start background tasks)."""

    async def __aexit__(self, *exc_info: object) -> Any:
        """Disconnect; creatures still placed are gone."""

    async def place(self, placement: Placement) -> Link:
        """Host one creature somewhere and return the engine's end of its link.

        The creature is built there (its first message is :class:`Built` or :class:`Failed`)
        and waits for :class:`Start`.

        Raises:
            TransportError: no node can take it (the message says why).
        """


@attrs.frozen(kw_only=True)
class Placement:
    """Where and what to host: everything the worker needs, as plain data.

    Attributes:
        creature_id: The creature's id (its agent's name).
        placement_id: Unique per placement (a restart places again): a key space for the
            transport.
        config: What the worker loads: a creature folder or file, an ``@pack/path`` reference
            (resolved on the worker: packs must be installed there), or a config mapping; with
            *loaded*, a config the engine loaded already (:func:`config_to_wire`).
        base_dir: Where a mapping's relative paths resolve.
        pwd: The creature's working directory on the worker (``None``: the worker's).
        llm_selector: A ``BACKEND/MODEL`` selector overriding the config.
        node: The node asked for (``None``: the transport chooses).
        history: A restarted creature's conversation: a ``history_replaced`` event in its wire
            shape (with its ``turn_index``), or ``None`` for a new creature.
        usage: A restarted creature's usage so far (``kt.Usage`` fields).
        loaded: *config* is a loaded ``CreatureConfig`` in its wire shape (a creature whose
            config names ``on_node``: the engine read it to know where it goes); its paths are
            the engine's.
    """

    creature_id: str
    placement_id: str
    config: Any
    base_dir: str | None = None
    pwd: str | None = None
    llm_selector: str | None = None
    node: str | None = None
    history: Mapping[str, Any] | None = None
    usage: Mapping[str, Any] | None = None
    loaded: bool = False


# -- Engine → creature --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Start:
    """Start the built creature (``async with agent``)."""

    kind: ClassVar[str] = "start"
    lane: ClassVar[str] = "control"


@attrs.frozen(kw_only=True)
class Turn:
    """Queue a turn.

    Attributes:
        input: The input, in ``TurnStarted.input``'s wire shape (text, or content parts).
        source: ``TurnStarted.source`` (``user``, ``channel``, ``output_wire``, ...).
        ref: Set when the engine awaits the turn (``run``, ``run_stream``): the worker tags
            that turn's ``turn_started`` event with it. ``None``: nobody awaits it (``inject``).
        timeout: The turn's timeout, when ``timeout_given``.
        timeout_given: ``False``: the creature's config decides.
        max_iterations: At most this many model calls (``None``: the config's).
    """

    kind: ClassVar[str] = "turn"
    lane: ClassVar[str] = "inbox"
    input: Any
    source: str = "user"
    ref: str | None = None
    timeout: float | None = None
    timeout_given: bool = False
    max_iterations: int | None = None


@attrs.frozen(kw_only=True)
class Cancel:
    """Cancel the awaited turn *ref* (its caller left), queued or running."""

    kind: ClassVar[str] = "cancel"
    lane: ClassVar[str] = "control"
    ref: str


@attrs.frozen(kw_only=True)
class Interrupt:
    """Interrupt the running turn (``Agent.interrupt``)."""

    kind: ClassVar[str] = "interrupt"
    lane: ClassVar[str] = "control"


@attrs.frozen(kw_only=True)
class Stop:
    """Stop the creature; the worker answers :class:`Stopped` and ends the link."""

    kind: ClassVar[str] = "stop"
    lane: ClassVar[str] = "control"


@attrs.frozen(kw_only=True)
class GraphUpdate:
    """The creature's place in its graph changed.

    Attributes:
        section: The terrarium section of its prompt (without markers; ``""``: none).
        channels: What ``ChannelService.channels()`` answers.
        listing: What ``ChannelService.list()`` answers (``ChannelInfo`` fields).
    """

    kind: ClassVar[str] = "graph"
    lane: ClassVar[str] = "control"
    section: str = ""
    channels: Mapping[str, str] = attrs.field(factory=dict)
    listing: tuple[Mapping[str, Any], ...] = ()


@attrs.frozen(kw_only=True)
class Reply:
    """The answer to a :class:`Request`: its result, or an error."""

    kind: ClassVar[str] = "reply"
    lane: ClassVar[str] = "control"
    ref: str
    result: Any = None
    error_type: str = ""
    error: str = ""


# -- Creature → engine --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Built:
    """The creature is built and waits for :class:`Start`."""

    kind: ClassVar[str] = "built"
    model: str = ""
    tools: tuple[str, ...] = ()
    working_dir: str | None = None


@attrs.frozen(kw_only=True)
class Started:
    """The creature runs (its ``creature_started`` event came before this)."""

    kind: ClassVar[str] = "started"


@attrs.frozen(kw_only=True)
class EventOut:
    """One event of the creature, in its wire shape; ``ref`` tags an awaited turn's start."""

    kind: ClassVar[str] = "event"
    event: Mapping[str, Any]
    ref: str | None = None


@attrs.frozen(kw_only=True)
class Request:
    """The creature asks the engine (``method``: ``send``, a channel send)."""

    kind: ClassVar[str] = "request"
    ref: str
    method: str
    args: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Rejected:
    """The awaited turn *ref* never ran (the agent stopped, or refused it)."""

    kind: ClassVar[str] = "rejected"
    ref: str
    error_type: str = ""
    error: str = ""


@attrs.frozen(kw_only=True)
class Failed:
    """Building, starting or running the creature failed (``stage``: build, start, run)."""

    kind: ClassVar[str] = "failed"
    stage: str
    error_type: str = ""
    error: str = ""


@attrs.frozen(kw_only=True)
class Stopped:
    """The creature stopped; nothing follows.

    Attributes:
        history: Its conversation: a ``history_replaced`` event in its wire shape.
        usage: Its usage so far (``kt.Usage`` fields).
    """

    kind: ClassVar[str] = "stopped"
    history: Mapping[str, Any] | None = None
    usage: Mapping[str, Any] | None = None


# -- Encoding -----------------------------------------------------------------------------------

_MESSAGES: dict[str, type] = {
    cls.kind: cls
    for cls in (
        Start,
        Turn,
        Cancel,
        Interrupt,
        Stop,
        GraphUpdate,
        Reply,
        Built,
        Started,
        EventOut,
        Request,
        Rejected,
        Failed,
        Stopped,
    )
}
_converter = cattrs.Converter()


def encode(message: Any) -> dict[str, Any]:
    """*message* as plain JSON-able data: ``{"kind": ..., **fields}``."""
    return {"kind": message.kind, **_converter.unstructure(message)}


def decode(data: Mapping[str, Any]) -> Any:
    """Rebuild a message from :func:`encode` output.

    Raises:
        TransportError: the kind is unknown or the fields do not fit it.
    """
    fields = dict(data)
    kind = fields.pop("kind", None)
    cls = _MESSAGES.get(kind or "")
    if cls is None:
        raise TransportError(
            f"unknown transport message kind {kind!r}; known: {', '.join(sorted(_MESSAGES))}"
        )
    try:
        return _converter.structure(fields, cls)
    except Exception as error:
        raise TransportError(f"malformed transport message {kind!r}: {error}") from error


def config_to_wire(config: CreatureConfig) -> dict[str, Any]:
    """A loaded creature config as JSON-able data (:attr:`Placement.loaded`)."""
    return _config_converter.unstructure(config)


def config_from_wire(data: Mapping[str, Any]) -> CreatureConfig:
    """The config :func:`config_to_wire` sent.

    Raises:
        TransportError: the data is not a config of this kernel's shape.
    """
    try:
        return _config_converter.structure(dict(data), CreatureConfig)
    except Exception as error:
        raise TransportError(f"malformed creature config in a placement: {error}") from error


_config_converter = cattrs.Converter()
_config_converter.register_unstructure_hook(PurePath, str)


def error_from(error_type: str, message: str) -> KTError:
    """The error a remote side reported, as the kernel's or the engine's class of that name.

    A name that is neither a :mod:`kt.errors` nor a :mod:`kt_terrarium.errors` class (or one
    that needs more arguments) becomes a :class:`~kt_terrarium.errors.TransportError`.
    """
    from kt import errors as kernel_errors
    from kt_terrarium import errors as engine_errors

    for module in (engine_errors, kernel_errors):
        cls = getattr(module, error_type, None)
        if isinstance(cls, type) and issubclass(cls, KTError):
            try:
                return cls(message)
            except TypeError:
                break
    return TransportError(f"{error_type}: {message}" if error_type else message)
