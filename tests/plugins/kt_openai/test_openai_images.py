"""Images reach OpenAI models: in user messages and in tool results, each API in its own shape.

Chat Completions takes images in user messages only (a ``tool`` message may hold text parts
alone), so a tool result's images follow the round's results in one user message. The
Responses API takes them inside the ``function_call_output`` itself. Every message we send is
validated against the official `openai` SDK's param types.
"""

from __future__ import annotations

from fake_llm_servers import openai_text, openai_tool_calls, responses_stream
from kt_multimodal_helpers import PNG, PNG_URL, sdk_valid
from openai.types.chat import ChatCompletionMessageParam
from openai.types.responses import ResponseInputItemParam

import kt
import kt_openai
import kt_tools
from kt.llm import ContentPart, LLMProfile, LLMRequest, Message, ToolCall


def backend(server, **options) -> kt.LLM:
    profile = LLMProfile(
        name="openai/gpt-4o-mini",
        backend="openai",
        model="gpt-4o-mini",
        base_url=f"{server.url}/v1",
        api_key="sk-test",
        options={"retry_policy": {"max_retries": 0}, **options},
    )
    return kt.Kernel(plugins=[kt_openai]).llm_backends["openai"].factory(profile)


async def run_agent(server, tmp_path, llm: kt.LLM, question: str | list[ContentPart]) -> None:
    (tmp_path / "dot.png").write_bytes(PNG)
    config = {"name": "eyes", "tools": [{"name": "read"}]}
    kernel = kt.Kernel(plugins=[kt_tools])
    async with await kt.Agent.build(config, llm=llm, kernel=kernel, pwd=tmp_path) as agent:
        result = await agent.run(question)
    assert result.status == "completed", result.error
    assert result.tool_calls[0].output.endswith("image/png)[image]")  # records keep no base64


async def test_chat_a_read_image_follows_the_tool_results_as_a_user_message(server, tmp_path):
    server.replies += [
        openai_tool_calls([("call_1", "read", {"path": "dot.png"})]),
        openai_text("A red dot."),
    ]
    await run_agent(server, tmp_path, backend(server), "What is in dot.png?")
    messages = server.requests[1].body["messages"]
    assert [m["role"] for m in messages[-3:]] == ["assistant", "tool", "user"]
    tool, images = messages[-2], messages[-1]
    assert tool["tool_call_id"] == "call_1" and isinstance(tool["content"], str)
    assert tool["content"].startswith("Image: ") and "follow in the next message" in tool["content"]
    assert images["content"] == [
        {"type": "text", "text": "Image(s) returned by read (call call_1):"},
        {"type": "image_url", "image_url": {"url": PNG_URL}},
    ]
    sdk_valid(ChatCompletionMessageParam, messages)


async def test_chat_images_wait_for_every_result_of_the_round(server):
    server.replies.append(openai_text("ok"))
    two = (ToolCall("read", {}, "call_1"), ToolCall("read", {}, "call_2"))
    image = (ContentPart("text", text="Image: a"), ContentPart.image(PNG))
    request = LLMRequest(
        messages=(
            Message("user", "look"),
            Message("assistant", "", tool_calls=two),
            Message("tool", image, tool_call_id="call_1", name="read"),
            Message("tool", image, tool_call_id="call_2", name="read"),
            Message("user", "and?"),
        )
    )
    async for _ in backend(server).stream(request):
        pass
    messages = server.requests[0].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user", "user"]
    heads = [p["text"] for p in messages[4]["content"] if p["type"] == "text"]
    assert heads == [
        "Image(s) returned by read (call call_1):",
        "Image(s) returned by read (call call_2):",
    ]
    sdk_valid(ChatCompletionMessageParam, messages)


async def test_chat_a_user_image_is_an_image_url_part(server, tmp_path):
    server.replies.append(openai_text("A dot."))
    (tmp_path / "shot.png").write_bytes(PNG)
    question = [ContentPart("text", text="What is this?"), ContentPart.image(tmp_path / "shot.png")]
    async with await kt.Agent.build({"name": "eyes"}, llm=backend(server)) as agent:
        await agent.run(question)
    user = server.requests[0].body["messages"][-1]
    assert user == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": PNG_URL}},
        ],
    }
    sdk_valid(ChatCompletionMessageParam, server.requests[0].body["messages"])


async def test_responses_a_read_image_is_inside_the_function_call_output(server, tmp_path):
    server.replies += [
        responses_stream("", [("call_1", "read", {"path": "dot.png"})]),
        responses_stream("A red dot."),
    ]
    question = [ContentPart("text", text="Compare with"), ContentPart.image(PNG)]
    await run_agent(server, tmp_path, backend(server, api="responses"), question)
    items = server.requests[1].body["input"]
    assert items[0]["content"][1] == {"type": "input_image", "image_url": PNG_URL, "detail": "auto"}
    (output,) = [item for item in items if item.get("type") == "function_call_output"]
    assert output["call_id"] == "call_1"
    assert output["output"][0]["type"] == "input_text"
    assert output["output"][0]["text"].startswith("Image: ")
    assert output["output"][1] == {"type": "input_image", "image_url": PNG_URL, "detail": "auto"}
    sdk_valid(ResponseInputItemParam, items)
