"""Images reach Gemini models: ``inlineData`` parts in user turns and with function responses.

Gemini 3 reads a tool result's images inside the ``functionResponse`` (its ``parts``); Gemini
2.5 takes none there, so they follow the round's responses in the same user turn. Every
content we send is validated against the official `google-genai` ``Content`` model.
"""

from __future__ import annotations

import json

import pytest
from fake_llm_servers import gemini_stream
from google.genai import types as genai
from kt_multimodal_helpers import PNG, PNG_B64

import kt
import kt_gemini
import kt_tools
from kt.llm import ContentPart, LLMProfile, LLMRequest, Message, ToolCall

INLINE = {"inlineData": {"mimeType": "image/png", "data": PNG_B64}}


def backend(server, model: str) -> kt.LLM:
    profile = LLMProfile(
        name=f"gemini/{model}",
        backend="gemini",
        model=model,
        base_url=f"{server.url}/v1beta",
        api_key="gm-test",
        options={"retry_policy": {"max_retries": 0}},
    )
    return kt.Kernel(plugins=[kt_gemini]).llm_backends["gemini"].factory(profile)


def sdk_valid(contents: list[dict]) -> None:
    for content in contents:  # through JSON, so base64 data is decoded as the API would
        genai.Content.model_validate_json(json.dumps(content))


@pytest.mark.parametrize(
    ("model", "inside"), [("gemini-3-flash-preview", True), ("gemini-2.5-flash", False)]
)
async def test_a_read_image_goes_with_the_function_response(server, tmp_path, model, inside):
    server.replies += [gemini_stream(calls=[("read", {"path": "dot.png"})]), gemini_stream("Dot.")]
    (tmp_path / "dot.png").write_bytes(PNG)
    config = {"name": "eyes", "tools": [{"name": "read"}]}
    kernel = kt.Kernel(plugins=[kt_tools])
    llm = backend(server, model)
    async with await kt.Agent.build(config, llm=llm, kernel=kernel, pwd=tmp_path) as agent:
        result = await agent.run("What is in dot.png?")
    assert result.status == "completed" and result.text == "Dot."
    contents = server.requests[1].body["contents"]
    last = contents[-1]
    assert last["role"] == "user"
    response = last["parts"][0]["functionResponse"]
    assert response["name"] == "read"
    assert response["response"]["result"].startswith("Image: ")
    if inside:
        assert response["parts"] == [INLINE] and len(last["parts"]) == 1
    else:
        assert "parts" not in response and last["parts"][1:] == [INLINE]
    sdk_valid(contents)


async def test_images_follow_every_response_of_the_round(server):
    server.replies.append(gemini_stream("ok"))
    calls = (ToolCall("read", {}, "a"), ToolCall("read", {}, "b"))
    image = (ContentPart("text", text="Image: x"), ContentPart.image(PNG))
    url = ContentPart.image("https://example.test/y.png")
    request = LLMRequest(
        messages=(
            Message("user", "look"),
            Message("assistant", "", tool_calls=calls),
            Message("tool", image, tool_call_id="a", name="read"),
            Message("tool", (url,), tool_call_id="b", name="read"),
        )
    )
    async for _ in backend(server, "gemini-3-flash-preview").stream(request):
        pass
    last = server.requests[0].body["contents"][-1]
    assert [next(iter(part)) for part in last["parts"]] == [
        "functionResponse",
        "functionResponse",
        "fileData",  # a function response takes inline data only: a URL follows them
    ]
    assert last["parts"][0]["functionResponse"]["parts"] == [INLINE]
    assert last["parts"][2] == {"fileData": {"fileUri": "https://example.test/y.png"}}
    sdk_valid(server.requests[0].body["contents"])


async def test_a_user_image_is_an_inline_data_part(server, tmp_path):
    server.replies.append(gemini_stream("A dot."))
    (tmp_path / "shot.png").write_bytes(PNG)
    question = [ContentPart("text", text="What is this?"), ContentPart.image(tmp_path / "shot.png")]
    async with await kt.Agent.build(
        {"name": "eyes"}, llm=backend(server, "gemini-2.5-flash")
    ) as agent:
        await agent.run(question)
    contents = server.requests[0].body["contents"]
    assert contents == [{"role": "user", "parts": [{"text": "What is this?"}, INLINE]}]
    sdk_valid(contents)
