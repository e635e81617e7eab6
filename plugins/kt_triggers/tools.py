"""The trigger tools: ``add_timer``, ``add_schedule`` and ``watch_channel``.

Each lets the model set up a trigger on its own creature while it runs ("remind me in ten
minutes", "check the queue every morning at nine", "tell me when someone writes on #review").
The trigger starts as a job whose id is the trigger id the tool returns, so ``stop_task`` with
that id stops it. Bad arguments come back as tool errors the model can correct.
"""

from __future__ import annotations

import json
from typing import Any

import kt
from kt_triggers.cron import Cron, EveryMinutes, Schedule, parse_time_of_day, resolve_timezone
from kt_triggers.errors import TriggerConfigError

# The trigger classes (and trio with them) are imported when a tool runs, not when the kernel
# collects the tools: building a kernel for `kt --help` must stay cheap.

__all__ = ["TRIGGER_TOOLS", "add_schedule", "add_timer", "build_schedule", "watch_channel"]


def build_schedule(
    *,
    cron: str | None = None,
    every_minutes: int | None = None,
    daily_at: str | None = None,
    hourly_at: int | None = None,
    timezone: str | None = None,
) -> Schedule:
    """The schedule given by exactly one of *cron*, *every_minutes*, *daily_at*, *hourly_at*.

    Args:
        cron: A five-field cron expression or an alias (``@daily``).
        every_minutes: Every N minutes from local midnight (1 to 1440).
        daily_at: ``"HH:MM"``, every day.
        hourly_at: The minute of every hour (0 to 59).
        timezone: An IANA zone, ``UTC`` (the default) or ``local``.

    Raises:
        TriggerConfigError: none or several forms given, or one of them invalid.
    """
    given = {
        k: v
        for k, v in {
            "cron": cron,
            "every_minutes": every_minutes,
            "daily_at": daily_at,
            "hourly_at": hourly_at,
        }.items()
        if v is not None
    }
    if len(given) != 1:
        which = f"got {', '.join(given)}" if given else "got none"
        raise TriggerConfigError(
            f"give exactly one of 'cron', 'every_minutes', 'daily_at' or 'hourly_at' ({which})",
            option=next(iter(given), "cron"),
        )
    tz = resolve_timezone(timezone)
    if cron is not None:
        return Cron(cron, tz)
    if every_minutes is not None:
        return EveryMinutes(every_minutes, tz)
    if daily_at is not None:
        hour, minute = parse_time_of_day(daily_at)
        return Cron(f"{minute} {hour} * * *", tz)
    assert hourly_at is not None
    if isinstance(hourly_at, bool) or not isinstance(hourly_at, int) or not 0 <= hourly_at <= 59:
        raise TriggerConfigError(
            f"'hourly_at' must be a minute from 0 to 59, not {hourly_at!r}", option="hourly_at"
        )
    return Cron(f"{hourly_at} * * * *", tz)


def build_trigger(tool: str, args: dict[str, Any], agent: Any) -> Any:
    """The trigger a call of *tool* with *args* starts (the tools' checks done again).

    ``kt_triggers.persistence`` rebuilds recorded triggers with it on resume.

    Raises:
        TriggerConfigError: an argument is invalid, or the tool is not a trigger tool.
    """
    from kt_triggers.triggers import ChannelTrigger, ScheduleTrigger, TimerTrigger, subscribe

    name = args.get("name")
    if tool == "add_timer":
        return TimerTrigger(
            args["interval"],
            args["prompt"],
            immediate=bool(args.get("immediate", False)),
            max_fires=args.get("max_fires"),
            id=name,
        )
    if tool == "add_schedule":
        schedule = build_schedule(
            cron=args.get("cron"),
            every_minutes=args.get("every_minutes"),
            daily_at=args.get("daily_at"),
            hourly_at=args.get("hourly_at"),
            timezone=args.get("timezone"),
        )
        return ScheduleTrigger(schedule, args["prompt"], id=name)
    if tool == "watch_channel":
        trigger = ChannelTrigger(
            args["channel_name"],
            args.get("prompt"),
            filter_sender=_senders(args.get("filter_sender")),
            id=name,
        )
        service = agent.stash.get(kt.CHANNEL_SERVICE, None)
        trigger.subscription = subscribe(service, trigger.channel)
        return trigger
    raise TriggerConfigError(f"'{tool}' is not a trigger tool", option="tool")


