"""Triggers that wake a creature without user input, and tools to set them up at run time.

Four trigger types: ``timer``, ``schedule`` (cron expressions and time zones), ``channel`` (a
terrarium channel watcher) and ``webhook`` (an HTTP endpoint on loopback). Three tools let a
model set triggers up itself: ``add_timer``, ``add_schedule`` and ``watch_channel``.

A creature's config lists triggers that start with it::

    [[triggers]]
    type = "schedule"
    name = "morning"
    cron = "0 9 * * mon-fri"
    timezone = "Europe/Berlin"
    prompt = "Check the overnight build and summarise failures."

Every firing is published as a :class:`TriggerFired` event and then starts a turn of its own,
in order, after the turn that is running. See ``docs/reference/triggers.md``.

The webhook is also an input module (``input = {type = "webhook"}``): the creature is then
served from HTTP requests, each one a turn (:mod:`kt_triggers.webhook_input`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import kt

__all__ = [
    "CLOCK",
    "ChannelTrigger",
    "Clock",
    "Cron",
    "EveryMinutes",
    "Schedule",
    "ScheduleTrigger",
    "TimerTrigger",
    "Trigger",
    "TriggerConfigError",
    "TriggerFired",
    "TrioClock",
    "WallClock",
    "WebhookTrigger",
    "build_schedule",
    "resolve_timezone",
]

# Every part loads on first use (the running parts import trio), so building a kernel (as
# `kt --help` does) imports no more than this module.
_LAZY = {
    "Cron": "kt_triggers.cron",
    "EveryMinutes": "kt_triggers.cron",
    "Schedule": "kt_triggers.cron",
    "resolve_timezone": "kt_triggers.cron",
    "TriggerConfigError": "kt_triggers.errors",
    "build_schedule": "kt_triggers.tools",
    "CLOCK": "kt_triggers.clock",
    "Clock": "kt_triggers.clock",
    "TrioClock": "kt_triggers.clock",
    "WallClock": "kt_triggers.clock",
    "ChannelTrigger": "kt_triggers.triggers",
    "ScheduleTrigger": "kt_triggers.triggers",
    "TimerTrigger": "kt_triggers.triggers",
    "Trigger": "kt_triggers.triggers",
    "TriggerFired": "kt_triggers.triggers",
    "WebhookTrigger": "kt_triggers.webhook",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kt_triggers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from kt_triggers.clock import CLOCK, Clock, TrioClock, WallClock  # noqa: F401
    from kt_triggers.cron import Cron, EveryMinutes, Schedule, resolve_timezone  # noqa: F401
    from kt_triggers.errors import TriggerConfigError  # noqa: F401
    from kt_triggers.tools import build_schedule  # noqa: F401
    from kt_triggers.triggers import (  # noqa: F401
        ChannelTrigger,
        ScheduleTrigger,
        TimerTrigger,
        Trigger,
        TriggerFired,
    )
    from kt_triggers.webhook import WebhookTrigger  # noqa: F401


def _factory(name: str) -> Any:
    """The ``TriggerSpec.factory`` for *name*, importing the trigger code on first use."""

    def factory(entry: Any, agent: Any) -> Any:
        from kt_triggers import config as _config

        return _config.FACTORIES[name](entry, agent)

    return factory


_TYPES = {
    "timer": "every N seconds (interval, immediate, max_fires)",
    "schedule": "at wall-clock times: cron, every_minutes, daily_at or hourly_at, in a timezone",
    "channel": "each message on a terrarium channel (channel, filter_sender)",
    "webhook": "each HTTP POST to a local endpoint (host, port, path, secret)",
}


@kt.hookimpl
def kt_triggers() -> list[kt.TriggerSpec]:
    """Contribute the ``timer``, ``schedule``, ``channel`` and ``webhook`` trigger types."""
    return [kt.TriggerSpec(name, _factory(name), about) for name, about in _TYPES.items()]


@kt.hookimpl
def kt_module_aliases() -> dict[str, str]:
    """kt-biome's cron and webhook triggers are the ``schedule`` and ``webhook`` types."""
    return {
        "kt_biome.triggers.cron:CronTrigger": "kt_triggers.config:schedule_trigger",
        "kt_biome.triggers.webhook:WebhookTrigger": "kt_triggers.config:webhook_trigger",
    }


def _webhook_input(entry: Any, agent: Any) -> Any:
    from kt_triggers.webhook_input import WebhookInput

    return WebhookInput.from_entry(entry, agent)


@kt.hookimpl
def kt_inputs() -> list[kt.InputSpec]:
    """Contribute the ``webhook`` input: each HTTP POST to a local endpoint is a turn."""
    return [
        kt.InputSpec(
            "webhook",
            _webhook_input,
            "each HTTP POST to a local endpoint is a turn (host, port, path, secret, reply, "
            "max_requests)",
        )
    ]


@kt.hookimpl
async def kt_session_restore(creature: kt.Agent, reader: Any) -> None:
    """Start again the triggers the creature's tools added and nothing stopped.

    See :mod:`kt_triggers.persistence`; config triggers restart from the config.
    """
    from kt_triggers.persistence import restore_triggers

    await restore_triggers(creature, reader)


@kt.hookimpl
def kt_tools() -> list[kt.LazySpec]:
    """Contribute ``add_timer``, ``add_schedule`` and ``watch_channel`` (``TRIGGER_TOOLS``)."""
    names = ("add_timer", "add_schedule", "watch_channel")
    return [kt.LazySpec(name, f"kt_triggers.tools:{name}") for name in names]
