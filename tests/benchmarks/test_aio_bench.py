"""asyncio callers: the cost of ``await agent.run`` through ``kt_portal.aio`` over the trio call.

Run with ``python -m pytest tests/benchmarks/test_aio_bench.py -m benchmark -s``. The same
zero-latency scripted turns run under trio directly and under asyncio (trio as a guest of the
asyncio loop); the difference per turn is the bridge. Target: under 0.2 ms per turn.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest
import trio

import kt
from kt.testing import ScriptedLLM
from kt_portal import aio

pytestmark = pytest.mark.benchmark

TURNS = 400


def config():
    return {"name": "bench"}


async def trio_turns() -> float:
    llm = ScriptedLLM(["ok"], exhausted="repeat")
    async with await kt.Agent.build(config(), llm=llm, kernel=kt.Kernel(plugins=[])) as agent:
        await agent.run("warm up")
        start = time.perf_counter()
        for _ in range(TURNS):
            await agent.run("hi")
        return (time.perf_counter() - start) / TURNS


async def asyncio_turns() -> float:
    llm = ScriptedLLM(["ok"], exhausted="repeat")
    async with await aio.Agent.build(config(), llm=llm, kernel=kt.Kernel(plugins=[])) as agent:
        await agent.run("warm up")
        start = time.perf_counter()
        for _ in range(TURNS):
            await agent.run("hi")
        return (time.perf_counter() - start) / TURNS


def test_asyncio_turn_overhead():
    under_trio = statistics.median(trio.run(trio_turns) for _ in range(5))
    under_asyncio = statistics.median(asyncio.run(asyncio_turns()) for _ in range(5))
    extra_ms = (under_asyncio - under_trio) * 1000
    print(
        f"\nper turn: trio {under_trio * 1000:.3f} ms, asyncio via aio "
        f"{under_asyncio * 1000:.3f} ms (ratio {under_asyncio / under_trio:.2f}, "
        f"+{extra_ms:.3f} ms)"
    )
    assert extra_ms < 0.2
