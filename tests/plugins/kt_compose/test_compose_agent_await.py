"""``compose.agent(...)`` works with and without ``await``, as the seed framework writes it."""

from __future__ import annotations

import kt
import kt_compose as compose
from kt.testing import ScriptedLLM


async def test_async_with_await_agent_is_the_same_step():
    step = compose.agent(
        {"name": "s"}, llm=ScriptedLLM(["hi", "again"]), kernel=kt.Kernel(plugins=[])
    )
    assert await step is step
    async with await compose.agent(
        {"name": "s"}, llm=ScriptedLLM(["hi"]), kernel=kt.Kernel(plugins=[])
    ) as awaited:
        assert await awaited("hello") == "hi"
    async with step as plain:
        assert await plain("hello") == "hi"
