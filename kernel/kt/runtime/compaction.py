"""Compaction: fold old history into one summary message.

The kernel owns the mechanism (choose a boundary that never splits a tool call from its
result, summarise, splice atomically, publish events); *when* to compact is a policy that
plugins decide (``kt_guard`` compacts in the background past a token threshold). The summary
comes from the first ``kt_compact`` implementation that returns one, else from the creature's
own model with :data:`SUMMARY_INSTRUCTIONS`.

The boundary is an index into an append-only history, so messages appended while the summary is
being produced stay in the live part. If the history was *replaced* meanwhile (another
compaction, a clear), the splice is abandoned and history is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kt.events import CompactionCompleted, CompactionSkipped, CompactionStarted
from kt.llm import LLMDone, LLMRequest, Message, TextChunk, message_text

if TYPE_CHECKING:
    from kt.runtime.creature import Creature

__all__ = ["SUMMARY_INSTRUCTIONS", "SUMMARY_PREFIX", "compact", "compaction_boundary"]

SUMMARY_PREFIX = "[Previous context summary]"
SUMMARY_INSTRUCTIONS = (
    "Summarise the conversation below for your own later use. Keep: the current goal, "
    "decisions made and why, progress (done / in progress / pending), files and names "
    "involved, facts learned, and any sentence that must be kept verbatim. Fold any earlier "
    "summary in. Be complete but brief."
)
_TOOL_OUTPUT_PREVIEW = 500


def compaction_boundary(messages: Sequence[Message], keep_recent_turns: int) -> int:
    """Index where the live part starts: the *keep_recent_turns*-th user message from the end.

    A boundary always sits on a user message that starts a turn (never on the message that
    carries a text format's tool results), so an assistant's tool calls and their results are
    never separated. Returns 0 when there is nothing old enough to fold.
    """
    seen = 0
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role == "user" and not message.meta.get("tool_results"):
            seen += 1
            if seen == keep_recent_turns:
                return index
    return 0


def _render(messages: Sequence[Message]) -> str:
    lines = []
    for m in messages:
        text = message_text(m)
        if m.role == "tool" and len(text) > _TOOL_OUTPUT_PREVIEW:
            text = text[:_TOOL_OUTPUT_PREVIEW] + " ..."
        calls = "".join(f"\n(calls {c.name} {c.args})" for c in m.tool_calls)
        lines.append(f"[{m.role}]: {text}{calls}")
    return "\n\n".join(lines)


async def _summarise_with_model(agent: Creature, messages: Sequence[Message]) -> str:
    request = LLMRequest(
        messages=(Message("system", SUMMARY_INSTRUCTIONS), Message("user", _render(messages))),
        options={"max_tokens": 2048},
        model=agent.config.controller.model,
    )
    parts = []
    async for chunk in agent.llm.stream(request):
        if isinstance(chunk, TextChunk):
            parts.append(chunk.text)
        elif isinstance(chunk, LLMDone):
            break
    return "".join(parts).strip()


async def compact(agent: Creature, *, keep_recent_turns: int) -> bool:
    """Replace all but the last *keep_recent_turns* user turns with one summary message.

    Returns:
        ``True`` when history was compacted; ``False`` when there was too little to fold or
        summarising failed (a ``CompactionSkipped`` event says why; history is unchanged).
    """
    if keep_recent_turns < 1:
        raise ValueError("keep_recent_turns must be at least 1")
    snapshot = agent.history
    boundary = compaction_boundary(snapshot, keep_recent_turns)
    if boundary <= 1:
        await agent.emit(CompactionSkipped(reason="too_short"))
        return False
    old = tuple(snapshot[:boundary])
    await agent.emit(CompactionStarted(prompt_tokens=agent.usage.prompt_tokens))
    try:
        summary = await agent.runner.first("kt_compact", messages=old, creature=agent)
        if summary is None:
            summary = await _summarise_with_model(agent, old)
    except Exception as exc:  # history stays untouched; the event says why
        await agent.emit(CompactionSkipped(reason=f"failed: {type(exc).__name__}: {exc}"))
        return False
    if not summary:
        await agent.emit(CompactionSkipped(reason="failed: empty summary"))
        return False
    if agent.history is not snapshot:
        await agent.emit(CompactionSkipped(reason="history was replaced meanwhile"))
        return False
    live = agent.history[boundary:]  # includes anything appended while summarising
    summary_message = Message("assistant", f"{SUMMARY_PREFIX}\n\n{summary}", meta={"summary": True})
    await agent.replace_history([summary_message, *live], reason="compaction")
    await agent.emit(CompactionCompleted(summary=summary, messages_compacted=len(old)))
    return True
