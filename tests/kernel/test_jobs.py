"""Jobs (background work listed and cancellable on the agent) and restoring history."""

from __future__ import annotations

import pytest
import trio

import kt
from kt.llm import Message
from kt.llm import ToolCall as _TC
from kt.testing import ScriptedLLM, ToolCall


async def build(llm=None, tools=()):
    return await kt.Agent.build(
        {"name": "j"}, llm=llm or ScriptedLLM(["ok"]), tools=tools, kernel=kt.Kernel(plugins=[])
    )


async def test_jobs_run_are_listed_and_end(autojump_clock):
    async with await build() as agent:
        ran = trio.Event()

        async def work(x):
            await trio.sleep(1)
            ran.set()

        job = agent.start_job(work, 1, name="work")
        assert agent.jobs[job.id].status == "running"
        await ran.wait()
        await trio.testing.wait_all_tasks_blocked()
        assert job.status == "done" and job.ended_at is not None


async def test_job_errors_are_recorded_not_raised():
    async with await build() as agent:

        async def boom():
            raise RuntimeError("bad")

        job = agent.start_job(boom, name="boom")
        await trio.testing.wait_all_tasks_blocked()
        assert job.status == "error" and "RuntimeError: bad" in job.error
        assert (await agent.run("still fine")).status == "completed"


async def test_cancel_job_and_duplicate_ids(autojump_clock):
    async with await build() as agent:
        job = agent.start_job(trio.sleep_forever, name="forever", job_id="j1")
        with pytest.raises(ValueError, match="j1"):
            agent.start_job(trio.sleep_forever, name="again", job_id="j1")
        assert agent.cancel_job("j1") is True
        await trio.testing.wait_all_tasks_blocked()
        assert job.status == "cancelled"
        assert agent.cancel_job("j1") is False
        assert agent.cancel_job("nope") is False


async def test_start_service_returns_once_ready():
    async with await build() as agent:
        ready = []

        async def service(*, task_status=trio.TASK_STATUS_IGNORED):
            ready.append(True)
            task_status.started()
            await trio.sleep_forever()

        job = await agent.start_service(service, name="svc", kind="trigger")
        assert ready == [True] and job.kind == "trigger"
    assert job.status == "cancelled"  # stopping the agent ends its jobs


async def test_background_call_is_a_cancellable_job(autojump_clock):
    @kt.tool
    async def slow() -> str:
        """Slow."""
        await trio.sleep(100)
        return "never"

    llm = ScriptedLLM([ToolCall("slow", {"run_in_background": True}, id="bg1"), "started it"])
    recorder = kt.testing.EventRecorder()
    agent = await kt.Agent.build(
        {"name": "j"}, llm=llm, tools=[slow], kernel=kt.Kernel(plugins=[recorder])
    )
    async with agent:
        await agent.run("go")
        assert agent.jobs["bg1"].kind == "tool" and agent.jobs["bg1"].status == "running"
        assert agent.cancel_job("bg1")
        await trio.testing.wait_all_tasks_blocked()
        assert agent.jobs["bg1"].status == "cancelled"
    done = [e for e in recorder.of_type(kt.events.ToolCallCompleted) if e.call_id == "bg1"]
    assert done[-1].status == "cancelled"


async def test_restore_repairs_and_continues():
    saved = [
        Message("user", "hi"),
        Message("assistant", "", tool_calls=(_TC("echo", {}, "c1"),)),  # crashed mid-call
    ]
    llm = ScriptedLLM(["welcome back"])
    agent = await build(llm)
    agent.restore(saved, usage=kt.Usage(10, 2, 12), turn_index=4)
    async with agent:
        result = await agent.run("again")
        with pytest.raises(kt.AgentStateError):
            agent.restore([])
    assert result.turn_index == 5
    roles = [m.role for m in llm.last_call.messages]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    assert "In doubt" in llm.last_call.messages[3].content
    assert agent.usage.total_tokens > 12
