"""Streaming behaviour shared by both text formats: latency and chunking invariance."""

from __future__ import annotations

import operator
import re
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kt import ToolCall
from kt_formats.bracket import BracketFormat
from kt_formats.xml import XMLFormat

FORMATS = [BracketFormat, XMLFormat]


def merge(events):
    merged = []
    for event in events:
        if isinstance(event, str) and merged and isinstance(merged[-1], str):
            merged[-1] += event
        elif event != "":
            merged.append(event)
    return merged


def parse(format_class, chunks, body_args=None):
    parser = format_class().new_parser(body_args or {})
    events = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return merge(events)


# --- latency (R-PARSE-1) ------------------------------------------------------------------


@pytest.mark.parametrize("format_class", FORMATS)
def test_plain_reply_in_ten_chunks_yields_text_on_every_feed(format_class):
    reply = "The quick brown fox jumps over the lazy dog. Yes!!"
    assert len(reply) == 50
    chunks = [reply[i : i + 5] for i in range(0, 50, 5)]
    parser = format_class().new_parser({})
    for chunk in chunks:
        assert parser.feed(chunk) == [chunk]
    assert parser.close() == []


@pytest.mark.parametrize(("format_class", "opener"), [(BracketFormat, "["), (XMLFormat, "<")])
def test_only_the_possible_marker_start_is_held(format_class, opener):
    parser = format_class().new_parser({})
    assert parser.feed("Hello ") == ["Hello "]
    assert parser.feed(f"abc {opener}") == ["abc "]
    assert parser.feed("1") == [f"{opener}1"]


def test_text_before_a_bracket_marker_is_released_when_it_arrives():
    parser = BracketFormat().new_parser({})
    assert parser.feed("Let me check. [/ec") == ["Let me check. "]
    assert parser.feed("ho]\n@@text=hi\n") == []
    assert parser.feed("[echo/] done") == [ToolCall("echo", {"text": "hi"}), " done"]


def test_text_before_an_xml_tag_is_released_when_it_arrives():
    parser = XMLFormat().new_parser({})
    assert parser.feed("Let me check. <echo te") == ["Let me check. "]
    assert parser.feed('xt="hi"></ec') == []
    assert parser.feed("ho> done") == [ToolCall("echo", {"text": "hi"}), " done"]


@pytest.mark.parametrize("format_class", FORMATS)
def test_feeding_an_empty_chunk_returns_nothing(format_class):
    parser = format_class().new_parser({})
    assert parser.feed("") == []
    assert parser.close() == []


# --- property tests (R-PARSE-2) -----------------------------------------------------------

TRICKY = ["[", "]", "/", "<", ">", "@", "@@", "=", '"', "&", "\n", " ", "a", "Z", "é", "漢", "🙂"]
LETTERS = string.ascii_letters
NAMES = st.builds(
    operator.add, st.sampled_from(LETTERS), st.text(LETTERS + "0123456789_.-", max_size=8)
)
KEYS = st.builds(operator.add, st.sampled_from(LETTERS + "_"), st.text(LETTERS + "_9", max_size=6))
TEXT = st.lists(st.sampled_from([*TRICKY, "x", "1", "\t", "ß"]), max_size=12).map("".join)


def bracket_tokens():
    """Pieces of bracket syntax, whole and broken, to be glued together in any order."""
    return st.one_of(
        st.sampled_from(TRICKY),
        st.sampled_from(["[/", "[/echo]", "[echo/]", "[/e", "[e/]", "[/a]", "[a/]", "@@text="]),
        NAMES.map(lambda n: f"[/{n}]"),
        st.tuples(NAMES, TEXT).map(lambda p: f"[/{p[0]}]{p[1]}[{p[0]}/]"),
        TEXT,
    )


def xml_tokens():
    """Pieces of XML syntax, whole and broken, to be glued together in any order."""
    return st.one_of(
        st.sampled_from(TRICKY),
        st.sampled_from(["<echo>", "</echo>", "<e", "</", "<a/>", ' x="1"', "&quot;", "<a "]),
        NAMES.map(lambda n: f"<{n}>"),
        st.tuples(NAMES, KEYS, TEXT).map(lambda p: f'<{p[0]} {p[1]}="{p[2]}">'),
        st.tuples(NAMES, TEXT).map(lambda p: f"<{p[0]}>{p[1]}</{p[0]}/>"),
        st.tuples(NAMES, TEXT).map(lambda p: f"<{p[0]}>{p[1]}</{p[0]}>"),
        st.tuples(NAMES, KEYS, TEXT).map(lambda p: f'<{p[0]} {p[1]}="{p[2]}"/>'),
        st.tuples(NAMES, KEYS, TEXT).map(lambda p: f'<{p[0]}\n{p[1]} = "{p[2]}">{p[2]}</{p[0]}>'),
        TEXT,
    )


