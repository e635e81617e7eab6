"""Rebuilding a creature's state from a session file: the snapshot, then the log after it.

The snapshot is only a cache: it records the id of the last event it covers, and every event
after that id is replayed on top of it. With no snapshot the whole log is replayed. Replay
decodes only the event types :class:`kt_sessions.state.CreatureState` uses, and streamed text
only for the turn that was still open at the end (the one a crash cut short).
"""

from __future__ import annotations

import json
from typing import Any

from kt.events import from_wire
from kt_sessions import events as _plugin_events  # noqa: F401  (registers our event types)
from kt_sessions.state import STATE_EVENT_TYPES, CreatureState
from kt_sessions.wire import row_to_wire

__all__ = ["load_state"]

_TYPES_BUT_TEXT = sorted(STATE_EVENT_TYPES - {"text_delta"})


def load_state(db: Any, creature: str, *, up_to: int | None = None) -> CreatureState:
    """The state of *creature* after every event in the file (or up to event *up_to*).

    Args:
        db: The session database (a peewee database).
        creature: The creature's name.
        up_to: Replay events with ``id <= up_to`` only (a fork point); ``None``: all.

    Returns:
        The replayed state.
    """
    state = CreatureState(creature)
    start = 0
    if up_to is None:
        row = db.execute_sql(
            "SELECT last_event_id, state FROM snapshot WHERE creature = ?", (creature,)
        ).fetchone()
        if row is not None:
            state = CreatureState.from_json(creature, json.loads(row[1]))
            start = row[0]
    limit = up_to if up_to is not None else 2**62
    marks = ",".join("?" * len(_TYPES_BUT_TEXT))
    rows = db.execute_sql(
        "SELECT id, type, creature, turn_index, timestamp, data FROM event "
        f"WHERE creature = ? AND id > ? AND id <= ? AND type IN ({marks}) ORDER BY id",
        (creature, start, limit, *_TYPES_BUT_TEXT),
    ).fetchall()
    last_round_start = 0  # where the open turn's current model call began
    for event_id, type_, name, turn_index, timestamp, data in rows:
        event = from_wire(row_to_wire(type_, name, turn_index, timestamp, data))
        state.apply(event, event_id)
        if type_ in ("llm_call_started", "message_appended", "turn_started") or (
            type_ == "llm_call_completed" and event.error is not None
        ):
            last_round_start = event_id
    if state.open_turn is not None and not state.open_turn.partial:
        # Text streamed in the open turn's current model call: what a crash cut short.
        deltas = db.execute_sql(
            "SELECT id, type, creature, turn_index, timestamp, data FROM event "
            "WHERE creature = ? AND type = 'text_delta' AND id > ? AND id <= ? ORDER BY id",
            (creature, max(last_round_start, start), limit),
        ).fetchall()
        for _, type_, name, turn_index, timestamp, data in deltas:
            event = from_wire(row_to_wire(type_, name, turn_index, timestamp, data))
            if event.turn_index == state.open_turn.turn_index:
                state.apply(event)
    last = db.execute_sql(
        "SELECT MAX(id) FROM event WHERE creature = ? AND id <= ?", (creature, limit)
    ).fetchone()[0]
    state.last_event_id = max(state.last_event_id, last or 0)
    return state
