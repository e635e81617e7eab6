"""kt's reasoning options mapped onto each Claude family's thinking and effort fields.

Claude models differ in how they think, and a field a model does not take is an HTTP 400:

=========================  ===========================================  =====================
family                     thinking                                     ``output_config``
=========================  ===========================================  =====================
adaptive only              ``{"type": "adaptive"}``; ``enabled`` and    ``effort``: low,
(Opus 4.7 and later,       ``disabled`` are refused                     medium, high, xhigh,
every 5th generation)                                                   max
adaptive (Opus 4.6,        ``{"type": "adaptive"}``; ``enabled`` with   ``effort``: low,
Sonnet 4.6)                a budget is deprecated                       medium, high, max
effort + budget            ``{"type": "enabled", "budget_tokens": N}``  ``effort``: low,
(Opus 4.5)                                                              medium, high
budget (Sonnet 4.5, Haiku  ``{"type": "enabled", "budget_tokens": N}``  (none)
4.5, Opus 4.x, Sonnet 4,
3.7, unknown models)
no thinking (3.5, 3)       (none)                                       (none)
=========================  ===========================================  =====================

kt's two knobs map onto that table:

* ``reasoning_effort`` (``@reasoning=LEVEL``): on adaptive models, adaptive thinking with that
  effort (a level the model lacks moves to the nearest it has; ``none`` sends no thinking, or
  on adaptive-only models the lowest effort); on budget models, thinking with the budget of
  :data:`BUDGETS` (``none``: no thinking), plus the effort where the model takes one.
* ``thinking_budget`` (``@thinking=N``): on budget models, exactly that budget (at least the
  API's 1,024; 0: no thinking); on adaptive models, adaptive thinking with the effort that
  budget buys (:func:`effort_for_budget`), unless a reasoning level chose it already.

Ids the table does not know (gateways serving other vendors' models in this format) are
treated as budget models, the form Anthropic-compatible servers accept most widely.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["BUDGETS", "Family", "effort_for_budget", "family_of", "thinking_fields"]

LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
BUDGETS = {"minimal": 1024, "low": 4096, "medium": 10_000, "high": 20_000, "xhigh": 32_000}
BUDGETS["max"] = 48_000
MIN_BUDGET = 1024


@attrs.frozen
class Family:
    """How one Claude family thinks.

    Attributes:
        thinking: ``"adaptive-only"``, ``"adaptive"``, ``"budget"`` or ``"none"``.
        efforts: The ``output_config.effort`` values it takes (empty: no effort field).
    """

    thinking: str
    efforts: tuple[str, ...] = ()


_NEW_STYLE = re.compile(r"claude-(?P<kind>[a-z]+)-(?P<major>\d+)(?:-(?P<minor>\d)(?!\d))?")
_OLD_STYLE = re.compile(r"claude-(?P<major>\d)(?:-(?P<minor>\d))?-(?P<kind>[a-z]+)")


def family_of(model: str) -> Family:
    """The thinking family of a Claude model id (``claude-opus-4-7``, ``claude-3-7-sonnet``)."""
    bare = model.rsplit("/", 1)[-1].lower().replace(".", "-")
    match = _NEW_STYLE.search(bare) or _OLD_STYLE.search(bare)
    if match is None:
        return Family("budget")
    version = (int(match["major"]), int(match["minor"] or 0))
    kind = match["kind"]
    if version < (3, 7):
        return Family("none")
    if version >= (5, 0) or (kind == "opus" and version >= (4, 7)):
        return Family("adaptive-only", ("low", "medium", "high", "xhigh", "max"))
    if version >= (4, 6) and kind in ("opus", "sonnet"):
        return Family("adaptive", ("low", "medium", "high", "max"))
    if kind == "opus" and version == (4, 5):
        return Family("budget", ("low", "medium", "high"))
    return Family("budget")


def _nearest(level: str, efforts: tuple[str, ...]) -> str:
    """*level*, or the closest effort the model takes (rounding down, never below the lowest)."""
    if level in efforts:
        return level
    rank = LEVELS.index(level) if level in LEVELS else LEVELS.index("high")
    below = [e for e in efforts if LEVELS.index(e) < rank]
    return below[-1] if below else efforts[0]


def effort_for_budget(budget: int) -> str:
    """The effort a thinking budget stands for on adaptive models.

    Up to 4,096 tokens is low, up to 16,384 medium, more is high.
    """
    if budget <= 4096:
        return "low"
    return "medium" if budget <= 16_384 else "high"


def thinking_fields(model: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``thinking`` and ``output_config`` fields for *model* and kt's options.

    Args:
        model: The model id as sent.
        options: Generation options; reads ``reasoning_effort`` and ``thinking_budget``.

    Returns:
        The fields to add to the body (empty when the options ask for nothing).
    """
    family = family_of(model)
    level = options.get("reasoning_effort")
    level = None if level is None else str(level)
    budget = options.get("thinking_budget")
    budget = None if budget is None else int(budget)
    if family.thinking == "none" or (level is None and budget is None):
        return {}
    fields: dict[str, Any] = {}
    if family.thinking in ("adaptive", "adaptive-only"):
        if level is None:
            level = "none" if budget == 0 else effort_for_budget(budget or 0)
        if level in ("none", "minimal") and family.thinking == "adaptive-only":
            return {"output_config": {"effort": family.efforts[0]}}  # it cannot stop thinking
        if level == "none":
            return {}
        fields["thinking"] = {"type": "adaptive"}
        fields["output_config"] = {"effort": _nearest(level, family.efforts)}
        return fields
    if budget is None:
        budget = 0 if level == "none" else BUDGETS.get(level or "", BUDGETS["medium"])
    if budget > 0:
        fields["thinking"] = {"type": "enabled", "budget_tokens": max(MIN_BUDGET, budget)}
    if family.efforts and level not in (None, "none"):
        fields["output_config"] = {"effort": _nearest(level, family.efforts)}
    return fields
