"""kt_anthropic: reasoning options per Claude family, and the stop reasons kt did not map.

Every mapping is checked on the body our backend sends to a loopback server, and the body is
checked against the official SDK's request types, so a field name we invent fails here.
"""

from __future__ import annotations

import anthropic
import pytest
from fake_llm_servers import SECRET_KEY, anthropic_stream

import kt
import kt_anthropic
from kt.llm import LLMProfile, LLMRequest, Message
from kt_anthropic.thinking import family_of


def backend(server, model: str, **options) -> kt.LLM:
    profile = LLMProfile(
        name=f"anthropic/{model}",
        backend="anthropic",
        model=model,
        base_url=server.url,
        api_key=SECRET_KEY,
        options={"retry_policy": {"max_retries": 0}, **options},
    )
    return kt.Kernel(plugins=[kt_anthropic]).llm_backends["anthropic"].factory(profile)


async def sent_body(server, model: str, **options) -> dict:
    server.replies.append(anthropic_stream([("text", "ok")]))
    request = LLMRequest(messages=(Message("user", "hi"),))
    _ = [chunk async for chunk in backend(server, model, **options).stream(request)]
    return server.requests[-1].body


@pytest.mark.parametrize(
    ("model", "options", "thinking", "effort"),
    [
        # adaptive only: Opus 4.7 and the 5th generation
        ("claude-opus-4-7", {"reasoning_effort": "high"}, {"type": "adaptive"}, "high"),
        ("claude-opus-4-7", {"reasoning_effort": "xhigh"}, {"type": "adaptive"}, "xhigh"),
        ("claude-opus-4-7", {"reasoning_effort": "max"}, {"type": "adaptive"}, "max"),
        ("claude-opus-4-7", {"reasoning_effort": "minimal"}, None, "low"),
        ("claude-opus-4-7", {"reasoning_effort": "none"}, None, "low"),
        ("claude-opus-4-7", {"thinking_budget": 2000}, {"type": "adaptive"}, "low"),
        ("claude-opus-4-7", {"thinking_budget": 30000}, {"type": "adaptive"}, "high"),
        ("claude-sonnet-5", {"reasoning_effort": "medium"}, {"type": "adaptive"}, "medium"),
        # adaptive: Opus 4.6 and Sonnet 4.6 (no xhigh)
        ("claude-sonnet-4-6", {"reasoning_effort": "low"}, {"type": "adaptive"}, "low"),
        ("claude-sonnet-4-6", {"reasoning_effort": "xhigh"}, {"type": "adaptive"}, "high"),
        ("claude-opus-4-6", {"reasoning_effort": "max"}, {"type": "adaptive"}, "max"),
        ("claude-opus-4-6", {"reasoning_effort": "minimal"}, {"type": "adaptive"}, "low"),
        ("claude-sonnet-4-6", {"reasoning_effort": "none"}, None, None),
        ("claude-sonnet-4-6", {"thinking_budget": 8000}, {"type": "adaptive"}, "medium"),
        ("claude-sonnet-4-6", {"thinking_budget": 0}, None, None),
        (
            "claude-sonnet-4-6",
            {"thinking_budget": 30000, "reasoning_effort": "low"},
            {"type": "adaptive"},
            "low",
        ),
        # effort + budget: Opus 4.5
        (
            "claude-opus-4-5-20251101",
            {"reasoning_effort": "max"},
            {"type": "enabled", "budget_tokens": 48000},
            "high",
        ),
        # budget only: Haiku 4.5, Sonnet 4.5, Opus 4.1, Sonnet 3.7
        (
            "claude-haiku-4-5",
            {"reasoning_effort": "low"},
            {"type": "enabled", "budget_tokens": 4096},
            None,
        ),
        (
            "claude-sonnet-4-5-20250929",
            {"thinking_budget": 12000},
            {"type": "enabled", "budget_tokens": 12000},
            None,
        ),
        (
            "claude-opus-4-1",
            {"thinking_budget": 100},
            {"type": "enabled", "budget_tokens": 1024},
            None,
        ),
        ("claude-haiku-4-5", {"reasoning_effort": "none"}, None, None),
        (
            "claude-3-7-sonnet-20250219",
            {"reasoning_effort": "medium"},
            {"type": "enabled", "budget_tokens": 10000},
            None,
        ),
        # no thinking at all
        ("claude-3-5-haiku-20241022", {"reasoning_effort": "high"}, None, None),
        # an Anthropic-format gateway serving another vendor's model
        (
            "kimi-for-coding",
            {"reasoning_effort": "high"},
            {"type": "enabled", "budget_tokens": 20000},
            None,
        ),
    ],
)
async def test_reasoning_options_per_family(server, model, options, thinking, effort):
    body = await sent_body(server, model, temperature=0.7, **options)
    assert body.get("thinking") == thinking
    assert (body.get("output_config") or {}).get("effort") == effort
    if thinking:
        assert "temperature" not in body  # thinking allows only the default
        assert body["max_tokens"] > thinking.get("budget_tokens", 0)
    else:
        assert body["temperature"] == 0.7


def test_the_fields_are_the_sdks_own():
    from anthropic.types import message_create_params

    known = set(message_create_params.MessageCreateParamsBase.__annotations__)
    assert {"thinking", "output_config", "max_tokens", "stream"} <= known | {"stream"}
    adaptive = anthropic.types.ThinkingConfigAdaptiveParam.__annotations__
    assert "type" in adaptive


def test_families():
    assert family_of("claude-opus-4-7").thinking == "adaptive-only"
    assert family_of("anthropic/claude-opus-4.6").thinking == "adaptive"
    assert family_of("claude-opus-4-20250514").thinking == "budget"
    assert family_of("claude-3-5-sonnet-latest").thinking == "none"


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("refusal", "content_filter"),
        ("model_context_window_exceeded", "length"),
        ("pause_turn", "length"),
        ("max_tokens", "length"),
        ("end_turn", "stop"),
    ],
)
async def test_stop_reasons_are_mapped(server, stop_reason, finish):
    server.replies.append(anthropic_stream([("text", "partial")], stop_reason=stop_reason))
    request = LLMRequest(messages=(Message("user", "hi"),))
    chunks = [c async for c in backend(server, "claude-sonnet-4-6").stream(request)]
    assert chunks[-1].finish_reason == finish


def test_sdk_reads_the_new_stop_reasons(server):
    server.replies.append(anthropic_stream([("text", "no")], stop_reason="refusal"))
    client = anthropic.Anthropic(base_url=server.url, api_key=SECRET_KEY)
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "refusal"


async def test_max_tokens_stays_within_the_models_output_limit(server):
    # A model that answers at most 20,000 tokens: the max thinking budget must fit inside.
    body = await sent_body(server, "claude-haiku-4-5", reasoning_effort="max", max_output=20000)
    assert body["max_tokens"] == 20000
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 10000}
    assert "max_output" not in body
