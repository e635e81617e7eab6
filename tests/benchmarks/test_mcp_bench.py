"""kt_mcp performance: creature start-up with MCP servers, and per-call overhead.

Run with ``python -m pytest tests/benchmarks -m benchmark -s -k mcp``. Budgets from the MCP
issue:

* start-up with 0, 1 and 5 stdio servers: servers start concurrently, so 5 servers cost far
  less than 5 times one (checked with a server that starts in milliseconds, so the numbers are
  kt's own; the toy server built with the SDK is measured too, for a realistic figure);
* per call, kt adds under 1 ms over the SDK's bare ``ClientSession.call_tool`` on the same
  server (both the plugin's path alone and the whole path through the kernel's executor).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import pytest

import kt
import kt_mcp
from kt.testing import ScriptedLLM

pytestmark = pytest.mark.benchmark

SERVERS = Path(__file__).resolve().parents[1] / "plugins" / "kt_mcp" / "servers"
RAW = SERVERS / "raw_server.py"
TOY = SERVERS / "toy_server.py"


@pytest.fixture(autouse=True)
def kt_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KT_HOME", str(tmp_path / "kt-home"))


def _config(script: Path, count: int) -> dict:
    servers = [
        {"name": f"s{i}", "command": sys.executable, "args": [str(script)]} for i in range(count)
    ]
    return {"name": "bench", "mcp_servers": servers}


async def _start_stop(script: Path, count: int) -> tuple[float, float]:
    kernel = kt.Kernel(plugins=[kt_mcp])
    t0 = time.perf_counter()
    agent = await kt.Agent.build(_config(script, count), llm=ScriptedLLM(["x"]), kernel=kernel)
    await agent.start()
    ready = time.perf_counter() - t0
    assert len(agent.tools) == count * (1 if script == RAW else 7) + (
        2 if script == TOY and count else 0
    )
    t1 = time.perf_counter()
    await agent.stop()
    return ready, time.perf_counter() - t1


async def test_startup_with_0_1_and_5_stdio_servers():
    import mcp.client.stdio  # noqa: F401  (the SDK's import is paid once per process)

    rows = {}
    for script in (RAW, TOY):
        for count in (0, 1, 5):
            runs = [await _start_stop(script, count) for _ in range(3)]
            rows[script.stem, count] = (
                statistics.median(r[0] for r in runs),
                statistics.median(r[1] for r in runs),
            )
    print()
    for (stem, count), (ready, stop) in rows.items():
        print(f"{stem:>10} x{count}: ready {ready * 1000:7.1f} ms, stop {stop * 1000:7.1f} ms")
    one, five = rows["raw_server", 1][0], rows["raw_server", 5][0]
    assert rows["raw_server", 0][0] < 0.05
    assert five < 3 * one, "servers must start concurrently, not one after another"
    toy_one, toy_five = rows["toy_server", 1][0], rows["toy_server", 5][0]
    assert toy_five < 4 * toy_one  # 5 SDK servers share 2 cores; one after another is 5x


async def test_per_call_overhead_over_the_bare_sdk_session():
    from kt_mcp.tools import call_mcp_tool

    calls = 400
    kernel = kt.Kernel(plugins=[kt_mcp])
    agent = await kt.Agent.build(_config(RAW, 1), llm=ScriptedLLM(["x"]), kernel=kernel)
    async with agent:
        connection = kt_mcp.manager.manager(agent).connections["s0"]
        session = connection.session  # the baseline calls the very session kt uses

        async def bare():
            await session.call_tool("echo", {"text": "hi"})

        async def plugin():
            result = await call_mcp_tool(connection, "echo", {"text": "hi"})
            assert result.output == "hi"

        async def kernel_path():
            record = await agent.call_tool("s0__echo", {"text": "hi"})
            assert record.status == "ok"

        paths = {"bare ClientSession.call_tool": bare, "kt_mcp call": plugin}
        paths["agent.call_tool (kernel executor)"] = kernel_path
        timings: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(20):  # warm up every path
            for fn in paths.values():
                await fn()
        for _ in range(20):  # interleaved batches, so drift hits every path alike
            for name, fn in paths.items():
                t0 = time.perf_counter()
                for _ in range(calls // 20):
                    await fn()
                timings[name].append((time.perf_counter() - t0) / (calls // 20))
    medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    base = medians["bare ClientSession.call_tool"]
    print()
    for name, value in medians.items():
        print(f"{name:>36}: {value:.3f} ms/call (+{value - base:.3f} ms)")
    assert medians["kt_mcp call"] - base < 1.0
    assert medians["agent.call_tool (kernel executor)"] - base < 1.0
