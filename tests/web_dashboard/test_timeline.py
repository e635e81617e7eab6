"""The viewer's per-turn timeline and cost, from event-log entries shaped as Studio returns them."""

from __future__ import annotations

from types import SimpleNamespace

from kt_dashboard import timeline


class Log:
    """The part of ``SavedSessions`` the timeline reads: ``events(name, after=, until=, limit=)``."""

    def __init__(self, events):
        self.rows = events
        self.reads = []

    def events(self, name, *, after=0, until=None, limit=200):
        self.reads.append((after, limit))
        return [e for e in self.rows if after < e["id"] <= (until or e["id"])][:limit]


def logged(event_id, kind, creature="c", at=0.0, **wire):
    return {"id": event_id, "type": kind, "creature": creature, "timestamp": 100.0 + at,
            "event": {"type": kind, **wire}}  # fmt: skip


def turn(creature, index, first, last):
    return SimpleNamespace(creature=creature, index=index, first_event_id=first, last_event_id=last)


def test_text_runs_become_one_line_and_priced_costs_add_up():
    log = Log(
        [
            logged(1, "turn_started", source="user"),
            logged(2, "text_delta", at=0.1, text="Hello "),
            logged(3, "text_delta", at=0.2, text="world"),
            logged(4, "llm_call_completed", at=0.3, iteration=1, usage={"total_tokens": 42}),
            logged(5, "cost_updated", at=0.3, call_cost=0.002, turn_cost=0.002),
            logged(6, "other", creature="d"),  # another creature's, inside the range
            logged(7, "cost_updated", at=0.5, call_cost=None, turn_cost=0.002),
            logged(8, "turn_completed", at=0.6, result={"status": "completed"}),
            logged(9, "turn_started", source="user"),
            logged(10, "cost_updated", call_cost=None, turn_cost=0.0),
        ]
    )
    found = timeline.details(log, "s", [turn("c", 1, 1, 8), turn("c", 2, 9, 10)])
    first = found[("c", 1)]
    assert [(e.category, e.summary) for e in first.entries] == [
        ("other", "turn started by user"),
        ("text", "Hello world"),
        ("model", "model call 1 · 42 tokens"),
        ("model", "call cost $0.002000"),
        ("model", "call cost unknown"),
        ("other", "turn completed"),
    ]
    assert abs(first.entries[1].offset - 0.1) < 1e-9  # seconds since the turn started
    assert (first.cost, first.complete) == (0.002, False)  # a sum, with an unpriced call
    second = found[("c", 2)]
    assert (second.cost, second.complete) == (None, False)  # nothing priced: unknown, not $0
    assert log.reads == [(0, 10)]  # neighbouring turns are read in one go


def test_turns_far_apart_are_read_separately():
    rows = [logged(1, "turn_started"), logged(2, "turn_completed")]
    rows += [logged(5000, "turn_started"), logged(5001, "turn_completed")]
    log = Log(rows)
    found = timeline.details(log, "s", [turn("c", 9, 5000, 5001), turn("c", 1, 1, 2)])
    assert set(found) == {("c", 1), ("c", 9)}
    assert log.reads == [(0, 2), (4999, 2)]
