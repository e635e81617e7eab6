"""Rebuilding a creature from its durable event log, for the worker that takes it over.

When an owner dies mid-turn, its event stream holds every event it appended: finished model
rounds, tool calls that started, tool calls that completed, messages appended to the history.
:func:`rebuild` folds those events over the placement's starting conversation and returns the
conversation the creature had, the turn that did not finish, and the tool calls of that turn
whose outcome is unknown.

A tool call that completed (its ``tool_call_completed`` event is in the log) keeps its result,
even when the result message was not appended yet. A call that started without a result is
*in doubt*: it may or may not have acted. It is never run again; it gets a result saying so,
which the model reads when the turn continues.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kt.events import (
    Event,
    HistoryReplaced,
    MessageAppended,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
    TurnStarted,
    from_wire,
)
from kt.history import result_text, tool_results_message
from kt.llm import Message, ToolCall, Usage, message_text

__all__ = ["OpenTurn", "Rebuilt", "continuation_input", "in_doubt_text", "rebuild"]


def in_doubt_text(node: str) -> str:
    """The result an in-doubt call gets: what happened and what the model should do."""
    return (
        f"In doubt: this call started on node '{node}', which was lost before its result was "
        "recorded. It was not run again; check whether it took effect before repeating it."
    )


@attrs.define
class OpenTurn:
    """A turn that started and did not complete.

    Attributes:
        index: Its turn index.
        input: Its input, in ``TurnStarted.input``'s wire shape.
        source: Its ``TurnStarted.source``.
        ref: The engine's ref of an awaited turn (``None``: injected).
        inbox_id: The inbox entry it answers (still pending in the inbox's group).
        in_doubt: Tool calls that started without a result: ``(call id, tool name)``.
        recovered: Tool calls whose result came from their completed event.
    """

    index: int
    input: Any
    source: str
    ref: str | None
    inbox_id: str
    started: dict[str, ToolCallStarted] = attrs.Factory(dict)
    completed: dict[str, ToolCallCompleted] = attrs.Factory(dict)
    in_doubt: list[tuple[str, str]] = attrs.Factory(list)
    recovered: list[str] = attrs.Factory(list)


@attrs.define
class Rebuilt:
    """What :func:`rebuild` found.

    Attributes:
        messages: The conversation, every tool call answered.
        turn_index: The index of the last turn that started.
        usage: Usage of the completed turns (plus the starting usage).
        open_turn: The turn that did not complete, if any.
        completed_refs: Refs of awaited turns that completed (their inbox entries are done).
    """

    messages: list[Message]
    turn_index: int
    usage: Usage
    open_turn: OpenTurn | None
    completed_refs: set[str]


def rebuild(
    start: Mapping[str, Any] | None,
    usage: Mapping[str, Any] | None,
    log: Iterable[tuple[Mapping[str, Any], str]],
    *,
    lost_node: str,
) -> Rebuilt:
    """Fold the event log over the starting conversation.

    Args:
        start: The placement's ``history`` (a ``history_replaced`` wire event) or ``None``.
        usage: The placement's usage fields, or ``None``.
        log: ``(EventOut message, inbox id or "")`` for each event-stream entry, in order
            (other message kinds are skipped).
        lost_node: The node that owned the creature, named in in-doubt results.
    """
    messages: list[Message] = []
    turn_index = 0
    if start:
        replaced = from_wire(start)
        messages = list(replaced.messages)
        turn_index = replaced.turn_index
    total = Usage(**{k: v for k, v in (usage or {}).items() if k in _USAGE_FIELDS})
    open_turn: OpenTurn | None = None
    completed_refs: set[str] = set()
    for message, inbox_id in log:
        if message.get("kind") != "event":
            continue
        event: Event = from_wire(message["event"])
        if isinstance(event, HistoryReplaced):
            messages = list(event.messages)
        elif isinstance(event, MessageAppended):
            messages.append(event.message)
        elif isinstance(event, TurnStarted):
            turn_index = event.turn_index
            open_turn = OpenTurn(
                index=event.turn_index,
                input=message["event"].get("input"),
                source=event.source,
                ref=message.get("ref"),
                inbox_id=inbox_id,
            )
        elif isinstance(event, TurnCompleted):
            total = total + event.result.usage
            if open_turn is not None and open_turn.ref:
                completed_refs.add(open_turn.ref)
            open_turn = None
        elif open_turn is not None and isinstance(event, ToolCallStarted):
            if not event.background:
                open_turn.started[event.call_id] = event
        elif open_turn is not None and isinstance(event, ToolCallCompleted):
            open_turn.completed[event.call_id] = event
    if open_turn is not None:
        messages = _answer_open_calls(messages, open_turn, lost_node)
    return Rebuilt(messages, turn_index, total, open_turn, completed_refs)


def continuation_input(turn: OpenTurn, *, lost_node: str, node: str) -> str:
    """The input of the turn that finishes *turn* on the new owner."""
    text = (
        f"[turn_restart] The worker running this turn (node '{lost_node}') was lost; the turn "
        f"continues on node '{node}'. The steps already done are above"
    )
    if turn.in_doubt:
        doubts = ", ".join(f"{name} ({call_id})" for call_id, name in turn.in_doubt)
        text += f"; these tool calls are in doubt and were not run again: {doubts}"
    return text + ". Continue the task from where it stopped."


def _answer_open_calls(messages: list[Message], turn: OpenTurn, node: str) -> list[Message]:
    """Give every started call of *turn* exactly one result (its own, or "in doubt")."""
    answered = _answered_ids(messages)
    missing = [call for call_id, call in turn.started.items() if call_id not in answered]
    if not missing:
        return messages
    texts: list[tuple[ToolCall, str]] = []
    for started in missing:
        done = turn.completed.get(started.call_id)
        if done is not None:
            text = result_text(done.status, done.output, done.error)
            turn.recovered.append(started.call_id)
        else:
            text = in_doubt_text(node)
            turn.in_doubt.append((started.call_id, started.name))
        texts.append((ToolCall(started.name, started.args, id=started.call_id), text))
    out = list(messages)
    asked = _asking_message(out, {call.id for call, _ in texts})
    if asked is None:  # the model's message was never stored: store what it asked for
        out.append(Message("assistant", "", tool_calls=tuple(call for call, _ in texts)))
        asked = out[-1]
    if asked.tool_calls:
        out += [Message("tool", text, tool_call_id=call.id, name=call.name) for call, text in texts]
    else:  # a text tool-call format: one user message carries the results
        out.append(tool_results_message(texts))
    return out


def _answered_ids(messages: list[Message]) -> set[str]:
    ids = {m.tool_call_id for m in messages if m.role == "tool" and m.tool_call_id}
    for m in messages:
        if m.role == "user" and (m.meta or {}).get("tool_results"):  # text, or text and images
            text = message_text(m)
            ids |= {line.split()[-1] for line in text.splitlines() if line.startswith("## ")}
    return ids


def _asking_message(messages: list[Message], ids: set[str]) -> Message | None:
    """The assistant message of the open round (the last one of the turn), if stored."""
    for m in reversed(messages):
        if m.role == "assistant":
            if not m.tool_calls or ids & {call.id for call in m.tool_calls}:
                return m
            return None
        if m.role == "user" and not (m.meta or {}).get("tool_results"):
            return None
    return None


_USAGE_FIELDS = frozenset(field.name for field in attrs.fields(Usage))
