"""Terrarium engine performance: many creatures, memory, channel hops, hot-plug.

Run with ``python -m pytest tests/benchmarks -m benchmark -s -k engine``. Each test prints its
numbers and checks the budgets of the engine issue:

* 1, 10, 100 and 1,000 creatures in one process, each running a turn at once: turns per
  second, build-and-start time per creature (after one warm-up creature: first-use imports
  are not counted; at 100 creatures tracemalloc is on, which slows adding);
* memory per idle creature, with 1,000 idle creatures under 1 GiB in total;
* channel hop latency (``engine.send`` to the listener's ``TurnStarted``) under 1 ms (median);
* hot-plug: adding and removing one creature in an engine that already hosts 1,000;
* a creature hosted through the in-process loopback transport
  (``kt_terrarium.testing.LoopbackTransport``): one turn's round trip, and events per second
  coming back over the link. This is the cost of the transport protocol itself (JSON encoding,
  the worker loop), the floor under any networked transport.

Models are a tiny in-test ``LLM`` (one text chunk, no copies of the request), so the numbers
are the kernel's and the engine's own cost.

**Comparison with the reference framework** (``kohakuterrarium`` from PyPI): set
``KT_BENCH_REFERENCE_PYTHON`` to the Python of a separate virtualenv where it is installed
(``python -m venv /tmp/kohaku && /tmp/kohaku/bin/pip install kohakuterrarium``); the same
measurements then run there with its own ``ScriptedLLM`` (the reference's scripts are
asyncio), and the ratios are printed. ``KT_BENCH_REFERENCE_SIZES`` (default ``1,10,100``)
chooses the sizes: adding a creature costs the reference ~0.1 s, so 1,000 takes minutes.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import time
import tracemalloc
from pathlib import Path

import pytest
import trio

import kt
import kt_terrarium
from kt.events import TurnStarted

pytestmark = pytest.mark.benchmark

SIZES = (1, 10, 100, 1000)
GIB = 1024**3


class Quick:
    """A model that answers "ok" at once and keeps nothing; records when it was first called."""

    def __init__(self) -> None:
        self.first_call: float | None = None

    async def stream(self, request: kt.LLMRequest):
        if self.first_call is None:
            self.first_call = time.perf_counter()
        yield kt.TextChunk("ok")
        yield kt.LLMDone(usage=kt.Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2))


class TurnClock:
    """A creature plugin noting when each turn starts (``perf_counter``)."""

    def __init__(self) -> None:
        self.started: list[float] = []

    @kt.hookimpl
    def kt_event(self, event) -> None:
        if isinstance(event, TurnStarted):
            self.started.append(time.perf_counter())


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def scale(n: int, *, traced: bool) -> dict:
    kernel = kt.Kernel(plugins=[])
    async with kt_terrarium.Terrarium(kernel=kernel) as engine:
        warm = await engine.add_creature({"name": "warm"}, llm=Quick())  # first-use imports
        await engine.remove_creature(warm.id)
        gc.collect()
        before = rss()
        if traced:
            tracemalloc.start()
        t0 = time.perf_counter()
        creatures = [
            await engine.add_creature({"name": f"c{i}"}, llm=Quick(), session=False)
            for i in range(n)
        ]
        add = (time.perf_counter() - t0) / n
        gc.collect()
        traced_bytes = tracemalloc.get_traced_memory()[0] if traced else 0
        if traced:
            tracemalloc.stop()
        resident = rss() - before
        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for handle in creatures:
                nursery.start_soon(handle.run, "go")
        turns = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        extra = await engine.add_creature({"name": "extra"}, llm=Quick())
        await engine.connect("extra", creatures[0].id, channel="hotplug")
        hot_add = time.perf_counter() - t0
        t0 = time.perf_counter()
        await engine.remove_creature(extra.id)
        hot_remove = time.perf_counter() - t0
    return {
        "n": n,
        "add_ms": add * 1000,
        "rss_per_creature_kib": resident / n / 1024,
        "traced_per_creature_kib": traced_bytes / n / 1024 if traced else None,
        "turns_per_s": turns,
        "hot_add_ms": hot_add * 1000,
        "hot_remove_ms": hot_remove * 1000,
    }


async def hops(samples: int) -> dict:
    kernel = kt.Kernel(plugins=[])
    to_turn, to_model = [], []
    async with kt_terrarium.Terrarium(kernel=kernel) as engine:
        await engine.add_creature({"name": "a"}, llm=Quick())
        for i in range(samples):
            clock, model = TurnClock(), Quick()
            await engine.add_creature({"name": f"b{i}"}, llm=model, plugins=[clock])
            await engine.connect("a", f"b{i}", channel=f"ch{i}")
            t0 = time.perf_counter()
            await engine.send(f"ch{i}", "ping", graph=engine["a"].graph_id)
            await engine.wait_idle()
            to_turn.append((clock.started[0] - t0) * 1000)
            to_model.append((model.first_call - t0) * 1000)
    return {
        "hop_ms_median": statistics.median(to_turn),
        "hop_ms_p95": sorted(to_turn)[int(len(to_turn) * 0.95) - 1],
        "hop_to_model_ms_median": statistics.median(to_model),
    }


def test_engine_scale_memory_and_hot_plug():
    results = [trio.run(lambda n=n: scale(n, traced=n == 100)) for n in SIZES]
    print("\nterrarium engine, kt (bare kernel, trio):")
    for r in results:
        traced = (
            f", traced {r['traced_per_creature_kib']:.0f} KiB"
            if r["traced_per_creature_kib"] is not None
            else ""
        )
        print(
            f"  {r['n']:5d} creatures: add {r['add_ms']:.2f} ms each; "
            f"{r['turns_per_s']:.0f} turns/s at once; idle RSS {r['rss_per_creature_kib']:.0f} "
            f"KiB/creature{traced}; hot-plug add+connect {r['hot_add_ms']:.2f} ms, "
            f"remove {r['hot_remove_ms']:.2f} ms"
        )
    thousand = results[-1]
    total = thousand["rss_per_creature_kib"] * 1024 * 1000
    print(f"  1,000 idle creatures: {total / 2**20:.0f} MiB in total")
    assert total < GIB


def test_engine_channel_hop_latency():
    result = trio.run(hops, 200)
    print(
        f"\nchannel hop (send -> listener's TurnStarted): median {result['hop_ms_median']:.3f} "
        f"ms, p95 {result['hop_ms_p95']:.3f} ms; to the listener's model call: median "
        f"{result['hop_to_model_ms_median']:.3f} ms"
    )
    assert result["hop_ms_median"] < 1.0


class Loopback:
    """The loopback transport, as a plugin."""

    @kt.hookimpl
    def kt_transports(self) -> list[kt.TransportSpec]:
        from kt_terrarium.testing import LoopbackTransport

        return [kt.TransportSpec("loopback", LoopbackTransport)]


class Deltas:
    """A model that streams *n* text chunks per turn."""

    def __init__(self, n: int) -> None:
        self.n = n

    async def stream(self, request: kt.LLMRequest):
        for _ in range(self.n):
            yield kt.TextChunk("x")
        yield kt.LLMDone(usage=kt.Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2))


async def loopback(turns: int, deltas: int) -> dict:
    kernel = kt.Kernel(plugins=[Loopback()])
    models = {"quick": Quick(), "chatty": Deltas(deltas)}
    options = {"loopback": {"llm": lambda creature_id, config: models[creature_id]}}
    async with kt_terrarium.Terrarium(kernel=kernel, transports=options) as engine:
        quick = await engine.add_creature({"name": "quick"}, transport="loopback")
        chatty = await engine.add_creature({"name": "chatty"}, transport="loopback")
        await quick.run("warm up")
        times = []
        for _ in range(turns):
            t0 = time.perf_counter()
            await quick.run("ping")
            times.append((time.perf_counter() - t0) * 1000)
        events = engine.subscribe(creatures={"chatty"}, creature_events=True)
        t0 = time.perf_counter()
        for _ in range(20):
            await chatty.run("talk")
        elapsed = time.perf_counter() - t0
        count = 0
        while True:
            try:
                events.receive_nowait()
            except trio.WouldBlock:
                break
            count += 1
    return {
        "round_trip_ms_median": statistics.median(times),
        "round_trip_ms_p95": sorted(times)[int(len(times) * 0.95) - 1],
        "events_per_s": count / elapsed,
        "events_per_turn": count / 20,
    }


def test_engine_loopback_transport():
    result = trio.run(loopback, 200, 50)
    print(
        f"\nloopback transport: one turn round trip median {result['round_trip_ms_median']:.3f} "
        f"ms, p95 {result['round_trip_ms_p95']:.3f} ms; {result['events_per_s']:.0f} events/s "
        f"back over the link ({result['events_per_turn']:.0f} events per turn)"
    )
    assert result["round_trip_ms_median"] < 10.0


REFERENCE_SCRIPT = r"""
import asyncio, gc, json, logging, os, statistics, sys, time, tracemalloc
logging.disable(logging.CRITICAL)
from kohakuterrarium.terrarium.engine import Terrarium
from kohakuterrarium.core.config import AgentConfig
from kohakuterrarium.core.config_types import OutputConfig
from kohakuterrarium.core.channel import ChannelMessage
from kohakuterrarium.testing.llm import ScriptedLLM

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

