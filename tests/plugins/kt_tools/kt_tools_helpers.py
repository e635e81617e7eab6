"""Test helpers for kt_tools: a creature with chosen built-in tools, one tool call per turn."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import kt
import kt_tools
from kt.testing import ScriptedLLM, ToolCall


class ToolDriver:
    """Runs one scripted tool call per turn on a real agent and returns its record."""

    def __init__(self, agent: kt.Agent, queue: list[ToolCall]) -> None:
        self.agent = agent
        self._queue = queue

    @property
    def path(self) -> Path:
        return self.agent.working_dir

    async def call(self, name: str, /, **args: Any) -> kt.ToolCallRecord:
        """Have the model call *name* with *args*; return the call's record."""
        self._queue.append(ToolCall(name, args))
        result = await self.agent.run("go")
        assert result.status == "completed", result
        (record,) = result.tool_calls
        return record


def _reply(queue: list[ToolCall]):
    def reply(request: kt.LLMRequest):
        last = request.messages[-1]
        if last.role == "tool":
            return "done"
        if isinstance(last.content, str) and last.content.startswith("[Background job"):
            return "noted"  # a background job finished: not one of the driver's turns
        return queue.pop(0)

    return reply


@contextlib.asynccontextmanager
async def drive(
    working_dir: Path,
    tools: Sequence[str | Mapping[str, Any]],
    *,
    kernel: kt.Kernel | None = None,
    controller: Mapping[str, Any] | None = None,
) -> AsyncIterator[ToolDriver]:
    """A started creature in *working_dir* whose config lists *tools* (names or entries)."""
    entries = [{"name": t} if isinstance(t, str) else dict(t) for t in tools]
    config: dict[str, Any] = {"name": "tester", "tools": entries}
    if controller:
        config["controller"] = dict(controller)
    queue: list[ToolCall] = []
    llm = ScriptedLLM([_reply(queue)])
    kernel = kernel or kt.Kernel(plugins=[kt_tools])
    async with await kt.Agent.build(config, llm=llm, kernel=kernel, pwd=working_dir) as agent:
        yield ToolDriver(agent, queue)
