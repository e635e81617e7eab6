"""Multimodal guard: images turned into text notes for models that read only text.

A creature that reads screenshots or receives pasted images sends image parts to its model;
a text-only model (many local models, some cheap tiers) answers those requests with an error.
:class:`MultimodalGuard` is a creature plugin that rewrites each image part of a model call
into a short text note before the call, keeping the text parts and the history as they are,
so the conversation goes on and the model knows an image was there.

``models`` limits the rewriting to matching models (shell-style patterns against the call's
model or the creature's model label); without it, every call is rewritten.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

import attrs

import kt
from kt.llm import ContentPart, LLMRequest, Message

__all__ = ["MultimodalGuard", "text_only"]


def _describe(part: ContentPart, index: int) -> str:
    url = part.image_url
    if url.startswith("data:"):
        kind = url[5:].split(";", 1)[0] or "image"
        data = url.partition(",")[2]
        size = len(data) * 3 // 4 - (len(data) - len(data.rstrip("=")))  # base64 to bytes
        shown = f"about {size // 1024} KB" if size >= 1024 else f"{size} bytes"
        return f"[image {index}: {kind}, {shown}, not shown: this model reads text only]"
    return f"[image {index}: {url[:120]}, not shown: this model reads text only]"


def text_only(message: Message) -> Message:
    """*message* with every image part replaced by a text note (unchanged when it has none)."""
    if isinstance(message.content, str) or all(p.type == "text" for p in message.content):
        return message
    parts, images = [], 0
    for part in message.content:
        if part.type == "text":
            parts.append(part.text)
        else:
            images += 1
            parts.append(_describe(part, images))
    return attrs.evolve(message, content="\n".join(p for p in parts if p))


class MultimodalGuard:
    """A creature plugin rewriting image input into text notes before model calls.

    Args:
        models: Rewrite only for models matching these patterns (``["ollama/*", "*mini*"]``);
            default: every model.
    """

    def __init__(self, models: Iterable[str] | None = None) -> None:
        self.models = None if models is None else tuple(models)

    def applies(self, model: str) -> bool:
        """Whether calls to *model* are rewritten."""
        return self.models is None or any(fnmatch.fnmatch(model, p) for p in self.models)

    @kt.hookimpl
    def kt_pre_llm_call(self, request: LLMRequest, ctx: kt.TurnContext) -> LLMRequest | None:
        """Turn image parts into text notes when the model matches."""
        if not self.applies(request.model or ctx.creature.llm_name):
            return None
        messages = tuple(text_only(m) for m in request.messages)
        if all(new is old for new, old in zip(messages, request.messages, strict=True)):
            return None
        return attrs.evolve(request, messages=messages)


@kt.hookimpl
def kt_module_aliases() -> dict[str, str]:
    return {
        "kt_biome.plugins.multimodal_guard:MultimodalGuardPlugin": "kt_multimodal:MultimodalGuard"
    }
