"""kt_anthropic against a loopback server that streams the real Messages API format.

The official `anthropic` SDK reads every scripted stream first (a fake it cannot parse fails
the test); then our backend and a whole `kt.Agent` run through the same bytes.
"""

from __future__ import annotations

import json

import anthropic
import pytest
import trio
from fake_llm_servers import SECRET_KEY, Reply, anthropic_error, anthropic_stream

import kt
import kt_anthropic
from kt.events import TextDelta, TurnCompleted
from kt.llm import ContentPart, LLMDone, LLMProfile, LLMRequest, Message, TextChunk, ToolCall

FAST_RETRY = {"max_retries": 2, "base_delay": 0.01, "max_delay": 0.5}
WEATHER = kt.ToolSchema(
    "get_weather",
    "Weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def overflow() -> Reply:
    return anthropic_error(
        400, "invalid_request_error", "prompt is too long: 213456 tokens > 200000 maximum"
    )


def rate_limited(after="0.02") -> Reply:
    return anthropic_error(
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50,000 input tokens per minute.",
        {"retry-after": after, "anthropic-ratelimit-input-tokens-remaining": "0"},
    )


def kernel() -> kt.Kernel:
    return kt.Kernel(plugins=[kt_anthropic])


def backend(server, **options) -> kt.LLM:
    options.setdefault("retry_policy", FAST_RETRY)
    profile = LLMProfile(
        name="anthropic/claude-haiku-4-5",
        backend="anthropic",
        model="claude-haiku-4-5",
        base_url=server.url,
        api_key=SECRET_KEY,
        options=options,
    )
    return kernel().llm_backends["anthropic"].factory(profile)


async def collect(llm, request: LLMRequest) -> list:
    return [chunk async for chunk in llm.stream(request)]


def ask(text="hi", **kw) -> LLMRequest:
    return LLMRequest(messages=(Message("system", "Be brief."), Message("user", text)), **kw)


# -- the fakes are faithful: the official SDK parses them -----------------------------------------


def sdk(server, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=SECRET_KEY, **kw)


def test_sdk_reads_text_thinking_and_tool_use_with_cache_usage(server):
    server.replies.append(
        anthropic_stream(
            [
                ("thinking", ("I should check the weather.", "EqQBCgIYAhIM1gbcDa9GJwZA")),
                ("text", "Let me check."),
                ("tool_use", ("toolu_01A", "get_weather", {"city": "Paris"})),
                ("tool_use", ("toolu_01B", "get_weather", {"city": "Oslo"})),
            ],
            cache_read=100,
            cache_write=20,
        )
    )
    with sdk(server).messages.stream(
        model="claude-haiku-4-5", max_tokens=1024, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = stream.get_final_message()
    thinking, text, call_a, call_b = final.content
    assert (thinking.type, thinking.thinking, thinking.signature) == (
        "thinking",
        "I should check the weather.",
        "EqQBCgIYAhIM1gbcDa9GJwZA",
    )
    assert text.text == "Let me check."
    assert (call_a.id, call_a.name, call_a.input) == ("toolu_01A", "get_weather", {"city": "Paris"})
    assert call_b.input == {"city": "Oslo"}
    assert final.stop_reason == "tool_use"
    assert (final.usage.cache_read_input_tokens, final.usage.cache_creation_input_tokens) == (
        100,
        20,
    )
    assert final.usage.output_tokens == 15


def test_sdk_reads_the_fake_error_bodies(server):
    server.replies += [overflow(), rate_limited("0"), anthropic_stream([("text", "ok")])]
    client = sdk(server, max_retries=1)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    with client.messages.stream(  # the 429 is retried by the SDK, as by us
        model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        assert stream.get_final_message().content[0].text == "ok"
    assert len(server.requests) == 3


def test_sdk_sees_an_in_stream_overloaded_error(server):
    chunks = anthropic_stream([("text", "Hi")]).chunks[:3]
    error = b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    server.replies.append(Reply(chunks=[*chunks, error]))
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        with sdk(server, max_retries=0).messages.stream(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            stream.get_final_message()


# -- our backend on the same streams -------------------------------------------------------------


async def test_text_thinking_and_calls_as_chunks(server):
    server.replies.append(
        anthropic_stream(
            [
                ("thinking", ("Hmm.", "sig-1")),
                ("text", "Let me check."),
                ("tool_use", ("toolu_01A", "get_weather", {"city": "Paris"})),
            ],
            input_tokens=10,
            cache_read=100,
            cache_write=20,
            output_tokens=30,
        )
    )
    chunks = await collect(backend(server), ask(tools=(WEATHER,)))
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "Let me check."
    assert [c for c in chunks if isinstance(c, ToolCall)] == [
        ToolCall("get_weather", {"city": "Paris"}, "toolu_01A")
    ]
    done = chunks[-1]
    assert isinstance(done, LLMDone) and done.finish_reason == "tool_calls"
    assert done.usage == kt.Usage(130, 30, 160, cached_tokens=100, cache_write_tokens=20)
    assert done.meta == {
        "anthropic_thinking": [{"type": "thinking", "thinking": "Hmm.", "signature": "sig-1"}]
    }


async def test_request_shape_roles_merged_thinking_kept_cache_marked(server):
    server.replies.append(anthropic_stream([("text", "ok")]))
    thinking = [{"type": "thinking", "thinking": "Hmm.", "signature": "sig-1"}]
    request = LLMRequest(
        messages=(
            Message("system", "Be brief."),
            Message(
                "user",
                (
                    ContentPart("text", text="look"),
                    ContentPart("image_url", image_url="data:image/png;base64,iVBO"),
                ),
            ),
            Message(
                "assistant",
                "Checking.",
                tool_calls=(
                    ToolCall("get_weather", {"city": "Paris"}, "toolu_a"),
                    ToolCall("get_weather", {"city": "Oslo"}, "toolu_b"),
                ),
                meta={"anthropic_thinking": thinking},
            ),
            Message("tool", "sunny", tool_call_id="toolu_a", name="get_weather"),
            Message("tool", "rain", tool_call_id="toolu_b", name="get_weather"),
            Message("user", "and tomorrow?"),
        ),
        tools=(WEATHER,),
        options={"temperature": 0.2, "max_tokens": 500},
    )
    await collect(backend(server), request)
    (sent,) = server.requests
    assert sent.path == "/v1/messages"
    assert (
        sent.headers["x-api-key"] == SECRET_KEY
        and sent.headers["anthropic-version"] == "2023-06-01"
    )
    body = sent.body
    assert body["system"] == [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city.",
            "input_schema": dict(WEATHER.parameters),
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    user, assistant, results = body["messages"]
    assert user["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
    }
    assert assistant["content"] == [
        *thinking,
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {"city": "Oslo"}},
    ]
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_a", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_b", "content": "rain"},
        {"type": "text", "text": "and tomorrow?", "cache_control": {"type": "ephemeral"}},
    ]
    assert body["temperature"] == 0.2 and body["max_tokens"] == 500 and body["stream"] is True


async def test_reasoning_effort_and_thinking_budget(server):
    server.replies += [anthropic_stream([("text", "ok")]), anthropic_stream([("text", "ok")])]
    await collect(backend(server, reasoning_effort="high", temperature=0.5), ask())
    body = server.requests[0].body  # Haiku 4.5 thinks with a budget and takes no effort
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 20_000}
    assert "output_config" not in body and "temperature" not in body
    await collect(backend(server, thinking_budget=16384, temperature=0.5), ask())
    body = server.requests[1].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 16384}
    assert body["max_tokens"] > 16384 and "temperature" not in body


