"""Building triggers from creature config entries (``[[triggers]]``), with key-path errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kt_triggers.errors import TriggerConfigError
from kt_triggers.tools import build_schedule
from kt_triggers.triggers import ChannelTrigger, ScheduleTrigger, TimerTrigger, Trigger
from kt_triggers.webhook import WebhookTrigger

__all__ = ["FACTORIES"]


class _Entry:
    """A trigger config entry's options, each taken once; leftovers are an error."""

    def __init__(self, entry: Any, agent: Any) -> None:
        self.entry = entry
        self.options = dict(entry.options)
        triggers = agent.config.triggers
        index = next((i for i, e in enumerate(triggers) if e is entry), None)
        self.path = f"triggers[{index}]" if index is not None else "triggers"
        self.file = str(agent.config.files[-1]) if agent.config.files else None

    def take(self, key: str, default: Any = None) -> Any:
        return self.options.pop(key, default)

    def error(self, exc: TriggerConfigError) -> TriggerConfigError:
        option = exc.option or "type"
        return TriggerConfigError(
            exc.detail, option=option, path=f"{self.path}.{option}", file=self.file
        )

    def build(self, make: Callable[[], Trigger]) -> Trigger:
        try:
            trigger = make()
        except TriggerConfigError as exc:
            raise self.error(exc) from None
        if self.options:
            key = sorted(self.options)[0]
            raise self.error(
                TriggerConfigError(
                    f"a '{self.entry.type}' trigger has no option '{key}'", option=key
                )
            )
        return trigger


def _timer(entry: Any, agent: Any) -> Trigger:
    e = _Entry(entry, agent)
    return e.build(
        lambda: TimerTrigger(
            e.take("interval", 60),
            entry.prompt,
            immediate=e.take("immediate", False),
            max_fires=e.take("max_fires"),
            id=entry.name,
        )
    )


def _schedule(entry: Any, agent: Any) -> Trigger:
    e = _Entry(entry, agent)
    return e.build(
        lambda: ScheduleTrigger(
            build_schedule(
                cron=e.take("cron"),
                every_minutes=e.take("every_minutes"),
                daily_at=e.take("daily_at"),
                hourly_at=e.take("hourly_at"),
                timezone=e.take("timezone"),
            ),
            entry.prompt,
            id=entry.name,
        )
    )


def _channel(entry: Any, agent: Any) -> Trigger:
    e = _Entry(entry, agent)
    return e.build(
        lambda: ChannelTrigger(
            e.take("channel", e.take("channel_name")),
            entry.prompt,
            filter_sender=_senders(e.take("filter_sender")),
            id=entry.name,
        )
    )


def _webhook(entry: Any, agent: Any) -> Trigger:
    e = _Entry(entry, agent)
    return e.build(
        lambda: WebhookTrigger(
            host=e.take("host", "127.0.0.1"),
            port=e.take("port", 9090),
            path=e.take("path", "/webhook"),
            secret=e.take("secret"),
            prompt=entry.prompt,
            max_body=e.take("max_body", 1024 * 1024),
            replay_window=e.take("replay_window", 300),
            id=entry.name,
        )
    )


def _senders(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def schedule_trigger(entry: Any, agent: Any) -> Trigger:
    """A ``schedule`` trigger from a config entry (also what a pack's cron trigger loads)."""
    return _schedule(entry, agent)


def webhook_trigger(entry: Any, agent: Any) -> Trigger:
    """A ``webhook`` trigger from a config entry (also what a pack's webhook trigger loads)."""
    return _webhook(entry, agent)


FACTORIES: dict[str, Callable[[Any, Any], Trigger]] = {
    "timer": _timer,
    "schedule": _schedule,
    "channel": _channel,
    "webhook": _webhook,
}
"""``factory(entry, agent)`` per trigger type."""
