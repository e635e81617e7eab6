"""kt_openai against the official `openai` SDK, through the same loopback fake server.

Run with ``python -m pytest tests/benchmarks -m benchmark -s -k llm``. The fake server runs in
its own process (so it does not compete with the clients for the GIL) and answers from
pre-rendered bytes. Printed, with the ratio ours / SDK (lower is better; the target is ≤ 1):

* streaming 1,000 small chunks: total time and per-chunk cost;
* time to the first text: ours to the first ``TextDelta`` of an ``Agent.run_stream`` turn,
  the SDK to its first content chunk (both read their stream to the end);
* a one-tool turn end to end: ``Agent.run`` (call, tool, call) against a hand-written SDK
  loop doing the same work.

The budget compares like with like: the SDK's async client on trio, run alternately with ours
in the same loop so both see the same machine load; ours must be no slower (time to first
text, which both spend waiting on the server, allows 15 % of noise). The SDK's sync client and its async client
on asyncio are measured too and printed for context.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
import trio

import kt
import kt_openai
from kt.events import TextDelta
from kt.llm import LLMProfile, LLMRequest, Message, TextChunk

pytestmark = pytest.mark.benchmark

FAKES = Path(__file__).resolve().parents[1] / "plugins" / "kt_llm"
KEY = "sk-bench-0000000000000000"
CHUNKS = 1000
ROUNDS = 30

SERVER = f"""
import sys, json
sys.path.insert(0, {str(FAKES)!r})
from fake_llm_servers import FakeServer, Reply, openai_text, openai_text_chunks, openai_tool_calls

many = Reply(chunks=[b"".join(openai_text_chunks(["tok "] * {CHUNKS}))])
short = Reply(chunks=[b"".join(openai_text("Hello there, quick answer.").chunks)])
call = Reply(chunks=[b"".join(openai_tool_calls([("call_1", "one_line", {{"text": "hi"}})]).chunks)])
done = Reply(chunks=[b"".join(openai_text("Done.").chunks)])

def answer(request):
    body = request.body
    if any(m.get("role") == "tool" for m in body["messages"]):
        return done
    if body.get("tools"):
        return call
    return many if body["model"] == "many" else short

server = FakeServer(default=answer, record=False)
print(server.url, flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def url():
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield process.stdout.readline().strip() + "/v1"
    finally:
        process.stdin.close()
        process.wait(timeout=10)


def ours(url: str, model: str = "short") -> kt.LLM:
    profile = LLMProfile(name="bench", backend="openai", model=model, base_url=url, api_key=KEY)
    return kt.Kernel(plugins=[kt_openai]).llm_backends["openai"].factory(profile)


def report(what: str, mine: float, on_trio: float, elsewhere: dict[str, float]) -> float:
    other = ", ".join(f"{name} {value * 1000:.3f} ms" for name, value in elsewhere.items())
    ratio = mine / on_trio
    print(
        f"\n{what}: kt_openai {mine * 1000:.3f} ms; openai SDK on trio {on_trio * 1000:.3f} ms "
        f"(ratio {ratio:.3f}); the SDK elsewhere: {other}"
    )
    return ratio


async def interleaved(mine, theirs, rounds: int = ROUNDS) -> tuple[float, float]:
    """Median durations of *mine* and *theirs*, run alternately so both see the same load.

    Each returns the duration it measured (``None``: time the whole call).
    """

    async def once(run) -> float:
        t0 = time.perf_counter()
        measured = await run()
        return measured if measured is not None else time.perf_counter() - t0

    await once(mine), await once(theirs)  # warm up: connections, imports, caches
    a, b = [], []
    for _ in range(rounds):
        a.append(await once(mine))
        b.append(await once(theirs))
    return statistics.median(a), statistics.median(b)


def sdk_medians(url: str, sync_run, async_run, rounds: int = ROUNDS) -> dict[str, float]:
    """The SDK's sync client, and its async client on asyncio (in a worker thread)."""

    def timed(run) -> float:
        t0 = time.perf_counter()
        measured = run()
        return measured if measured is not None else time.perf_counter() - t0

    client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0)
    sync_run(client)
    sync = statistics.median([timed(lambda: sync_run(client)) for _ in range(rounds)])

    async def on_asyncio() -> float:
        client = openai.AsyncOpenAI(base_url=url, api_key=KEY, max_retries=0)
        await async_run(client)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            measured = await async_run(client)
            times.append(measured if measured is not None else time.perf_counter() - t0)
        return statistics.median(times)

    return {"sync": sync, "asyncio": asyncio.run(on_asyncio())}


def trio_sdk(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url, api_key=KEY, max_retries=0)


# -- 1,000 small chunks -------------------------------------------------------------------------