@st.composite
def chunkings(draw, text):
    """*text* cut at points hypothesis chooses (empty chunks included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    points = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(points, points[1:], strict=False)]


# Whole-string oracles written with regular expressions, independently of the streaming
# scanners: the leftmost opening marker starts a block that runs to the first matching closing
# marker; with no closing marker, the rest of the reply is text.

BRACKET_OPEN = re.compile(r"\[/([A-Za-z][A-Za-z0-9_.-]{0,63})\]")
BRACKET_ARG = re.compile(r"@@\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=(.*)")
_WS = "[ \t\r\n]"
XML_OPEN = re.compile(
    rf'<([A-Za-z][A-Za-z0-9_.-]{{0,63}})((?:{_WS}+[A-Za-z_][A-Za-z0-9_.:-]*{_WS}*={_WS}*"[^"<]*")*)'
    rf"{_WS}*(/?)>"
)
XML_ATTR = re.compile(rf'([A-Za-z_][A-Za-z0-9_.:-]*){_WS}*={_WS}*"([^"<]*)"')
XML_ENTITY = re.compile("&(quot|amp|lt|gt|apos);")


def decode(entity):
    return {"quot": '"', "amp": "&", "lt": "<", "gt": ">", "apos": "'"}[entity.group(1)]


def with_body(args, body):
    body = body.strip()
    return {**({"content": body} if body else {}), **args}


def bracket_call(name, raw_body):
    lines = raw_body.split("\n")
    args = {}
    while lines and (not lines[0].strip() or BRACKET_ARG.fullmatch(lines[0].strip())):
        match = BRACKET_ARG.fullmatch(lines.pop(0).strip())
        if match:
            args[match.group(1)] = match.group(2).strip()
    return ToolCall(name, with_body(args, "\n".join(lines)))


def xml_call(name, attributes, raw_body):
    args = {key: XML_ENTITY.sub(decode, value) for key, value in XML_ATTR.findall(attributes)}
    return ToolCall(name, with_body(args, raw_body))


def bracket_oracle(text):
    events, pos = [], 0
    while (opening := BRACKET_OPEN.search(text, pos)) is not None:
        name = opening.group(1)
        end = text.find(f"[{name}/]", opening.end())
        if end == -1:
            break
        events += [text[pos : opening.start()], bracket_call(name, text[opening.end() : end])]
        pos = end + len(f"[{name}/]")
    return merge([*events, text[pos:]])


def xml_oracle(text):
    events, pos = [], 0
    while (opening := XML_OPEN.search(text, pos)) is not None:
        name, attributes, self_closing = opening.groups()
        if self_closing:
            events += [text[pos : opening.start()], xml_call(name, attributes, "")]
            pos = opening.end()
            continue
        end = text.find(f"</{name}>", opening.end())
        if end == -1:
            break
        raw_body = text[opening.end() : end]
        events += [text[pos : opening.start()], xml_call(name, attributes, raw_body)]
        pos = end + len(f"</{name}>")
    return merge([*events, text[pos:]])


@pytest.mark.parametrize(
    ("format_class", "tokens", "oracle"),
    [(BracketFormat, bracket_tokens(), bracket_oracle), (XMLFormat, xml_tokens(), xml_oracle)],
)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_chunking_gives_the_events_of_the_whole_string(format_class, tokens, oracle, data):
    # The oracle's text is the reply minus the blocks, so matching it also shows that no
    # character of plain text is lost or invented.
    text = "".join(data.draw(st.lists(tokens, max_size=20)))
    whole = parse(format_class, [text])
    assert whole == oracle(text)
    assert parse(format_class, data.draw(chunkings(text))) == whole
    assert parse(format_class, list(text)) == whole


# A document is text runs and well-formed blocks built from known parts; the expected events
# follow from the parts, with no parser involved.

VALUE = st.lists(st.sampled_from([*TRICKY, "x", "é"]), max_size=8).map("".join)


@st.composite
def call_parts(draw):
    return draw(NAMES), draw(st.dictionaries(KEYS, VALUE, max_size=3)), draw(TEXT)


@st.composite
def bracket_document(draw):
    pieces, expected = [], []
    for _ in range(draw(st.integers(0, 4))):
        text = draw(TEXT)
        assume(not BRACKET_OPEN.search(text))
        name, args, body = draw(call_parts())
        args = {key: value.replace("\n", " ") for key, value in args.items()}
        assume(f"[{name}/]" not in body and not body.lstrip().startswith("@@"))
        arg_lines = "".join(f"@@{key}={value}\n" for key, value in args.items())
        pieces += [text, f"[/{name}]\n{arg_lines}{body}\n[{name}/]"]
        stripped = {key: value.strip() for key, value in args.items()}
        expected += [text, ToolCall(name, with_body(stripped, body))]
    tail = draw(TEXT)
    assume(not BRACKET_OPEN.search(tail))
    return "".join(pieces) + tail, merge([*expected, tail])


def xml_attr(value):
    return (
        value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


@st.composite
def xml_document(draw):
    pieces, expected = [], []
    for _ in range(draw(st.integers(0, 4))):
        text = draw(TEXT)
        assume(not re.search("<[A-Za-z]", text))
        name, args, body = draw(call_parts())
        assume(f"</{name}>" not in body)
        attributes = "".join(f' {key}="{xml_attr(value)}"' for key, value in args.items())
        if body.strip() or draw(st.booleans()):
            pieces += [text, f"<{name}{attributes}>{body}</{name}>"]
        else:
            pieces += [text, f"<{name}{attributes}/>"]
        expected += [text, ToolCall(name, with_body(args, body))]
    tail = draw(TEXT)
    assume(not re.search("<[A-Za-z]", tail))
    return "".join(pieces) + tail, merge([*expected, tail])


@pytest.mark.parametrize(
    ("format_class", "documents"),
    [(BracketFormat, bracket_document()), (XMLFormat, xml_document())],
)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_documents_parse_to_their_text_and_calls_under_any_chunking(format_class, documents, data):
    text, expected = data.draw(documents)
    assert parse(format_class, data.draw(chunkings(text))) == expected
    assert parse(format_class, list(text)) == expected
