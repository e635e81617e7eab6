"""kt_openai on the wire defects real servers showed: each case failed before its fix.

The fakes follow the official `openai` types; where the SDK can read a case, it reads the fake
first, so a fake that drifted from the real format fails here and not silently.
"""

from __future__ import annotations

import json

import openai
import pytest
import trio
from fake_llm_servers import (
    SECRET_KEY,
    Recorded,
    Reply,
    openai_error,
    openai_raw_chunk,
    openai_text,
    openai_text_chunks,
    openai_tool_calls,
    openai_whole_tool_calls,
    reasoning_item,
    responses_error_event,
    responses_failed,
    responses_stream,
)

import kt
import kt_llm
import kt_openai
from kt.llm import LLMProfile, LLMRequest, Message, TextChunk, ToolCall
from kt_llm.http import LLMServerError
from kt_openai import chat, responses

FAST_RETRY = {"max_retries": 2, "base_delay": 0.01, "max_delay": 5}


def backend(server, provider="openai", model="gpt-4o-mini", **options) -> kt.LLM:
    options.setdefault("retry_policy", FAST_RETRY)
    profile = LLMProfile(
        name=f"{provider}/{model}",
        backend=provider,
        model=model,
        base_url=f"{server.url}/v1",
        api_key=SECRET_KEY,
        options=options,
    )
    return kt.Kernel(plugins=[kt_llm, kt_openai]).llm_backends[provider].factory(profile)


async def collect(llm, request: LLMRequest) -> list:
    return [chunk async for chunk in llm.stream(request)]


def ask(text="hi") -> LLMRequest:
    return LLMRequest(messages=(Message("user", text),), tools=(WEATHER,))


WEATHER = kt.ToolSchema(
    "get_weather",
    "Weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@kt.tool(concurrency_safe=True)
async def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return f"sunny in {city}"


async def run_agent(llm, text="weather in Paris and Oslo?") -> kt.TurnResult:
    async with await kt.Agent.build(
        {"name": "t", "system_prompt": "Be brief."},
        llm=llm,
        tools=[get_weather],
        kernel=kt.Kernel(plugins=[kt_llm, kt_openai]),
    ) as agent:
        return await agent.run(text)


TWO_CALLS = [
    ("call_a", "get_weather", {"city": "Paris"}),
    ("call_b", "get_weather", {"city": "Oslo"}),
]


# -- parallel calls from servers that reuse or omit `index` --------------------------------------


@pytest.mark.parametrize(
    ("index", "one_chunk"), [("zero", False), ("zero", True), ("missing", False), ("missing", True)]
)
async def test_calls_are_split_by_id_when_the_index_repeats_or_is_missing(server, index, one_chunk):
    server.replies.append(openai_whole_tool_calls(TWO_CALLS, index=index, one_chunk=one_chunk))
    chunks = await collect(backend(server, provider="ollama", model="qwen3"), ask())
    assert [c for c in chunks if isinstance(c, ToolCall)] == [
        ToolCall("get_weather", {"city": "Paris"}, "call_a"),
        ToolCall("get_weather", {"city": "Oslo"}, "call_b"),
    ]


async def test_fragments_without_id_still_continue_their_call(server):
    server.replies.append(openai_tool_calls(TWO_CALLS, interleave=True, split=2))
    chunks = await collect(backend(server), ask())
    # Each call is yielded once its arguments are complete: the shorter one first.
    assert sorted((c.id, c.args["city"]) for c in chunks if isinstance(c, ToolCall)) == [
        ("call_a", "Paris"),
        ("call_b", "Oslo"),
    ]


async def test_an_agent_runs_both_calls_from_an_index_zero_server(server):
    server.replies += [openai_whole_tool_calls(TWO_CALLS, index="zero"), openai_text("Both.")]
    result = await run_agent(backend(server, provider="ollama", model="qwen3"))
    assert result.status == "completed"
    assert [c.output for c in result.tool_calls] == ["sunny in Paris", "sunny in Oslo"]


# -- OpenRouter's mid-stream error ---------------------------------------------------------------

OPENROUTER_ERROR = {
    "id": "gen-1760000000-abc",
    "object": "chat.completion.chunk",
    "created": 1760000000,
    "model": "anthropic/claude-sonnet-4.6",
    "provider": "Anthropic",
    "error": {"code": 502, "message": "Provider disconnected unexpectedly"},
    "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
}


def openrouter_cut_answer() -> Reply:
    first = openai_text_chunks(["Half an ans"])[:2]
    return Reply(chunks=[*first, openai_raw_chunk(OPENROUTER_ERROR), b"data: [DONE]\n\n"])


def test_sdk_raises_on_the_openrouter_error_chunk(server):
    server.replies.append(openrouter_cut_answer())
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=SECRET_KEY)
    stream = client.chat.completions.create(
        model="anthropic/claude-sonnet-4.6",
        messages=[{"role": "user", "content": "x"}],
        stream=True,
    )
    with pytest.raises(openai.APIError, match="Provider disconnected"):
        for _ in stream:
            pass