async def test_prompt_caching_can_be_turned_off(server):
    server.replies.append(anthropic_stream([("text", "ok")]))
    await collect(backend(server, prompt_caching=False), ask())
    assert "cache_control" not in json.dumps(server.requests[0].body)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (overflow(), kt.LLMContextOverflowError),
        (anthropic_error(401, "authentication_error", "invalid x-api-key"), kt.LLMAuthError),
        (
            anthropic_error(400, "invalid_request_error", "messages: roles must alternate"),
            kt.LLMBadRequestError,
        ),
    ],
)
async def test_errors_are_typed_and_not_retried(server, reply, error):
    server.replies += [reply, anthropic_stream([("text", "never")])]
    with pytest.raises(error) as caught:
        await collect(backend(server), ask())
    assert len(server.requests) == 1
    assert str(caught.value).startswith("anthropic: HTTP ") and SECRET_KEY not in str(caught.value)


async def test_overloaded_529_and_429_are_retried(server):
    server.replies += [
        anthropic_error(529, "overloaded_error", "Overloaded"),
        rate_limited(),
        anthropic_stream([("text", "finally")]),
    ]
    chunks = await collect(backend(server), ask())
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "finally"
    assert len(server.requests) == 3


async def test_an_overloaded_event_after_text_fails_without_retry(server):
    chunks = anthropic_stream([("text", "Hi there")]).chunks[:4]
    error = b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    server.replies += [Reply(chunks=[*chunks, error]), anthropic_stream([("text", "dup")])]
    with pytest.raises(kt.LLMError, match="overloaded_error"):
        await collect(backend(server), ask())
    assert len(server.requests) == 1


