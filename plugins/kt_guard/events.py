"""The guard's events: approvals asked and answered, budget alarms.

They are ordinary :class:`kt.events.Event` subclasses, so they reach ``kt_event`` (persistence,
logs), ``subscribe()`` channels and, during a turn, ``run_stream`` readers; ``to_wire`` /
``from_wire`` round-trip them once ``kt_guard`` is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from kt.events import Event

__all__ = ["DECISIONS", "ApprovalAnswered", "ApprovalRequested", "BudgetAlarm"]

DECISIONS = ("allow_once", "allow_session", "deny")
"""The answers an approval request accepts."""


@attrs.frozen(kw_only=True)
class ApprovalRequested(Event):
    """A tool call waits for a person's approval; answer it with :func:`kt_guard.answer`.

    Attributes:
        request_id: What to pass to ``kt_guard.answer``.
        call_id: The tool call waiting.
        tool: The tool's name.
        args: The call's validated arguments.
        summary: ``key=value`` lines for display (long values elided).
        options: The decisions accepted: ``allow_once``, ``allow_session``, ``deny``.
        timeout: Seconds until the call is refused unanswered; ``None`` = no limit.
    """

    type: ClassVar[str] = "approval_requested"
    request_id: str = ""
    call_id: str = ""
    tool: str = ""
    args: Mapping[str, Any] = attrs.field(factory=dict)
    summary: str = ""
    options: tuple[str, ...] = DECISIONS
    timeout: float | None = None


@attrs.frozen(kw_only=True)
class ApprovalAnswered(Event):
    """An approval request was settled.

    Attributes:
        request_id: The request.
        call_id: Its tool call.
        tool: The tool's name.
        decision: ``allow_once``, ``allow_session`` or ``deny``.
        reason: ``answered`` (someone decided), ``timeout`` (nobody did in time; denied) or
            ``cancelled`` (the turn ended while waiting; denied).
    """

    type: ClassVar[str] = "approval_answered"
    request_id: str = ""
    call_id: str = ""
    tool: str = ""
    decision: str = "deny"
    reason: str = "answered"


@attrs.frozen(kw_only=True)
class BudgetAlarm(Event):
    """A budget axis reached its soft or hard limit (published once per axis and level).

    Attributes:
        axis: ``turns``, ``model_calls``, ``tool_calls``, ``wall_time`` or ``tokens``.
        level: ``soft`` (a warning) or ``hard`` (the stop).
        used: How much was used when the alarm went off.
        soft: The soft limit, if any.
        hard: The hard limit.
        message: The text the model is given.
    """

    type: ClassVar[str] = "budget_alarm"
    axis: str = ""
    level: str = "soft"
    used: float = 0.0
    soft: float | None = None
    hard: float = 0.0
    message: str = ""