async def test_openrouter_mid_stream_error_fails_the_turn(server):
    server.replies.append(openrouter_cut_answer())
    llm = backend(server, provider="openrouter", model="anthropic/claude-sonnet-4.6")
    with pytest.raises(LLMServerError, match="Provider disconnected"):
        await collect(llm, ask())
    server.replies.append(openrouter_cut_answer())
    result = await run_agent(llm)
    assert result.status == "error" and isinstance(result.error, LLMServerError)


async def test_a_finish_reason_error_without_an_error_object_fails_too(server):
    first = openai_text_chunks(["Half"])[:2]
    bare = {**OPENROUTER_ERROR}
    del bare["error"]
    server.replies.append(Reply(chunks=[*first, openai_raw_chunk(bare), b"data: [DONE]\n\n"]))
    with pytest.raises(LLMServerError, match="finish_reason 'error'"):
        await collect(backend(server, provider="openrouter", model="x/y"), ask())


# -- DeepSeek reasoner: reasoning_content goes back ----------------------------------------------


def deepseek_like(recorded: Recorded) -> Reply:
    """Thinking mode with tools: a tool-calling assistant message must bring its reasoning."""
    for number, message in enumerate(recorded.body["messages"]):
        if message["role"] == "assistant" and message.get("tool_calls"):
            if "reasoning_content" not in message:
                return openai_error(
                    400,
                    "Missing `reasoning_content` field in the assistant message at message "
                    f"index {number}. For more information, please refer to the documentation.",
                    "invalid_request_error",
                    "invalid_request_error",
                )
    return openai_text("Both sunny.")


def thinking_tool_calls() -> Reply:
    reply = openai_tool_calls(TWO_CALLS)
    thought = openai_raw_chunk(
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "deepseek-reasoner",
            "choices": [
                {"index": 0, "delta": {"reasoning_content": "Two cities."}, "finish_reason": None}
            ],
        }
    )
    reply.chunks.insert(1, thought)
    return reply


async def test_the_deepseek_reasoner_preset_echoes_reasoning(server, monkeypatch):
    monkeypatch.setenv("DEEPSEEK_API_KEY", SECRET_KEY)
    server.replies += [thinking_tool_calls(), deepseek_like]
    kernel = kt.Kernel(plugins=[kt_llm, kt_openai])
    async with await kt.Agent.build(
        {
            "name": "t",
            "controller": {
                "llm": "deepseek/deepseek-reasoner",
                "base_url": f"{server.url}/v1",
                "retry_policy": FAST_RETRY,
            },
        },
        tools=[get_weather],
        kernel=kernel,
    ) as agent:
        result = await agent.run("weather?")
    assert result.status == "completed", result.error
    (echoed,) = [m for m in server.requests[1].body["messages"] if m["role"] == "assistant"]
    assert echoed["reasoning_content"] == "Two cities."


