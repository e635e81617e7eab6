"""Images in tool results and user messages reach the model as parts; records keep text only."""

from __future__ import annotations

import base64

import pytest
import trio

import kt
from kt.history import tool_results_message
from kt.llm import ContentPart, ImageError, content_text, image_type
from kt.testing import ScriptedLLM, ToolCall

# A real 1x1 PNG: signature, IHDR, IDAT and IEND chunks with their checksums.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


@kt.tool
def screenshot() -> kt.ToolResult:
    """Take a screenshot."""
    return kt.ToolResult(output=(ContentPart("text", text="Screen:"), ContentPart.image(PNG)))


@kt.tool
def broken_screenshot() -> kt.ToolResult:
    """Fail to take a screenshot."""
    return kt.ToolResult(output=(ContentPart.image(PNG),), error="the display went away")


async def test_a_tool_image_reaches_the_model_and_the_record_keeps_text():
    llm = ScriptedLLM([ToolCall("screenshot", {}), "A dot."])
    async with await kt.Agent.build(
        {"name": "eyes"}, llm=llm, tools=[screenshot], kernel=kt.Kernel(plugins=[])
    ) as agent:
        result = await agent.run("look")
    sent = llm.calls[1].messages[-1]
    assert sent.role == "tool" and sent.name == "screenshot"
    assert sent.content == (
        ContentPart("text", text="Screen:"),
        ContentPart("image_url", image_url=PNG_URL),
    )
    assert result.tool_calls[0].output == "Screen:[image]"  # records and UIs: no base64


async def test_a_failed_call_with_an_image_sends_the_error_as_text():
    llm = ScriptedLLM([ToolCall("broken_screenshot", {}), "Sorry."])
    async with await kt.Agent.build(
        {"name": "eyes"}, llm=llm, tools=[broken_screenshot], kernel=kt.Kernel(plugins=[])
    ) as agent:
        await agent.run("look")
    assert llm.calls[1].messages[-1].content == "Error: the display went away\n[image]"


async def test_a_text_tool_call_format_carries_the_image_in_the_results_message():
    import kt_formats

    llm = ScriptedLLM(["[/screenshot]\n[screenshot/]", "A dot."])
    config = {"name": "eyes", "controller": {"tool_format": "bracket"}}
    kernel = kt.Kernel(plugins=[kt_formats])
    async with await kt.Agent.build(config, llm=llm, tools=[screenshot], kernel=kernel) as agent:
        await agent.run("look")
    results = llm.calls[1].messages[-1]
    assert results.role == "user" and results.meta == {"tool_results": True}
    assert isinstance(results.content, tuple)
    assert content_text(results.content).startswith("[Tool results]\n## screenshot ")
    assert content_text(results.content).endswith("\nScreen:[image]")
    assert results.content[-1] == ContentPart("image_url", image_url=PNG_URL)


def test_text_results_message_is_unchanged_without_images():
    calls = [(ToolCall("a", {}, "1"), "one"), (ToolCall("b", {}, "2"), "two")]
    assert tool_results_message(calls).content == "[Tool results]\n## a 1\none\n\n## b 2\ntwo"


async def test_a_user_image_from_a_file_reaches_the_model(tmp_path):
    (tmp_path / "shot.png").write_bytes(PNG)
    llm = ScriptedLLM(["A dot."])
    async with await kt.Agent.build({"name": "eyes"}, llm=llm) as agent:
        result = await agent.run(
            [ContentPart("text", text="What is this?"), ContentPart.image(tmp_path / "shot.png")]
        )
    assert llm.calls[0].messages[-1].content[1] == ContentPart("image_url", image_url=PNG_URL)
    assert content_text(result.input) == "What is this?[image]"


def test_image_parts_from_bytes_urls_and_named_types():
    assert image_type(PNG) == "image/png"
    assert image_type(b"GIF89a...") == "image/gif"
    assert image_type(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert image_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert image_type(b"hello") is None
    url = "https://example.test/a.png"
    assert ContentPart.image(url) == ContentPart("image_url", image_url=url)
    svg = ContentPart.image(b"<svg/>", media_type="image/svg+xml")
    assert svg.image_url == "data:image/svg+xml;base64,PHN2Zy8+"


def test_bad_images_get_a_typed_error(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match="not a PNG, JPEG, GIF or WebP image"):
        ContentPart.image(tmp_path / "notes.png")
    with pytest.raises(ImageError, match="cannot read image"):
        ContentPart.image(tmp_path / "missing.png")
    assert issubclass(ImageError, kt.errors.KTError)


async def test_a_background_result_brings_its_image_with_its_note():
    @kt.tool(background=True)
    def slow_screenshot() -> kt.ToolResult:
        """Take a screenshot, slowly."""
        return kt.ToolResult(output=(ContentPart("text", text="Screen:"), ContentPart.image(PNG)))

    llm = ScriptedLLM([ToolCall("slow_screenshot", {}), "Started.", "A dot."])
    agent = await kt.Agent.build(
        {"name": "eyes"}, llm=llm, tools=[slow_screenshot], kernel=kt.Kernel(plugins=[])
    )
    async with agent:
        events = agent.subscribe()
        await agent.run("take one in the background")
        with trio.fail_after(30):
            async for event in events:
                if event.type == "turn_completed" and event.result.turn_index == 2:
                    told = event.result
                    break
    note, image = told.input
    assert note.text.startswith("[Background job ") and note.text.endswith("\nScreen:[image]")
    assert image == ContentPart("image_url", image_url=PNG_URL)
    assert llm.calls[-1].messages[-1].content == told.input
