"""Termination: the ``[termination]`` limits that end a creature's run by themselves.

``max_turns`` and ``max_tokens`` are checked when a turn ends; ``max_duration`` (seconds since
the creature started) and ``idle_timeout`` (seconds without an event) are watched by a task in
the creature's nursery and end a running turn with status ``terminated``. ``keywords`` end one
turn (see :mod:`kt.runtime.controller`) and leave the creature running.

Reaching a limit publishes :class:`kt.events.CreatureTerminated`, makes :meth:`kt.Agent.serve`
return, and refuses further turns with :class:`kt.errors.AgentTerminatedError`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import trio

from kt.config import TerminationConfig

if TYPE_CHECKING:
    from kt.runtime.creature import Creature

__all__ = ["Termination"]


class Termination:
    """The limits of one creature, and when it last saw activity."""

    def __init__(self, config: TerminationConfig) -> None:
        self.config = config
        self.reached = trio.Event()
        self.limit = ""
        self.reason = ""
        self.started_at = 0.0
        self.last_activity = 0.0

    @property
    def timed(self) -> bool:
        """Whether a clock limit needs watching."""
        return self.config.max_duration is not None or self.config.idle_timeout is not None

    def after_turn(self, creature: Creature) -> tuple[str, str] | None:
        """The (limit, reason) a finished turn reached, or ``None``."""
        config = self.config
        if config.max_turns is not None and creature.turn_index >= config.max_turns:
            return "max_turns", f"{creature.turn_index} turns run (max_turns = {config.max_turns})"
        used = creature.usage.total_tokens
        if config.max_tokens is not None and used >= config.max_tokens:
            return "max_tokens", f"{used} tokens used (max_tokens = {config.max_tokens})"
        return None

    def _deadline(self) -> tuple[float, str, str]:
        deadlines = [(math.inf, "", "")]
        if self.config.max_duration is not None:
            deadlines.append(
                (
                    self.started_at + self.config.max_duration,
                    "max_duration",
                    f"ran for {self.config.max_duration:g}s (max_duration)",
                )
            )
        if self.config.idle_timeout is not None:
            deadlines.append(
                (
                    self.last_activity + self.config.idle_timeout,
                    "idle_timeout",
                    f"no event for {self.config.idle_timeout:g}s (idle_timeout)",
                )
            )
        return min(deadlines)

    async def watch(self, on_reached: Callable[[str, str], Awaitable[None]]) -> None:
        """Sleep until a clock limit passes (activity pushes ``idle_timeout`` back), then report."""
        while not self.reached.is_set():
            deadline, limit, reason = self._deadline()
            await trio.sleep_until(deadline)
            if trio.current_time() >= self._deadline()[0]:
                await on_reached(limit, reason)
                return
