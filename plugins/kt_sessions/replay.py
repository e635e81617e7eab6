"""Rebuilding a creature's state from a session file: the snapshot, then the log after it.

The snapshot is only a cache: it records the id of the last event it covers, and every event
after that id is replayed on top of it. With no snapshot the whole log is replayed. Replay
decodes only the event types :class:`kt_sessions.state.CreatureState` uses, and streamed text
only for the turn that was still open at the end (the one a crash cut short).
"""

from __future__ import annotations

from typing import Any

from peewee import fn

from kt.events import from_wire
from kt_sessions import events as _plugin_events  # noqa: F401  (registers our event types)
from kt_sessions.db import Event, Snapshot
from kt_sessions.state import STATE_EVENT_TYPES, CreatureState
from kt_sessions.wire import row_to_wire

__all__ = ["load_state"]

_TYPES_BUT_TEXT = sorted(STATE_EVENT_TYPES - {"text_delta"})
_COLUMNS = (Event.id, Event.type, Event.turn_index, Event.timestamp, Event.data)  # one creature


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
        row = (
            Snapshot.select(Snapshot.last_event_id, Snapshot.state)
            .where(Snapshot.creature == creature)
            .tuples()
            .first(db)
        )
        if row is not None:
            start, saved = row
            state = CreatureState.from_json(creature, saved)
    limit = up_to if up_to is not None else 2**62
    mine = (Event.creature == creature) & (Event.id <= limit)
    query = (
        Event.select(*_COLUMNS)
        .where(mine & (Event.id > start) & Event.type.in_(_TYPES_BUT_TEXT))
        .order_by(Event.id)
    )
    rows = list(query.tuples().iterator(db))  # read at once: no read transaction left open
    last_round_start = 0  # where the open turn's current model call began
    for event_id, type_, turn_index, timestamp, data in rows:
        event = from_wire(row_to_wire(type_, creature, turn_index, timestamp, data))
        state.apply(event, event_id)
        if type_ in ("llm_call_started", "message_appended", "turn_started") or (
            type_ == "llm_call_completed" and event.error is not None
        ):
            last_round_start = event_id
    if state.open_turn is not None and not state.open_turn.partial:
        # Text streamed in the open turn's current model call: what a crash cut short.
        query = (
            Event.select(*_COLUMNS)
            .where(mine & (Event.type == "text_delta") & (Event.id > max(last_round_start, start)))
            .order_by(Event.id)
        )
        for _, type_, turn_index, timestamp, data in list(query.tuples().iterator(db)):
            event = from_wire(row_to_wire(type_, creature, turn_index, timestamp, data))
            if event.turn_index == state.open_turn.turn_index:
                state.apply(event)
    last = Event.select(fn.MAX(Event.id)).where(mine).scalar(db)
    state.last_event_id = max(state.last_event_id, last or 0)
    return state
