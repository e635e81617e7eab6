"""The 60-creature batch through a local OpenAI-compatible server: wall time, start-up per
creature, and memory of 60 live creatures.

Run with ``python -m pytest tests/benchmarks/test_batch_bench.py -m benchmark -s``. The
creatures share one kernel, and their HTTP client (one connection pool, one TLS context) is
shared per trio run: that keeps start-up per creature low. For scale, the same batch runs again
with a client and TLS context of its own for each creature, what each one paid before the
clients were shared. Target: start-up per creature under 10 ms.
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
import kt_llm.http

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "kt_llm"))

from fake_llm_servers import FakeServer, openai_text  # noqa: E402

pytestmark = pytest.mark.benchmark

CREATURES = 60


def controller(server) -> dict:
    return {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{server.url}/v1"}


async def startup(server, kernel) -> tuple[float, float]:
    """Mean build + start, and mean first turn, of creatures built one after another."""
    builds, turns = [], []
    for n in range(CREATURES):
        t0 = time.perf_counter()
        agent = await kt.Agent.build(
            {"name": f"s{n}", "controller": controller(server)}, kernel=kernel
        )
        async with agent:
            t1 = time.perf_counter()
            await agent.run("go")
            turns.append(time.perf_counter() - t1)
        builds.append(t1 - t0)
    return statistics.mean(builds[1:]), statistics.mean(turns[1:])  # the first pays imports


async def batch(server, kernel) -> tuple[float, int, int]:
    """Run the batch concurrently: wall seconds; traced heap bytes and resident bytes while
    all sixty are live (both grow from the moment the batch starts)."""
    all_done, release = trio.Event(), trio.Event()
    finished = 0
    heap_before, rss_before = tracemalloc.get_traced_memory()[0], resident_bytes()

    async def one(n: int) -> None:
        nonlocal finished
        agent = await kt.Agent.build(
            {"name": f"job{n}", "controller": controller(server)}, kernel=kernel
        )
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
        heap = tracemalloc.get_traced_memory()[0] - heap_before
        rss = resident_bytes() - rss_before
        release.set()
    return wall, heap, rss


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class OwnClients:
    """What creatures did before clients were shared: a client and TLS context for each one."""

    def __init__(self) -> None:
        self.clients: list[httpx.AsyncClient] = []

    def __call__(self, timeout, transport=None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            timeout=timeout, transport=transport, verify=httpx.create_ssl_context()
        )
        self.clients.append(client)
        return client

    async def batch(self, server, kernel) -> tuple[float, int, int]:
        try:
            return await batch(server, kernel)
        finally:
            for client in self.clients:
                await client.aclose()


def test_sixty_creature_batch(monkeypatch):
    with FakeServer(default=lambda _: openai_text("done")) as server:
        # Sixty connections arrive at once; the test server's default listen backlog (5)
        # would drop most of them for a TCP retransmit (a second or more), so widen it.
        server._httpd.socket.listen(2 * CREATURES)
        kernel = kt.Kernel(env={**os.environ, "OPENAI_API_KEY": "sk-test"})
        build, first_turn = trio.run(startup, server, kernel)
        walls = [trio.run(batch, server, kernel)[0] for _ in range(3)]
        tracemalloc.start()
        _, heap, rss = trio.run(batch, server, kernel)
        tracemalloc.stop()
        own = OwnClients()
        monkeypatch.setattr(kt_llm.http, "shared_client", own)
        own_walls = [trio.run(own.batch, server, kernel)[0] for _ in range(3)]
    fresh = []
    for _ in range(10):  # what a creature paid for its own client and TLS context
        t0 = time.perf_counter()
        httpx.AsyncClient(verify=httpx.create_ssl_context())
        fresh.append(time.perf_counter() - t0)
    per_client = statistics.mean(fresh)
    wall, own_wall = statistics.median(walls), statistics.median(own_walls)
    print(
        f"\nstart-up per creature (build + start, warm process) {build * 1000:.2f} ms; first "
        f"turn {first_turn * 1000:.2f} ms; a client and TLS context of its own would add "
        f"{per_client * 1000:.1f} ms to each\n{CREATURES} creatures at once: wall "
        f"{wall * 1000:.0f} ms with the shared client, {own_wall * 1000:.0f} ms with one client "
        f"each (ratio {own_wall / wall:.1f}); while all are live, per creature: "
        f"{heap / CREATURES / 1024:.0f} KB traced heap, {rss / CREATURES / 1024:.0f} KB resident"
    )
    assert build < 0.010
