"""Events and messages as the session file stores them: the kernel's wire shape, as JSON.

A stored event row keeps ``type``, ``creature``, ``turn_index`` and ``timestamp`` in columns and
the event's own fields as JSON in ``data``; :func:`row_to_wire` puts them back together in the
exact order :func:`kt.events.to_wire` produces, so ``from_wire(row_to_wire(...)) == event``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kt import Message, Usage
from kt.events import Event, HistoryReplaced, MessageAppended, TextDelta, from_wire, to_wire

__all__ = [
    "BASE_FIELDS",
    "dumps",
    "event_fields",
    "message_from_wire",
    "message_text",
    "message_to_wire",
    "messages_from_wire",
    "messages_to_wire",
    "row_to_wire",
    "usage_from_wire",
]

BASE_FIELDS = ("type", "creature", "turn_index", "timestamp")


def dumps(value: Any) -> str:
    """Compact JSON; non-JSON values (sets, paths) become strings rather than failing."""
    return _ENCODER.encode(value)


# One encoder for every call: json.dumps with options builds a new one each time, which costs
# as much as encoding a small event.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def event_fields(event: Event) -> dict[str, Any]:
    """*event*'s own fields in wire shape (base fields live in their own columns)."""
    if type(event) is TextDelta:  # the streaming hot path: skip the converter
        return {"text": event.text, "iteration": event.iteration}
    wire = to_wire(event)
    for key in BASE_FIELDS:
        wire.pop(key, None)
    return wire


def row_to_wire(
    type_: str, creature: str, turn_index: int, timestamp: float, data: str | Mapping[str, Any]
) -> dict[str, Any]:
    """The wire dict of a stored event, keys in ``to_wire`` order.

    Args:
        type_: The ``type`` column.
        creature: The ``creature`` column.
        turn_index: The ``turn_index`` column.
        timestamp: The ``timestamp`` column.
        data: The ``data`` column: decoded (as the ``Event`` model reads it) or its JSON text.
    """
    wire: dict[str, Any] = {
        "type": type_,
        "creature": creature,
        "turn_index": turn_index,
        "timestamp": timestamp,
    }
    wire.update(json.loads(data) if isinstance(data, str) else data)
    return wire


def messages_to_wire(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Messages in the kernel's wire shape (as in ``history_replaced``)."""
    return to_wire(HistoryReplaced(messages=tuple(messages)))["messages"]


def messages_from_wire(data: list[Mapping[str, Any]]) -> list[Message]:
    """Rebuild messages from :func:`messages_to_wire` output."""
    return list(from_wire({"type": "history_replaced", "messages": data}).messages)


def message_to_wire(message: Message) -> dict[str, Any]:
    """One message in the kernel's wire shape."""
    return to_wire(MessageAppended(message=message))["message"]


def message_from_wire(data: Mapping[str, Any]) -> Message:
    """Rebuild one message from :func:`message_to_wire` output."""
    return from_wire({"type": "message_appended", "message": data}).message


def message_text(message: Message) -> str:
    """A message's text, with image parts as ``[image]`` (never raw data)."""
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(p.text if p.type == "text" else "[image]" for p in content)


def usage_from_wire(data: Mapping[str, Any]) -> Usage:
    """A ``kt.Usage`` from its wire dict, ignoring fields this kernel does not know."""
    known = {field.name for field in attrs.fields(Usage)}
    return Usage(**{k: v for k, v in data.items() if k in known})