async def _start(
    ctx: kt.ToolContext, trigger: Any, what: str, args: dict[str, Any]
) -> kt.ToolResult:
    from kt_triggers.persistence import TriggerAdded, recorded

    agent = ctx.agent
    try:
        await agent.add_trigger(recorded(trigger))
    except ValueError:  # the id is taken by a running job (checked before, but jobs race)
        subscription = getattr(trigger, "subscription", None)
        if subscription is not None:
            await subscription.aclose()
        return _taken(trigger.id)
    # Recorded with the call's arguments, so a resumed creature starts it again.
    data = {"tool": ctx.call.name, "args": {**args, "name": trigger.id}}
    await agent.emit(TriggerAdded(trigger_id=trigger.id, trigger_type=trigger.name, data=data))
    return kt.ToolResult(
        output=(
            f"{what} Each firing arrives as a new message; you do not need to wait for it. "
            f'Stop it with stop_task(job_id="{trigger.id}").\ntrigger_id={trigger.id}'
        ),
        metadata={"trigger_id": trigger.id, "trigger_type": trigger.name},
    )


def _name_problem(ctx: kt.ToolContext, name: str | None) -> kt.ToolResult | None:
    if name is None:
        return None
    if not name.strip() or len(name) > 64 or any(c.isspace() for c in name):
        return kt.ToolResult(
            error=f"'name' must be a short id without spaces (at most 64 characters), not {name!r}",
            metadata={"error_type": "ToolArgumentError"},
        )
    job = ctx.agent.jobs.get(name)
    if job is not None and job.status == "running":
        return _taken(name)
    return None


def _taken(name: str) -> kt.ToolResult:
    return kt.ToolResult(
        error=(
            f"a trigger or job named '{name}' is already running; choose another name, or "
            f'stop the old one first with stop_task(job_id="{name}")'
        ),
        metadata={"error_type": "ToolArgumentError"},
    )


def _invalid(exc: TriggerConfigError) -> kt.ToolResult:
    return kt.ToolResult(error=exc.detail, metadata={"error_type": "ToolArgumentError"})


@kt.tool(
    description=(
        "Trigger: wake yourself every `interval` seconds with `prompt` as a new message. For "
        "reminders and periodic checks; max_fires=1 makes a one-off reminder. It runs in the "
        "background until stopped and returns a trigger_id for stop_task. For times of day "
        "(every morning at 9) use add_schedule."
    )
)
async def add_timer(
    interval: float,
    prompt: str,
    ctx: kt.ToolContext,
    immediate: bool = False,
    max_fires: int | None = None,
    name: str | None = None,
) -> kt.ToolResult:
    """Trigger: wake yourself every `interval` seconds with `prompt` as a new message.

    Use it for reminders and periodic checks ("every 300 s, check the build"). The timer runs
    in the background until stopped; it returns a trigger_id for stop_task. For times of day
    (every morning at 9) use add_schedule instead.

    Args:
        interval: Seconds between firings (more than 0).
        prompt: The message you receive each time it fires: say what to do then.
        ctx: The running call.
        immediate: Also fire once right away.
        max_fires: Stop after this many firings (1 = a one-off reminder); default: until stopped.
        name: An id for the trigger (default: generated); must not be in use.
    """
    if problem := _name_problem(ctx, name):
        return problem
    args = {"interval": interval, "prompt": prompt, "immediate": immediate, "max_fires": max_fires}
    try:
        trigger = build_trigger("add_timer", {**args, "name": name}, ctx.agent)
    except TriggerConfigError as exc:
        return _invalid(exc)
    return await _start(
        ctx,
        trigger,
        f"Timer '{trigger.id}' is running: {trigger.describe()}, prompt={_elide(prompt)!r}.",
        args,
    )


