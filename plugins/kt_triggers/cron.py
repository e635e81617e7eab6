"""Wall-clock schedules: five-field cron expressions and "every N minutes", in a time zone.

A schedule answers one question, :meth:`Schedule.next_after`: the first firing strictly after a
given moment. Both kinds are a set of local times of day on the days that match, so they share
how local times become instants, which is where time zones make it hard:

* A local time that does not exist (inside a spring-forward gap, such as 02:30 on the night the
  clocks jump from 02:00 to 03:00) is moved forward by the length of the gap (03:30), so a job
  scheduled in the gap still fires once that day.
* A local time that happens twice (inside a fall-back overlap, such as 01:30 when the clocks go
  from 02:00 back to 01:00) fires once, at its first occurrence, when the hour is fixed
  (``30 1 * * *``). When every hour matches (``*/15 * * * *``) it fires at both occurrences,
  so a job that runs every quarter hour keeps doing so through the repeated hour.

Cron syntax: ``minute hour day-of-month month day-of-week``, each a ``*``, a number, a range
``a-b``, a step ``*/n`` / ``a-b/n`` / ``a/n`` (from *a* to the end), or a comma-separated list
of those. Months and weekdays also take English names (``jan``-``dec``, ``sun``-``sat``);
weekday ``0`` and ``7`` are both Sunday. As in Vixie cron, when both the day of month and the
day of week are restricted (neither starts with ``*``), a day matches if *either* does. The
aliases ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``) and
``@hourly`` are accepted.
"""

from __future__ import annotations

import abc
import calendar
import itertools
import os
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kt_triggers.errors import TriggerConfigError

__all__ = ["Cron", "EveryMinutes", "Schedule", "parse_time_of_day", "resolve_timezone"]

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# (name, lowest, highest, names) per field, in the order they are written.
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)
# How far ahead to look for a matching day: enough for a schedule that only matches on
# 29 February (at most eight years apart across a skipped leap year), with margin.
_SEARCH_DAYS = 366 * 9
# No time zone moves its clocks by more than this, so a local time more than this far before
# the moment we search from cannot be after it.
_MAX_SHIFT = timedelta(hours=3)


class Schedule(Protocol):
    """When a schedule trigger fires."""

    tz: tzinfo

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after *moment* (aware), in the schedule's time zone."""
        ...

    def describe(self) -> str:
        """A short description for tool output and listings."""
        ...


def resolve_timezone(name: str | None) -> tzinfo:
    """The time zone called *name*: an IANA name, ``"UTC"``, or ``"local"`` (this machine's).

    ``None`` means UTC.

    Raises:
        TriggerConfigError: the name is not a known time zone.
    """
    if name is None or name.upper() == "UTC":
        return UTC
    if name.lower() == "local":
        return _local_timezone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TriggerConfigError(
            f"unknown time zone '{name}'; use an IANA name such as 'Europe/Berlin' or "
            "'America/New_York', 'UTC', or 'local' for this machine's zone",
            option="timezone",
        ) from None


