"""The reference framework's side of the comparison run (kohakuterrarium, asyncio).

Run by ``tests/benchmarks/test_compare_bench.py`` with the Python of a separate virtualenv
where ``kohakuterrarium`` is installed; never imported by the test suite. Each workload
mirrors the one of the same name in ``ours.py`` and prints one JSON object (milliseconds).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPLY = "A short scripted reply of about sixty characters, every turn."


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class MinimalModel:
    """The least its provider contract asks for: one chunk per call."""

    last_usage: dict = {}

    async def chat(self, messages, *, stream=True, **kwargs):
        yield REPLY

    async def close(self):
        return None


def config(name: str):
    from kohakuterrarium.core.config import AgentConfig
    from kohakuterrarium.core.config_types import OutputConfig

    return AgentConfig(
        name=name, system_prompt="You answer briefly.", output=OutputConfig(type="none")
    )


def scripted(turns: int):
    from kohakuterrarium.testing.llm import ScriptedLLM, ScriptEntry

    return ScriptedLLM([ScriptEntry(response=REPLY, chunk_size=20)] * turns)


async def per_turn(model: str, histories: list[int], measured: int = 20) -> dict:
    from kohakuterrarium.core.agent import Agent

    results = {}
    for history in histories:
        llm = scripted(history + measured + 5) if model == "scripted" else MinimalModel()
        agent = await Agent.build(config("bench"), llm=llm, io="headless")
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
    from kohakuterrarium.core.agent import Agent

    async def once() -> float:
        start = time.perf_counter()
        agent = await Agent.build(config("bench"), llm=scripted(2), io="headless")
        await agent.start()
        elapsed = time.perf_counter() - start
        await agent.stop()
        return elapsed

    await once()
    return {"median": statistics.median([await once() for _ in range(runs)]) * 1000}


async def idle_memory(count: int = 60) -> dict:
    from kohakuterrarium.core.agent import Agent

    warm = await Agent.build(config("warm"), llm=scripted(2), io="headless")
    await warm.start()
    await warm.stop()
    gc.collect()
    before = rss()
    agents = []
    for i in range(count):
        agent = await Agent.build(config(f"c{i}"), llm=scripted(2), io="headless")
        await agent.start()
        agents.append(agent)
    gc.collect()
    per = (rss() - before) / count / 1024
    for agent in reversed(agents):
        await agent.stop()
    return {"kib_per_creature": per}


async def persistence(turns: int = 200) -> dict:
    from kohakuterrarium.core.agent import Agent
    from kohakuterrarium.session.store import SessionStore

    async def run(session: bool) -> float:
        agent = await Agent.build(config("bench"), llm=MinimalModel(), io="headless")
        store = None
        if session:
            folder = Path(tempfile.mkdtemp())
            store = SessionStore(folder / "bench.kohakutr", writer_lock=True)
            store.init_meta(
                session_id="bench",
                config_type="agent",
                config_path=str(folder),
                pwd=str(folder),
                agents=["bench"],
            )
            agent.attach_session_store(store)
        times = []
        async with agent:
            for i in range(turns):
                start = time.perf_counter()
                await agent.run(f"question {i}")
                times.append(time.perf_counter() - start)
        if store is not None:
            store.close()
        return statistics.median(times[20:]) * 1000

    off, on = await run(False), await run(True)
    return {"off": off, "on": on, "cost": on - off}


async def http_turn(url: str, runs: int = 30) -> dict:
    from kohakuterrarium.core.agent import Agent
    from kohakuterrarium.llm.openai import OpenAIProvider

    llm = OpenAIProvider(api_key="sk-bench", base_url=url, model="short", max_retries=0)
    agent = await Agent.build(config("http"), llm=llm, io="headless")
    times = []
    async with agent:
        await agent.run("warm up")
        for i in range(runs):
            start = time.perf_counter()
            await agent.run(f"question {i}")
            times.append(time.perf_counter() - start)
    return {"median": statistics.median(times) * 1000}


WORKLOADS = {
    "per_turn": lambda args: per_turn(args[0], [int(n) for n in args[1].split(",")]),
    "build_to_ready": lambda args: build_to_ready(),
    "idle_memory": lambda args: idle_memory(),
    "persistence": lambda args: persistence(),
    "http_turn": lambda args: http_turn(args[0]),
}

if __name__ == "__main__":
    name, *rest = sys.argv[1:]
    print(json.dumps(asyncio.run(WORKLOADS[name](rest))))
