"""What a creature's model calls cost, from the catalog's prices (see :mod:`kt_llm.models`).

Every model call of every creature is priced when it completes, with the prices of the
model it went to (the catalog, ``~/.kt/models.toml``, or the profile's own ``prices``), and a
:class:`CostUpdated` event is published with the call's cost and the running totals of the
turn and the session. Sessions record the event like any other, so UIs and ``kt sessions``
read cost from the record; :func:`costs_of` gives the live totals.

A model whose prices are not known costs ``None``, never ``0``: a total that includes an
unpriced call says so (``complete`` is false). Subscriptions priced per month (``codex``,
``kimi-code``, ``glm-coding``) are priced at 0 per token in the catalog.

:class:`CostBudget` is a creature plugin that ends the creature's run when its session cost
passes a budget in US dollars.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

import kt
from kt.events import Event
from kt.llm import LLMResult

__all__ = ["CostBudget", "CostUpdated", "Costs", "costs_of"]


@attrs.frozen(kw_only=True)
class CostUpdated(Event):
    """A model call was priced.

    Attributes:
        model: The model label of the creature (``openai/gpt-5``).
        call_cost: The call's cost in US dollars (``None``: its prices are not known).
        turn_cost: The turn's total so far.
        session_cost: The creature's total since it was built.
        complete: Whether every call in ``session_cost`` was priced.
    """

    type: ClassVar[str] = "cost_updated"
    model: str = ""
    call_cost: float | None = None
    turn_cost: float = 0.0
    session_cost: float = 0.0
    complete: bool = True


@attrs.define
class Costs:
    """A creature's running totals, in US dollars.

    Attributes:
        session: Every priced call since the creature was built (or resumed).
        turn: The priced calls of the current (or last) turn.
        calls: Model calls counted.
        unpriced: Calls whose prices were not known (left out of the totals).
    """

    session: float = 0.0
    turn: float = 0.0
    calls: int = 0
    unpriced: int = 0

    @property
    def complete(self) -> bool:
        """Whether every call was priced."""
        return self.unpriced == 0


_COSTS = kt.StashKey[Costs]()


def costs_of(creature: Any) -> Costs:
    """The live cost totals of *creature* (zeros before its first call)."""
    return creature.stash.setdefault(_COSTS, Costs())


def price_of(creature: Any, result: LLMResult) -> float | None:
    """The cost of one call's usage with the prices of the creature's model (``None``: unknown)."""
    info = getattr(creature.llm, "model_info", None)
    return None if info is None else info.cost(result.usage)


def start_turn(ctx: kt.TurnContext) -> None:
    """A new turn: its total starts at zero."""
    costs_of(ctx.creature).turn = 0.0


async def record_call(result: LLMResult, ctx: kt.TurnContext) -> None:
    """Price the call, add it to the totals and publish :class:`CostUpdated`."""
    creature = ctx.creature
    costs = costs_of(creature)
    cost = price_of(creature, result)
    costs.calls += 1
    if cost is None:
        costs.unpriced += 1
    else:
        costs.turn += cost
        costs.session += cost
    await creature.emit(
        CostUpdated(
            model=creature.llm_name,
            call_cost=cost,
            turn_cost=costs.turn,
            session_cost=costs.session,
            complete=costs.complete,
        )
    )


class CostBudget:
    """A creature plugin ending the run when the session's cost passes a budget.

    Args:
        budget_usd: The most the session may cost, in US dollars; ``None``: no limit (the
            cost is still tracked and published).
    """

    def __init__(self, budget_usd: float | None = None) -> None:
        if budget_usd is not None and budget_usd <= 0:
            raise kt.errors.ConfigError(f"budget_usd must be above 0, got {budget_usd}")
        self.budget_usd = budget_usd

    @kt.hookimpl
    async def kt_turn_ended(self, ctx: kt.TurnContext, result: kt.TurnResult) -> None:
        """End the run once the session has cost more than the budget."""
        spent = costs_of(ctx.creature).session
        if self.budget_usd is not None and spent > self.budget_usd:
            await ctx.creature.terminate(
                f"the session cost ${spent:.4f}, over its budget of ${self.budget_usd:.4f}",
                limit="budget_usd",
            )
