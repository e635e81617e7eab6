"""Model-family guidance: a few lines of system prompt tuned to the family of the model.

Model families read the same prompt differently: OpenAI's reasoning and Codex models do best
with terse, outcome-first instructions and their own patch habits; Anthropic's models with
explicit structure; Gemini and Gemma models need firmer reminders to call tools rather than
describe calls. :class:`FamilyGuidance` adds the lines for the model a call goes to, chosen per
call, so switching models mid-session switches the guidance with it.

The family comes from the request's model name, else the creature's model label:
``gpt-*``, ``o1``/``o3``/``o4*``, ``codex*`` → ``openai``; ``claude*`` → ``anthropic``;
``gemini*``, ``gemma*`` → ``google``. Other models get nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import kt
from kt.llm import LLMRequest

__all__ = ["GUIDANCE", "FamilyGuidance", "family_of"]

GUIDANCE: dict[str, str] = {
    "openai": (
        "# Working style\n\n"
        "- Lead with the result. Keep progress notes to one line.\n"
        "- When a tool can answer a question, call it rather than guessing.\n"
        "- Make the smallest change that solves the task; keep the project's conventions."
    ),
    "anthropic": (
        "# Working style\n\n"
        "- Think through the plan before the first tool call, then act without narrating each "
        "step.\n"
        "- Prefer editing existing files over creating new ones.\n"
        "- Report what you changed and how you checked it."
    ),
    "google": (
        "# Working style\n\n"
        "- To use a tool, make a real tool call. Never write out a call as text or describe "
        "what a tool would return.\n"
        "- Read a file before editing it, and use exact text from it in edits.\n"
        "- Stop when the task is done; do not repeat the final answer."
    ),
}

_FAMILIES = (
    ("openai", re.compile(r"(^|[/:])(gpt-|o[134]\b|o[134]-|codex|chatgpt)", re.IGNORECASE)),
    ("anthropic", re.compile(r"(^|[/:])claude", re.IGNORECASE)),
    ("google", re.compile(r"(^|[/:])(gemini|gemma)", re.IGNORECASE)),
)


def family_of(model: str | None) -> str | None:
    """The family of a model name or selector (``openai/gpt-5`` → ``openai``), or ``None``."""
    for family, pattern in _FAMILIES:
        if model and pattern.search(model):
            return family
    return None


class FamilyGuidance:
    """A creature plugin adding per-family guidance to each model call.

    Args:
        guidance: Replacement or extra texts by family (merged over :data:`GUIDANCE`; an empty
            text switches a family off).
    """

    def __init__(self, guidance: Mapping[str, str] | None = None) -> None:
        self.guidance = {**GUIDANCE, **(guidance or {})}

    @kt.hookimpl
    def kt_pre_llm_call(self, request: LLMRequest, ctx: kt.TurnContext) -> LLMRequest | None:
        """Add the guidance for the family of this call's model."""
        family = family_of(request.model) or family_of(ctx.creature.llm_name)
        text = self.guidance.get(family or "", "")
        return request.with_system_text(text) if text else None


@kt.hookimpl
def kt_module_aliases() -> dict[str, str]:
    return {"kt_biome.plugins.family_guidance:FamilyGuidancePlugin": "kt_guidance:FamilyGuidance"}
