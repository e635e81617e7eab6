"""Conversation history rules, as pure functions.

The kernel keeps history well-formed by construction: an assistant message with tool calls is
appended before any result, every call gets exactly one result, and a failed or interrupted
turn is closed with synthetic results. :func:`repair` restores those invariants on histories
that come from elsewhere (an old session, a hand-edited file, a plugin that replaced history):

* consecutive ``user`` messages are merged into one (strict providers require alternation);
* every tool call of an assistant message is answered by exactly one ``tool`` message placed
  right after it (missing answers get an "in doubt" result, or the one *answer* gives;
  duplicates are dropped);
* ``tool`` messages that answer no call are dropped;
* an assistant message left with no text and no calls is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from kt.llm import ContentPart, Message, ToolCall

__all__ = [
    "MISSING_RESULT",
    "is_well_formed",
    "merge_user_content",
    "repair",
    "result_text",
    "tool_results_message",
]

# A call with no recorded result may have run all the way, partly, or not at all: the process
# stopped while it ran. Saying "cancelled" would invite the model to repeat a side effect.
MISSING_RESULT = (
    "In doubt: this call was running when the process stopped; it may have partly run. "
    "It was not run again: check its effects before repeating it."
)


def result_text(status: str, output: str = "", error: str | None = None) -> str:
    """The text a model sees for a call's result: the output, or the error with a prefix.

    Args:
        status: The call's terminal status (``ok``, ``error``, ``blocked``, ``timeout``,
            ``interrupted``, ``cancelled``; ``running`` for a background call's placeholder).
        output: What the tool returned.
        error: Why it failed, for the statuses that are failures.
    """
    if status in ("ok", "running"):
        return output
    prefix = status.capitalize() if status in ("blocked", "interrupted", "cancelled") else "Error"
    body = error or status
    return f"{prefix}: {body}" + (f"\n{output}" if output else "")


def tool_results_message(
    results: Sequence[tuple[ToolCall, str | tuple[ContentPart, ...]]],
) -> Message:
    """The one user message that feeds results back in a text tool-call format, in call order.

    Args:
        results: Each call with what the model sees for it: text, or text and image parts.

    Returns:
        A ``user`` message marked ``meta={"tool_results": True}`` (not a user turn:
        compaction never cuts there); its content has parts when a result has images.
    """
    content: str | tuple[ContentPart, ...] = "[Tool results]"
    for index, (call, result) in enumerate(results):
        heading = f"## {call.name} {call.id}\n"
        content = merge_user_content(content, heading, "\n\n" if index else "\n")
        content = merge_user_content(content, result, "")
    return Message("user", content, meta={"tool_results": True})


def merge_user_content(
    first: str | tuple[ContentPart, ...], second: str | tuple[ContentPart, ...], sep: str = "\n\n"
) -> str | tuple[ContentPart, ...]:
    """Join two user contents with *sep* (a blank line), keeping multimodal parts."""
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}{sep}{second}" if first else second

    def parts(c: str | tuple[ContentPart, ...]) -> tuple[ContentPart, ...]:
        return (ContentPart("text", text=c),) if isinstance(c, str) and c else tuple(c)

    return parts(first) + parts(sep) + parts(second)


def repair(
    messages: Sequence[Message], *, answer: Callable[[ToolCall], str | None] | None = None
) -> list[Message]:
    """Return a well-formed copy of *messages* (see the module docs for the rules).

    Args:
        messages: The history to repair.
        answer: For a call with no ``tool`` message: the result text to give it (a result
            recorded elsewhere, such as a completion event), or ``None`` for
            :data:`MISSING_RESULT`.
    """
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
                reply = messages[i]
                i += 1
                if reply.tool_call_id not in answers:
                    answers[reply.tool_call_id or ""] = reply
            out.append(msg)
            for call in msg.tool_calls:
                found = answers.get(call.id)
                if found is None:
                    text = (answer(call) if answer is not None else None) or MISSING_RESULT
                    found = Message("tool", text, tool_call_id=call.id, name=call.name)
                out.append(found)
            continue
        if msg.role == "assistant" and not msg.content:
            continue
        out.append(msg)
    return out


def is_well_formed(messages: Sequence[Message]) -> bool:
    """Whether :func:`repair` would leave *messages* unchanged."""
    return repair(messages) == list(messages)
