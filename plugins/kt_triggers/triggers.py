"""Timer, schedule and channel triggers, and what every trigger shares.

A trigger wakes its creature without user input. The kernel runs it as a job
(``agent.add_trigger(trigger)``, which config triggers go through when the creature starts):
``run(agent, task_status=...)`` arms it, reports ``task_status.started()``, and then fires until
it is cancelled (``stop_task``, ``agent.cancel_job(trigger.id)``, or the creature stopping).

A firing is published as a :class:`TriggerFired` event and then queued as a turn with
``agent.inject`` (source ``trigger``, or ``channel`` for channel messages), so firings start
turns in the order they happened, after whatever turn is running. A trigger then waits until
its turn has ended before it looks for its next firing: a slow turn delays a timer rather than
piling up a queue of identical turns, and the ticks it missed meanwhile are skipped.
"""

from __future__ import annotations

import abc
import json
import math
import string
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs
import trio

import kt
from kt.events import Event
from kt_triggers.clock import CLOCK, Clock, WallClock
from kt_triggers.cron import Schedule
from kt_triggers.errors import TriggerConfigError

__all__ = [
    "DEFAULT_CHANNEL_PROMPT",
    "ChannelTrigger",
    "ScheduleTrigger",
    "TimerTrigger",
    "Trigger",
    "TriggerFired",
    "render_template",
]

DEFAULT_CHANNEL_PROMPT = "[Channel '{channel}' from {sender}]: {content}"
_CLOSE_DEADLINE = 2.0  # seconds a channel subscription may take to close when a watcher stops


@attrs.frozen(kw_only=True)
class TriggerFired(Event):
    """A trigger fired; the turn it queued follows (``TurnStarted`` with the same text).

    Attributes:
        trigger_id: The trigger's id (its job id: what ``stop_task`` takes).
        trigger_type: ``timer``, ``schedule``, ``channel``, ``webhook`` ...
        text: The input of the queued turn.
        context: Facts about the firing (the channel message's sender, the scheduled time ...).
    """

    type: ClassVar[str] = "trigger_fired"
    trigger_id: str
    trigger_type: str
    text: str = ""
    context: Mapping[str, Any] = attrs.field(factory=dict)


