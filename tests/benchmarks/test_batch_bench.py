"""The 60-creature batch through a local OpenAI-compatible server: wall time, start-up per
creature, and memory of 60 live creatures.

Run with ``python -m pytest tests/benchmarks/test_batch_bench.py -m benchmark -s``. The
creatures share one kernel; their HTTP client (and TLS context) is shared per run, which is
what keeps start-up per creature low. For scale, the same batch is measured with a fresh
client and TLS context per creature (what each creature paid before the clients were shared).
Target: start-up per creature under 10 ms.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import httpx
import pytest
import trio

import kt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "kt_llm"))

from fake_llm_servers import FakeServer, openai_text  # noqa: E402

pytestmark = pytest.mark.benchmark

CREATURES = 60


async def startup(server, kernel) -> tuple[float, float]:
    """Mean build + start, and mean first turn, of creatures built one after another."""
    controller = {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{server.url}/v1"}
    builds, turns = [], []
    for n in range(CREATURES):
        t0 = time.perf_counter()
        agent = await kt.Agent.build({"name": f"s{n}", "controller": controller}, kernel=kernel)
        async with agent:
            t1 = time.perf_counter()
            await agent.run("go")
            turns.append(time.perf_counter() - t1)
        builds.append(t1 - t0)
    return statistics.mean(builds[1:]), statistics.mean(turns[1:])  # the first pays imports


async def batch(server, kernel) -> tuple[float, int]:
    """Run the batch concurrently; wall seconds, and bytes while all sixty are live."""
    all_done, release = trio.Event(), trio.Event()
    finished = 0
    controller = {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{server.url}/v1"}

    async def one(n: int) -> None:
        nonlocal finished
        agent = await kt.Agent.build({"name": f"job{n}", "controller": controller}, kernel=kernel)
        async with agent:  # started and stopped in this task, as trio requires
            await agent.run("go")
            finished += 1
            if finished == CREATURES:
                all_done.set()
            await release.wait()  # stay live until memory is measured

    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for n in range(CREATURES):
            nursery.start_soon(one, n)
        await all_done.wait()
        wall = time.perf_counter() - t0
        memory = tracemalloc.get_traced_memory()[0]
        release.set()
    return wall, memory


def test_sixty_creature_batch():
    with FakeServer(default=lambda _: openai_text("done")) as server:
        kernel = kt.Kernel(env={**os.environ, "OPENAI_API_KEY": "sk-test"})
        build, first_turn = trio.run(startup, server, kernel)
        tracemalloc.start()
        wall, memory = trio.run(batch, server, kernel)
        tracemalloc.stop()
    fresh = []
    for _ in range(10):  # what a creature paid for its own client and TLS context
        t0 = time.perf_counter()
        httpx.AsyncClient(verify=httpx.create_ssl_context())
        fresh.append(time.perf_counter() - t0)
    per_client = statistics.mean(fresh)
    print(
        f"\nstart-up per creature (build + start, warm process) {build * 1000:.2f} ms; first "
        f"turn {first_turn * 1000:.2f} ms; a client and TLS context of its own would add "
        f"{per_client * 1000:.1f} ms to each\n{CREATURES} creatures at once: wall "
        f"{wall * 1000:.0f} ms, {memory / CREATURES / 1024:.0f} KB per live creature"
    )
    assert build < 0.010
