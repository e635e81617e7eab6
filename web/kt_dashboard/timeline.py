"""What the session viewer shows under each turn: its events in order, and what it cost.

The events come from the saved session's log (``SavedSessions.events``), read only for the
turns on the page: their event-id ranges are merged into as few reads as possible, so a page
of a 1,000-turn session reads about a page's worth of events. A run of streamed text deltas is
shown as one line. A turn's cost is the last ``cost_updated`` event's ``turn_cost``; when one of
its model calls had no known price the cost is marked incomplete, never shown as a sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = ["CATEGORIES", "TurnDetail", "details"]

READ_LIMIT = 5000  # events per read (SavedSessions.events allows up to 5,000)
MERGE_GAP = 500  # turns closer than this many events apart are read in one go
CATEGORIES = {  # shown name of each filter, by category
    "model": "Model calls",
    "tool": "Tools and sub-agents",
    "text": "Text",
    "message": "Messages",
    "other": "Other",
}


@attrs.frozen
class Entry:
    """One line of a turn's timeline."""

    category: str
    kind: str  # the event type
    summary: str
    offset: float  # seconds since the turn started
    event_id: int


@attrs.define
class TurnDetail:
    """A turn's timeline and cost (``None``: no model call was priced; ``complete``: all were)."""

    entries: list[Entry] = attrs.Factory(list)
    cost: float | None = None
    complete: bool = True


def details(store: Any, name: str, turns: Iterable[Any]) -> dict[tuple[str, int], TurnDetail]:
    """Timeline and cost of each of *turns* (``TurnRecord`` values), by (creature, index)."""
    turns = sorted(turns, key=lambda t: t.first_event_id)
    found: dict[tuple[str, int], TurnDetail] = {}
    for first, last, group in _ranges(turns):
        events = _read(store, name, first, last)
        for turn in group:
            mine = [
                e
                for e in events
                if turn.first_event_id <= e["id"] <= turn.last_event_id
                and e["creature"] == turn.creature
            ]
            found[(turn.creature, turn.index)] = _detail(mine)
    return found


def _ranges(turns: list[Any]) -> Iterable[tuple[int, int, list[Any]]]:
    """Turns grouped where their events lie close together: (first id, last id, turns)."""
    group: list[Any] = []
    for turn in turns:
        if group and turn.first_event_id - max(t.last_event_id for t in group) > MERGE_GAP:
            yield group[0].first_event_id, max(t.last_event_id for t in group), group
            group = []
        group.append(turn)
    if group:
        yield group[0].first_event_id, max(t.last_event_id for t in group), group


def _read(store: Any, name: str, first: int, last: int) -> list[Mapping[str, Any]]:
    events: list[Mapping[str, Any]] = []
    after = first - 1
    while after < last:
        page = store.events(name, after=after, until=last, limit=min(READ_LIMIT, last - after))
        if not page:
            break
        events += [e for e in page if e["id"] <= last]
        after = page[-1]["id"]
    return events


def _detail(events: list[Mapping[str, Any]]) -> TurnDetail:
    detail = TurnDetail()
    if not events:
        return detail
    start = events[0]["timestamp"]
    text: list[str] = []  # the run of text deltas being gathered
    text_at: Mapping[str, Any] | None = None

    def flush_text() -> None:
        nonlocal text_at
        if text_at is not None:
            shown = "".join(text)
            summary = shown if len(shown) <= 120 else f"{shown[:119]}…"
            detail.entries.append(
                Entry("text", "text", summary, text_at["timestamp"] - start, text_at["id"])
            )
        text.clear()
        text_at = None

    for logged in events:
        wire = logged["event"]
        if logged["type"] == "text_delta":
            text_at = text_at or logged
            text.append(wire.get("text", ""))
            continue
        flush_text()
        if logged["type"] == "cost_updated":
            priced = wire.get("call_cost") is not None
            if priced or detail.cost is not None:
                detail.cost = wire.get("turn_cost")
            detail.complete = detail.complete and priced
        category, summary = _describe(logged["type"], wire)
        detail.entries.append(
            Entry(category, logged["type"], summary, logged["timestamp"] - start, logged["id"])
        )
    flush_text()
    return detail


def _describe(kind: str, wire: Mapping[str, Any]) -> tuple[str, str]:
    """The filter category of an event, and a line that says what happened."""
    if kind == "llm_call_started":
        return "model", f"model call {wire.get('iteration', '')} started"
    if kind == "llm_call_completed":
        tokens = (wire.get("usage") or {}).get("total_tokens", 0)
        failed = f" · failed: {wire['error']}" if wire.get("error") else ""
        return "model", f"model call {wire.get('iteration', '')} · {tokens} tokens{failed}"
    if kind == "cost_updated":
        cost = wire.get("call_cost")
        return "model", "call cost unknown" if cost is None else f"call cost ${cost:.6f}"
    if kind in ("tool_call_started", "subagent_started"):
        return "tool", f"{_noun(kind)} {wire.get('name', '')} started"
    if kind in ("tool_call_completed", "subagent_completed"):
        return "tool", f"{_noun(kind)} {wire.get('name', '')} · {wire.get('status', '')}"
    if kind == "subagent_event":
        inner = (wire.get("event") or {}).get("type", "")
        return "tool", f"sub-agent {wire.get('name', '')}: {inner}"
    if kind == "message_appended":
        return "message", f"{(wire.get('message') or {}).get('role', '')} message added"
    if kind == "history_replaced":
        return "message", f"history replaced ({wire.get('reason', '')})"
    if kind == "turn_started":
        return "other", f"turn started by {wire.get('source', 'user')}"
    if kind == "turn_completed":
        return "other", f"turn {(wire.get('result') or {}).get('status', 'ended')}"
    return "other", kind.replace("_", " ")


def _noun(kind: str) -> str:
    return "sub-agent" if kind.startswith("subagent") else "tool"