def _count_sync(client) -> None:
    stream = client.chat.completions.create(
        model="many",
        messages=[{"role": "user", "content": "go"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert sum(bool(c.choices and c.choices[0].delta.content) for c in stream) == CHUNKS


async def _count_async(client) -> None:
    stream = await client.chat.completions.create(
        model="many",
        messages=[{"role": "user", "content": "go"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    n = 0
    async for chunk in stream:
        n += bool(chunk.choices and chunk.choices[0].delta.content)
    assert n == CHUNKS


async def test_streaming_1000_chunks(url):
    llm = ours(url, "many")
    client = trio_sdk(url)
    request = LLMRequest(messages=(Message("user", "go"),))

    async def mine():
        n = 0
        async for chunk in llm.stream(request):
            n += isinstance(chunk, TextChunk)
        assert n == CHUNKS

    a, b = await interleaved(mine, lambda: _count_async(client), 10)
    elsewhere = await trio.to_thread.run_sync(sdk_medians, url, _count_sync, _count_async, 10)
    ratio = report(f"stream of {CHUNKS} chunks", a, b, elsewhere)
    print(f"per chunk: kt_openai {a / CHUNKS * 1e6:.1f} µs, openai SDK {b / CHUNKS * 1e6:.1f} µs")
    assert ratio <= 1.0


# -- time to first text -------------------------------------------------------------------------


def _first_sync(client) -> float:
    t0 = time.perf_counter()
    first = None
    stream = client.chat.completions.create(
        model="short", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    for chunk in stream:  # read to the end, so the connection is reused as ours is
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - t0
    return first


async def _first_async(client) -> float:
    t0 = time.perf_counter()
    first = None
    stream = await client.chat.completions.create(
        model="short", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    async for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - t0
    return first


async def test_time_to_first_text(url):
    agent = await kt.Agent.build({"name": "bench"}, llm=ours(url), kernel=kt.Kernel(plugins=[]))
    client = trio_sdk(url)
    async with agent:

        async def mine():
            t0 = time.perf_counter()
            first = None
            async for event in agent.run_stream("hi"):
                if first is None and isinstance(event, TextDelta):
                    first = time.perf_counter() - t0
            return first

        a, b = await interleaved(mine, lambda: _first_async(client))
    elsewhere = await trio.to_thread.run_sync(sdk_medians, url, _first_sync, _first_async)
    # Both wait on the same server for the same bytes, so the two medians are within a few
    # per cent of each other and the ratio swings around 1.0 with the machine's load (runs
    # measured 0.97 - 1.09 on a loaded 2-core machine): the budget allows that noise.
    assert report("time to first text", a, b, elsewhere) <= 1.15


# -- a one-tool turn ----------------------------------------------------------------------------


@kt.tool
async def one_line(text: str) -> str:
    """Echo a line.

    Args:
        text: The line.
    """
    return text


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "one_line",
            "description": "Echo a line.",
            "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
        },
    }
]


def _assistant(calls: dict[int, dict]) -> dict:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in calls.values()
        ],
    }


def _add(calls: dict[int, dict], chunk) -> None:
    for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
        call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
        call["id"] = delta.id or call["id"]
        call["name"] = delta.function.name or call["name"]
        call["arguments"] += delta.function.arguments or ""


def _turn_sync(client) -> None:
    messages = [{"role": "user", "content": "go"}]
    calls: dict[int, dict] = {}
    for chunk in client.chat.completions.create(
        model="short", messages=messages, tools=TOOLS, stream=True
    ):
        _add(calls, chunk)
    messages.append(_assistant(calls))
    for c in calls.values():
        messages.append(
            {"role": "tool", "tool_call_id": c["id"], "content": json.loads(c["arguments"])["text"]}
        )
    stream = client.chat.completions.create(
        model="short", messages=messages, tools=TOOLS, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Done."


async def _turn_async(client) -> None:
    messages = [{"role": "user", "content": "go"}]
    calls: dict[int, dict] = {}
    async for chunk in await client.chat.completions.create(
        model="short", messages=messages, tools=TOOLS, stream=True
    ):
        _add(calls, chunk)
    messages.append(_assistant(calls))
    for c in calls.values():
        messages.append(
            {"role": "tool", "tool_call_id": c["id"], "content": json.loads(c["arguments"])["text"]}
        )
    stream = await client.chat.completions.create(
        model="short", messages=messages, tools=TOOLS, stream=True
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "Done."


async def test_one_tool_turn(url):
    agent = await kt.Agent.build(
        {"name": "bench", "controller": {"ephemeral": True}},
        llm=ours(url),
        tools=[one_line],
        kernel=kt.Kernel(plugins=[]),
    )
    client = trio_sdk(url)
    async with agent:

        async def mine():
            result = await agent.run("go")
            assert result.text == "Done." and result.tool_calls[0].output == "hi"

        a, b = await interleaved(mine, lambda: _turn_async(client))
    elsewhere = await trio.to_thread.run_sync(sdk_medians, url, _turn_sync, _turn_async)
    assert report("one-tool turn end to end", a, b, elsewhere) <= 1.0