def _local_timezone() -> tzinfo:
    key = os.environ.get("TZ", "").lstrip(":")
    if key:
        try:
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    localtime = Path("/etc/localtime")
    if localtime.exists():
        with localtime.open("rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    return datetime.now().astimezone().tzinfo or UTC  # a fixed offset: no DST rules known


def parse_time_of_day(text: str, *, option: str = "daily_at") -> tuple[int, int]:
    """``"HH:MM"`` as ``(hour, minute)``.

    Raises:
        TriggerConfigError: not a valid 24-hour time.
    """
    try:
        hour_text, minute_text = text.strip().split(":")
        hour, minute = int(hour_text), int(minute_text)
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise ValueError
    except ValueError:
        raise TriggerConfigError(
            f'\'{option}\' must be a 24-hour time "HH:MM" such as "09:30", not {text!r}',
            option=option,
        ) from None
    return hour, minute


class _DailySlots(abc.ABC):
    """Firings at fixed local times of day, on the days that match."""

    tz: tzinfo
    _times: tuple[tuple[int, int], ...]
    _every_hour: bool  # fire at both occurrences of a repeated local time

    @abc.abstractmethod
    def _day_matches(self, day: date) -> bool:
        """Whether the schedule fires on *day* at all."""

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after *moment* (aware), in the schedule's time zone.

        Raises:
            ValueError: *moment* is naive.
        """
        if moment.tzinfo is None:
            raise ValueError("next_after needs an aware datetime (with a tzinfo)")
        after = moment.astimezone(UTC)
        local = moment.astimezone(self.tz).replace(tzinfo=None)
        earliest = local - _MAX_SHIFT  # local times before this are before *moment*
        best: datetime | None = None
        latest: datetime | None = None  # once found, local times after this cannot be earlier
        day = earliest.date()
        for _ in range(_SEARCH_DAYS):
            if latest is not None and day > latest.date():
                break
            if self._day_matches(day):
                for hour, minute in self._times:
                    naive = datetime.combine(day, time(hour, minute))
                    if naive < earliest:
                        continue
                    if latest is not None and naive > latest:
                        break
                    for instant in self._instants(naive):
                        if instant > after and (best is None or instant < best):
                            best = instant
                            latest = naive + _MAX_SHIFT
            day += timedelta(days=1)
        if best is None:  # refused when the schedule was made, so this is a bug
            raise RuntimeError(f"no firing of {self.describe()} within {_SEARCH_DAYS} days")
        return best.astimezone(self.tz)

    def _instants(self, naive: datetime) -> list[datetime]:
        """The instants a local time of day stands for (one, or two in a repeated hour)."""
        first = naive.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        instants = [first]  # in a gap, this is the time moved forward by the gap
        if self._every_hour:
            second = naive.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
            exists = second.astimezone(self.tz).replace(tzinfo=None) == naive
            if second != first and exists:  # a repeated hour, not a gap
                instants.append(second)
        return instants

    @abc.abstractmethod
    def describe(self) -> str:
        """A short description for tool output and listings."""


class Cron(_DailySlots):
    """A five-field cron expression in a time zone (see the module docs for the syntax).

    Args:
        expression: ``"*/15 9-17 * * mon-fri"``, or an alias such as ``"@daily"``.
        tz: The zone the fields are read in (default UTC).

    Raises:
        TriggerConfigError: a malformed field (the message names it), or an expression that
            can never fire (``0 0 30 2 *``).
    """

    def __init__(self, expression: str, tz: tzinfo = UTC) -> None:
        self.expression = expression.strip()
        self.tz = tz
        text = _ALIASES.get(self.expression.lower(), self.expression)
        fields = text.split()
        if len(fields) != 5:
            raise _cron_error(
                f"cron expression {expression!r} has {len(fields)} fields; it needs 5: "
                "minute hour day-of-month month day-of-week (e.g. '0 9 * * mon-fri')"
            )
        minutes, hours, days, months, weekdays = (
            _parse_field(value, *spec, expression=expression)
            for value, spec in zip(fields, _FIELDS, strict=True)
        )
        self.minutes, self.hours, self.days, self.months = minutes, hours, days, months
        self.weekdays = frozenset(d % 7 for d in weekdays)  # 7 is Sunday too
        self._days_restricted = not fields[2].startswith("*")
        self._weekdays_restricted = not fields[4].startswith("*")
        self._times = tuple(itertools.product(sorted(hours), sorted(minutes)))
        self._every_hour = len(hours) == 24
        if not self._can_fire():
            raise _cron_error(
                f"cron expression {expression!r} never fires: no month in it has those days"
            )

    def _can_fire(self) -> bool:
        if self._days_restricted and self._weekdays_restricted:
            return True  # any matching weekday in a matching month will do
        longest = {m: 29 if m == 2 else calendar.monthrange(2001, m)[1] for m in self.months}
        return any(d <= longest[m] for m in self.months for d in self.days)

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self._days_restricted and self._weekdays_restricted:
            return in_month or in_week
        return in_month and in_week

    def describe(self) -> str:
        """``cron '<expression>' (<zone>)``."""
        return f"cron '{self.expression}' ({_zone_name(self.tz)})"


class EveryMinutes(_DailySlots):
    """Every *minutes* minutes, counted from local midnight each day (1 to 1440).

    ``EveryMinutes(90)`` fires at 00:00, 01:30, 03:00 ... 22:30 local time, and again at
    00:00: the count restarts at midnight, so the times are the same every day.

    Raises:
        TriggerConfigError: *minutes* is not a whole number from 1 to 1440.
    """

    def __init__(self, minutes: int, tz: tzinfo = UTC) -> None:
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
            raise TriggerConfigError(
                f"'every_minutes' must be a whole number from 1 to 1440, not {minutes!r}",
                option="every_minutes",
            )
        self.minutes = minutes
        self.tz = tz
        self._times = tuple(divmod(m, 60) for m in range(0, 1440, minutes))
        self._every_hour = minutes < 60

    def _day_matches(self, day: date) -> bool:
        return True

    def describe(self) -> str:
        """``every N minutes from midnight (<zone>)``."""
        return f"every {self.minutes} minutes from midnight ({_zone_name(self.tz)})"


def _zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


def _cron_error(message: str) -> TriggerConfigError:
    return TriggerConfigError(message, option="cron")


def _parse_field(
    text: str, name: str, low: int, high: int, names: dict[str, int], *, expression: str
) -> frozenset[int]:
    def fail(problem: str) -> TriggerConfigError:
        return _cron_error(
            f"cron expression {expression!r}: {name} field '{text}' {problem}; it takes "
            f"values {low}-{high}{' or names' if names else ''}, ranges a-b, steps */n and "
            "lists a,b"
        )

    def value(item: str) -> int:
        item = item.strip().lower()
        if item in names:
            return names[item]
        if not item.isdigit():
            raise fail(f"has '{item}', which is not a number")
        number = int(item)
        if not low <= number <= high:
            raise fail(f"has {number}, out of range")
        return number

    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise fail("has an empty list item")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise fail(f"has step '{step_text}', which is not a positive number")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = value(start), value(end)
            if first > last:
                raise fail(f"has the range {base}, which runs backwards")
        else:
            first = value(base)
            last = high if slash else first  # "5/15" is "5-<end>/15"
        values.update(range(first, last + 1, step))
    return frozenset(values)
