"""Cron parsing and next-firing computation, in UTC and across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kt_triggers import Cron, EveryMinutes, TriggerConfigError, build_schedule, resolve_timezone

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def firings(schedule, start, count):
    out, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        out.append(moment)
    return out


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        ("*/15 * * * *", utc(2024, 1, 1, 10, 7), utc(2024, 1, 1, 10, 15)),
        ("0 9 * * mon-fri", utc(2024, 1, 5, 9, 0), utc(2024, 1, 8, 9, 0)),  # Fri → Mon
        ("0 0 1 jan *", utc(2024, 6, 1), utc(2025, 1, 1)),
        ("30 8 * * 7", utc(2024, 1, 1), utc(2024, 1, 7, 8, 30)),  # 7 is Sunday
        ("5/20 * * * *", utc(2024, 1, 1, 10, 26), utc(2024, 1, 1, 10, 45)),  # 5,25,45
        ("0 12 1,15 * *", utc(2024, 2, 2), utc(2024, 2, 15, 12)),
        ("0 0 29 2 *", utc(2025, 1, 1), utc(2028, 2, 29)),
        ("@hourly", utc(2024, 1, 1, 10, 0), utc(2024, 1, 1, 11, 0)),
        ("@daily", utc(2024, 1, 1, 10, 0), utc(2024, 1, 2)),
        ("@weekly", utc(2024, 1, 1), utc(2024, 1, 7)),
        ("@monthly", utc(2024, 1, 31), utc(2024, 2, 1)),
        ("@yearly", utc(2024, 1, 1), utc(2025, 1, 1)),
        ("0-10/5 2-4/2 * * *", utc(2024, 1, 1, 2, 10), utc(2024, 1, 1, 4, 0)),
        ("0 0 * FEB-Mar SUN", utc(2024, 1, 1), utc(2024, 2, 4)),
    ],
)
def test_next_firing_in_utc(expression, start, expected):
    assert Cron(expression).next_after(start) == expected


def test_next_is_strictly_after_the_moment():
    cron = Cron("0 9 * * *")
    assert cron.next_after(utc(2024, 1, 1, 9, 0)) == utc(2024, 1, 2, 9, 0)
    assert cron.next_after(utc(2024, 1, 1, 8, 59, 59)) == utc(2024, 1, 1, 9, 0)


def test_day_of_month_and_weekday_both_restricted_match_either():
    # The 13th, or any Friday (Vixie cron semantics).
    cron = Cron("0 0 13 * fri")
    days = [d.day for d in firings(cron, utc(2024, 9, 1), 4)]
    assert days == [6, 13, 20, 27]  # Fridays 6, 20, 27 and Friday the 13th
    only_13th = Cron("0 0 13 * *")
    assert [d.day for d in firings(only_13th, utc(2024, 9, 1), 2)] == [13, 13]
    fridays_in_sep = Cron("0 0 * 9 fri")
    assert [d.day for d in firings(fridays_in_sep, utc(2024, 9, 1), 4)] == [6, 13, 20, 27]


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("* * * *", "has 4 fields"),
        ("60 * * * *", "minute field '60' has 60, out of range"),
        ("* 24 * * *", "hour field"),
        ("* * 0 * *", "day of month field"),
        ("* * * 13 *", "month field"),
        ("* * * * 8", "day of week field"),
        ("*/0 * * * *", "step '0'"),
        ("5-1 * * * *", "runs backwards"),
        ("1,,2 * * * *", "empty list item"),
        ("* * * * funday", "'funday', which is not a number"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6 *", "never fires"),
    ],
)
def test_malformed_expressions_name_the_field(expression, fragment):
    with pytest.raises(TriggerConfigError, match="cron") as info:
        Cron(expression)
    assert fragment in str(info.value)
    assert info.value.option == "cron"


def test_spring_forward_gap_moves_fixed_times_forward_once():
    # New York, 2024-03-10: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that night.
    daily = Cron("30 2 * * *", NEW_YORK)
    got = firings(daily, datetime(2024, 3, 9, 12, tzinfo=NEW_YORK), 3)
    assert [f.strftime("%m-%d %H:%M %Z") for f in got] == [
        "03-10 03:30 EDT",
        "03-11 02:30 EDT",
        "03-12 02:30 EDT",
    ]


def test_spring_forward_keeps_every_quarter_hour_continuous():
    quarter = Cron("*/15 * * * *", NEW_YORK)
    got = firings(quarter, datetime(2024, 3, 10, 1, 40, tzinfo=NEW_YORK), 6)
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in zip(got, got[1:], strict=False)}
    assert gaps == {timedelta(minutes=15)}
    assert got[0].strftime("%H:%M %Z") == "01:45 EST"
    assert got[1].strftime("%H:%M %Z") == "03:00 EDT"


def test_fall_back_fires_a_fixed_time_once_and_a_wildcard_hour_twice():
    # New York, 2024-11-03: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    fixed = Cron("30 1 * * *", NEW_YORK)
    got = firings(fixed, datetime(2024, 11, 2, 12, tzinfo=NEW_YORK), 2)
    assert [f.strftime("%m-%d %H:%M %Z") for f in got] == ["11-03 01:30 EDT", "11-04 01:30 EST"]
    half_hourly = Cron("*/30 * * * *", NEW_YORK)
    got = firings(half_hourly, datetime(2024, 11, 3, 0, 40, tzinfo=NEW_YORK), 5)
    assert [f.strftime("%H:%M %Z") for f in got] == [
        "01:00 EDT",
        "01:30 EDT",
        "01:00 EST",
        "01:30 EST",
        "02:00 EST",
    ]
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in zip(got, got[1:], strict=False)}
    assert gaps == {timedelta(minutes=30)}


def test_berlin_summer_time():
    # Berlin, 2024-03-31: 02:00 CET jumps to 03:00 CEST.
    cron = Cron("0 2 * * *", BERLIN)
    got = firings(cron, datetime(2024, 3, 30, 12, tzinfo=BERLIN), 2)
    assert [f.strftime("%m-%d %H:%M %Z") for f in got] == ["03-31 03:00 CEST", "04-01 02:00 CEST"]


def test_every_minutes_counts_from_local_midnight():
    every_90 = EveryMinutes(90, BERLIN)
    got = firings(every_90, datetime(2024, 1, 1, 22, 0, tzinfo=BERLIN), 3)
    assert [f.strftime("%d %H:%M") for f in got] == ["01 22:30", "02 00:00", "02 01:30"]
    with pytest.raises(TriggerConfigError, match="1 to 1440"):
        EveryMinutes(0)
    with pytest.raises(TriggerConfigError, match="1 to 1440"):
        EveryMinutes(1441)


def test_build_schedule_takes_exactly_one_form():
    assert build_schedule(daily_at="09:30").next_after(utc(2024, 1, 1)) == utc(2024, 1, 1, 9, 30)
    assert build_schedule(hourly_at=5).next_after(utc(2024, 1, 1, 0, 6)) == utc(2024, 1, 1, 1, 5)
    with pytest.raises(TriggerConfigError, match="exactly one .*got none"):
        build_schedule()
    with pytest.raises(TriggerConfigError, match="exactly one .*got cron, daily_at"):
        build_schedule(cron="* * * * *", daily_at="09:00")
    with pytest.raises(TriggerConfigError, match="HH:MM"):
        build_schedule(daily_at="9am")
    with pytest.raises(TriggerConfigError, match="0 to 59"):
        build_schedule(hourly_at=60)


def test_time_zones():
    assert resolve_timezone(None) is UTC
    assert resolve_timezone("utc") is UTC
    assert resolve_timezone("Europe/Berlin") == BERLIN
    assert resolve_timezone("local").utcoffset(datetime(2024, 1, 1)) is not None
    with pytest.raises(TriggerConfigError, match="unknown time zone 'Mars/Olympus'"):
        resolve_timezone("Mars/Olympus")
    with pytest.raises(ValueError, match="aware"):
        Cron("* * * * *").next_after(datetime(2024, 1, 1))


def _brute_force_next(cron: Cron, start: datetime) -> datetime:
    moment = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while True:
        dom, dow = moment.day in cron.days, (moment.isoweekday() % 7) in cron.weekdays
        day_ok = (
            (dom or dow) if (cron._days_restricted and cron._weekdays_restricted) else (dom and dow)
        )
        if (
            moment.minute in cron.minutes
            and moment.hour in cron.hours
            and moment.month in cron.months
            and day_ok
        ):
            return moment
        moment += timedelta(minutes=1)


def _field(low, high):
    value = st.integers(low, high).map(str)
    ranged = st.tuples(st.integers(low, high), st.integers(low, high)).map(
        lambda t: f"{min(t)}-{max(t)}"
    )
    stepped = st.tuples(st.sampled_from(["*", f"{low}"]), st.integers(1, 7)).map(
        lambda t: f"{t[0]}/{t[1]}"
    )
    item = st.one_of(st.just("*"), value, ranged, stepped)
    return st.lists(item, min_size=1, max_size=3).map(",".join)


@settings(max_examples=150, deadline=None)
@given(
    minute=_field(0, 59),
    hour=_field(0, 23),
    dom=st.one_of(st.just("*"), _field(1, 28)),
    dow=st.one_of(st.just("*"), _field(0, 6)),
    start=st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 1, 1)),
)
def test_next_firing_matches_a_minute_by_minute_search(minute, hour, dom, dow, start):
    cron = Cron(f"{minute} {hour} {dom} * {dow}")
    start = start.replace(tzinfo=UTC)
    assert cron.next_after(start) == _brute_force_next(cron, start)