class Stamp(ScriptedLLM):
    def __init__(self):
        super().__init__(["ok"])
        self.first_call = None
    async def chat(self, messages, **kw):
        if self.first_call is None:
            self.first_call = time.perf_counter()
        async for chunk in super().chat(messages, **kw):
            yield chunk

def cfg(name):
    return AgentConfig(name=name, output=OutputConfig(type="none"), default_plugins=[])

async def scale(n):
    t = Terrarium()
    warm = await t.add_creature(cfg("warm"), llm=ScriptedLLM(["ok"]), io="none")  # imports
    await t.remove_creature(warm.creature_id)
    gc.collect(); before = rss()
    if n == 100: tracemalloc.start()
    t0 = time.perf_counter()
    cs = [await t.add_creature(cfg(f"c{i}"), llm=ScriptedLLM(["ok"]), io="none") for i in range(n)]
    add = (time.perf_counter() - t0) / n
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] / n / 1024 if n == 100 else None
    if n == 100: tracemalloc.stop()
    mem = (rss() - before) / n / 1024
    t0 = time.perf_counter()
    await asyncio.gather(*(c.inject_input("go") for c in cs))
    turns = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    extra = await t.add_creature(cfg("extra"), llm=ScriptedLLM(["ok"]), io="none")
    await t.connect(extra.creature_id, cs[0].creature_id, channel="hotplug")
    hot_add = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    await t.remove_creature(extra.creature_id)
    hot_remove = (time.perf_counter() - t0) * 1000
    await t.shutdown()
    return {"n": n, "add_ms": add * 1000, "rss_per_creature_kib": mem,
            "traced_per_creature_kib": traced, "turns_per_s": turns,
            "hot_add_ms": hot_add, "hot_remove_ms": hot_remove}