def test_a_tool_calling_message_without_kept_reasoning_sends_an_empty_field():
    messages = (
        Message("user", "hi"),
        Message("assistant", "", tool_calls=(ToolCall("f", {}, "c1"),)),
        Message("tool", "ok", tool_call_id="c1", name="f"),
        Message("assistant", "done"),
    )
    wire = chat.wire_messages(messages, echo_reasoning=True)
    assert wire[1]["reasoning_content"] == ""
    assert "reasoning_content" not in wire[3]  # nothing kept, no call: nothing to echo
    assert "reasoning_content" not in chat.wire_messages(messages, echo_reasoning=False)[1]


# -- Responses API with store=false and a reasoning model ----------------------------------------


def openai_responses_like(recorded: Recorded) -> Reply:
    """Answers like OpenAI with store=false: reasoning items must come back encrypted."""
    body = recorded.body
    for item in body["input"]:
        if item.get("type") == "reasoning" and not item.get("encrypted_content"):
            return openai_error(
                404,
                f"Item with id '{item['id']}' not found. Items are not persisted when `store` "
                "is set to false. Try again with `store` set to true, or remove this item from "
                "your input.",
                "invalid_request_error",
            )
    encrypted = (
        "gAAAAABo-encrypted" if "reasoning.encrypted_content" in body.get("include", ()) else None
    )
    if any(item.get("type") == "function_call_output" for item in body["input"]):
        return responses_stream("Both sunny.", reasoning=reasoning_item(encrypted))
    return responses_stream(calls=TWO_CALLS, reasoning=reasoning_item(encrypted))


def test_sdk_reads_the_fake_reasoning_item(server):
    server.replies.append(responses_stream("ok", reasoning=reasoning_item("gAAAA-x")))
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=SECRET_KEY)
    with client.responses.stream(model="gpt-5.4", input="hi") as stream:
        final = stream.get_final_response()
    assert final.output[0].type == "reasoning"
    assert final.output[0].encrypted_content == "gAAAA-x"


async def test_a_reasoning_model_tool_loop_with_no_effort_set(server):
    server.replies += [openai_responses_like, openai_responses_like]
    result = await run_agent(backend(server, model="gpt-5.4", api="responses"))
    assert result.status == "completed", result.error
    first, second = (r.body for r in server.requests)
    assert first["store"] is False and first["include"] == ["reasoning.encrypted_content"]
    assert "reasoning" not in first  # no effort was set: the model's default
    assert second["input"][1]["encrypted_content"] == "gAAAAABo-encrypted"


async def test_a_reasoning_item_without_encrypted_content_is_not_sent_back(server):
    server.replies.append(openai_responses_like)
    kept = reasoning_item(None)
    request = LLMRequest(
        messages=(
            Message("user", "hi"),
            Message(
                "assistant",
                "",
                tool_calls=(ToolCall("get_weather", {"city": "Rome"}, "call_1"),),
                meta={"responses_reasoning": [kept]},
            ),
            Message("tool", "sunny", tool_call_id="call_1", name="get_weather"),
        ),
        tools=(WEATHER,),
    )
    chunks = await collect(backend(server, model="custom-model", api="responses"), request)
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "Both sunny."
    assert all(item.get("type") != "reasoning" for item in server.requests[0].body["input"])


def test_a_non_reasoning_model_is_not_asked_for_encrypted_reasoning():
    body = responses.request_body(ask(), model="gpt-4.1", options={})
    assert "include" not in body and "reasoning" not in body


# -- Responses errors: context overflow is not a server error ------------------------------------


@pytest.mark.parametrize("reply", [responses_error_event, responses_failed])
async def test_responses_context_overflow_is_typed_and_not_retried(server, reply):
    message = "Your input exceeds the context window of this model. Please adjust your input."
    server.replies += [reply("context_length_exceeded", message), responses_stream("never")]
    with pytest.raises(kt.LLMContextOverflowError, match="context window"):
        await collect(backend(server, model="gpt-5.4", api="responses"), ask())
    assert len(server.requests) == 1


async def test_responses_server_error_event_is_still_retried(server):
    server.replies += [
        responses_failed("server_error", "An error occurred while processing your request."),
        responses_stream("back"),
    ]
    chunks = await collect(backend(server, model="gpt-5.4", api="responses"), ask())
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "back"


