"""kt_formats as a plugin: registration, the prompt sections, and a round trip through an agent."""

from __future__ import annotations

import kt
import kt_formats
from kt import ToolSpec
from kt.events import TextDelta, TurnCompleted
from kt.plugins import new_plugin_manager
from kt.testing import ScriptedLLM
from kt_formats import BracketFormat, XMLFormat


def test_hook_kt_tool_formats_registers_bracket_and_xml_through_pluggy():
    pm = new_plugin_manager()  # carries the kernel's hookspecs, so signatures are checked
    pm.register(kt_formats, name="kt_formats")
    pm.check_pending()
    (specs,) = pm.hook.kt_tool_formats()
    assert [spec.name for spec in specs] == ["bracket", "xml"]
    assert all(isinstance(spec, kt.ToolFormatSpec) and spec.description for spec in specs)
    for spec in specs:
        made = spec.factory()
        assert (made.name, made.native) == (spec.name, False)


def test_kernel_with_the_plugin_offers_both_text_formats_beside_native():
    kernel = kt.Kernel(plugins=[kt_formats])
    assert {"native", "bracket", "xml"} <= set(kernel.tool_formats)
    assert isinstance(kernel.tool_formats["bracket"].factory(), BracketFormat)
    assert isinstance(kernel.tool_formats["xml"].factory(), XMLFormat)


def _spec(name, description, parameters, body_arg=None):
    return ToolSpec(name, description, parameters, fn=lambda **_: "", body_arg=body_arg)


WRITE = _spec(
    "write",
    "Write a file.",
    {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Where to write,\n relative."},
            "content": {"type": "string"},
            "mode": {"enum": ["w", "a"]},
            "lines": {"type": "array", "items": {"type": "integer"}},
            "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": ["path", "content"],
    },
)
BASH = _spec(
    "bash",
    "Run a shell command.",
    {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
)
NOW = _spec("now", "The time.", {"type": "object", "properties": {}})
GREP = _spec(
    "grep",
    "Search.",
    {"type": "object", "properties": {"pattern": {"type": "string"}, "flags": {}}},
    body_arg="pattern",
)


def test_prompt_section_is_empty_without_tools():
    assert BracketFormat().prompt_section([]) == ""
    assert XMLFormat().prompt_section([]) == ""


def test_bracket_prompt_teaches_the_markup_and_lists_tools_sorted_with_parameters():
    text = BracketFormat().prompt_section([WRITE, NOW, BASH, GREP])
    assert "[/tool_name]" in text and "[tool_name/]" in text and "@@argument=value" in text
    positions = [text.index(f"### {name}\n") for name in ("bash", "grep", "now", "write")]
    assert positions == sorted(positions)
    assert "- path (string, required): Where to write, relative." in text
    assert "- content (string, required)" in text
    assert '- mode (one of "w", "a", optional)' in text
    assert "- lines (array of integer, optional)" in text
    assert "- limit (integer or null, optional)" in text
    assert "- flags (any, optional)" in text
    assert "### now\nThe time.\nParameters: none" in text
    assert "Block body: fills `command`." in text  # the only required string parameter
    assert "Block body: fills `pattern`." in text  # named by the tool
    assert "Block body: fills `content`." in text  # several required strings: content


def test_xml_prompt_teaches_the_markup_and_lists_the_same_tools():
    text = XMLFormat().prompt_section([WRITE, BASH])
    assert '<tool_name argument="value"' in text and "</tool_name>" in text
    assert "&quot;" in text
    assert text.index("### bash") < text.index("### write")
    assert "- path (string, required): Where to write, relative." in text


def test_prompt_sections_are_byte_identical_for_the_same_tools_in_any_order():
    for format_class in (BracketFormat, XMLFormat):
        first = format_class().prompt_section([WRITE, BASH, NOW, GREP])
        again = format_class().prompt_section([GREP, NOW, BASH, WRITE])
        assert first == again


async def test_scenario_2_bracket_round_trip_through_an_agent():
    @kt.tool
    async def echo(text: str) -> str:
        """Echo back.

        Args:
            text: What to send.
        """
        return "pong" if text == "ping" else text

    llm = ScriptedLLM(["Checking.\n[/echo]@@text=ping\n[echo/]", "Got pong"], chunk_size=3)
    config = {"name": "t", "controller": {"tool_format": "bracket"}}
    kernel = kt.Kernel(plugins=[kt_formats])
    async with await kt.Agent.build(config, llm=llm, tools=[echo], kernel=kernel) as agent:
        events = [event async for event in agent.run_stream("hi")]
    shown = "".join(event.text for event in events if isinstance(event, TextDelta))
    (completed,) = [event for event in events if isinstance(event, TurnCompleted)]
    result = completed.result
    assert llm.call_count == 2
    system_prompt = llm.calls[0].request.messages[0].content
    assert "[/tool_name]" in system_prompt and "### echo" in system_prompt
    assert (result.tool_calls[0].name, result.tool_calls[0].args) == ("echo", {"text": "ping"})
    assert result.tool_calls[0].status == "ok"
    assert "[/echo]" not in shown and "Checking.\n" in shown
    assert result.text == "Got pong"
