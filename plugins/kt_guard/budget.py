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

This module holds the feature: the ``budgets`` table (:class:`BudgetOptions`), the
:class:`BudgetAlarm` event and the spending rules (:class:`Budget`). Its hooks are
:class:`kt_guard.hooks.BudgetHooks`, which load this module once a creature sets budgets. Tool
calls are admitted by :class:`kt_guard.Guard`, which puts the budget between the sandbox and
the permission gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

import kt
from kt.errors import BudgetExceededError, PluginBlockError
from kt.events import Event
from kt_guard.feature import now
from kt_guard.options import GuardConfigError, check_table, describe, positive

__all__ = [
    "AXES",
    "Budget",
    "BudgetAlarm",
    "BudgetExhaustedError",
    "BudgetOptions",
    "BudgetState",
    "Limit",
    "parse_budgets",
]

AXES = ("turns", "model_calls", "tool_calls", "wall_time", "tokens")
"""Budget axes, in the order they are reported."""

_CONTINUOUS = ("tokens", "wall_time")  # spent by the model itself: it may still answer


# -- Options: the ``budgets`` table ------------------------------------------------------------


@attrs.frozen
class Limit:
    """One budget axis: a warning at *soft*, a stop at *hard* (``soft`` may be ``None``)."""

    soft: float | None
    hard: float


@attrs.frozen
class BudgetOptions:
    """Budget limits by axis, and how many model calls remain once one is exhausted.

    Attributes:
        limits: Axis name (one of :data:`AXES`) → its limits; axes not listed are unlimited.
        final_calls: Model calls still allowed after ``tokens`` or ``wall_time`` ran out, so
            the model can give its final answer.
    """

    limits: Mapping[str, Limit]
    final_calls: int = 1


def parse_budgets(value: Any, where: str) -> BudgetOptions:
    """Validate a ``budgets`` table: each axis ``[soft, hard]``, ``{soft, hard}`` or a number.

    Raises:
        GuardConfigError: naming the bad key and what it accepts.
    """
    table = check_table(value, (*AXES, "final_calls"), where)
    limits = {axis: _limit(table[axis], f"{where}.{axis}") for axis in AXES if axis in table}
    final_calls = table.get("final_calls", 1)
    if isinstance(final_calls, bool) or not isinstance(final_calls, int) or final_calls < 0:
        raise GuardConfigError(
            f"must be a whole number ≥ 0, got {describe(final_calls)}", path=f"{where}.final_calls"
        )
    return BudgetOptions(limits=limits, final_calls=final_calls)


def _limit(value: Any, where: str) -> Limit:
    soft: Any
    if isinstance(value, Mapping):
        check_table(value, ("soft", "hard"), where)
        if "hard" not in value:
            raise GuardConfigError("needs a 'hard' limit", path=where)
        soft, hard = value.get("soft"), value["hard"]
    elif isinstance(value, list | tuple):
        if len(value) != 2:
            raise GuardConfigError(
                f"write [soft, hard] (two numbers), got {len(value)} value(s)", path=where
            )
        soft, hard = value
    else:
        soft, hard = None, value
    hard = positive(hard, f"{where}.hard")
    if soft is not None:
        soft = positive(soft, f"{where}.soft")
        if soft > hard:
            raise GuardConfigError(f"soft ({soft:g}) must not be above hard ({hard:g})", path=where)
    return Limit(soft=soft, hard=hard)


# -- Events and errors -------------------------------------------------------------------------


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


class BudgetExhaustedError(PluginBlockError, BudgetExceededError):
    """A guard budget ran out: the vetoed call's error, and ``result.error`` of a stopped turn.

    Attributes:
        axis: The axis that ran out.
    """

    def __init__(self, message: str, *, axis: str) -> None:
        super().__init__(message)
        self.axis = axis


# -- Spending ----------------------------------------------------------------------------------


@attrs.define
class BudgetState:
    """What one creature has spent so far (kept in its guard's stash)."""

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
            return 0.0 if started is None else now() - started
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
            self.state.started_at = now()

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
