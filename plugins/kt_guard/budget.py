"""Budgets: count what a creature spends, warn at the soft limit, stop at the hard one.

Five axes, each counted over the creature's life (from its start):

=============  ===============================================  ==============================
axis           counts                                           at the hard limit
=============  ===============================================  ==============================
turns          turns started                                    a turn past it may not call
                                                                the model (the turn ends
                                                                ``error``)
model_calls    model calls made                                 a call past it is vetoed
tool_calls     tool calls admitted (counted when they start)    further calls are refused
tokens         ``total_tokens`` reported by the model           tools are refused; the model
                                                                gets ``final_calls`` more calls
                                                                to answer, then is vetoed
wall_time      seconds since the creature started               as ``tokens``
=============  ===============================================  ==============================

Every escalation (an axis reaching soft, then hard) is announced once: as a
:class:`~kt_guard.BudgetAlarm` event, and as a ``[budget soft]`` / ``[budget hard]`` line the
model reads in its next request. Counting tool calls when they are admitted, rather than when
they finish, keeps the hard limit exact when a model asks for several calls at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import trio

from kt.errors import BudgetExceededError, PluginBlockError
from kt_guard.events import BudgetAlarm
from kt_guard.options import AXES, BudgetOptions, Limit

if TYPE_CHECKING:
    import kt

__all__ = ["Budget", "BudgetExhaustedError", "BudgetState"]

_CONTINUOUS = ("tokens", "wall_time")  # spent by the model itself: it may still answer


class BudgetExhaustedError(PluginBlockError, BudgetExceededError):
    """A guard budget ran out: the vetoed call's error, and ``result.error`` of a stopped turn.

    Attributes:
        axis: The axis that ran out.
    """

    def __init__(self, message: str, *, axis: str) -> None:
        super().__init__(message)
        self.axis = axis


@attrs.define
class BudgetState:
    """What one creature has spent so far (kept in its stash)."""

    used: dict[str, float] = attrs.Factory(lambda: dict.fromkeys(AXES, 0.0))
    started_at: float | None = None
    announced: set[tuple[str, str]] = attrs.Factory(set)
    alarms: list[str] = attrs.Factory(list)
    calls_after_exhaustion: int = 0


def _fmt(axis: str, value: float) -> str:
    if axis == "wall_time":
        return f"{value:.0f}s"
    return f"{value:.0f}"


class Budget:
    """The budget rules for one creature: its limits and its spending.

    Args:
        options: The limits.
        state: The creature's spending, updated in place.
    """

    def __init__(self, options: BudgetOptions, state: BudgetState) -> None:
        self.options = options
        self.state = state

    # -- Reading -------------------------------------------------------------------------------

    def used(self, axis: str) -> float:
        """How much of *axis* was spent; wall time is measured now."""
        if axis == "wall_time":
            started = self.state.started_at
            return 0.0 if started is None else trio.current_time() - started
        return self.state.used[axis]

    def status(self) -> dict[str, dict[str, float | None]]:
        """``{axis: {"used", "soft", "hard"}}`` for every limited axis."""
        return {
            axis: {"used": self.used(axis), "soft": limit.soft, "hard": limit.hard}
            for axis, limit in self.options.limits.items()
        }

    def prompt_text(self) -> str:
        """The "Operating constraints" lines describing the limits to the model."""
        lines = ["## Operating constraints", "You work within a budget:"]
        for axis, limit in self.options.limits.items():
            soft = f"warning at {_fmt(axis, limit.soft)}, " if limit.soft is not None else ""
            lines.append(f"- {axis}: {soft}stop at {_fmt(axis, limit.hard)}")
        lines.append(
            "A `[budget soft]` note means: finish the current step and wrap up. At a "
            "`[budget hard]` note tool calls are refused: give your final answer with what "
            "you have."
        )
        return "\n".join(lines)

    def _exhausted(self) -> tuple[str, Limit] | None:
        """The first axis whose hard limit stops tool work, if any."""
        for axis in _CONTINUOUS:
            limit = self.options.limits.get(axis)
            if limit is not None and self.used(axis) >= limit.hard:
                return axis, limit
        return None

    def _refusal(self, axis: str, limit: Limit, what: str) -> BudgetExhaustedError:
        used = _fmt(axis, self.used(axis))
        return BudgetExhaustedError(
            f"Budget exhausted ({axis}: {used}/{_fmt(axis, limit.hard)}). No more {what} are "
            "allowed; give your final answer with what you have.",
            axis=axis,
        )

    # -- Admitting work ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the wall clock (once, when the creature starts or first spends)."""
        if self.state.started_at is None:
            self.state.started_at = trio.current_time()

    async def turn_started(self, agent: kt.Agent) -> None:
        """Count a turn."""
        self.start()
        self.state.used["turns"] += 1
        await self._escalate(agent, "turns")

    async def admit_model_call(self, agent: kt.Agent) -> list[str]:
        """Admit one model call, or refuse it.

        Returns:
            The alarm lines the model has not seen yet (drained).

        Raises:
            BudgetExhaustedError: the turn, model-call, token or time budget is spent.
        """
        self.start()
        limits = self.options.limits
        turns = limits.get("turns")
        if turns is not None and self.state.used["turns"] > turns.hard:
            raise BudgetExhaustedError(
                f"Budget exhausted (turns: {turns.hard:.0f}/{turns.hard:.0f} turns used): "
                "this creature may not call its model again. Raise the kt_guard "
                "budgets.turns limit to continue.",
                axis="turns",
            )
        calls = limits.get("model_calls")
        if calls is not None and self.state.used["model_calls"] >= calls.hard:
            raise BudgetExhaustedError(
                f"Budget exhausted (model_calls: {calls.hard:.0f}/{calls.hard:.0f}): this "
                "creature may not call its model again. Raise the kt_guard budgets.model_calls "
                "limit to continue.",
                axis="model_calls",
            )
        for axis in _CONTINUOUS:
            await self._escalate(agent, axis)
        exhausted = self._exhausted()
        if exhausted is not None:
            self.state.calls_after_exhaustion += 1
            if self.state.calls_after_exhaustion > self.options.final_calls:
                axis, limit = exhausted
                raise BudgetExhaustedError(
                    f"Budget exhausted ({axis}: {_fmt(axis, self.used(axis))}/"
                    f"{_fmt(axis, limit.hard)}) and the {self.options.final_calls} final model "
                    f"call(s) were used. Raise the kt_guard budgets.{axis} limit to continue.",
                    axis=axis,
                )
        self.state.used["model_calls"] += 1
        await self._escalate(agent, "model_calls")
        alarms, self.state.alarms = self.state.alarms, []
        return alarms

    async def admit_tool_call(self, agent: kt.Agent, *, count: bool = True) -> None:
        """Admit one tool call and count it, or refuse it.

        Args:
            agent: The creature.
            count: ``False`` checks without counting (before waiting for an approval).

        Raises:
            BudgetExhaustedError: the tool-call budget is spent, or tokens / wall time are.
        """
        self.start()
        limit = self.options.limits.get("tool_calls")
        if limit is not None and self.state.used["tool_calls"] >= limit.hard:
            raise self._refusal("tool_calls", limit, "tool calls")
        await self.check_work(agent, "tool calls")
        if count:
            self.state.used["tool_calls"] += 1
            await self._escalate(agent, "tool_calls")

    async def check_work(self, agent: kt.Agent, what: str) -> None:
        """Refuse tool work (a tool call, a sub-agent) once tokens or wall time ran out.

        Raises:
            BudgetExhaustedError: naming the axis.
        """
        await self._escalate(agent, "wall_time")
        exhausted = self._exhausted()
        if exhausted is not None:
            raise self._refusal(*exhausted, what)

    async def record_usage(self, agent: kt.Agent, usage: Any) -> None:
        """Add a model call's tokens."""
        total = usage.total_tokens or usage.prompt_tokens + usage.completion_tokens
        self.state.used["tokens"] += total
        await self._escalate(agent, "tokens")

    # -- Alarms --------------------------------------------------------------------------------

    async def _escalate(self, agent: kt.Agent, axis: str) -> None:
        limit = self.options.limits.get(axis)
        if limit is None:
            return
        used = self.used(axis)
        if used >= limit.hard:
            level = "hard"
        elif limit.soft is not None and used >= limit.soft:
            level = "soft"
        else:
            return
        if (axis, level) in self.state.announced:
            return
        self.state.announced.update({(axis, "soft"), (axis, level)})  # hard implies soft
        message = self._alarm_text(axis, level, used, limit)
        self.state.alarms.append(message)
        await agent.emit(
            BudgetAlarm(
                axis=axis, level=level, used=used, soft=limit.soft, hard=limit.hard, message=message
            )
        )

    @staticmethod
    def _alarm_text(axis: str, level: str, used: float, limit: Limit) -> str:
        at = f"[budget {level}] {axis} is at {_fmt(axis, used)}/{_fmt(axis, limit.hard)}."
        if level == "soft":
            return f"{at} Wrap up: finish the current step and avoid starting new work."
        if axis == "tool_calls":
            return f"{at} Further tool calls will be refused; give your final answer now."
        if axis == "turns":
            return f"{at} This is the last turn the budget allows; give a complete answer."
        if axis == "model_calls":
            return f"{at} This is your last model call; give your final answer now."
        return f"{at} Tool calls are refused from now on; give your final answer now."