@kt.tool(
    description=(
        "Trigger: wake yourself at wall-clock times with `prompt` as a new message. Give "
        "exactly one of `cron`, `every_minutes`, `daily_at` or `hourly_at`; times are read in "
        "`timezone` (default UTC). Returns a trigger_id for stop_task."
    )
)
async def add_schedule(
    prompt: str,
    ctx: kt.ToolContext,
    cron: str | None = None,
    every_minutes: int | None = None,
    daily_at: str | None = None,
    hourly_at: int | None = None,
    timezone: str | None = None,
    name: str | None = None,
) -> kt.ToolResult:
    """Trigger: wake yourself at wall-clock times with `prompt` as a new message.

    Give exactly one of `cron`, `every_minutes`, `daily_at` or `hourly_at`. Times are read in
    `timezone` (default UTC). It returns a trigger_id for stop_task.

    Args:
        prompt: The message you receive each time it fires: say what to do then.
        ctx: The running call.
        cron: A cron expression "minute hour day month weekday", e.g. "0 9 * * mon-fri"
            (9:00 on weekdays) or "*/30 * * * *" (every half hour).
        every_minutes: Every N minutes counted from midnight (1 to 1440).
        daily_at: A time of day "HH:MM" (24-hour), every day.
        hourly_at: A minute of every hour (0 to 59).
        timezone: An IANA time zone such as "Europe/Berlin" or "America/New_York"; "UTC" (the
            default) or "local" (this machine's).
        name: An id for the trigger (default: generated); must not be in use.
    """
    from kt_triggers.triggers import now_for

    if problem := _name_problem(ctx, name):
        return problem
    args = {
        "prompt": prompt,
        "cron": cron,
        "every_minutes": every_minutes,
        "daily_at": daily_at,
        "hourly_at": hourly_at,
        "timezone": timezone,
    }
    try:
        trigger = build_trigger("add_schedule", {**args, "name": name}, ctx.agent)
    except TriggerConfigError as exc:
        return _invalid(exc)
    upcoming = trigger.schedule.next_after(now_for(ctx.agent))
    return await _start(
        ctx,
        trigger,
        f"Schedule '{trigger.id}' is running: {trigger.describe()}; next at "
        f"{upcoming:%Y-%m-%d %H:%M %Z}, prompt={_elide(prompt)!r}.",
        args,
    )


@kt.tool(
    description=(
        "Trigger: wake yourself with each new message on a channel (never for your own "
        "messages). Only existing channels can be watched; the error lists them. Returns a "
        "trigger_id for stop_task."
    )
)
async def watch_channel(
    channel_name: str,
    ctx: kt.ToolContext,
    prompt: str | None = None,
    filter_sender: list[str] | str | None = None,
    name: str | None = None,
) -> kt.ToolResult:
    """Trigger: wake yourself with each new message on a channel (not your own messages).

    It returns a trigger_id for stop_task. Only channels that exist can be watched; the error
    lists them.

    Args:
        channel_name: The channel to watch.
        ctx: The running call.
        prompt: A template for the message you receive, with {content}, {sender},
            {channel}, {message_id} and {reply_to}; default
            "[Channel '{channel}' from {sender}]: {content}".
        filter_sender: Only messages from these senders (a list, or names separated by
            commas); default: everyone.
        name: An id for the trigger (default: generated); must not be in use.
    """
    if problem := _name_problem(ctx, name):
        return problem
    args = {
        "channel_name": channel_name,
        "prompt": prompt,
        "filter_sender": _senders(filter_sender),
    }
    try:
        trigger = build_trigger("watch_channel", {**args, "name": name}, ctx.agent)
    except TriggerConfigError as exc:
        return _invalid(exc)
    return await _start(
        ctx,
        trigger,
        f"Watching channel '{trigger.channel}' as '{trigger.id}': {trigger.describe()}.",
        args,
    )


def _elide(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _senders(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if value.strip().startswith("["):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, list):
                return [str(v) for v in parsed]
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(v) for v in value]


TRIGGER_TOOLS: tuple[kt.ToolSpec, ...] = (add_timer, add_schedule, watch_channel)
"""The tools ``kt_triggers`` contributes through ``kt_tools``."""
