"""Conversation history rules, as pure functions.

The kernel keeps history well-formed by construction: an assistant message with tool calls is
appended before any result, every call gets exactly one result, and a failed or interrupted
turn is closed with synthetic results. :func:`repair` restores those invariants on histories
that come from elsewhere (an old session, a hand-edited file, a plugin that replaced history):

* consecutive ``user`` messages are merged into one (strict providers require alternation);
* every tool call of an assistant message is answered by exactly one ``tool`` message placed
  right after it (missing answers get an "interrupted" result, duplicates are dropped);
* ``tool`` messages that answer no call are dropped;
* an assistant message left with no text and no calls is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from kt.llm import ContentPart, Message

__all__ = ["MISSING_RESULT", "is_well_formed", "merge_user_content", "repair"]

MISSING_RESULT = "Interrupted: this call was cancelled before it returned a result."


def merge_user_content(
    first: str | tuple[ContentPart, ...], second: str | tuple[ContentPart, ...]
) -> str | tuple[ContentPart, ...]:
    """Join two user contents with a blank line, keeping multimodal parts."""
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}\n\n{second}" if first else second

    def parts(c: str | tuple[ContentPart, ...]) -> tuple[ContentPart, ...]:
        return (ContentPart("text", text=c),) if isinstance(c, str) else c

    return parts(first) + (ContentPart("text", text="\n\n"),) + parts(second)


def repair(messages: Sequence[Message]) -> list[Message]:
    """Return a well-formed copy of *messages* (see the module docs for the rules)."""
    out: list[Message] = []
    i = 0
    while i < len(messages):
        msg = messages[i]
        i += 1
        if msg.role == "tool":
            continue  # answers are consumed right after their assistant message below
        if msg.role == "user" and out and out[-1].role == "user":
            out[-1] = attrs.evolve(
                out[-1], content=merge_user_content(out[-1].content, msg.content)
            )
            continue
        if msg.role == "assistant" and msg.tool_calls:
            answers: dict[str, Message] = {}
            while i < len(messages) and messages[i].role == "tool":
                answer = messages[i]
                i += 1
                if answer.tool_call_id not in answers:
                    answers[answer.tool_call_id or ""] = answer
            out.append(msg)
            for call in msg.tool_calls:
                out.append(
                    answers.get(call.id)
                    or Message("tool", MISSING_RESULT, tool_call_id=call.id, name=call.name)
                )
            continue
        if msg.role == "assistant" and not msg.content:
            continue
        out.append(msg)
    return out


def is_well_formed(messages: Sequence[Message]) -> bool:
    """Whether :func:`repair` would leave *messages* unchanged."""
    return repair(messages) == list(messages)
