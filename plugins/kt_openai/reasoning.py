"""kt's reasoning levels mapped onto the effort values each OpenAI model family accepts.

kt offers one scale (``none``, ``minimal``, ``low``, ``medium``, ``high``, ``xhigh``, ``max``);
OpenAI's models each accept a subset of their own, and answer HTTP 400 to a value outside it
("Unsupported value: 'reasoning_effort' does not support 'minimal' with this model"). So a
level is moved to the nearest value the family has, rounding toward what the user asked:

===================================  ==========================================  ===============
family (model id)                    accepts                                     kt → wire
===================================  ==========================================  ===============
``gpt-5.2`` and later, ``gpt-6``     none, low, medium, high, xhigh               minimal → low,
                                                                                  max → xhigh
``gpt-5.1``                          none, low, medium, high                      minimal → low,
                                                                                  xhigh/max → high
``gpt-5``, ``gpt-5-mini/nano``       minimal, low, medium, high                   none → minimal,
                                                                                  xhigh/max → high
``o1``, ``o3``, ``o4-mini`` ...      low, medium, high                            none/minimal →
                                                                                  low, xhigh/max
                                                                                  → high
``gpt-4o``, ``gpt-4.1`` ...          (no reasoning)                               dropped
any other model (other servers)      what the server says                         unchanged
===================================  ==========================================  ===============

OpenRouter takes the same scale as the newest OpenAI models (no ``max``), so a model behind
OpenRouter that is not an OpenAI one gets ``max`` as ``xhigh`` and everything else unchanged.
"""

from __future__ import annotations

import re

__all__ = ["effort_for", "is_reasoning_model"]

_ORDER = ("none", "minimal", "low", "medium", "high", "xhigh", "max")

# (pattern on the bare model id, accepted values); first match wins. The patterns are compiled
# by ``re`` at their first use: a backend that never sets an effort compiles none.
_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"^gpt-5\.1", ("none", "low", "medium", "high")),
    (r"^gpt-(5\.\d+|[6-9])", ("none", "low", "medium", "high", "xhigh")),
    (r"^gpt-5", ("minimal", "low", "medium", "high")),
    (r"^o\d", ("low", "medium", "high")),
    (r"^(gpt-4|gpt-3\.5|chatgpt-4o)", ()),
)


def _family(model: str) -> tuple[str, ...] | None:
    bare = model.rsplit("/", 1)[-1].lower()
    for pattern, accepted in _FAMILIES:
        if re.match(pattern, bare):
            return accepted
    return None


def is_reasoning_model(model: str) -> bool:
    """Whether *model* is an OpenAI reasoning model (it returns reasoning items)."""
    accepted = _family(model)
    return bool(accepted)


def effort_for(model: str, level: str, *, openrouter: bool = False) -> str | None:
    """The effort value to send for kt's *level* on *model*, or ``None`` to send none.

    Args:
        model: The model id as sent (``gpt-5.4``, ``openai/gpt-5``, ``deepseek-chat`` ...).
        level: One of kt's levels; another value (a server's own) passes through unchanged.
        openrouter: The request goes to OpenRouter, whose scale has no ``max``.
    """
    accepted = _family(model)
    if level not in _ORDER:
        return level
    if accepted is None:
        return "xhigh" if openrouter and level == "max" else level
    if not accepted:
        return None
    if level in accepted:
        return level
    rank = _ORDER.index(level)
    if level == "none" or level == "minimal":  # round up: the least thinking the model has
        return next(a for a in accepted if _ORDER.index(a) > rank)
    below = [a for a in accepted if _ORDER.index(a) < rank]  # round down: the most it has
    return below[-1] if below else accepted[0]
