"""kt_gemini against a loopback server that streams the real streamGenerateContent format.

The official `google-genai` SDK reads every scripted stream first (a fake it cannot parse
fails the test); then our backend and a whole `kt.Agent` run through the same bytes.
"""

from __future__ import annotations

import pytest
import trio
from fake_llm_servers import SECRET_KEY, Reply, gemini_error, gemini_stream, gemini_usage
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

import kt
import kt_gemini
from kt.events import TextDelta, TurnCompleted
from kt.llm import LLMDone, LLMProfile, LLMRequest, Message, TextChunk, ToolCall

FAST_RETRY = {"max_retries": 2, "base_delay": 0.01, "max_delay": 0.5}
WEATHER = kt.ToolSchema(
    "get_weather",
    "Weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def overflow() -> Reply:
    return gemini_error(
        400,
        "INVALID_ARGUMENT",
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    )


def rate_limited(delay="0.02s") -> Reply:
    return gemini_error(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}],
    )


def kernel() -> kt.Kernel:
    return kt.Kernel(plugins=[kt_gemini])


def backend(server, **options) -> kt.LLM:
    options.setdefault("retry_policy", FAST_RETRY)
    profile = LLMProfile(
        name="gemini/gemini-2.5-flash",
        backend="gemini",
        model="gemini-2.5-flash",
        base_url=f"{server.url}/v1beta",
        api_key=SECRET_KEY,
        options=options,
    )
    return kernel().llm_backends["gemini"].factory(profile)


async def collect(llm, request: LLMRequest) -> list:
    return [chunk async for chunk in llm.stream(request)]


def ask(text="hi", **kw) -> LLMRequest:
    return LLMRequest(messages=(Message("system", "Be brief."), Message("user", text)), **kw)


# -- the fakes are faithful: the official SDK parses them -----------------------------------------


def sdk(server) -> genai.Client:
    return genai.Client(
        api_key=SECRET_KEY,
        http_options=genai_types.HttpOptions(base_url=server.url, api_version="v1beta"),
    )


def test_sdk_reads_text_function_calls_and_usage(server):
    server.replies.append(
        gemini_stream(
            "It is sunny.",
            [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Oslo"})],
            signature="CiQBjz1rX0sigA==",
            usage=gemini_usage(8, 12, thoughts=4, cached=2),
        )
    )
    client = sdk(server)  # kept: a collected client closes its connections
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
    assert "".join(c.text or "" for c in chunks[:-1]) == "It is sunny."
    last = chunks[-1]
    assert [(f.name, f.args) for f in last.function_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Oslo"}),
    ]
    assert last.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert last.candidates[0].content.parts[0].thought_signature
    usage = last.usage_metadata
    assert (
        usage.prompt_token_count,
        usage.thoughts_token_count,
        usage.cached_content_token_count,
    ) == (8, 4, 2)
    assert (
        server.requests[0].path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )


def test_sdk_reads_the_fake_error_bodies(server):
    server.replies += [overflow(), rate_limited("0s")]
    client = sdk(server)
    with pytest.raises(genai_errors.ClientError) as caught:
        list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="x"))
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    with pytest.raises(genai_errors.ClientError) as caught:
        list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="x"))
    assert (
        caught.value.code == 429
        and caught.value.details["error"]["details"][0]["retryDelay"] == "0s"
    )


# -- our backend on the same streams -------------------------------------------------------------


async def test_text_calls_usage_and_kept_parts(server):
    server.replies.append(
        gemini_stream(
            "It is sunny.",
            [("get_weather", {"city": "Paris"})],
            signature="c2lnLTE=",
            usage=gemini_usage(8, 12, thoughts=4, cached=2),
        )
    )
    chunks = await collect(backend(server), ask(tools=(WEATHER,)))
    assert [c.text for c in chunks if isinstance(c, TextChunk)] == ["It is ", "sunny."]
    assert [c for c in chunks if isinstance(c, ToolCall)] == [
        ToolCall("get_weather", {"city": "Paris"})
    ]
    done = chunks[-1]
    assert isinstance(done, LLMDone) and done.finish_reason == "tool_calls"
    assert done.usage == kt.Usage(8, 16, 24, cached_tokens=2, reasoning_tokens=4)
    assert done.meta["gemini_parts"] == [
        {"text": "It is sunny."},
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
            "thoughtSignature": "c2lnLTE=",
        },
    ]


