"""Events: stable type names and a lossless wire shape."""

from __future__ import annotations

import json

import pytest

import kt
from kt import events
from kt.llm import ContentPart, Message, ToolCall, Usage
from kt.results import ToolCallRecord, TurnResult

SAMPLES = [
    events.CreatureStarted(config={"name": "x"}, plugins=("a",), tools=("t",), model="m"),
    events.CreatureStopped(),
    events.CreatureTerminated(limit="max_turns", reason="3 turns run (max_turns = 3)"),
    events.TurnStarted(input="hi", source="user"),
    events.TurnStarted(
        input=(ContentPart("text", text="look"), ContentPart("image_url", image_url="data:x"))
    ),
    events.Interrupted(),
    events.LLMCallStarted(iteration=2),
    events.TextDelta(text="he", iteration=1),
    events.LLMCallCompleted(iteration=1, usage=Usage(1, 2, 3), finish_reason="stop", tool_calls=1),
    events.ToolCallStarted(call_id="c1", name="echo", args={"text": "a"}),
    events.ToolCallStarted(call_id="c2", name="echo", args="{bad json"),
    events.ToolCallCompleted(call_id="c1", name="echo", status="ok", output="a", duration=0.5),
    events.SubAgentStarted(call_id="s1", name="explore", task="find"),
    events.SubAgentCompleted(
        call_id="s1", name="explore", status="completed", usage=Usage(1, 1, 2)
    ),
    events.MessageAppended(
        message=Message("assistant", "x", tool_calls=(ToolCall("echo", {"text": "a"}, "c1"),))
    ),
    events.HistoryReplaced(messages=(Message("user", "u"),), reason="compaction"),
    events.CompactionStarted(prompt_tokens=900),
    events.CompactionCompleted(summary="s", messages_compacted=4),
    events.CompactionSkipped(reason="too_short"),
    events.AgentWarning(message="careful", source="x"),
    events.AssistantMessageEdited(iteration=1, text="edited", plugins=("a", "b")),
    events.ErrorOccurred(message="m", error_type="ValueError", source="plugin:p:h"),
    events.UserAnswered(request_id="q1", answer="yes", values={"a": 1}, source="cli"),
    events.TurnCompleted(
        result=TurnResult(
            status="error",
            text="t",
            tool_calls=(ToolCallRecord(id="c1", name="echo", args={"a": 1}, status="ok"),),
            usage=Usage(1, 1, 2),
            error=kt.LLMRateLimitError("slow down"),
            messages=(Message("user", "u"),),
            turn_index=3,
        )
    ),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_wire_round_trip(event):
    wire = events.to_wire(event)
    assert wire["type"] == event.type
    again = events.from_wire(json.loads(json.dumps(wire)))
    assert again == event
    assert events.to_wire(again) == wire


def test_turn_completed_error_keeps_its_type():
    wire = events.to_wire(SAMPLES[-1])
    restored = events.from_wire(wire)
    assert isinstance(restored.result.error, kt.LLMRateLimitError)
    assert str(restored.result.error) == "slow down"


def test_every_event_type_is_registered_and_unique():
    classes = [
        c for c in vars(events).values() if isinstance(c, type) and issubclass(c, events.Event)
    ]
    bases = (events.Event, events.UserRequest)  # never published themselves
    names = [c.type for c in classes if c not in bases]
    assert len(names) == len(set(names))
    # Plugins define events of their own (kt_triggers' TriggerFired ...): only the kernel's.
    kernel_types = {n for n, c in events.EVENT_TYPES.items() if c.__module__ == events.__name__}
    assert set(names) == kernel_types
    assert {type(e).type for e in SAMPLES} == kernel_types


def test_unknown_type_is_rejected():
    with pytest.raises(ValueError, match="unknown event type"):
        events.from_wire({"type": "nope"})


def test_events_are_frozen():
    event = events.TextDelta(text="a")
    with pytest.raises(AttributeError):
        event.text = "b"


def test_a_plugin_event_reads_back_in_a_process_that_never_imported_the_plugin():
    """An export read by a fresh script: the plugin's event module is found by entry point."""
    import subprocess
    import sys

    script = (
        "import sys, kt.events as e\n"
        "assert 'kt_sessions.events' not in sys.modules\n"
        "event = e.from_wire({'type': 'session_attached', 'creature': 'c', 'session': 's'})\n"
        "print(type(event).__module__, event.session)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.split() == ["kt_sessions.events", "s"], done.stderr
    with pytest.raises(ValueError, match="unknown event type 'no_such_event'"):
        events.from_wire({"type": "no_such_event"})


def test_every_module_that_defines_plugin_events_is_listed_under_kt_events():
    """A new event class in a plugin module that `kt.events` entry points do not name fails."""
    import ast
    import importlib.metadata
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    listed = {ep.value for ep in importlib.metadata.entry_points(group="kt.events")}
    bases = {cls.__name__ for cls in events.EVENT_TYPES.values()} | {"Event"}
    defining = set()
    for folder in ("plugins", "cli", "web"):
        for file in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(file.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and any(
                    getattr(base, "id", getattr(base, "attr", None)) in bases for base in node.bases
                ):
                    bases.add(node.name)
                    module = file.relative_to(root / folder).with_suffix("")
                    defining.add(".".join(module.parts).removesuffix(".__init__"))
    assert defining, "the scan found no plugin events: it is broken"
    assert defining <= listed, f'add to [project.entry-points."kt.events"]: {defining - listed}'
