"""Triggers a model set up at run time survive a resume.

A trigger started by ``add_timer``, ``add_schedule`` or ``watch_channel`` is published as a
:class:`TriggerAdded` event holding the tool's arguments, and as :class:`TriggerRemoved` when
it ends for good: stopped (``stop_task``, ``cancel_job``), finished (``max_fires`` reached) or
failed. A creature that merely stops does not remove its triggers: they are part of the state
a resumed creature goes on with. A session store records both events (``kt_sessions`` keeps
them in its ``trigger`` table too).

On resume, :func:`restore_triggers` (this plugin's ``kt_session_restore``) starts every
trigger the log added and never removed, under its old id, with the same arguments; a timer's
``max_fires`` counts the firings already logged. Config triggers are not in the log: they
restart from the config, as always.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import trio

from kt.events import ErrorOccurred, Event
from kt_triggers.errors import TriggerConfigError

__all__ = ["TriggerAdded", "TriggerRemoved", "recorded", "restore_triggers"]


@attrs.frozen(kw_only=True)
class TriggerAdded(Event):
    """A trigger was started at run time by a tool.

    Attributes:
        trigger_id: Its id (its job id).
        trigger_type: ``timer``, ``schedule`` or ``channel``.
        data: ``{"tool": NAME, "args": {...}}``: the call that rebuilds it.
    """

    type: ClassVar[str] = "trigger_added"
    trigger_id: str
    trigger_type: str
    data: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class TriggerRemoved(Event):
    """A run-time trigger ended for good (``reason``: ``stopped``, ``finished``, ``failed``)."""

    type: ClassVar[str] = "trigger_removed"
    trigger_id: str
    trigger_type: str = ""
    reason: str = ""


class recorded:  # noqa: N801  (used like a function: agent.add_trigger(recorded(...)))
    """Wrap *trigger* so its end is published, unless the creature itself is stopping.

    Args:
        trigger: The trigger to run.
    """

    def __init__(self, trigger: Any) -> None:
        self.trigger = trigger
        self.name = trigger.name
        self.id = trigger.id

    async def run(self, agent: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run the trigger; publish :class:`TriggerRemoved` when it ends for good."""
        reason = "stopped"
        try:
            await self.trigger.run(agent, task_status=task_status)
            reason = "finished"
        except Exception:
            reason = "failed"
            raise
        finally:
            if agent.is_running:  # a creature stopping keeps its triggers for a resume
                with trio.move_on_after(2, shield=True):
                    await agent.emit(
                        TriggerRemoved(trigger_id=self.id, trigger_type=self.name, reason=reason)
                    )


async def restore_triggers(creature: Any, reader: Any) -> list[str]:
    """Start the run-time triggers *creature*'s log added and never removed.

    Args:
        creature: The resumed, running creature.
        reader: A session reader on its log.

    Returns:
        The ids of the triggers started again.
    """
    from kt_triggers.tools import build_trigger

    events = reader.events(
        type=[TriggerAdded.type, TriggerRemoved.type, "trigger_fired"], creature=creature.name
    )
    live: dict[str, Mapping[str, Any]] = {}
    fired: dict[str, int] = {}
    for entry in events:
        wire = entry.wire
        trigger_id = str(wire.get("trigger_id", ""))
        if wire["type"] == TriggerAdded.type:
            live[trigger_id] = wire.get("data") or {}
            fired[trigger_id] = 0
        elif wire["type"] == TriggerRemoved.type:
            live.pop(trigger_id, None)
        else:
            fired[trigger_id] = fired.get(trigger_id, 0) + 1
    started = []
    for trigger_id, data in live.items():
        args = dict(data.get("args") or {})
        if data.get("tool") == "add_timer" and args.get("max_fires"):
            left = int(args["max_fires"]) - fired.get(trigger_id, 0)
            if left <= 0:
                continue
            args["max_fires"] = left
            args["immediate"] = False  # it fired at once the first time already
        job = creature.jobs.get(trigger_id)
        if job is not None and job.status == "running":
            continue
        try:
            trigger = build_trigger(str(data.get("tool", "")), args, creature)
            await creature.add_trigger(recorded(trigger))
        except (TriggerConfigError, ValueError) as exc:
            await creature.emit(
                ErrorOccurred(
                    message=f"trigger '{trigger_id}' could not be restored: {exc}",
                    error_type=type(exc).__name__,
                    source="kt_triggers",
                )
            )
            continue
        started.append(trigger_id)
    return started
