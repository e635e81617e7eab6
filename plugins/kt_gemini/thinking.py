"""kt's reasoning options mapped onto each Gemini family's ``thinkingConfig``.

Gemini 3 models take a ``thinkingLevel``; Gemini 2.5 models take a ``thinkingBudget`` in
tokens. Sending both is an HTTP 400, and so is a level a model lacks:

=========================  =======================================  ===========================
family                     field                                    values
=========================  =======================================  ===========================
Gemini 3 Pro               ``thinkingLevel``                        LOW, HIGH
Gemini 3.1 Pro and later   ``thinkingLevel``                        LOW, MEDIUM, HIGH
Gemini 3 Flash, Flash-Lite ``thinkingLevel``                        MINIMAL, LOW, MEDIUM, HIGH
Gemini 2.5 Pro             ``thinkingBudget``                       128 to 32,768 (cannot be 0)
Gemini 2.5 Flash           ``thinkingBudget``                       0 (off) to 24,576
Gemini 2.5 Flash-Lite      ``thinkingBudget``                       0 (off), 512 to 24,576
older (2.0, Gemma ...)     (none: the model does not think)
=========================  =======================================  ===========================

``reasoning_effort`` (``@reasoning=LEVEL``) picks the nearest level the model has (``max`` and
``xhigh`` are HIGH; ``none`` is the least thinking the model allows), or on 2.5 models the
budget of :data:`BUDGETS`, clamped to the model's range. ``thinking_budget`` (``@thinking=N``)
is sent as the budget, alone: on Gemini 3 only when no level was asked for (the API still
takes a budget there), and on 2.5 it wins over a level. Ids the table does not know get the
level field when a level is asked for, else the budget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["BUDGETS", "Family", "family_of", "thinking_config"]

ORDER = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
BUDGETS = {"minimal": 512, "low": 1024, "medium": 8192, "high": 16384}


@attrs.frozen
class Family:
    """How one Gemini family thinks.

    Attributes:
        field: ``"level"``, ``"budget"``, ``"none"`` or ``"unknown"``.
        levels: For level models: the levels it takes, lowest first (lower case).
        budget_range: For budget models: ``(lowest, highest)`` budget.
        can_disable: For budget models: whether a budget of 0 turns thinking off.
    """

    field: str
    levels: tuple[str, ...] = ()
    budget_range: tuple[int, int] = (0, 24576)
    can_disable: bool = True


_VERSION = re.compile(r"gemini-(?P<major>\d+)(?:\.(?P<minor>\d+))?-(?P<rest>[\w.-]*)")


def family_of(model: str) -> Family:
    """The thinking family of a Gemini model id (``gemini-2.5-flash``, ``models/gemini-3-pro``)."""
    match = _VERSION.search(model.lower())
    if match is None:
        return Family("unknown", ("minimal", "low", "medium", "high"))
    version = (int(match["major"]), int(match["minor"] or 0))
    rest = match["rest"]
    if version >= (3, 0):
        if "pro" in rest:
            levels = ("low", "high") if version == (3, 0) else ("low", "medium", "high")
            return Family("level", levels)
        return Family("level", ("minimal", "low", "medium", "high"))
    if version == (2, 5):
        if "pro" in rest:
            return Family("budget", budget_range=(128, 32768), can_disable=False)
        if "lite" in rest:
            return Family("budget", budget_range=(512, 24576))
        return Family("budget", budget_range=(1, 24576))
    return Family("none")


def _nearest_level(level: str, levels: tuple[str, ...]) -> str:
    if level in levels:
        return level
    rank = ORDER.index(level) if level in ORDER else ORDER.index("high")
    if rank <= ORDER.index("minimal"):
        return levels[0]  # the least thinking the model allows
    below = [each for each in levels if ORDER.index(each) < rank]
    return below[-1] if below else levels[0]


def _clamped(budget: int, family: Family) -> int:
    low, high = family.budget_range
    if budget <= 0:
        return 0 if family.can_disable else low
    return max(low, min(high, budget))


def thinking_config(model: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``thinkingConfig`` fields for *model* and kt's options (empty: none to send).

    Args:
        model: The model id as sent.
        options: Generation options; reads ``reasoning_effort`` and ``thinking_budget``.
    """
    family = family_of(model)
    level = options.get("reasoning_effort")
    level = None if level is None else str(level).lower()
    budget = options.get("thinking_budget")
    budget = None if budget is None else int(budget)
    if family.field == "none" or (level is None and budget is None):
        return {}
    if family.field == "budget":
        if budget is None:
            top = family.budget_range[1]
            budget = 0 if level == "none" else BUDGETS.get(level or "", top)
        return {"thinkingBudget": _clamped(budget, family)}
    if level is None:
        return {"thinkingBudget": budget}
    return {"thinkingLevel": _nearest_level(level, family.levels).upper()}
