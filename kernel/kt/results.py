"""What a turn returns: ``TurnResult`` and one ``ToolCallRecord`` per tool call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from kt import errors
from kt.llm import ContentPart, Message, Usage

__all__ = ["ToolCallRecord", "ToolCallStatus", "TurnResult", "TurnStatus"]

TurnStatus = Literal[
    "completed", "interrupted", "cancelled", "error", "max_iterations", "terminated", "timeout"
]
ToolCallStatus = Literal["ok", "error", "interrupted", "cancelled", "blocked", "timeout", "running"]


@attrs.frozen(kw_only=True)
class ToolCallRecord:
    """The record of one tool (or sub-agent) call.

    Attributes:
        id: The call id (the provider's, or one the kernel assigned).
        name: The tool name the model used.
        args: The validated arguments (or what the model sent, when validation failed).
        status: ``ok``, ``error``, ``blocked`` (a plugin vetoed it), ``timeout``,
            ``interrupted``, ``cancelled``, or ``running`` for a background call that has not
            finished when the turn ended.
        output: The output text the model saw.
        error: The error message the model saw, if any.
        error_type: The ``kt.errors`` class name for the failure (``ToolNotFoundError`` ...).
        started_at: Wall-clock start (``time.time()``).
        duration: Seconds the call ran.
        background: Whether the call ran in the background.
        metadata: Structured facts from the tool (``truncated``, ...).
    """

    id: str
    name: str
    args: Mapping[str, Any] | str
    status: ToolCallStatus
    output: str = ""
    error: str | None = None
    error_type: str | None = None
    started_at: float = 0.0
    duration: float = 0.0
    background: bool = False
    metadata: Mapping[str, Any] = attrs.field(factory=dict)


_STATUS_ERRORS: Mapping[str, type[errors.TurnError]] = {
    "interrupted": errors.TurnInterruptedError,
    "cancelled": errors.TurnCancelledError,
    "timeout": errors.TurnTimeoutError,
}


@attrs.frozen(kw_only=True)
class TurnResult:
    """What happened in one turn.

    Model and tool failures are reported here, never raised by ``Agent.run``; call
    :meth:`raise_for_status` to turn a non-completed status into an exception.

    Attributes:
        status: How the turn ended.
        text: The last round's assistant text (what a chat UI shows last).
        output: All assistant text streamed during the turn, tool-call markup removed.
        tool_calls: One record per call, in call order.
        iterations: Number of LLM calls made.
        usage: Token usage summed over the turn's LLM calls.
        error: The exception for ``error`` / ``timeout`` statuses (an ``LLMError`` subclass,
            ``TurnTimeoutError`` ...), else ``None``.
        reason: Why a ``terminated`` / ``max_iterations`` turn stopped.
        messages: The messages this turn appended to the history.
        input: The input that started the turn.
        turn_index: Monotonic per agent, starting at 1.
        started_at: Wall-clock start.
        ended_at: Wall-clock end.
    """

    status: TurnStatus
    text: str = ""
    output: str = ""
    tool_calls: tuple[ToolCallRecord, ...] = ()
    iterations: int = 0
    usage: Usage = Usage()
    error: BaseException | None = attrs.field(default=None, eq=False)
    reason: str = ""
    messages: tuple[Message, ...] = ()
    input: str | tuple[ContentPart, ...] = ""
    turn_index: int = 0
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return self.ended_at - self.started_at

    @property
    def ok(self) -> bool:
        """True when the turn completed."""
        return self.status == "completed"

    def raise_for_status(self) -> TurnResult:
        """Return ``self`` when completed; otherwise raise the matching error.

        Raises:
            KTError: ``self.error`` for ``error`` turns (an ``LLMError`` subclass, usually);
                ``TurnInterruptedError``, ``TurnCancelledError`` or ``TurnTimeoutError``;
                ``BudgetExceededError`` for ``max_iterations`` / ``terminated``.
        """
        if self.status == "completed":
            return self
        if self.error is not None and isinstance(self.error, Exception):
            raise self.error
        if self.status in _STATUS_ERRORS:
            raise _STATUS_ERRORS[self.status](f"turn {self.turn_index} was {self.status}")
        detail = f": {self.reason}" if self.reason else ""
        raise errors.BudgetExceededError(f"turn {self.turn_index} ended: {self.status}{detail}")
