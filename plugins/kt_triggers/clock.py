"""Wall clocks for schedules: the real one, and one driven by trio's clock for tests.

Timers count seconds on trio's clock, which tests already control with ``autojump_clock``. A
schedule needs the *wall* time (what day it is, what time it is in Berlin), which trio's clock
does not know. So a schedule asks a :class:`Clock`: :class:`WallClock` reads the system time;
:class:`TrioClock` starts at a chosen date and advances with trio's clock, so a test can run
through a daylight-saving change in no real time. Put one in ``agent.stash[kt_triggers.CLOCK]``
to make every schedule of that creature use it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

import trio

import kt

__all__ = ["CLOCK", "Clock", "TrioClock", "WallClock"]

# Re-read the wall clock at least this often while waiting: a suspended laptop or a clock
# that was set by hand is noticed within this many seconds.
_RECHECK_SECONDS = 30.0


class Clock(Protocol):
    """The wall time, and a way to wait for a wall time."""

    def now(self) -> datetime:
        """The current time, aware (UTC)."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return at *when* (aware) or as soon after it as possible; at once if it is past."""
        ...


CLOCK = kt.StashKey[Clock]()
"""The clock a creature's schedules use (``agent.stash[CLOCK] = TrioClock(...)``); default wall."""


class WallClock:
    """The system's wall clock."""

    def now(self) -> datetime:
        """The current time, aware (UTC)."""
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        """Wait until the system clock reads *when*.

        Sleeps on trio's clock in steps of at most 30 seconds and re-reads the wall clock
        after each, so a suspend or a clock change delays a firing by at most one step.
        Cancellable at every step.
        """
        while (remaining := when.timestamp() - time.time()) > 0:
            await trio.sleep(min(remaining, _RECHECK_SECONDS))


class TrioClock:
    """A wall clock that starts at *start* and advances with trio's clock (for tests).

    With pytest-trio's ``autojump_clock``, waiting for next Tuesday takes no real time.

    Args:
        start: The wall time at the moment the clock is first read (aware).

    Raises:
        ValueError: *start* is naive.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("TrioClock needs an aware start time, e.g. tzinfo=UTC")
        self.start = start.astimezone(UTC)
        self._origin: float | None = None

    def _trio_origin(self) -> float:
        if self._origin is None:
            self._origin = trio.current_time()
        return self._origin

    def now(self) -> datetime:
        """``start`` plus the trio seconds since the clock was first read."""
        return self.start + timedelta(seconds=trio.current_time() - self._trio_origin())

    async def sleep_until(self, when: datetime) -> None:
        """Sleep on trio's clock until this clock reads *when*."""
        seconds = (when.astimezone(UTC) - self.start).total_seconds()
        await trio.sleep_until(self._trio_origin() + seconds)
