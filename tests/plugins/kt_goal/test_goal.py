"""kt_goal: setting the scratchpad flag ends the creature's run."""

from __future__ import annotations

import pytest

import kt
import kt_goal
import kt_tools
from kt.errors import AgentTerminatedError
from kt.events import CreatureTerminated
from kt.testing import EventRecorder, ScriptedLLM, ToolCall


async def test_the_flag_ends_the_run_after_the_turn():
    recorder = EventRecorder()
    llm = ScriptedLLM(
        [
            "still working",
            ToolCall("scratchpad", {"action": "set", "key": "goal_achieved", "value": "true"}),
            "all done",
        ]
    )
    config = {"name": "worker", "tools": [{"name": "scratchpad"}]}
    async with await kt.Agent.build(
        config,
        llm=llm,
        kernel=kt.Kernel(plugins=[kt_tools, recorder]),
        plugins=[kt_goal.GoalTermination()],
    ) as agent:
        await agent.run("step 1")
        assert not recorder.of_type(CreatureTerminated)
        result = await agent.run("step 2")
        assert result.text == "all done"
        [ended] = recorder.of_type(CreatureTerminated)
        assert ended.limit == "goal" and "goal_achieved" in ended.reason
        with pytest.raises(AgentTerminatedError):
            await agent.run("step 3")
    assert 'set the scratchpad key "goal_achieved"' in llm.calls[0].messages[0].content
