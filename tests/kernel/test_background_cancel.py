"""A cancelled background call still answers the model: its result "will arrive", and does."""

from __future__ import annotations

import os

import pytest
import trio

import kt
import kt_tools
from kt.testing import ScriptedLLM, ToolCall


async def test_cancelling_a_background_job_gives_the_model_a_turn_saying_so():
    started = trio.Event()

    @kt.tool(background=True)
    async def watch(what: str) -> str:
        """Watch something for a long time.

        Args:
            what: What to watch.
        """
        started.set()
        await trio.sleep_forever()
        return "never"

    llm = ScriptedLLM([ToolCall("watch", {"what": "the kettle"}), "Started.", "Understood."])
    agent = await kt.Agent.build(
        {"name": "bg"}, llm=llm, tools=[watch], kernel=kt.Kernel(plugins=[])
    )
    async with agent:
        events = agent.subscribe()
        await agent.run("watch the kettle")
        await started.wait()
        (job_id,) = [j.id for j in agent.jobs.values() if j.kind == "tool"]
        assert agent.cancel_job(job_id)
        with trio.fail_after(30):  # before the fix, no turn ever came
            async for event in events:
                if event.type == "turn_completed" and event.result.input.startswith("[Backg"):
                    told = event.result
                    break
    assert told.status == "completed"
    assert told.input.startswith(f"[Background job {job_id} (watch) was cancelled]")
    assert "Cancelled:" in told.input
    assert llm.calls[-1].messages[-1].content == told.input


async def test_cancelling_a_background_bash_job_kills_it_and_tells_the_model(tmp_path):
    llm = ScriptedLLM(
        [
            ToolCall(
                "bash",
                {"command": "echo $$ > pid; exec tail -f /dev/null", "run_in_background": True},
            ),
            "Running.",
            "Noted: it was cancelled.",
        ]
    )
    agent = await kt.Agent.build(
        {"name": "sh", "tools": [{"name": "bash"}]},
        llm=llm,
        kernel=kt.Kernel(plugins=[kt_tools]),
        pwd=tmp_path,
    )
    async with agent:
        events = agent.subscribe()
        await agent.run("sleep in the background")
        (job,) = [j for j in agent.jobs.values() if j.kind == "tool"]
        while not (tmp_path / "pid").is_file() or not (tmp_path / "pid").read_text().strip():
            await trio.sleep(0.01)  # the shell writes its pid: an external event, polled
        pid = int((tmp_path / "pid").read_text())
        assert agent.cancel_job(job.id)
        with trio.fail_after(30):  # before the fix, no turn ever came
            async for event in events:
                if event.type == "turn_completed" and event.result.input.startswith("[Backg"):
                    told = event.result
                    break
    assert f"[Background job {job.id} (bash) was cancelled]" in told.input
    assert job.status == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the command was killed, not left behind
