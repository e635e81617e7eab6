"""kt_breaker: a failing tool is paused after repeated failures, then tried again."""

from __future__ import annotations

import pytest

import kt
import kt_breaker
from kt.testing import ScriptedLLM, ToolCall


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    def __init__(self) -> None:
        self.calls = 0
        self.healthy = False

    def spec(self) -> kt.ToolSpec:
        @kt.tool(name="fetch")
        def fetch() -> str:
            """Fetch."""
            self.calls += 1
            if not self.healthy:
                raise ConnectionError("server down")
            return "fetched"

        return fetch


async def call_fetch(agent) -> kt.results.ToolCallRecord:
    result = await agent.run("fetch it")
    return result.tool_calls[0]


async def test_closed_open_half_open_closed():
    clock, flaky = Clock(), Flaky()
    breaker = kt_breaker.CircuitBreaker(failures=2, window=60, cooldown=30, clock=clock)
    llm = ScriptedLLM([ToolCall("fetch", {}), "ok"] * 8)
    async with await kt.Agent.build(
        {"name": "b"},
        llm=llm,
        kernel=kt.Kernel(plugins=[]),
        tools=[flaky.spec()],
        plugins=[breaker],
    ) as agent:
        assert (await call_fetch(agent)).status == "error"
        assert (await call_fetch(agent)).status == "error"
        assert breaker.circuit("fetch").state == kt_breaker.OPEN
        refused = await call_fetch(agent)
        assert refused.status == "blocked" and "paused for 30s more" in refused.error
        assert flaky.calls == 2  # the refused call never ran

        clock.now += 31  # the trial fails: open again, cooldown doubled
        assert (await call_fetch(agent)).status == "error"
        assert breaker.circuit("fetch").state == kt_breaker.OPEN
        clock.now += 31
        assert (await call_fetch(agent)).status == "blocked"  # 60s now, not 30s

        clock.now += 30
        flaky.healthy = True
        assert (await call_fetch(agent)).status == "ok"
        assert breaker.circuit("fetch").state == kt_breaker.CLOSED
        assert breaker.circuit("fetch").cooldown == 30


async def test_failures_outside_the_window_do_not_count():
    clock, flaky = Clock(), Flaky()
    breaker = kt_breaker.CircuitBreaker(failures=2, window=10, clock=clock)
    llm = ScriptedLLM([ToolCall("fetch", {}), "ok"] * 3)
    async with await kt.Agent.build(
        {"name": "b"},
        llm=llm,
        kernel=kt.Kernel(plugins=[]),
        tools=[flaky.spec()],
        plugins=[breaker],
    ) as agent:
        await call_fetch(agent)
        clock.now += 11
        await call_fetch(agent)
        assert breaker.circuit("fetch").state == kt_breaker.CLOSED
        assert (await call_fetch(agent)).status == "error"  # two within 10s: open
        assert breaker.circuit("fetch").state == kt_breaker.OPEN


def test_bad_settings_are_a_config_error():
    with pytest.raises(kt.errors.ConfigError, match="failures must be at least 1"):
        kt_breaker.CircuitBreaker(failures=0)
