"""KT Terrarium's side of the comparison run: each workload prints one JSON object.

Run as ``python ours.py WORKLOAD [ARGS]`` by ``tests/benchmarks/test_compare_bench.py``, in its
own process so start-up costs and memory are measured cleanly. Times are in milliseconds.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time

REPLY = "A short scripted reply of about sixty characters, every turn."


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class MinimalModel:
    """The least a model can do: one text chunk and the closing chunk, no bookkeeping."""

    async def stream(self, request):
        import kt

        yield kt.TextChunk(REPLY)
        yield kt.LLMDone()


async def per_turn(model: str, histories: list[int], measured: int = 20) -> dict:
    """Median time of one text turn after 10 / 100 / 1,000 turns of history."""
    import kt
    from kt.testing import ScriptedLLM

    results = {}
    for history in histories:
        llm = ScriptedLLM([REPLY], chunk_size=20) if model == "scripted" else MinimalModel()
        agent = await kt.Agent.build({"name": "bench"}, llm=llm, kernel=kt.Kernel(plugins=[]))
        async with agent:
            for i in range(history):
                await agent.run(f"question {i}")
            times = []
            for i in range(measured):
                start = time.perf_counter()
                await agent.run(f"measured {i}")
                times.append(time.perf_counter() - start)
        results[str(history)] = statistics.median(times) * 1000
    return results


async def build_to_ready(runs: int = 20) -> dict:
    """``Agent.build`` + start with the default plugin set, in a warm process."""
    import kt
    from kt.testing import ScriptedLLM

    async def once() -> float:
        start = time.perf_counter()
        agent = await kt.Agent.build({"name": "bench"}, llm=ScriptedLLM(["x"]))
        await agent.start()
        elapsed = time.perf_counter() - start
        await agent.stop()
        return elapsed

    await once()  # the first build imports the plugins
    return {"median": statistics.median([await once() for _ in range(runs)]) * 1000}


async def idle_memory(count: int = 60) -> dict:
    """Resident memory per started, idle creature (default plugin set)."""
    import kt
    from kt.testing import ScriptedLLM

    kernel = kt.Kernel()
    warm = await kt.Agent.build({"name": "warm"}, llm=ScriptedLLM(["x"]), kernel=kernel)
    await warm.start()
    await warm.stop()
    gc.collect()
    before = rss()
    agents = []
    for i in range(count):
        agent = await kt.Agent.build({"name": f"c{i}"}, llm=ScriptedLLM(["x"]), kernel=kernel)
        await agent.start()
        agents.append(agent)
    gc.collect()
    per = (rss() - before) / count / 1024
    for agent in reversed(agents):  # each started inside the one before: stop inner first
        await agent.stop()
    return {"kib_per_creature": per}


async def persistence(turns: int = 200) -> dict:
    """Median turn time with the session store off and on; the difference is its cost."""
    import tempfile

    import kt

    folder = tempfile.mkdtemp()

    async def run(session: bool) -> float:
        options = {"session": True, "session_dir": folder} if session else {}
        kernel = kt.Kernel(plugins=["kt_sessions"])
        agent = await kt.Agent.build(
            {"name": "bench"}, llm=MinimalModel(), kernel=kernel, **options
        )
        times = []
        async with agent:
            for i in range(turns):
                start = time.perf_counter()
                await agent.run(f"question {i}")
                times.append(time.perf_counter() - start)
        return statistics.median(times[20:]) * 1000

    off, on = await run(False), await run(True)
    return {"off": off, "on": on, "cost": on - off}


async def session_open(runs: int = 20) -> dict:
    """Building and starting a creature with a new session file, minus the same without one."""
    import tempfile

    import kt

    kernel = kt.Kernel(plugins=["kt_sessions"])
    folder = tempfile.mkdtemp()

    async def once(session: bool) -> float:
        options = {"session": True, "session_dir": folder} if session else {}
        start = time.perf_counter()
        agent = await kt.Agent.build({"name": "s"}, llm=MinimalModel(), kernel=kernel, **options)
        await agent.start()
        elapsed = time.perf_counter() - start
        await agent.stop()
        return elapsed

    await once(True)
    with_file = statistics.median([await once(True) for _ in range(runs)])
    without = statistics.median([await once(False) for _ in range(runs)])
    return {"open_ms": (with_file - without) * 1000}


async def http_turn(url: str, runs: int = 30) -> dict:
    """One text turn through the OpenAI-compatible backend against a loopback server."""
    import kt
    from kt.llm import LLMProfile

    profile = LLMProfile(
        name="bench", backend="openai", model="short", base_url=url, api_key="sk-bench"
    )
    llm = kt.Kernel(plugins=["kt_openai"]).llm_backends["openai"].factory(profile)
    agent = await kt.Agent.build({"name": "http"}, llm=llm, kernel=kt.Kernel(plugins=[]))
    times = []
    async with agent:
        await agent.run("warm up")
        for i in range(runs):
            start = time.perf_counter()
            await agent.run(f"question {i}")
            times.append(time.perf_counter() - start)
    return {"median": statistics.median(times) * 1000}


async def first_delta(url: str) -> dict:
    """A fresh process's first model call: from ``run_stream`` to its first text delta.

    Imports, the kernel and the started creature come before the clock starts (they are
    start-up, measured by ``kt run``); whatever the first call still does lazily counts.
    """
    import kt
    from kt.events import TextDelta
    from kt.llm import LLMProfile

    kernel = kt.Kernel()
    profile = LLMProfile(
        name="bench", backend="openai", model="short", base_url=url, api_key="sk-bench"
    )
    llm = kernel.llm_backends["openai"].factory(profile)
    async with await kt.Agent.build({"name": "first"}, llm=llm, kernel=kernel) as agent:
        start = time.perf_counter()
        first = None
        async for event in agent.run_stream("hello"):
            if isinstance(event, TextDelta) and first is None:
                first = time.perf_counter() - start
    return {"first_delta": first * 1000}


WORKLOADS = {
    "first_delta": lambda args: first_delta(args[0]),
    "per_turn": lambda args: per_turn(args[0], [int(n) for n in args[1].split(",")]),
    "build_to_ready": lambda args: build_to_ready(),
    "idle_memory": lambda args: idle_memory(),
    "persistence": lambda args: persistence(),
    "session_open": lambda args: session_open(),
    "http_turn": lambda args: http_turn(args[0]),
}

if __name__ == "__main__":
    import trio

    name, *rest = sys.argv[1:]
    print(json.dumps(trio.run(WORKLOADS[name], rest)))
