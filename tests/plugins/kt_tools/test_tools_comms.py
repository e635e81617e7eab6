"""send_message against a channel service, and stop_task against the creature's jobs."""

from __future__ import annotations

import trio
from kt_tools_helpers import drive

import kt
from kt.events import ToolCallCompleted


class FakeChannels:
    """A channel service as the terrarium engine provides one (see kt.CHANNEL_SERVICE)."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def channels(self):
        return {"tasks": "queue", "review": "broadcast"}

    async def send(self, channel, content, *, sender, reply_to=None, metadata=None):
        if channel == "review":
            raise PermissionError("you may listen on 'review' but not send on it")
        self.sent.append((channel, content, sender, reply_to, metadata))
        return f"msg_{len(self.sent)}"


async def test_send_message_without_channels_says_so(work):
    async with drive(work, ["send_message"]) as t:
        record = await t.call("send_message", channel="tasks", message="hi")
    assert record.status == "error" and "no channels" in record.error


async def test_scenario_19_unknown_channel_is_refused_known_channel_delivers(work):
    service = FakeChannels()
    async with drive(work, ["send_message"]) as t:
        t.agent.stash[kt.CHANNEL_SERVICE] = service
        invented = await t.call("send_message", channel="team_chat", message="hi")
        sent = await t.call(
            "send_message",
            channel="tasks",
            message="fix the bug " * 10,
            reply_to="m0",
            metadata='{"p": 1}',
        )
        alias = await t.call(
            "send_message", channel="tasks", content="via content", metadata="{bad json"
        )
        denied = await t.call("send_message", channel="review", message="x")
        empty = await t.call("send_message", channel="tasks")
    assert "unknown channel 'team_chat'" in invented.error
    assert "tasks (queue)" in invented.error and "do not invent" in invented.error
    assert (
        sent.status == "ok" and "message id msg_1" in sent.output and "No follow-up" in sent.output
    )
    assert "..." in sent.output  # a 60-character preview
    assert service.sent[0] == ("tasks", "fix the bug " * 10, "tester", "m0", {"p": 1})
    assert alias.status == "ok" and service.sent[1][1] == "via content" and service.sent[1][4] == {}
    assert "cannot send on 'review'" in denied.error and "not send" in denied.error
    assert "message is required" in empty.error


async def test_stop_task_cancels_a_background_tool_job(work):
    async with drive(work, ["bash", "stop_task"]) as t:
        events = t.agent.subscribe()
        started = await t.call("bash", command="true && sleep 30", run_in_background=True)
        assert started.status == "running"
        job = t.agent.jobs[started.id]
        stopped = await t.call("stop_task", job_id=started.id)
        with trio.fail_after(10):  # the job's own completion event, once its process is gone
            async for event in events:
                if isinstance(event, ToolCallCompleted) and event.call_id == started.id:
                    if event.background and event.status != "running":
                        break
        events.close()
        again = await t.call("stop_task", job_id=started.id)
    assert stopped.status == "ok" and stopped.output == f"Cancelled tool: {started.id} (bash)"
    assert job.status == "cancelled"
    assert again.output == f"Task {started.id} is already cancelled"


class Ticker:
    """A trigger that runs until cancelled."""

    def __init__(self, name):
        self.name = name

    async def run(self, agent, *, task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        await trio.sleep_forever()


async def test_stop_task_cancels_triggers_by_id_or_name(work):
    async with drive(work, ["stop_task"]) as t:
        by_id = await t.agent.add_trigger(Ticker("t1"))
        by_name = await t.agent.add_trigger(Ticker("nightly"))
        first = await t.call("stop_task", job_id=by_id.id)
        second = await t.call("stop_task", job_id="nightly")
        unknown = await t.call("stop_task", job_id="trigger_zzz")
        await trio.testing.wait_all_tasks_blocked()
    assert first.output == f"Cancelled trigger: {by_id.id} (t1)"
    assert second.output == f"Cancelled trigger: {by_name.id} (nightly)"
    assert by_id.status == by_name.status == "cancelled"
    assert unknown.status == "error" and "Task not found" in unknown.error
