"""kt_llm.http: SSE decoding, retries before the first chunk only, error mapping, tool-call deltas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import trio

import kt
from kt.llm import LLMDone, TextChunk, ToolCall
from kt_llm.http import (
    LLMServerError,
    PerRun,
    RetryPolicy,
    SSEDecoder,
    ToolCallDeltas,
    aiter_sse,
    data_url,
    error_for_status,
    error_from_payload,
    merged_options,
    retry_after_seconds,
    retrying,
    summarise_error_body,
)

# -- SSE -----------------------------------------------------------------------------------------

STREAM = (
    b": keep-alive comment\n"
    b'event: message_start\ndata: {"a": 1}\n\n'
    b"data: line one\ndata: line two\n\n"
    b"id: 7\ndata:no-space\r\n\r\n"
    b"event: only-event\n\n"
    b"data: [DONE]\n\n"
)


def events_of(chunks):
    decoder = SSEDecoder()
    out = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    out += decoder.close()
    return [(e.event, e.data, e.id) for e in out]


EXPECTED = [
    ("message_start", '{"a": 1}', ""),
    ("", "line one\nline two", ""),
    ("", "no-space", "7"),
    ("", "[DONE]", "7"),
]


def test_sse_whole_stream():
    assert events_of([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16])
def test_sse_cut_anywhere_gives_the_same_events(size):
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert events_of(chunks) == EXPECTED


def test_sse_lone_cr_line_endings_and_unterminated_last_event():
    assert events_of([b"data: a\rdata: b\r\rdata: tail"]) == [("", "a\nb", ""), ("", "tail", "")]


async def test_aiter_sse_closes_its_source():
    closed = []

    async def source():
        try:
            yield b"data: 1\n\ndata: 2\n\n"
            yield b"data: 3\n\n"
        finally:
            closed.append(True)

    events = aiter_sse(source())
    assert (await events.__anext__()).data == "1"
    await events.aclose()
    assert closed == [True]


# -- retries -------------------------------------------------------------------------------------


def test_backoff_is_capped_exponential_with_jitter():
    policy = RetryPolicy(max_retries=5, base_delay=1, max_delay=5, jitter=0.25)
    assert [policy.delay(n, rand=lambda: 0.5) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    assert policy.delay(1, rand=lambda: 0.0) == 0.75 and policy.delay(1, rand=lambda: 1.0) == 1.25
    assert policy.delay(6) is None  # retries used up
    assert policy.delay(1, retry_after=3) == 3  # the provider's wait wins
    assert policy.delay(1, retry_after=60) is None  # longer than max_delay: give up now


def test_retry_policy_from_options():
    assert RetryPolicy.from_options({"max_retries": 0}).max_retries == 0
    with pytest.raises(kt.ConfigValidationError, match="unknown retry_policy key"):
        RetryPolicy.from_options({"retries": 3})
    with pytest.raises(kt.ConfigValidationError, match="invalid retry_policy"):
        RetryPolicy.from_options({"jitter": 2})


def scripted_attempts(*outcomes):
    """Each outcome: a list of chunks, or a list of chunks ending with an exception."""
    calls = []

    def attempt():
        script = outcomes[len(calls)]
        calls.append(script)

        async def run():
            for item in script:
                if isinstance(item, Exception):
                    raise item
                yield item

        return run()

    return attempt, calls


async def test_retrying_retries_transient_errors_before_the_first_chunk(autojump_clock):
    attempt, calls = scripted_attempts(
        [kt.LLMConnectionError("down")],
        [kt.LLMRateLimitError("slow", retry_after=7)],
        [TextChunk("ok"), LLMDone()],
    )
    t0 = trio.current_time()
    chunks = [c async for c in retrying(attempt, RetryPolicy(base_delay=2, jitter=0, max_delay=30))]
    assert chunks == [TextChunk("ok"), LLMDone()]
    assert len(calls) == 3
    assert trio.current_time() - t0 == pytest.approx(2 + 7)


async def test_retrying_never_retries_after_a_chunk_went_out(autojump_clock):
    attempt, calls = scripted_attempts(
        [TextChunk("Hel"), kt.LLMConnectionError("cut")], [TextChunk("dup")]
    )
    seen = []
    with pytest.raises(kt.LLMConnectionError):
        async for chunk in retrying(attempt, RetryPolicy()):
            seen.append(chunk)
    assert seen == [TextChunk("Hel")] and len(calls) == 1


@pytest.mark.parametrize(
    "error",
    [
        kt.LLMAuthError("bad key"),
        kt.LLMContextOverflowError("too long"),
        kt.LLMBadRequestError("no"),
    ],
)
async def test_retrying_never_retries_permanent_errors(error, autojump_clock):
    attempt, calls = scripted_attempts([error], [TextChunk("never")])
    with pytest.raises(type(error)):
        [c async for c in retrying(attempt, RetryPolicy())]
    assert len(calls) == 1


async def test_retrying_gives_up_after_max_retries(autojump_clock):
    attempt, calls = scripted_attempts(*[[LLMServerError("503")]] * 4)
    with pytest.raises(LLMServerError):
        [c async for c in retrying(attempt, RetryPolicy(max_retries=3))]
    assert len(calls) == 4


async def test_closing_retrying_closes_the_running_attempt():
    closed = []

    def attempt():
        async def run():
            try:
                yield TextChunk("a")
                await trio.sleep_forever()
            finally:
                closed.append(True)

        return run()

    stream = retrying(attempt, RetryPolicy())
    assert await stream.__anext__() == TextChunk("a")
    await stream.aclose()
    assert closed == [True]


# -- errors --------------------------------------------------------------------------------------

KEY = "sk-live-0123456789abcdef"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            400,
            {
                "error": {
                    "message": "maximum context length is 8192 tokens",
                    "type": "invalid_request_error",
                }
            },
            kt.LLMContextOverflowError,
        ),
        (413, {"error": {"message": "too big"}}, kt.LLMContextOverflowError),
        (401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}, kt.LLMAuthError),
        (
            403,
            {"type": "error", "error": {"type": "permission_error", "message": "no access"}},
            kt.LLMAuthError,
        ),
        (
            400,
            {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}},
            kt.LLMAuthError,
        ),
        (404, {"error": {"message": "model not found"}}, kt.LLMBadRequestError),
        (408, {}, kt.LLMTimeoutError),
        (
            429,
            {"error": {"message": "slow down", "type": "rate_limit_error"}},
            kt.LLMRateLimitError,
        ),
        (500, {"error": {"message": "oops"}}, LLMServerError),
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            LLMServerError,
        ),
    ],
)
def test_error_for_status(status, body, error):
    exc = error_for_status(status, json.dumps(body).encode(), {}, provider="p", secrets=[KEY])
    assert type(exc) is error
    assert str(exc).startswith(f"p: HTTP {status}")
    assert KEY not in str(exc)


def test_rate_limit_reads_retry_after_and_quota_is_not_retryable():
    exc = error_for_status(429, b"{}", {"Retry-After": "12"}, provider="p")
    assert exc.retry_after == 12 and exc.retryable and "Wait 12s" in str(exc)
    quota = error_for_status(
        429,
        b'{"error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "pay"}}',
        {},
        provider="p",
    )
    assert isinstance(quota, kt.LLMRateLimitError) and not quota.retryable


def test_retry_after_forms():
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert (
        retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480) == 10
    )
    google = {
        "error": {
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}]
        }
    }
    assert retry_after_seconds({}, google) == 31
    assert retry_after_seconds({}) is None


def test_error_bodies_are_summarised_never_dumped():
    html = b"<html><body><h1>502 Bad Gateway</h1>" + b"x" * 5000 + b"</body></html>"
    kind, message = summarise_error_body(html)
    assert kind == "" and message.startswith("502 Bad Gateway") and len(message) <= 300
    kind, message = summarise_error_body(
        b'[{"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}]'
    )
    assert (kind, message) == ("RESOURCE_EXHAUSTED", "Resource exhausted")


def test_in_stream_errors_are_typed():
    assert isinstance(
        error_from_payload(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            provider="a",
        ),
        LLMServerError,
    )
    assert isinstance(
        error_from_payload({"error": {"type": "rate_limit_error", "message": "x"}}, provider="a"),
        kt.LLMRateLimitError,
    )
    assert isinstance(error_from_payload({"error": {"message": "?"}}, provider="a"), LLMServerError)


# -- tool calls and options ----------------------------------------------------------------------


def test_tool_call_deltas_interleaved_and_early_completion():
    calls = ToolCallDeltas()
    calls.add(0, id="a", name="f", arguments='{"x"')
    calls.add(1, id="b", name="g")
    calls.add(0, arguments=": 1}")
    assert calls.finish_if_complete(1) is None  # no arguments yet
    assert calls.finish_if_complete(0) == ToolCall("f", {"x": 1}, "a")
    calls.add(1, arguments='{"y": [1,')
    assert calls.finish_if_complete(1) is None  # not JSON yet
    calls.add(1, arguments=" 2]}")
    calls.add(2, id="c", name="h", arguments="not json")
    assert calls.finish_all() == [ToolCall("g", {"y": [1, 2]}, "b"), ToolCall("h", "not json", "c")]
    assert not calls


def test_merged_options_deep_merges_extra_body_and_skips_none():
    merged = merged_options(
        {"temperature": 1.0, "extra_body": {"a": {"b": 1, "c": 2}}},
        {"temperature": None, "max_tokens": 5, "extra_body": {"a": {"c": 3}}},
    )
    assert merged == {"temperature": 1.0, "max_tokens": 5, "extra_body": {"a": {"b": 1, "c": 3}}}


def test_data_url():
    assert data_url("data:image/png;base64,iVBO") == ("image/png", "iVBO")
    assert data_url("https://example.com/a.png") is None
    assert data_url("data:text/plain,hello") is None


async def test_per_run_resource_is_shared_within_a_run_and_closed_at_its_end():
    closed = []
    made = PerRun(lambda: object(), lambda r: _record(closed, r))
    inner = []

    async def use():
        inner.append(made.get())
        inner.append(made.get())

    first = made.get()
    assert made.get() is first
    assert closed == []
    # a second, separate run gets its own resource, closed when that run ends
    await trio.to_thread.run_sync(lambda: trio.run(use))
    assert inner[0] is inner[1] and inner[0] is not first
    assert closed == [inner[0]]


async def _record(closed, resource):
    closed.append(resource)


def test_building_a_backend_prepares_the_transport_so_the_first_call_does_not():
    # httpx imports httpcore only when a client is made, and the TLS context loads the CA
    # bundle: tens of milliseconds the first model call would otherwise pay.
    code = (
        "import sys\n"
        "import kt\n"
        "from kt_llm import http\n"
        "before = 'httpcore' in sys.modules, http.tls_context.cache_info().currsize\n"
        "profile = kt.LLMProfile(name='p', backend='openai', model='m', api_key='sk-x')\n"
        "kt.Kernel(plugins=['kt_openai']).llm_backends['openai'].factory(profile)\n"
        "print(before, ('httpcore' in sys.modules, http.tls_context.cache_info().currsize))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(False,", "0)", "(True,", "1)"]
