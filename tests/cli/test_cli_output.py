"""TextPrinter (plain-text rendering) and the `stdout` output the kt_cli plugin contributes."""

from __future__ import annotations

import io

from kt.config import OutputEntry
from kt.events import (
    ErrorOccurred,
    TextDelta,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
    TurnStarted,
)
from kt.plugins.kernel import Kernel
from kt.results import TurnResult
from kt_cli import plugin
from kt_cli.output import TextPrinter, describe_args

DONE = TurnCompleted(result=TurnResult(status="completed"))


def render(events, *, show_tools=True):
    out, err = io.StringIO(), io.StringIO()
    printer = TextPrinter(out, err, show_tools=show_tools)
    for event in events:
        printer.handle(event)
    return out.getvalue(), err.getvalue()


def test_text_streams_and_the_turn_ends_with_one_newline():
    out, err = render([TextDelta(text="Hel"), TextDelta(text="lo"), DONE])
    assert out == "Hello\n"
    assert err == ""


def test_text_that_ends_with_a_newline_gets_no_second_one():
    out, _ = render([TextDelta(text="line\n"), DONE])
    assert out == "line\n"


def test_each_model_call_starts_on_its_own_line():
    events = [
        TextDelta(text="Let me look.", iteration=1),
        TextDelta(text="Found it.", iteration=2),
        DONE,
    ]
    out, _ = render(events, show_tools=False)
    assert out == "Let me look.\nFound it.\n"


def test_tool_activity_goes_to_stderr_and_ends_the_text_line():
    events = [
        TextDelta(text="Counting."),
        ToolCallStarted(call_id="c1", name="word_count", args={"text": "a b"}),
        ToolCallCompleted(call_id="c1", name="word_count", status="ok", duration=0.012),
        ToolCallStarted(call_id="c2", name="fail", args={}),
        ToolCallCompleted(
            call_id="c2", name="fail", status="error", error="disk\nfull", duration=0.5
        ),
        DONE,
    ]
    out, err = render(events)
    assert out == "Counting.\n"
    assert err.splitlines() == [
        '[tool] word_count {"text": "a b"}',
        "[tool] word_count ok 0.01s",
        "[tool] fail",
        "[tool] fail error 0.50s: disk full",
    ]


def test_show_tools_false_hides_tool_lines_but_not_warnings():
    events = [
        ToolCallStarted(call_id="c1", name="t"),
        ToolCallCompleted(call_id="c1", name="t", status="ok"),
        ErrorOccurred(message="plugin 'x' failed in kt_event: boom"),
    ]
    _, err = render(events, show_tools=False)
    assert err == "kt: warning: plugin 'x' failed in kt_event: boom\n"


def test_describe_args_is_one_clipped_line():
    assert describe_args({}) == ""
    assert describe_args("not json\nat all") == "not json at all"
    long = describe_args({"text": "x" * 500}, limit=40)
    assert len(long) == 40 and long.endswith("…")


async def test_stdout_output_spec_prints_streamed_text(capsys):
    kernel = Kernel(plugins=[plugin])
    spec = kernel.outputs["stdout"]
    output = spec.factory(OutputEntry(type="stdout"), None)
    await output.on_event(TextDelta(text="streamed"))
    await output.on_event(ToolCallStarted(call_id="c", name="quiet_by_default"))
    await output.on_event(DONE)
    captured = capsys.readouterr()
    assert captured.out == "streamed\n"
    assert captured.err == ""


async def test_stdout_output_show_tools_option(capsys):
    spec = Kernel(plugins=[plugin]).outputs["stdout"]
    output = spec.factory(OutputEntry(type="stdout", options={"show_tools": True}), None)
    await output.on_event(ToolCallStarted(call_id="c", name="shown"))
    assert capsys.readouterr().err == "[tool] shown\n"


def test_a_turn_nobody_typed_is_marked_on_stderr_and_its_reply_printed():
    out, err = render(
        [
            TurnStarted(input="hello", source="user"),
            TextDelta(text="hi"),
            DONE,
            TurnStarted(input="tick 12:00\nmore", source="trigger"),
            TextDelta(text="It is noon."),
            DONE,
        ]
    )
    assert out == "hi\nIt is noon.\n"
    assert err == "kt: turn started by trigger: tick 12:00\n"
