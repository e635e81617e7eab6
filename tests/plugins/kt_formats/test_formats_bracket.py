"""The bracket format's parser: ``[/name]`` ... ``[name/]`` blocks in streamed text."""

from __future__ import annotations

import pytest

from kt import ToolCall
from kt_formats.bracket import BracketFormat, parse_block_body


def parse(chunks, body_args=None):
    """Feed *chunks* then close; return the events with adjacent text merged."""
    parser = BracketFormat().new_parser(body_args or {})
    events = []
    for chunk in [*chunks, None]:
        for event in parser.feed(chunk) if chunk is not None else parser.close():
            if isinstance(event, str) and events and isinstance(events[-1], str):
                events[-1] += event
            else:
                events.append(event)
    return events


SCENARIO_2 = "Checking.\n[/echo]@@text=ping\n[echo/]"


def test_scenario_2_text_then_echo_call():
    assert parse([SCENARIO_2]) == ["Checking.\n", ToolCall("echo", {"text": "ping"})]


def test_scenario_2_streamed_one_character_at_a_time():
    assert parse(list(SCENARIO_2)) == ["Checking.\n", ToolCall("echo", {"text": "ping"})]


@pytest.mark.parametrize(
    "reply",
    [
        SCENARIO_2,
        "a [/write]\n@@path=x.py\nprint('[/]')\n[write/] b [/echo]hi[echo/]",
        "[[/echo]\n@@text=[\n[echo/]] [/x",
    ],
)
def test_every_split_point_gives_the_same_events(reply):
    whole = parse([reply])
    for cut in range(len(reply) + 1):
        assert parse([reply[:cut], reply[cut:]]) == whole, cut


def test_args_then_body_fills_the_tools_body_argument():
    reply = "[/write]\n@@path=notes.txt\nline one\nline two\n[write/]"
    assert parse([reply], {"write": "content"}) == [
        ToolCall("write", {"path": "notes.txt", "content": "line one\nline two"})
    ]
    assert parse(["[/bash]\nls -la\n[bash/]"], {"bash": "command"}) == [
        ToolCall("bash", {"command": "ls -la"})
    ]


def test_body_goes_to_content_when_the_tool_names_no_body_argument():
    assert parse(["[/note]\n  remember this  \n[note/]"], {"bash": "command"}) == [
        ToolCall("note", {"content": "remember this"})
    ]


def test_blank_lines_are_skipped_in_the_arg_section_and_the_first_other_line_starts_the_body():
    reply = "[/t]\n\n@@a=1\n\n  @@b = 2 \n\nbody\n@@c=3\n[t/]"
    assert parse([reply]) == [ToolCall("t", {"a": "1", "b": "2", "content": "body\n@@c=3"})]


def test_explicit_argument_wins_over_the_body():
    reply = "[/write]\n@@content=explicit\nthe body\n[write/]"
    assert parse([reply], {"write": "content"}) == [ToolCall("write", {"content": "explicit"})]


def test_empty_body_fills_nothing():
    assert parse(["[/ping][ping/]"]) == [ToolCall("ping", {})]
    assert parse(["[/echo]\n@@text=a\n\n   \n[echo/]"]) == [ToolCall("echo", {"text": "a"})]


def test_values_are_strings_kept_as_written_after_the_first_equals_sign():
    reply = "[/t]\n@@n=42\n@@flag=false\n@@expr=a=b\n@@empty=\n[t/]"
    (call,) = parse([reply])
    assert call.args == {"n": "42", "flag": "false", "expr": "a=b", "empty": ""}
    assert call.id == ""


def test_repeated_argument_keeps_the_last_value():
    assert parse_block_body("@@a=1\n@@a=2\n") == ({"a": "2"}, "")


@pytest.mark.parametrize(
    "text",
    [
        "see [1] and [x]",
        "a list: [a, b]",
        "[/1abc]",
        "[/na me]",
        "[/]",
        "[//x]",
        "[echo/]",
        "[/echo/]",
        "path [/usr/bin]",
        "[/_x]",
    ],
)
def test_brackets_that_cannot_open_a_block_are_plain_text(text):
    assert parse([text]) == [text]


def test_bracket_followed_by_a_non_marker_character_is_released_immediately():
    parser = BracketFormat().new_parser({})
    assert parser.feed("a [x") == ["a [x"]
    assert parser.feed("[/ 1") == ["[/ 1"]
    assert parser.feed("[") == []
    assert parser.feed("b") == ["[b"]


def test_names_use_letters_digits_underscore_dash_and_dot():
    name = "read_file.v2-x"
    assert parse([f"[/{name}]x[{name}/]"]) == [ToolCall(name, {"content": "x"})]


def test_a_name_longer_than_64_characters_is_plain_text():
    name = "a" * 65
    reply = f"[/{name}]x[{name}/]"
    assert parse([reply]) == [reply]
    assert parse([f"[/{'a' * 64}]x[{'a' * 64}/]"]) == [ToolCall("a" * 64, {"content": "x"})]


def test_mismatched_closing_marker_is_block_content():
    reply = "[/a]\nx [b/] y\n[a/]"
    assert parse([reply]) == [ToolCall("a", {"content": "x [b/] y"})]


def test_no_nesting_an_opening_marker_inside_a_block_is_content():
    reply = "[/a]\n[/b]\ninner\n[b/]\n[a/] after"
    assert parse([reply]) == [ToolCall("a", {"content": "[/b]\ninner\n[b/]"}), " after"]


def test_unclosed_block_at_end_of_stream_is_text_byte_identical():
    reply = "pre [/write]\n@@path=x\r\n  half a body [/b] [b/] \n"
    parser = BracketFormat().new_parser({})
    assert parser.feed(reply) == ["pre "]
    assert parser.close() == [reply[len("pre ") :]]


def test_partial_opening_marker_at_end_of_stream_is_text():
    assert parse(["abc [/wri"]) == ["abc [/wri"]
    assert parse(["abc ["]) == ["abc ["]


def test_one_call_per_closed_block_with_text_between_and_around():
    reply = "a[/x]1[x/]b[/y]2[y/]c[/x]3[x/]"
    assert parse([reply]) == [
        "a",
        ToolCall("x", {"content": "1"}),
        "b",
        ToolCall("y", {"content": "2"}),
        "c",
        ToolCall("x", {"content": "3"}),
    ]


def test_a_bracket_just_before_a_marker_is_text_and_the_marker_still_opens():
    assert parse(["[[/echo]hi[echo/]]"]) == ["[", ToolCall("echo", {"content": "hi"}), "]"]


def test_unknown_tool_names_are_still_calls_the_kernel_decides():
    assert parse(["[/nosuch]x[nosuch/]"]) == [ToolCall("nosuch", {"content": "x"})]


def test_closing_marker_is_found_when_split_across_many_chunks():
    chunks = ["[/echo]\n@@text=hi\n", "[ec", "h", "o/", "]tail"]
    assert parse(chunks) == [ToolCall("echo", {"text": "hi"}), "tail"]


def test_parser_is_ready_for_a_new_reply_after_close():
    parser = BracketFormat().new_parser({})
    parser.feed("[/a]open")
    assert parser.close() == ["[/a]open"]
    assert parser.feed("[/b]x[b/]") == [ToolCall("b", {"content": "x"})]
    assert parser.close() == []
