"""kt_openai against a loopback server that streams the real Chat Completions / Responses format.

The official `openai` SDK reads every scripted stream first (a fake it cannot parse fails the
test), then our backend and a whole `kt.Agent` run through the same bytes.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest
import trio
from fake_llm_servers import (
    SECRET_KEY,
    Reply,
    openai_context_overflow,
    openai_error,
    openai_rate_limited,
    openai_text,
    openai_text_chunks,
    openai_tool_calls,
    openai_usage,
    responses_stream,
)

import kt
import kt_openai
from kt.events import TextDelta, TurnCompleted, to_wire
from kt.llm import ContentPart, LLMDone, LLMProfile, LLMRequest, Message, TextChunk, ToolCall

FAST_RETRY = {"max_retries": 2, "base_delay": 0.01, "max_delay": 0.5}


def kernel() -> kt.Kernel:
    return kt.Kernel(plugins=[kt_openai])


def backend(server, **options) -> kt.LLM:
    """The `openai` backend built by its factory, pointed at the fake server."""
    options.setdefault("retry_policy", FAST_RETRY)
    profile = LLMProfile(
        name="openai/gpt-4o-mini",
        backend="openai",
        model="gpt-4o-mini",
        base_url=f"{server.url}/v1",
        api_key=SECRET_KEY,
        options=options,
    )
    return kernel().llm_backends["openai"].factory(profile)


async def collect(llm, request: LLMRequest) -> list:
    chunks = []
    async for chunk in llm.stream(request):
        chunks.append(chunk)
    return chunks


def ask(text="hi", **kw) -> LLMRequest:
    return LLMRequest(messages=(Message("system", "Be brief."), Message("user", text)), **kw)


WEATHER = kt.ToolSchema(
    "get_weather",
    "Weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


# -- the fakes are faithful: the official SDK parses them -----------------------------------------


def sdk(server, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=SECRET_KEY, **kw)


def test_sdk_reads_the_fake_text_stream_with_usage(server):
    server.replies.append(openai_text("Hello there, world!", usage=openai_usage(19, 10, cached=6)))
    with sdk(server).chat.completions.stream(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        stream_options={"include_usage": True},
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello there, world!"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage.prompt_tokens_details.cached_tokens == 6
    assert final.usage.completion_tokens_details.reasoning_tokens == 0


def test_sdk_reads_interleaved_parallel_tool_call_deltas(server):
    calls = [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Oslo"}),
    ]
    server.replies.append(openai_tool_calls(calls, interleave=True))
    with sdk(server).chat.completions.stream(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": dict(WEATHER.parameters)},
            }
        ],
    ) as stream:
        final = stream.get_final_completion()
    tool_calls = final.choices[0].message.tool_calls
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Oslo"}),
    ]
    assert final.choices[0].finish_reason == "tool_calls"


def test_sdk_reads_the_fake_error_bodies(server):
    server.replies += [openai_context_overflow(), openai_rate_limited("0"), openai_text("ok")]
    client = sdk(server, max_retries=1)
    with pytest.raises(openai.BadRequestError) as overflow:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    assert overflow.value.code == "context_length_exceeded"
    assert overflow.value.type == "invalid_request_error"
    stream = client.chat.completions.create(  # 429 first: the SDK retries, as we do
        model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "ok"
    assert len(server.requests) == 3


def test_sdk_reads_the_fake_responses_stream(server):
    server.replies.append(
        responses_stream("Hi from responses.", [("call_1", "get_weather", {"city": "Rome"})])
    )
    with sdk(server).responses.stream(model="gpt-4.1", input="hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Hi from responses."
    call = final.output[1]
    assert (call.call_id, call.name, json.loads(call.arguments)) == (
        "call_1",
        "get_weather",
        {"city": "Rome"},
    )
    assert final.usage.input_tokens_details.cached_tokens == 12


# -- httpx itself on trio ------------------------------------------------------------------------


async def test_httpx_streams_under_trio(server):
    server.replies.append(openai_text("abc"))
    async with httpx.AsyncClient() as client:
        async with client.stream("POST", f"{server.url}/v1/chat/completions", json={}) as reply:
            body = b"".join([chunk async for chunk in reply.aiter_bytes()])
    assert reply.status_code == 200
    assert body.endswith(b"data: [DONE]\n\n")


# -- our backend on the same streams -------------------------------------------------------------


async def test_text_streams_as_it_arrives_and_usage_comes_last(server):
    server.replies.append(
        openai_text("Hello there, world!", usage=openai_usage(19, 10, cached=6, reasoning=3))
    )
    chunks = await collect(backend(server), ask())
    texts = [c.text for c in chunks if isinstance(c, TextChunk)]
    assert texts == ["Hell", "o th", "ere,", " wor", "ld!"]
    done = chunks[-1]
    assert isinstance(done, LLMDone) and done.finish_reason == "stop"
    assert done.usage == kt.Usage(19, 10, 29, cached_tokens=6, reasoning_tokens=3)


async def test_request_body_and_headers(server):
    server.replies.append(openai_text("ok"))
    llm = backend(server, temperature=0.3, extra_body={"metadata": {"a": 1}, "top_k": 5})
    request = LLMRequest(
        messages=(
            Message("system", "sys"),
            Message(
                "user",
                (
                    ContentPart("text", text="look"),
                    ContentPart("image_url", image_url="data:image/png;base64,AAAA"),
                ),
            ),
            Message(
                "assistant", "", tool_calls=(ToolCall("get_weather", {"city": "Paris"}, "call_1"),)
            ),
            Message("tool", "sunny", tool_call_id="call_1", name="get_weather"),
        ),
        tools=(WEATHER,),
        options={"max_tokens": 50, "reasoning_effort": "low", "extra_body": {"metadata": {"b": 2}}},
    )
    await collect(llm, request)
    (sent,) = server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {SECRET_KEY}"
    body = sent.body
    assert body["model"] == "gpt-4o-mini" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.3 and body["max_completion_tokens"] == 50
    assert "reasoning_effort" not in body  # gpt-4o-mini does not reason: OpenAI would say 400
    assert body["metadata"] == {"a": 1, "b": 2} and body["top_k"] == 5  # extra_body deep-merged
    assert body["messages"][1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,AAAA"},
    }
    assert body["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    assert body["tools"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize("interleave", [False, True])
async def test_parallel_tool_calls_are_assembled_from_deltas(server, interleave):
    calls = [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Oslo, Norway"}),
    ]
    server.replies.append(openai_tool_calls(calls, interleave=interleave, split=3))
    chunks = await collect(backend(server), ask(tools=(WEATHER,)))
    assert [c for c in chunks if isinstance(c, ToolCall)] == [
        ToolCall("get_weather", {"city": "Paris"}, "call_a"),
        ToolCall("get_weather", {"city": "Oslo, Norway"}, "call_b"),
    ]
    assert chunks[-1].finish_reason == "tool_calls"


async def test_sequential_calls_are_yielded_before_the_stream_ends(server):
    calls = [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Oslo"}),
    ]
    reply = openai_tool_calls(calls)
    gate = trio.Event()
    # Hold the stream right after the second call starts: the first must already be out.
    start_b = next(i for i, c in enumerate(reply.chunks) if b'"id": "call_b"' in c)
    import threading

    release = threading.Event()
    reply.gate, reply.gate_at = release, start_b + 1
    server.replies.append(reply)
    seen = []
    async with trio.open_nursery() as nursery:

        async def consume():
            async for chunk in backend(server).stream(ask(tools=(WEATHER,))):
                seen.append(chunk)
                if isinstance(chunk, ToolCall):
                    gate.set()

        nursery.start_soon(consume)
        await gate.wait()
        assert [c.id for c in seen if isinstance(c, ToolCall)] == ["call_a"]
        release.set()
    assert [c.id for c in seen if isinstance(c, ToolCall)] == ["call_a", "call_b"]


async def test_bad_arguments_reach_the_kernel_as_raw_text(server):
    reply = openai_tool_calls([("call_a", "get_weather", {"city": "Paris"})], split=100)
    reply.chunks = [c.replace(b'{\\"city\\": \\"Paris\\"}', b"{city: Paris") for c in reply.chunks]
    server.replies.append(reply)
    result = await collect(backend(server), ask(tools=(WEATHER,)))
    (call,) = [c for c in result if isinstance(c, ToolCall)]
    assert call.args == "{city: Paris"


async def test_reasoning_content_is_kept_in_meta_not_shown(server):
    chunks = openai_text_chunks(["Answer."])
    thought = b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"Let me think."},"finish_reason":null}]}\n\n'
    server.replies.append(Reply(chunks=[chunks[0], thought, *chunks[1:]]))
    result = await collect(backend(server), ask())
    assert [c.text for c in result if isinstance(c, TextChunk)] == ["Answer."]
    assert result[-1].meta == {"reasoning_content": "Let me think."}


async def test_responses_api_when_the_profile_asks(server):
    server.replies.append(
        responses_stream("Hi there.", [("call_1", "get_weather", {"city": "Rome"})])
    )
    request = LLMRequest(
        messages=(Message("system", "sys"), Message("user", "hi")),
        tools=(WEATHER,),
        options={"max_tokens": 9},
    )
    chunks = await collect(backend(server, api="responses"), request)
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "Hi there."
    assert [c for c in chunks if isinstance(c, ToolCall)] == [
        ToolCall("get_weather", {"city": "Rome"}, "call_1")
    ]
    assert chunks[-1].usage == kt.Usage(36, 87, 123, cached_tokens=12, reasoning_tokens=5)
    body = server.requests[0].body
    assert server.requests[0].path == "/v1/responses"
    assert body["instructions"] == "sys" and body["input"] == [{"role": "user", "content": "hi"}]
    assert body["tools"][0]["name"] == "get_weather" and body["max_output_tokens"] == 9


# -- errors and retries --------------------------------------------------------------------------


async def test_429_is_retried_after_retry_after_and_text_is_not_duplicated(server):
    server.replies += [openai_rate_limited("0.05"), openai_text("Once only.")]
    t0 = trio.current_time()
    chunks = await collect(backend(server), ask())
    assert trio.current_time() - t0 >= 0.05
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "Once only."
    assert len(server.requests) == 2


async def test_rate_limit_error_when_retries_run_out(server):
    server.replies += [openai_rate_limited("0")] * 3
    with pytest.raises(kt.LLMRateLimitError) as caught:
        await collect(backend(server), ask())
    assert caught.value.retry_after == 0
    assert "HTTP 429 tokens/rate_limit_exceeded" in str(caught.value)
    assert len(server.requests) == 3  # 1 + max_retries=2


@pytest.mark.parametrize(
    ("reply", "error", "calls"),
    [
        (openai_context_overflow(), kt.LLMContextOverflowError, 1),
        (
            openai_error(
                401,
                f"Incorrect API key provided: {SECRET_KEY}.",
                "invalid_request_error",
                "invalid_api_key",
            ),
            kt.LLMAuthError,
            1,
        ),
        (
            openai_error(400, "Invalid 'messages'", "invalid_request_error"),
            kt.LLMBadRequestError,
            1,
        ),
        (
            openai_error(
                429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota"
            ),
            kt.LLMRateLimitError,
            1,
        ),
    ],
)
async def test_errors_are_typed_summarised_and_not_retried(server, reply, error, calls):
    server.replies += [reply, openai_text("never")]
    with pytest.raises(error) as caught:
        await collect(backend(server), ask())
    assert len(server.requests) == calls
    message = str(caught.value)
    assert message.startswith("openai: HTTP ")
    assert SECRET_KEY not in message
    assert '{"error"' not in message  # summarised, not dumped


async def test_server_errors_are_retried(server):
    server.replies += [openai_error(503, "overloaded", "server_error"), openai_text("back")]
    chunks = await collect(backend(server), ask())
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "back"


async def test_an_error_inside_the_stream_is_typed(server):
    first = openai_text_chunks(["Hi"])[:2]
    error = b'data: {"error": {"message": "The server had an error", "type": "server_error", "code": null}}\n\n'
    server.replies.append(Reply(chunks=[*first, error]))
    with pytest.raises(kt.LLMError) as caught:
        await collect(backend(server), ask())
    assert "server_error" in str(caught.value)
    assert len(server.requests) == 1  # text was already out: no retry


async def test_a_stream_cut_after_text_fails_without_retry(server):
    server.replies += [
        Reply(chunks=openai_text_chunks(["Hel", "lo"])[:2], cut=True),
        openai_text("dup"),
    ]
    seen = []
    with pytest.raises(kt.LLMConnectionError):
        async for chunk in backend(server).stream(ask()):
            seen.append(chunk)
    assert seen == [TextChunk("Hel")]
    assert len(server.requests) == 1


async def test_a_stream_cut_before_any_text_is_retried(server):
    server.replies += [Reply(chunks=openai_text_chunks([])[:1], cut=True), openai_text("fine")]
    chunks = await collect(backend(server), ask())
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "fine"


async def test_connection_refused_is_a_connection_error():
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    class Dead:
        url = f"http://127.0.0.1:{port}"

    with pytest.raises(kt.LLMConnectionError, match="cannot connect"):
        await collect(backend(Dead(), retry_policy={"max_retries": 0}), ask())


async def test_a_stalled_stream_times_out(server):
    server.replies.append(Reply(chunks=openai_text_chunks(["Hel"])[:2], hold=True))
    with pytest.raises(kt.LLMTimeoutError, match="no answer within the timeout"):
        await collect(backend(server, timeout=0.3), ask())
    assert await trio.to_thread.run_sync(server.disconnected.wait, 5)


async def test_missing_key_is_a_build_error_naming_the_fix(monkeypatch):
    profile = LLMProfile(name="openai/gpt-4o", backend="openai", model="gpt-4o")
    with pytest.raises(kt.LLMNotConfiguredError, match="kt login openai.*OPENAI_API_KEY"):
        kernel().llm_backends["openai"].factory(profile)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert kernel().llm_backends["openai"].factory(profile).model == "gpt-4o"


def test_local_providers_need_no_key():
    profile = LLMProfile(name="ollama/llama3.2", backend="ollama", model="llama3.2")
    llm = kernel().llm_backends["ollama"].factory(profile)
    assert llm.base_url == "http://localhost:11434/v1"
    assert "SECRET" not in repr(llm)


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
    server.replies.append(openai_text("Hello from the fake."))
    async with await build_agent(server) as agent:
        result = await agent.run("hi")
    assert result.status == "completed" and result.text == "Hello from the fake."
    assert result.usage.prompt_tokens == 19
    body = server.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]


async def test_agent_parallel_tool_calls_round_trip(server):
    calls = [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Oslo"}),
    ]
    server.replies += [openai_tool_calls(calls, interleave=True), openai_text("Both sunny.")]
    async with await build_agent(server) as agent:
        result = await agent.run("weather in Paris and Oslo?")
    assert result.status == "completed" and result.text == "Both sunny."
    assert [(c.id, c.output) for c in result.tool_calls] == [
        ("call_a", "sunny in Paris"),
        ("call_b", "sunny in Oslo"),
    ]
    second = server.requests[1].body["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool", "tool"]
    assert [m["tool_call_id"] for m in second[3:]] == ["call_a", "call_b"]
    assert second[2]["tool_calls"][1]["function"]["arguments"] == '{"city": "Oslo"}'


async def test_agent_retries_after_429(server):
    server.replies += [openai_rate_limited("0.01"), openai_text("After the wait.")]
    async with await build_agent(server) as agent:
        result = await agent.run("hi")
    assert result.text == "After the wait." and len(server.requests) == 2


async def test_agent_context_overflow_is_the_turn_error(server):
    server.replies.append(openai_context_overflow())
    async with await build_agent(server) as agent:
        result = await agent.run("a very long question")
        assert result.status == "error"
        assert isinstance(result.error, kt.LLMContextOverflowError)
        assert kt.history.is_well_formed(agent.history)
        server.replies.append(openai_text("Recovered."))
        assert (await agent.run("shorter")).text == "Recovered."


async def test_agent_interrupt_mid_stream_closes_the_connection(server):
    server.replies.append(Reply(chunks=openai_text_chunks(["Partial ", "never"])[:2], hold=True))
    async with await build_agent(server) as agent:
        async with agent.run_stream("go") as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    agent.interrupt()
                if isinstance(event, TurnCompleted):
                    result = event.result
    assert result.status == "interrupted" and result.text.strip() == "Partial"
    assert await trio.to_thread.run_sync(server.disconnected.wait, 5)


async def test_agent_stalled_stream_fails_the_turn_with_a_timeout(server):
    server.replies.append(Reply(chunks=openai_text_chunks(["Hel"])[:2], hold=True))
    async with await build_agent(server, timeout=0.3) as agent:
        result = await agent.run("go")
    assert result.status == "error" and isinstance(result.error, kt.LLMTimeoutError)


async def test_the_key_never_reaches_events_or_errors(server, caplog):
    server.replies.append(
        openai_error(
            401,
            f"Incorrect API key provided: {SECRET_KEY}",
            "invalid_request_error",
            "invalid_api_key",
        )
    )
    recorder = kt.testing.EventRecorder()
    async with await kt.Agent.build(
        {"name": "t"}, llm=backend(server), kernel=kernel(), plugins=[recorder]
    ) as agent:
        result = await agent.run("hi")
    assert isinstance(result.error, kt.LLMAuthError)
    wire = json.dumps([to_wire(e) for e in recorder.events], default=str)
    assert SECRET_KEY not in wire
    assert SECRET_KEY not in str(result.error) and SECRET_KEY not in repr(agent.llm)
    assert SECRET_KEY not in caplog.text


async def test_connections_are_reused_across_calls(server):
    server.replies += [openai_text("one"), responses_stream("two"), openai_text("three")]
    llm = backend(server)
    await collect(llm, ask())
    await collect(backend(server, api="responses"), ask())  # another backend: the same pool
    await collect(llm, ask())
    assert len(server.requests) == 3
    assert server.connections == 1  # every backend of the run shares one client and pool
