"""The ``skill_nudge`` trigger: now and then, ask the creature whether a skill is worth saving.

Creatures that can write skills (``skill_manage``) rarely think of it unprompted. This
trigger counts the turns the user started; after ``every_turns`` of them without a
``skill_manage`` call, it starts a turn of its own asking the model whether the work since
holds a procedure worth saving (and to answer briefly if not). A ``skill_manage`` call resets
the count, so a creature that saves skills by itself is never nudged.

    [[triggers]]
    type = "skill_nudge"
    every_turns = 10
"""

from __future__ import annotations

from typing import Any

import trio

import kt
from kt.events import ToolCallCompleted, TurnCompleted, TurnStarted

__all__ = ["NUDGE", "SkillNudge", "skill_nudge_trigger"]

NUDGE = (
    "Look back at the work since the last reminder. If it contains a procedure that will be "
    "needed again (steps that took effort to find), save it as a skill with the skill_manage "
    "tool. If nothing is worth saving, answer with one short sentence."
)


class SkillNudge:
    """Starts a turn asking about skills after ``every_turns`` user turns without one saved.

    Args:
        every_turns: User turns between nudges (at least 1).
        text: What the nudge turn says.
    """

    name = "skill_nudge"

    def __init__(self, every_turns: int = 10, text: str = NUDGE) -> None:
        if every_turns < 1:
            raise kt.errors.ConfigError(
                f"skill_nudge: every_turns must be at least 1, got {every_turns}"
            )
        self.every_turns = every_turns
        self.text = text
        self.count = 0
        self._source = ""  # what started the turn now running

    def observe(self, event: Any) -> bool:
        """Count *event*; whether it is time to nudge."""
        if isinstance(event, TurnStarted):
            self._source = event.source
        elif isinstance(event, ToolCallCompleted) and event.name == "skill_manage":
            self.count = 0
        elif isinstance(event, TurnCompleted) and self._source == "user":
            self.count += 1
        return self.count >= self.every_turns

    async def run(self, agent: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Watch the creature's events and nudge when the count is reached, until cancelled."""
        with agent.subscribe() as events:
            task_status.started()
            async for event in events:
                if self.observe(event):
                    self.count = 0
                    await agent.inject(self.text, source="skill_nudge").wait()


def skill_nudge_trigger(entry: Any, agent: Any) -> SkillNudge:
    """Build the trigger from a config entry (``every_turns``, ``text``)."""
    return SkillNudge(**dict(entry.options))