async def hop(samples):
    t = Terrarium()
    a = await t.add_creature(cfg("a"), llm=ScriptedLLM(["ok"]), io="none")
    times = []
    for i in range(samples):
        llm = Stamp()
        b = await t.add_creature(cfg(f"b{i}"), llm=llm, io="none")
        res = await t.connect(a.creature_id, b.creature_id, channel=f"ch{i}")
        ch = t._environments[res.graph_id].shared_channels.get(f"ch{i}")
        await asyncio.sleep(0.05)  # its listener subscribes lazily: give it the time
        t0 = time.perf_counter()
        await ch.send(ChannelMessage(sender="human", content="ping"))
        while llm.first_call is None:
            await asyncio.sleep(0)
        times.append((llm.first_call - t0) * 1000)
    await t.shutdown()
    return {"hop_to_model_ms_median": statistics.median(times)}

async def main():
    sizes = [int(x) for x in sys.argv[1].split(",")]
    print(json.dumps({"scale": [await scale(n) for n in sizes], "hop": await hop(20)}))

asyncio.run(main())
"""


def test_engine_compared_with_the_reference(tmp_path):
    python = os.environ.get("KT_BENCH_REFERENCE_PYTHON")
    if not python or not Path(python).exists():
        pytest.skip(
            "set KT_BENCH_REFERENCE_PYTHON to the python of a virtualenv with kohakuterrarium "
            "installed to compare (see this module's docstring)"
        )
    sizes = os.environ.get("KT_BENCH_REFERENCE_SIZES", "1,10,100")
    script = tmp_path / "reference_bench.py"
    script.write_text(REFERENCE_SCRIPT)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}  # offline, no user state
    done = subprocess.run(
        [python, str(script), sizes],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    reference = json.loads(done.stdout.strip().splitlines()[-1])
    ours = {
        r["n"]: r
        for r in (
            trio.run(lambda n=n: scale(n, traced=n == 100))
            for n in (int(s) for s in sizes.split(","))
        )
    }
    hop = trio.run(hops, 20)
    print("\nkt vs kohakuterrarium (reference / kt; above 1 means kt is better):")
    for ref in reference["scale"]:
        mine = ours[ref["n"]]
        print(
            f"  {ref['n']:5d} creatures: add {ref['add_ms']:.1f} vs {mine['add_ms']:.2f} ms "
            f"(x{ref['add_ms'] / mine['add_ms']:.0f}); turns/s {ref['turns_per_s']:.0f} vs "
            f"{mine['turns_per_s']:.0f} (x{mine['turns_per_s'] / ref['turns_per_s']:.1f}); "
            f"idle RSS {ref['rss_per_creature_kib']:.0f} vs {mine['rss_per_creature_kib']:.0f} "
            f"KiB; hot add {ref['hot_add_ms']:.1f} vs {mine['hot_add_ms']:.2f} ms, remove "
            f"{ref['hot_remove_ms']:.2f} vs {mine['hot_remove_ms']:.2f} ms"
        )
        if ref.get("traced_per_creature_kib") and mine.get("traced_per_creature_kib"):
            print(
                f"        traced Python memory per creature: {ref['traced_per_creature_kib']:.0f}"
                f" vs {mine['traced_per_creature_kib']:.0f} KiB"
            )
    print(
        f"  channel hop to the listener's model call: {reference['hop']['hop_to_model_ms_median']:.3f}"
        f" vs {hop['hop_to_model_ms_median']:.3f} ms "
        f"(x{reference['hop']['hop_to_model_ms_median'] / hop['hop_to_model_ms_median']:.1f})"
    )