class Trigger(abc.ABC):
    """Base of the built-in triggers: an id, a type name, and :meth:`fire`.

    Attributes:
        name: The trigger type (``timer`` ...); the kernel names the job after it.
        id: The trigger's id, which becomes its job id (``trigger_<8 hex>`` unless given).
        fired: How many times it has fired.
    """

    name: ClassVar[str] = "trigger"

    def __init__(self, *, id: str | None = None) -> None:
        self.id = id or f"trigger_{uuid.uuid4().hex[:8]}"
        self.fired = 0

    @abc.abstractmethod
    async def run(self, agent: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Arm, report ready with ``task_status.started()``, then fire until cancelled."""

    async def fire(
        self,
        agent: Any,
        text: str,
        *,
        context: Mapping[str, Any] | None = None,
        source: str = "trigger",
        wait: bool = True,
    ) -> None:
        """Publish :class:`TriggerFired` and queue a turn for *text*.

        Args:
            agent: The creature.
            text: The turn's input.
            context: Facts about the firing, for the event.
            source: ``TurnStarted.source`` of the turn.
            wait: Return only when the queued turn has ended (or will never run).
        """
        await agent.emit(
            TriggerFired(
                trigger_id=self.id, trigger_type=self.name, text=text, context=dict(context or {})
            )
        )
        try:
            done = agent.inject(text, source=source)
        except kt.AgentStateError:
            return  # the creature is stopping; this trigger is about to be cancelled
        self.fired += 1
        if wait:
            await done.wait()


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders from *values*; unknown names become empty text.

    Raises:
        ValueError: the template is malformed (an unmatched brace, ``{a.b}`` ...).
    """
    parts = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        parts.append(literal)
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(
                f"placeholder '{{{field}}}' is not a plain name; write placeholders like "
                "{content} (double the braces for a literal one: {{ }})"
            )
        value = values.get(field)
        parts.append("" if value is None else str(value))
    return "".join(parts)


def check_template(template: str, *, option: str = "prompt") -> str:
    """Return *template* if :func:`render_template` can fill it.

    Raises:
        TriggerConfigError: naming *option*.
    """
    try:
        render_template(template, {})
    except ValueError as exc:
        detail = f"'{option}' template is malformed: {exc}"
        raise TriggerConfigError(detail, option=option) from None
    return template


# -- Timer --------------------------------------------------------------------------------------


class TimerTrigger(Trigger):
    """Fire every *interval* seconds (trio's clock), optionally at once, optionally N times.

    Ticks are counted from when the timer is armed (``start + k * interval``), so a timer does
    not drift. A tick that passes while the previous firing's turn still runs is skipped.

    Args:
        interval: Seconds between firings (more than 0).
        prompt: The text of each firing (default ``"Timer fired (every Ns)"``).
        immediate: Fire once at once when armed.
        max_fires: Stop after this many firings (``None``: until cancelled).
        id: The trigger id (default ``trigger_<8 hex>``).

    Raises:
        TriggerConfigError: *interval* is not a positive number, or *max_fires* < 1.
    """

    name: ClassVar[str] = "timer"

    def __init__(
        self,
        interval: float,
        prompt: str | None = None,
        *,
        immediate: bool = False,
        max_fires: int | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        if (
            isinstance(interval, bool)
            or not isinstance(interval, int | float)
            or not math.isfinite(interval)
            or interval <= 0
        ):
            raise TriggerConfigError(
                f"'interval' must be a positive number of seconds, not {interval!r}",
                option="interval",
            )
        if max_fires is not None and (isinstance(max_fires, bool) or max_fires < 1):
            raise TriggerConfigError(
                f"'max_fires' must be at least 1 (or left out), not {max_fires!r}",
                option="max_fires",
            )
        self.interval = float(interval)
        self.prompt = prompt or f"Timer fired (every {interval:g}s)"
        self.immediate = immediate
        self.max_fires = max_fires

    def describe(self) -> str:
        """A one-line summary for tool output."""
        parts = [f"every {self.interval:g}s"]
        if self.immediate:
            parts.append("starting now")
        if self.max_fires:
            parts.append(f"{self.max_fires} time{'s' if self.max_fires > 1 else ''}")
        return ", ".join(parts)

    def _done(self) -> bool:
        return self.max_fires is not None and self.fired >= self.max_fires

    async def run(self, agent: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Arm the timer and fire until cancelled (or *max_fires* firings)."""
        start = trio.current_time()
        task_status.started()
        if self.immediate:
            await self._fire(agent)
        tick = 1
        while not self._done():
            await trio.sleep_until(start + tick * self.interval)
            await self._fire(agent)
            elapsed = trio.current_time() - start
            tick = max(tick + 1, math.floor(elapsed / self.interval) + 1)  # skip missed ticks

    async def _fire(self, agent: Any) -> None:
        await self.fire(
            agent,
            f"[timer {self.id}] {self.prompt}",
            context={"interval": self.interval, "firing": self.fired + 1},
        )


# -- Schedule -----------------------------------------------------------------------------------


class ScheduleTrigger(Trigger):
    """Fire at the wall-clock times of a :class:`~kt_triggers.cron.Schedule`.

    The clock is *clock* if given, else the creature's ``agent.stash[CLOCK]``, else the
    system's wall clock. Firings missed while a previous firing's turn ran (or while the
    machine slept) are skipped: the next firing is the first one after now.

    Args:
        schedule: A :class:`~kt_triggers.cron.Cron` or :class:`~kt_triggers.cron.EveryMinutes`.
        prompt: The text of each firing (default ``"Scheduled time reached"``).
        id: The trigger id (default ``trigger_<8 hex>``).
        clock: The clock to read (tests pass a :class:`~kt_triggers.TrioClock`).
    """

    name: ClassVar[str] = "schedule"

    def __init__(
        self,
        schedule: Schedule,
        prompt: str | None = None,
        *,
        id: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(id=id)
        self.schedule = schedule
        self.prompt = prompt or "Scheduled time reached"
        self.clock = clock

    def describe(self) -> str:
        """A one-line summary for tool output."""
        return self.schedule.describe()

    async def run(self, agent: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Arm the schedule and fire at each of its times until cancelled."""
        clock = self.clock or agent.stash.get(CLOCK, None) or WallClock()
        after = clock.now()
        task_status.started()
        while True:
            at = self.schedule.next_after(after)
            await clock.sleep_until(at)
            local = at.astimezone(self.schedule.tz)
            await self.fire(
                agent,
                f"[schedule {self.id} at {local:%Y-%m-%d %H:%M %Z}] {self.prompt}",
                context={"scheduled_for": local.isoformat()},
            )
            after = max(at, clock.now())  # skip the times that passed during the turn


# -- Channel ------------------------------------------------------------------------------------


class ChannelTrigger(Trigger):
    """Fire once per message arriving on a channel, in order; never for the creature's own.

    Channels come from the creature's channel service, ``agent.stash[kt.CHANNEL_SERVICE]``,
    which the terrarium engine provides. The trigger subscribes when it is armed (or uses the
    *subscription* it is given), so every message sent after that is delivered. Messages from
    the creature itself (sender equal to its name, or ``sender_id`` equal to the service's
    ``creature_id``) are skipped, as are senders not in *filter_sender* when it is given.

    The firing's text is *prompt* rendered with the placeholders ``{content}``, ``{channel}``,
    ``{sender}``, ``{sender_id}``, ``{message_id}``, ``{reply_to}`` and every metadata key;
    unknown placeholders render empty.

    Args:
        channel: The channel's name.
        prompt: The template (default ``"[Channel '{channel}' from {sender}]: {content}"``).
        filter_sender: Only messages from these senders fire (``None``: everyone).
        id: The trigger id (default ``trigger_<8 hex>``).
        subscription: A receive channel already subscribed (the ``watch_channel`` tool
            subscribes first, to report an unknown channel to the model).

    Raises:
        TriggerConfigError: an empty channel name or a malformed template.
    """

    name: ClassVar[str] = "channel"

    def __init__(
        self,
        channel: str,
        prompt: str | None = None,
        *,
        filter_sender: Iterable[str] | None = None,
        id: str | None = None,
        subscription: Any = None,
    ) -> None:
        super().__init__(id=id)
        if not isinstance(channel, str) or not channel.strip():
            raise TriggerConfigError(
                f"'channel' must name a channel, not {channel!r}", option="channel"
            )
        self.channel = channel.strip()
        self.prompt = check_template(prompt or DEFAULT_CHANNEL_PROMPT)
        self.filter_sender = frozenset(filter_sender) if filter_sender else None
        self.subscription = subscription

    def describe(self) -> str:
        """A one-line summary for tool output."""
        who = f" from {', '.join(sorted(self.filter_sender))}" if self.filter_sender else ""
        return f"messages on '{self.channel}'{who}"

    async def run(self, agent: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Subscribe, report ready, then fire once per message until cancelled.

        Raises:
            TriggerConfigError: the creature has no channel service (it is not in a
                terrarium), or the service refuses the channel.
        """
        service = agent.stash.get(kt.CHANNEL_SERVICE, None)
        messages = self.subscription
        if messages is None:
            messages = subscribe(service, self.channel)
        self.subscription = None  # the trigger owns it now and closes it when done
        own_id = getattr(service, "creature_id", None)
        task_status.started()
        try:
            async for message in messages:
                sender = getattr(message, "sender", "") or ""
                sender_id = getattr(message, "sender_id", None)
                if sender == agent.name or (own_id is not None and sender_id == own_id):
                    continue
                if self.filter_sender is not None and sender not in self.filter_sender:
                    continue
                await self._fire(agent, message)
        finally:
            with trio.move_on_after(_CLOSE_DEADLINE, shield=True):
                await messages.aclose()

    async def _fire(self, agent: Any, message: Any) -> None:
        metadata = dict(getattr(message, "metadata", None) or {})
        facts = {
            "channel": getattr(message, "channel", None) or self.channel,
            "sender": getattr(message, "sender", "") or "",
            "sender_id": getattr(message, "sender_id", None),
            "message_id": getattr(message, "message_id", None),
            "reply_to": getattr(message, "reply_to", None),
        }
        content = getattr(message, "content", "")
        if not isinstance(content, str):  # JSON content, rendered as the engine renders it
            content = json.dumps(content, ensure_ascii=False, default=str, separators=(",", ":"))
        text = render_template(self.prompt, {**metadata, **facts, "content": content})
        await self.fire(
            agent,
            text,
            context={**facts, "content": content, "metadata": metadata},
            source="channel",
        )


def subscribe(service: Any, channel: str) -> Any:
    """Subscribe to *channel* through a creature's channel *service*.

    Raises:
        TriggerConfigError: there is no service, it cannot subscribe, or it refused the
            channel (its message, which names the channels there are, is kept).
    """
    if service is None:
        raise TriggerConfigError(
            f"cannot watch channel '{channel}': this creature has no channels. Channels exist "
            "when the creature runs in a terrarium (or when something puts a channel service "
            "in agent.stash[kt.CHANNEL_SERVICE])",
            option="channel",
        )
    if not callable(getattr(service, "subscribe", None)):
        raise TriggerConfigError(
            f"cannot watch channel '{channel}': the creature's channel service "
            f"({type(service).__name__}) does not support subscribe(channel)",
            option="channel",
        )
    try:
        return service.subscribe(channel)
    except (LookupError, PermissionError, ValueError) as exc:
        raise TriggerConfigError(
            f"cannot watch channel '{channel}': {exc}", option="channel"
        ) from None


def now_for(agent: Any, clock: Clock | None = None) -> datetime:
    """The wall time a creature's schedules see (its stashed clock, else the system's)."""
    return (clock or agent.stash.get(CLOCK, None) or WallClock()).now()
