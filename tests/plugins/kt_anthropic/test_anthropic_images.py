"""Images reach Anthropic models: image blocks in user messages and inside ``tool_result``s.

Every message we send is validated against the official `anthropic` SDK's ``MessageParam``.
"""

from __future__ import annotations

import anthropic.types
from fake_llm_servers import anthropic_stream
from kt_multimodal_helpers import PNG, PNG_B64, sdk_valid

import kt
import kt_anthropic
import kt_tools
from kt.llm import ContentPart, LLMProfile

IMAGE_BLOCK = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
}


def backend(server) -> kt.LLM:
    profile = LLMProfile(
        name="anthropic/claude-haiku-4-5",
        backend="anthropic",
        model="claude-haiku-4-5",
        base_url=server.url,
        api_key="sk-ant-test",
        options={"retry_policy": {"max_retries": 0}, "prompt_caching": False},
    )
    return kt.Kernel(plugins=[kt_anthropic]).llm_backends["anthropic"].factory(profile)


async def test_a_read_image_is_an_image_block_inside_the_tool_result(server, tmp_path):
    server.replies += [
        anthropic_stream([("tool_use", ("toolu_1", "read", {"path": "dot.png"}))]),
        anthropic_stream([("text", "A red dot.")]),
    ]
    (tmp_path / "dot.png").write_bytes(PNG)
    config = {"name": "eyes", "tools": [{"name": "read"}]}
    kernel = kt.Kernel(plugins=[kt_tools])
    async with await kt.Agent.build(
        config, llm=backend(server), kernel=kernel, pwd=tmp_path
    ) as agent:
        result = await agent.run("What is in dot.png?")
    assert result.status == "completed" and result.text == "A red dot."
    messages = server.requests[1].body["messages"]
    (tool_result,) = messages[-1]["content"]
    assert tool_result["type"] == "tool_result" and tool_result["tool_use_id"] == "toolu_1"
    header, image = tool_result["content"]
    assert header["type"] == "text" and header["text"].startswith("Image: ")
    assert image == IMAGE_BLOCK
    sdk_valid(anthropic.types.MessageParam, messages)


async def test_a_user_image_is_an_image_block(server, tmp_path):
    server.replies.append(anthropic_stream([("text", "A dot.")]))
    (tmp_path / "shot.png").write_bytes(PNG)
    question = [ContentPart("text", text="What is this?"), ContentPart.image(tmp_path / "shot.png")]
    async with await kt.Agent.build({"name": "eyes"}, llm=backend(server)) as agent:
        await agent.run(question)
    messages = server.requests[0].body["messages"]
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": "What is this?"}, IMAGE_BLOCK]}
    ]
    sdk_valid(anthropic.types.MessageParam, messages)


async def test_an_image_url_is_a_url_source(server):
    server.replies.append(anthropic_stream([("text", "ok")]))
    url = "https://example.test/shot.png"
    request = kt.LLMRequest(messages=(kt.Message("user", (ContentPart.image(url),)),))
    async for _ in backend(server).stream(request):
        pass
    (message,) = server.requests[0].body["messages"]
    assert message["content"] == [{"type": "image", "source": {"type": "url", "url": url}}]
    sdk_valid(anthropic.types.MessageParam, [message])