async def test_a_stream_cut_mid_way_is_a_connection_error(server):
    server.replies.append(
        Reply(chunks=anthropic_stream([("text", "Hi there")]).chunks[:4], cut=True)
    )
    with pytest.raises(kt.LLMConnectionError):
        await collect(backend(server), ask())


async def test_missing_key_names_the_fix():
    profile = LLMProfile(
        name="anthropic/claude-haiku-4-5", backend="anthropic", model="claude-haiku-4-5"
    )
    with pytest.raises(kt.LLMNotConfiguredError, match="kt login anthropic.*ANTHROPIC_API_KEY"):
        kernel().llm_backends["anthropic"].factory(profile)


# -- kt.Agent end to end -------------------------------------------------------------------------


@kt.tool(concurrency_safe=True)
async def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return f"sunny in {city}"


async def build_agent(server, **options):
    return await kt.Agent.build(
        {"name": "t", "system_prompt": "Be brief."},
        llm=backend(server, **options),
        tools=[get_weather],
        kernel=kernel(),
    )


async def test_agent_text_turn(server):
    server.replies.append(anthropic_stream([("text", "Hello from Claude.")]))
    async with await build_agent(server) as agent:
        result = await agent.run("hi")
    assert result.status == "completed" and result.text == "Hello from Claude."
    assert result.usage.prompt_tokens == 25


async def test_agent_parallel_tool_calls_and_thinking_round_trip(server):
    server.replies += [
        anthropic_stream(
            [
                ("thinking", ("Two cities.", "sig-9")),
                ("tool_use", ("toolu_a", "get_weather", {"city": "Paris"})),
                ("tool_use", ("toolu_b", "get_weather", {"city": "Oslo"})),
            ]
        ),
        anthropic_stream([("text", "Both sunny.")]),
    ]
    async with await build_agent(server) as agent:
        result = await agent.run("weather?")
    assert result.text == "Both sunny."
    assert [(c.id, c.output) for c in result.tool_calls] == [
        ("toolu_a", "sunny in Paris"),
        ("toolu_b", "sunny in Oslo"),
    ]
    second = server.requests[1].body["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[1]["content"][0] == {
        "type": "thinking",
        "thinking": "Two cities.",
        "signature": "sig-9",
    }
    assert [b["tool_use_id"] for b in second[2]["content"]] == ["toolu_a", "toolu_b"]


async def test_agent_retries_after_429(server):
    server.replies += [rate_limited("0.01"), anthropic_stream([("text", "After the wait.")])]
    async with await build_agent(server) as agent:
        result = await agent.run("hi")
    assert result.text == "After the wait." and len(server.requests) == 2


async def test_agent_context_overflow_is_the_turn_error(server):
    server.replies.append(overflow())
    async with await build_agent(server) as agent:
        result = await agent.run("long")
    assert result.status == "error" and isinstance(result.error, kt.LLMContextOverflowError)


async def test_agent_interrupt_mid_stream_closes_the_connection(server):
    server.replies.append(
        Reply(chunks=anthropic_stream([("text", "Partial answer")]).chunks[:4], hold=True)
    )
    async with await build_agent(server) as agent:
        async with agent.run_stream("go") as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    agent.interrupt()
                if isinstance(event, TurnCompleted):
                    result = event.result
    assert result.status == "interrupted" and result.text == "Parti"
    assert await trio.to_thread.run_sync(server.disconnected.wait, 5)


async def test_agent_stalled_stream_times_out(server):
    server.replies.append(
        Reply(chunks=anthropic_stream([("text", "Partial")]).chunks[:4], hold=True)
    )
    async with await build_agent(server, timeout=0.3) as agent:
        result = await agent.run("go")
    assert result.status == "error" and isinstance(result.error, kt.LLMTimeoutError)


async def test_connections_are_reused_across_calls(server):
    server.replies += [anthropic_stream([("text", "one")]), anthropic_stream([("text", "two")])]
    llm = backend(server)
    await collect(llm, ask())
    await collect(llm, ask())
    assert server.connections == 1