# -- Retry-After on server errors ----------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 529])
async def test_retry_after_is_honoured_on_server_errors(server, status):
    server.replies += [
        openai_error(status, "Service unavailable", "server_error", headers={"retry-after": "0.3"}),
        openai_text("after the wait"),
    ]
    start = trio.current_time()
    chunks = await collect(backend(server), ask())
    assert trio.current_time() - start >= 0.3  # the policy alone would wait ~0.01 s
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "after the wait"


async def test_a_retry_after_beyond_the_cap_fails_at_once(server):
    server.replies += [
        openai_error(503, "down for maintenance", "server_error", headers={"retry-after": "600"}),
        openai_text("never"),
    ]
    with pytest.raises(LLMServerError) as caught:
        await collect(backend(server), ask())
    assert caught.value.retry_after == 600 and len(server.requests) == 1


# -- reasoning levels per OpenAI model family ----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "level", "sent"),
    [
        ("gpt-5.4", "max", "xhigh"),
        ("gpt-5.4", "minimal", "low"),
        ("gpt-5.4", "none", "none"),
        ("gpt-5.2", "xhigh", "xhigh"),
        ("gpt-5.1", "xhigh", "high"),
        ("gpt-5.1", "minimal", "low"),
        ("gpt-5", "none", "minimal"),
        ("gpt-5-mini", "max", "high"),
        ("gpt-5", "minimal", "minimal"),
        ("o3", "minimal", "low"),
        ("o4-mini", "xhigh", "high"),
        ("gpt-4o", "high", None),
        ("gpt-4.1-mini", "low", None),
        ("qwen3-coder", "high", "high"),  # another server: its own business
    ],
)
def test_reasoning_levels_map_to_what_each_family_accepts(model, level, sent):
    request = LLMRequest(messages=(Message("user", "x"),), options={"reasoning_effort": level})
    body = chat.request_body(
        request,
        model=model,
        options=request.options,
        max_tokens_field="max_completion_tokens",
        reasoning_path="reasoning_effort",
    )
    assert body.get("reasoning_effort") == sent
    body = responses.request_body(request, model=model, options=request.options)
    assert (body.get("reasoning") or {}).get("effort") == sent


def test_openrouter_gets_xhigh_for_max_on_other_vendors_models():
    request = LLMRequest(messages=(Message("user", "x"),), options={"reasoning_effort": "max"})
    body = chat.request_body(
        request,
        model="anthropic/claude-opus-4.7",
        options=request.options,
        max_tokens_field="max_tokens",
        reasoning_path="reasoning.effort",
    )
    assert body["reasoning"] == {"effort": "xhigh"}


def test_the_official_sdk_accepts_our_chat_body_shape():
    body = chat.request_body(
        ask(),
        model="gpt-5.4",
        options={"reasoning_effort": "high"},
        max_tokens_field="max_completion_tokens",
        reasoning_path="reasoning_effort",
    )
    # The SDK's own params type names every field we send.
    from openai.types.chat import completion_create_params

    known = set(completion_create_params.CompletionCreateParamsStreaming.__annotations__)
    known |= set(completion_create_params.CompletionCreateParamsBase.__annotations__)
    assert set(body) <= known, set(body) - known
    json.dumps(body)


def test_sdk_reads_the_fake_responses_failures(server):
    message = "Your input exceeds the context window of this model."
    server.replies += [
        responses_error_event("context_length_exceeded", message),
        responses_failed("context_length_exceeded", message),
    ]
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=SECRET_KEY, max_retries=0)
    try:
        events = list(client.responses.create(model="gpt-5.4", input="hi", stream=True))
    except openai.APIError as exc:  # SDK versions that raise on the error event
        assert "context window" in str(exc)
    else:
        assert events[-1].type == "error" and events[-1].code == "context_length_exceeded"
    events = list(client.responses.create(model="gpt-5.4", input="hi", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.code == "context_length_exceeded"
