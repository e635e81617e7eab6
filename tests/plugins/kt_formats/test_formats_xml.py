"""The XML format's parser: ``<name key="v">body</name>`` and ``<name key="v"/>``."""

from __future__ import annotations

import pytest

from kt import ToolCall
from kt_formats.xml import XMLFormat, decode_entities


def parse(chunks, body_args=None):
    """Feed *chunks* then close; return the events with adjacent text merged."""
    parser = XMLFormat().new_parser(body_args or {})
    events = []
    for chunk in [*chunks, None]:
        for event in parser.feed(chunk) if chunk is not None else parser.close():
            if isinstance(event, str) and events and isinstance(events[-1], str):
                events[-1] += event
            else:
                events.append(event)
    return events


def test_element_with_attributes_and_body():
    reply = 'Writing.\n<write path="notes.txt">\nline one\nline two\n</write>\nDone.'
    assert parse([reply], {"write": "content"}) == [
        "Writing.\n",
        ToolCall("write", {"path": "notes.txt", "content": "line one\nline two"}),
        "\nDone.",
    ]


def test_self_closing_element_is_a_call_without_body():
    assert parse(['<echo text="ping"/>']) == [ToolCall("echo", {"text": "ping"})]
    assert parse(["<now/>", "<now />"]) == [ToolCall("now", {}), ToolCall("now", {})]


def test_streamed_one_character_at_a_time():
    reply = 'Checking.\n<echo text="ping"></echo> then <echo text="pong"/>'
    expected = [
        "Checking.\n",
        ToolCall("echo", {"text": "ping"}),
        " then ",
        ToolCall("echo", {"text": "pong"}),
    ]
    assert parse([reply]) == expected
    assert parse(list(reply)) == expected


@pytest.mark.parametrize(
    "reply",
    [
        'a <write path="x&amp;y">\nif a < b: pass\n</write> b <echo text="q"/>',
        "<<echo>hi</echo>> <a b='c'> <x",
    ],
)
def test_every_split_point_gives_the_same_events(reply):
    whole = parse([reply])
    for cut in range(len(reply) + 1):
        assert parse([reply[:cut], reply[cut:]]) == whole, cut


def test_body_goes_to_the_tools_body_argument_or_content():
    assert parse(["<bash>ls -la</bash>"], {"bash": "command"}) == [
        ToolCall("bash", {"command": "ls -la"})
    ]
    assert parse(["<note>\n  remember  \n</note>"]) == [ToolCall("note", {"content": "remember"})]


def test_explicit_attribute_wins_over_the_body():
    assert parse(['<write content="explicit">body</write>'], {"write": "content"}) == [
        ToolCall("write", {"content": "explicit"})
    ]


def test_empty_body_fills_nothing():
    assert parse(['<echo text="a">\n  \n</echo>']) == [ToolCall("echo", {"text": "a"})]


def test_entities_in_values_are_decoded():
    reply = '<t q="say &quot;hi&quot;" a="x &amp; y" l="&lt;b&gt;" raw="&amp;lt; &nope; &"/>'
    (call,) = parse([reply])
    assert call.args == {"q": 'say "hi"', "a": "x & y", "l": "<b>", "raw": "&lt; &nope; &"}


def test_decode_entities_is_one_pass():
    assert decode_entities("&amp;quot;&apos;") == "&quot;'"


def test_whitespace_inside_tags_and_around_equals_is_allowed():
    reply = '<write\n  path = "a.txt"\n  mode="w"\n>x</write>'
    assert parse([reply]) == [ToolCall("write", {"path": "a.txt", "mode": "w", "content": "x"})]


def test_values_are_strings_and_calls_have_no_id():
    (call,) = parse(['<t n="42" flag="false" multi="a\nb"/>'])
    assert call.args == {"n": "42", "flag": "false", "multi": "a\nb"}
    assert call.id == ""


def test_repeated_attribute_keeps_the_last_value():
    assert parse(['<t a="1" a="2"/>']) == [ToolCall("t", {"a": "2"})]


@pytest.mark.parametrize(
    "text",
    [
        "Use < for less than",
        "if a<3 and b <= 4",
        "x </y> z",
        "<1abc>",
        "<a b='single'>x</a>",
        '<a b="1"c="2">x</a>',
        '<a b="x<y">z</a>',
        "<a b>x</a>",
        "<a/ >",
        "<>",
        "</>",
    ],
)
def test_text_that_cannot_be_a_tag_is_plain_text(text):
    assert parse([text]) == [text]


def test_less_than_followed_by_a_non_letter_is_released_immediately():
    parser = XMLFormat().new_parser({})
    assert parser.feed("Use < for less than") == ["Use < for less than"]
    assert parser.feed("a <") == ["a "]
    assert parser.feed("=") == ["<="]


def test_possible_tag_is_held_until_impossible_then_released():
    parser = XMLFormat().new_parser({})
    assert parser.feed("if x <y the") == ["if x "]
    assert parser.feed("n z") == ["<y then z"]


def test_mismatched_closing_tag_is_block_content():
    assert parse(["<a>x</b>y</A></a>"]) == [ToolCall("a", {"content": "x</b>y</A>"})]


def test_no_nesting_an_opening_tag_inside_a_block_is_content():
    reply = "<a>\n<b>inner</b>\n</a> after"
    assert parse([reply]) == [ToolCall("a", {"content": "<b>inner</b>"}), " after"]


def test_unclosed_element_at_end_of_stream_is_text_byte_identical():
    reply = 'pre <write path="x &amp; y">\r\n  half <b>a</b> body\n'
    parser = XMLFormat().new_parser({})
    assert parser.feed(reply) == ["pre "]
    assert parser.close() == [reply[len("pre ") :]]


def test_partial_tag_at_end_of_stream_is_text():
    assert parse(['abc <write path="x']) == ['abc <write path="x']


def test_names_use_letters_digits_underscore_dash_and_dot():
    assert parse(["<read_file.v2-x>p</read_file.v2-x>"]) == [
        ToolCall("read_file.v2-x", {"content": "p"})
    ]


def test_unknown_tool_names_are_still_calls_the_kernel_decides():
    assert parse(["<b>bold</b>"]) == [ToolCall("b", {"content": "bold"})]


def test_one_call_per_closed_element():
    reply = "<x>1</x><x>2</x></x>"
    assert parse([reply]) == [
        ToolCall("x", {"content": "1"}),
        ToolCall("x", {"content": "2"}),
        "</x>",
    ]
