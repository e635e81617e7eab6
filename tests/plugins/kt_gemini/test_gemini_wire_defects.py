"""kt_gemini: thinking options per Gemini family, finish reasons, and a raw error mid-stream.

Each thinking mapping is checked on the body sent to a loopback server, and validated with the
official `google-genai` types (a field or level they do not know fails here).
"""

from __future__ import annotations

import pytest
from fake_llm_servers import SECRET_KEY, Reply, _gemini_chunk, gemini_stream
from google.genai import types as genai

import kt
import kt_gemini
from kt.llm import LLMProfile, LLMRequest, Message, TextChunk
from kt_llm.http import LLMServerError


def backend(server, model="gemini-2.5-flash", **options) -> kt.LLM:
    profile = LLMProfile(
        name=f"gemini/{model}",
        backend="gemini",
        model=model,
        base_url=f"{server.url}/v1beta",
        api_key=SECRET_KEY,
        options={"retry_policy": {"max_retries": 1, "base_delay": 0.01}, **options},
    )
    return kt.Kernel(plugins=[kt_gemini]).llm_backends["gemini"].factory(profile)


async def collect(llm) -> list:
    return [c async for c in llm.stream(LLMRequest(messages=(Message("user", "hi"),)))]


@pytest.mark.parametrize(
    ("model", "options", "expected"),
    [
        # Gemini 3: levels
        ("gemini-3-pro-preview", {"reasoning_effort": "max"}, {"thinkingLevel": "HIGH"}),
        ("gemini-3-pro-preview", {"reasoning_effort": "medium"}, {"thinkingLevel": "LOW"}),
        ("gemini-3-pro-preview", {"reasoning_effort": "none"}, {"thinkingLevel": "LOW"}),
        ("gemini-3.1-pro-preview", {"reasoning_effort": "medium"}, {"thinkingLevel": "MEDIUM"}),
        ("gemini-3.1-pro-preview", {"reasoning_effort": "xhigh"}, {"thinkingLevel": "HIGH"}),
        ("gemini-3-flash-preview", {"reasoning_effort": "none"}, {"thinkingLevel": "MINIMAL"}),
        ("gemini-3-flash-preview", {"reasoning_effort": "minimal"}, {"thinkingLevel": "MINIMAL"}),
        (
            "gemini-3-flash-preview",
            {"reasoning_effort": "low", "thinking_budget": 9000},
            {"thinkingLevel": "LOW"},
        ),
        ("gemini-3-flash-preview", {"thinking_budget": 9000}, {"thinkingBudget": 9000}),
        # Gemini 2.5: budgets
        ("gemini-2.5-flash", {"reasoning_effort": "none"}, {"thinkingBudget": 0}),
        ("gemini-2.5-flash", {"reasoning_effort": "max"}, {"thinkingBudget": 24576}),
        ("gemini-2.5-flash", {"reasoning_effort": "medium"}, {"thinkingBudget": 8192}),
        ("gemini-2.5-pro", {"reasoning_effort": "none"}, {"thinkingBudget": 128}),
        ("gemini-2.5-pro", {"reasoning_effort": "max"}, {"thinkingBudget": 32768}),
        ("gemini-2.5-pro", {"thinking_budget": 0}, {"thinkingBudget": 128}),
        ("gemini-2.5-flash-lite", {"reasoning_effort": "minimal"}, {"thinkingBudget": 512}),
        (
            "gemini-2.5-flash",
            {"reasoning_effort": "high", "thinking_budget": 2048},
            {"thinkingBudget": 2048},
        ),
        # no thinking
        ("gemini-2.0-flash", {"reasoning_effort": "high"}, None),
    ],
)
async def test_reasoning_options_per_family(server, model, options, expected):
    server.replies.append(gemini_stream("ok"))
    await collect(backend(server, model, **options))
    config = server.requests[0].body.get("generationConfig", {}).get("thinkingConfig")
    assert config == expected
    if config:
        genai.ThinkingConfig.model_validate(
            {
                {"thinkingLevel": "thinking_level", "thinkingBudget": "thinking_budget"}[k]: v
                for k, v in config.items()
            }
        )


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        ("MALFORMED_FUNCTION_CALL", "tool_call_error"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("MAX_TOKENS", "length"),
        ("OTHER", "other"),
        ("LANGUAGE", "other"),
    ],
)
async def test_finish_reasons(server, finish, reason):
    genai.FinishReason(finish)  # the official enum knows it
    server.replies.append(Reply(chunks=[_gemini_chunk([{"text": "x"}], finish=finish)]))
    chunks = await collect(backend(server))
    assert chunks[-1].finish_reason == reason


RAW_ERROR = (
    b'[{\n  "error": {\n    "code": 503,\n    "message": "The model is overloaded. Please try '
    b'again later.",\n    "status": "UNAVAILABLE"\n  }\n}\n]'
)


@pytest.mark.parametrize("raw", [RAW_ERROR, RAW_ERROR[1:-1]])
async def test_a_raw_json_error_after_text_keeps_googles_message(server, raw):
    text = gemini_stream("Hello there, half an answer").chunks[:2]
    server.replies += [Reply(chunks=[*text, raw]), gemini_stream("dup")]
    seen = []
    with pytest.raises(LLMServerError, match="The model is overloaded") as caught:
        async for chunk in backend(server).stream(LLMRequest(messages=(Message("user", "x"),))):
            seen.append(chunk)
    assert "UNAVAILABLE" in str(caught.value)
    assert [c.text for c in seen if isinstance(c, TextChunk)] == ["Hello ", "there,"]
    assert len(server.requests) == 1  # text was out: no retry


async def test_a_raw_json_error_before_text_is_retried(server):
    server.replies += [Reply(chunks=[RAW_ERROR]), gemini_stream("fine")]
    chunks = await collect(backend(server))
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "fine"
