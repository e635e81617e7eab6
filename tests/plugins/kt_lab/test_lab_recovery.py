"""Rebuilding a creature from its event log (no Redis: the log is plain data)."""

from __future__ import annotations

from kt.events import (
    HistoryReplaced,
    MessageAppended,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
    TurnStarted,
    to_wire,
)
from kt.history import is_well_formed
from kt.llm import Message, ToolCall, Usage
from kt.results import TurnResult
from kt_lab.recovery import continuation_input, rebuild


def out(event, ref=None):
    return {"kind": "event", "event": to_wire(event), "ref": ref}


def first_turn():
    """A completed turn 1, then turn 2 asking for two tools: `a` completed, `b` started."""
    calls = (ToolCall("a", {}, id="call_a"), ToolCall("b", {}, id="call_b"))
    return [
        (out(TurnStarted(input="one", turn_index=1), ref="r1"), "1-0"),
        (out(MessageAppended(message=Message("user", "one"), turn_index=1)), ""),
        (out(MessageAppended(message=Message("assistant", "done one"), turn_index=1)), ""),
        (
            out(
                TurnCompleted(
                    result=TurnResult(
                        status="completed",
                        text="done one",
                        turn_index=1,
                        usage=Usage(prompt_tokens=3),
                    ),
                    turn_index=1,
                )
            ),
            "",
        ),
        (out(TurnStarted(input="two", turn_index=2), ref="r2"), "2-0"),
        (out(MessageAppended(message=Message("user", "two"), turn_index=2)), ""),
        (out(ToolCallStarted(call_id="call_a", name="a", turn_index=2)), ""),
        (out(ToolCallStarted(call_id="call_b", name="b", turn_index=2)), ""),
        (
            out(MessageAppended(message=Message("assistant", "", tool_calls=calls), turn_index=2)),
            "",
        ),
        (
            out(
                ToolCallCompleted(
                    call_id="call_a", name="a", status="ok", output="A!", turn_index=2
                )
            ),
            "",
        ),
    ]


def test_a_completed_call_keeps_its_result_and_a_started_one_is_in_doubt():
    rebuilt = rebuild(None, None, first_turn(), lost_node="w1")

    turn = rebuilt.open_turn
    assert turn.index == 2 and turn.ref == "r2" and turn.inbox_id == "2-0" and turn.input == "two"
    assert turn.in_doubt == [("call_b", "b")] and turn.recovered == ["call_a"]
    results = {m.tool_call_id: m.content for m in rebuilt.messages if m.role == "tool"}
    assert results["call_a"] == "A!"
    assert results["call_b"].startswith("In doubt: this call started on node 'w1'")
    assert is_well_formed(rebuilt.messages)
    assert rebuilt.turn_index == 2 and rebuilt.completed_refs == {"r1"}
    assert rebuilt.usage.prompt_tokens == 3
    text = continuation_input(turn, lost_node="w1", node="w2")
    assert text.startswith("[turn_restart]") and "b (call_b)" in text and "node 'w2'" in text


def test_calls_whose_model_message_was_never_stored_get_one():
    log = [entry for entry in first_turn() if "tool_calls" not in str(entry[0]["event"])]
    rebuilt = rebuild(None, None, log, lost_node="w1")
    asking = [m for m in rebuilt.messages if m.role == "assistant" and m.tool_calls]
    assert [c.id for c in asking[-1].tool_calls] == ["call_a", "call_b"]
    assert is_well_formed(rebuilt.messages)


def test_a_text_tool_format_gets_one_results_message():
    log = first_turn()[:-4] + [
        (out(ToolCallStarted(call_id="call_a", name="a", turn_index=2)), ""),
        (out(MessageAppended(message=Message("assistant", "[a]"), turn_index=2)), ""),
    ]
    rebuilt = rebuild(None, None, log, lost_node="w1")
    last = rebuilt.messages[-1]
    assert last.role == "user" and last.meta["tool_results"] and "## a call_a" in last.content


def test_the_log_starts_from_the_placements_history_and_a_replacement_resets_it():
    start = to_wire(HistoryReplaced(messages=(Message("user", "old"),), turn_index=4))
    assert [m.content for m in rebuild(start, None, [], lost_node="w1").messages] == ["old"]
    log = [(out(HistoryReplaced(messages=(Message("user", "summary"),), turn_index=4)), "")]
    rebuilt = rebuild(start, {"prompt_tokens": 7}, log, lost_node="w1")
    assert [m.content for m in rebuilt.messages] == ["summary"]
    assert (
        rebuilt.turn_index == 4 and rebuilt.open_turn is None and rebuilt.usage.prompt_tokens == 7
    )