async def test_request_shape(server):
    server.replies.append(gemini_stream("ok"))
    parts = [
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
            "thoughtSignature": "c2lnLTE=",
        }
    ]
    request = LLMRequest(
        messages=(
            Message("system", "Be brief."),
            Message("user", "weather?"),
            Message(
                "assistant",
                "",
                tool_calls=(ToolCall("get_weather", {"city": "Paris"}, "call_x"),),
                meta={"gemini_parts": parts},
            ),
            Message("tool", "sunny", tool_call_id="call_x", name="get_weather"),
        ),
        tools=(WEATHER,),
        options={"temperature": 0.1, "max_tokens": 99, "reasoning_effort": "low"},
    )
    await collect(backend(server), request)
    sent = server.requests[0]
    assert sent.headers["x-goog-api-key"] == SECRET_KEY and SECRET_KEY not in sent.path
    body = sent.body
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": parts},
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}
            ],
        },
    ]
    assert body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == dict(
        WEATHER.parameters
    )
    assert body["generationConfig"] == {
        "temperature": 0.1,
        "maxOutputTokens": 99,
        "thinkingConfig": {"thinkingBudget": 1024},  # 2.5 models take a budget, not a level
    }


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (overflow(), kt.LLMContextOverflowError),
        (
            gemini_error(
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."
            ),
            kt.LLMAuthError,
        ),
        (gemini_error(403, "PERMISSION_DENIED", "Permission denied"), kt.LLMAuthError),
        (
            gemini_error(404, "NOT_FOUND", "models/nope is not found for API version v1beta"),
            kt.LLMBadRequestError,
        ),
    ],
)
async def test_errors_are_typed_and_not_retried(server, reply, error):
    server.replies += [reply, gemini_stream("never")]
    with pytest.raises(error) as caught:
        await collect(backend(server), ask())
    assert len(server.requests) == 1
    assert str(caught.value).startswith("gemini: HTTP ") and SECRET_KEY not in str(caught.value)


async def test_429_waits_for_the_retry_info_delay(server):
    server.replies += [
        rate_limited("0.05s"),
        gemini_error(503, "UNAVAILABLE", "overloaded"),
        gemini_stream("ok"),
    ]
    t0 = trio.current_time()
    chunks = await collect(backend(server), ask())
    assert trio.current_time() - t0 >= 0.05
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "ok"
    assert len(server.requests) == 3


async def test_a_stream_without_a_finish_reason_is_cut(server):
    server.replies.append(Reply(chunks=gemini_stream("Hello there").chunks[:1]))
    with pytest.raises(kt.LLMConnectionError, match="before a finish reason"):
        await collect(backend(server), ask())


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
    server.replies.append(gemini_stream("Hello from Gemini."))
    async with await build_agent(server) as agent:
        result = await agent.run("hi")
    assert result.status == "completed" and result.text == "Hello from Gemini."


async def test_agent_parallel_function_calls_round_trip(server):
    server.replies += [
        gemini_stream(
            "",
            [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Oslo"})],
            signature="czE=",
        ),
        gemini_stream("Both sunny."),
    ]
    async with await build_agent(server) as agent:
        result = await agent.run("weather?")
    assert result.text == "Both sunny."
    assert [c.output for c in result.tool_calls] == ["sunny in Paris", "sunny in Oslo"]
    contents = server.requests[1].body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"][0]["thoughtSignature"] == "czE="
    assert [p["functionResponse"]["response"]["result"] for p in contents[2]["parts"]] == [
        "sunny in Paris",
        "sunny in Oslo",
    ]


async def test_agent_retries_after_429(server):
    server.replies += [rate_limited("0.01s"), gemini_stream("After the wait.")]
    async with await build_agent(server) as agent:
        result = await agent.run("hi")
    assert result.text == "After the wait." and len(server.requests) == 2


async def test_agent_context_overflow_is_the_turn_error(server):
    server.replies.append(overflow())
    async with await build_agent(server) as agent:
        result = await agent.run("long")
    assert result.status == "error" and isinstance(result.error, kt.LLMContextOverflowError)


async def test_agent_interrupt_mid_stream_closes_the_connection(server):
    server.replies.append(Reply(chunks=gemini_stream("Partial answer here").chunks[:1], hold=True))
    async with await build_agent(server) as agent:
        async with agent.run_stream("go") as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    agent.interrupt()
                if isinstance(event, TurnCompleted):
                    result = event.result
    assert result.status == "interrupted" and result.text == "Partia"
    assert await trio.to_thread.run_sync(server.disconnected.wait, 5)


async def test_agent_stalled_stream_times_out(server):
    server.replies.append(Reply(chunks=gemini_stream("Partial").chunks[:1], hold=True))
    async with await build_agent(server, timeout=0.3) as agent:
        result = await agent.run("go")
    assert result.status == "error" and isinstance(result.error, kt.LLMTimeoutError)


async def test_connections_are_reused_across_calls(server):
    server.replies += [gemini_stream("one"), gemini_stream("two")]
    llm = backend(server)
    await collect(llm, ask())
    await collect(llm, ask())
    assert server.connections == 1
