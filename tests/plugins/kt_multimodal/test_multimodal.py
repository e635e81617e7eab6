"""kt_multimodal: image parts become text notes for text-only models."""

from __future__ import annotations

import kt
import kt_multimodal
from kt.llm import ContentPart
from kt.testing import ScriptedLLM

IMAGE = ContentPart("image_url", image_url="data:image/png;base64," + "A" * 4096)


async def sent(guard, message) -> object:
    llm = ScriptedLLM(["ok"])
    async with await kt.Agent.build(
        {"name": "m"}, llm=llm, kernel=kt.Kernel(plugins=[]), plugins=[guard]
    ) as agent:
        agent.set_llm(llm, name="ollama/llama3")
        await agent.run(message)
        history = agent.history
    return llm.calls[0].messages[-1].content, history


async def test_images_become_notes_and_the_history_keeps_them():
    content, history = await sent(
        kt_multimodal.MultimodalGuard(), [ContentPart("text", text="what is this?"), IMAGE]
    )
    assert content == (
        "what is this?\n[image 1: image/png, about 3 KB, not shown: this model reads text only]"
    )
    assert any(isinstance(m.content, tuple) for m in history)  # the image is still recorded


async def test_only_matching_models_are_rewritten():
    content, _ = await sent(kt_multimodal.MultimodalGuard(models=["openai/*"]), [IMAGE])
    assert isinstance(content, tuple) and content[0].type == "image_url"


async def test_a_tool_result_image_becomes_a_note_for_a_text_only_model(tmp_path):
    from kt_multimodal_helpers import PNG

    import kt_tools
    from kt.testing import ToolCall

    (tmp_path / "dot.png").write_bytes(PNG)
    llm = ScriptedLLM([ToolCall("read", {"path": "dot.png"}), "ok"])
    config = {"name": "m", "tools": [{"name": "read"}]}
    async with await kt.Agent.build(
        config,
        llm=llm,
        kernel=kt.Kernel(plugins=[kt_tools]),
        plugins=[kt_multimodal.MultimodalGuard(models=["ollama/*"])],
        pwd=tmp_path,
    ) as agent:
        agent.set_llm(llm, name="ollama/llama3")
        await agent.run("what is in dot.png?")
        history = agent.history
    sent = llm.calls[1].messages[-1]
    assert sent.role == "tool" and isinstance(sent.content, str)
    assert sent.content.startswith(f"Image: {tmp_path / 'dot.png'} (0.1KB, image/png)\n")
    assert sent.content.endswith(
        "[image 1: image/png, 70 bytes, not shown: this model reads text only]"
    )
    assert history[-2].role == "tool" and history[-2].content[1].type == "image_url"
