"""The pure history rules (R-CONV-1)."""

from __future__ import annotations

from kt.history import MISSING_RESULT, is_well_formed, repair
from kt.llm import ContentPart, Message, ToolCall

CALL = ToolCall("echo", {"text": "a"}, "c1")


def test_well_formed_history_is_unchanged():
    messages = [
        Message("user", "u"),
        Message("assistant", "", tool_calls=(CALL,)),
        Message("tool", "a", tool_call_id="c1"),
        Message("assistant", "done"),
    ]
    assert repair(messages) == messages
    assert is_well_formed(messages)


def test_consecutive_user_messages_merge():
    out = repair([Message("user", "a"), Message("user", "b")])
    assert out == [Message("user", "a\n\nb")]


def test_multimodal_user_messages_merge_as_parts():
    image = ContentPart("image_url", image_url="data:x")
    out = repair([Message("user", (image,)), Message("user", "b")])
    assert out[0].content[0] == image and out[0].content[-1].text == "b"


def test_missing_result_is_filled_and_orphans_dropped():
    out = repair(
        [
            Message("user", "u"),
            Message("tool", "orphan", tool_call_id="zz"),
            Message("assistant", "", tool_calls=(CALL, ToolCall("echo", {}, "c2"))),
            Message("tool", "a", tool_call_id="c1"),
            Message("tool", "dup", tool_call_id="c1"),
        ]
    )
    assert [(m.role, m.tool_call_id) for m in out] == [
        ("user", None),
        ("assistant", None),
        ("tool", "c1"),
        ("tool", "c2"),
    ]
    assert out[2].content == "a"
    assert out[3].content == MISSING_RESULT


def test_results_are_reordered_after_their_call():
    out = repair(
        [
            Message("assistant", "", tool_calls=(CALL, ToolCall("echo", {}, "c2"))),
            Message("tool", "second", tool_call_id="c2"),
            Message("tool", "first", tool_call_id="c1"),
        ]
    )
    assert [m.content for m in out[1:]] == ["first", "second"]


def test_empty_assistant_is_dropped():
    assert repair([Message("user", "u"), Message("assistant", "")]) == [Message("user", "u")]
