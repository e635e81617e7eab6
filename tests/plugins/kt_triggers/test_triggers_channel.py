"""Channel watchers against a fake channel service (the protocol the terrarium engine provides)."""

from __future__ import annotations

import pytest
import trio
from triggers_helpers import FakeChannels, build, turns

import kt
from kt.testing import EventRecorder, ScriptedLLM, ScriptEntry, ToolCall
from kt_triggers import ChannelTrigger, TriggerConfigError, TriggerFired


@kt.tool
async def send_message(channel: str, message: str, ctx: kt.ToolContext) -> str:
    """Send on a channel (a stand-in for kt_tools' send_message, using the same service).

    Args:
        channel: The channel.
        message: The text.
        ctx: The call.
    """
    service = ctx.agent.stash[kt.CHANNEL_SERVICE]
    message_id = await service.send(
        channel, message, sender=ctx.agent.name, sender_id=service.creature_id
    )
    return f"sent {message_id}"


async def channel_agent(channels, config=None, **kwargs):
    agent = await build(config, **kwargs)
    agent.stash[kt.CHANNEL_SERVICE] = channels
    return agent


async def test_scenario_19_watch_channel_ignores_the_creatures_own_messages(autojump_clock):
    channels = FakeChannels("tasks")
    calls = {
        "watch": ToolCall("watch_channel", {"channel_name": "tasks", "name": "w"}),
        "send": ToolCall("send_message", {"channel": "tasks", "message": "from me"}),
    }

    def reply(request):
        last = request.messages[-1]
        return "ok" if last.role == "tool" else calls.get(last.content, "seen")

    recorder = EventRecorder()
    agent = await channel_agent(
        channels,
        {"tools": ["watch_channel"]},
        llm=ScriptedLLM([reply]),
        tools=[send_message],
        extra_plugins=[recorder],
    )
    async with agent:
        watched = (await agent.run("watch")).tool_calls[0]
        assert watched.status == "ok" and "trigger_id=w" in watched.output
        assert channels.listeners("tasks") == 1
        events = agent.subscribe()
        sent = (await agent.run("send")).tool_calls[0]
        assert sent.status == "ok"
        await channels.send("tasks", "from bob", sender="bob", sender_id="bob-1")
        send_result, bob_turn = await turns(agent, 2, events)
    assert send_result.input == "send"
    assert bob_turn.input == "[Channel 'tasks' from bob]: from bob"
    assert [e.text for e in recorder.of_type(TriggerFired)] == [bob_turn.input]  # not "from me"


async def test_watch_channel_refuses_unknown_channels_and_lists_the_real_ones():
    channels = FakeChannels("tasks", "review")
    llm = ScriptedLLM([ToolCall("watch_channel", {"channel_name": "taks"}), "ok"])
    agent = await channel_agent(channels, {"tools": ["watch_channel"]}, llm=llm)
    async with agent:
        call = (await agent.run("go")).tool_calls[0]
    assert call.status == "error"
    assert "cannot watch channel 'taks'" in call.error and "tasks, review" in call.error


async def test_watch_channel_without_channels_says_so():
    llm = ScriptedLLM([ToolCall("watch_channel", {"channel_name": "tasks"}), "ok"])
    async with await build({"tools": ["watch_channel"]}, llm=llm) as agent:
        call = (await agent.run("go")).tool_calls[0]
    assert call.status == "error" and "has no channels" in call.error


async def test_messages_become_turns_in_order_and_none_is_lost_while_busy(autojump_clock):
    channels = FakeChannels("inbox")
    slow = ScriptEntry(text="handled", delay=1.0)
    agent = await channel_agent(channels, llm=ScriptedLLM([slow]))
    async with agent:
        events = agent.subscribe()
        await agent.add_trigger(ChannelTrigger("inbox", "{sender}: {content}", id="in"))
        for i in range(5):
            await channels.send("inbox", f"m{i}", sender="alice")
        results = await turns(agent, 5, events)
    assert [r.input for r in results] == [f"alice: m{i}" for i in range(5)]
    assert {r.turn_index for r in results} == {1, 2, 3, 4, 5}


async def test_filter_sender_and_template_placeholders(autojump_clock):
    channels = FakeChannels("ops")
    trigger = ChannelTrigger(
        "ops",
        "[{channel}] {sender} ({priority}{missing}) re {reply_to}: {content}",
        filter_sender=["carol"],
        id="ops",
    )
    recorder = EventRecorder()
    agent = await channel_agent(channels, extra_plugins=[recorder])
    async with agent:
        events = agent.subscribe()
        await agent.add_trigger(trigger)
        await channels.send("ops", "ignored", sender="dave")
        await channels.send(
            "ops", "disk full", sender="carol", reply_to="msg_1", metadata={"priority": "high"}
        )
        (result,) = await turns(agent, 1, events)
    assert result.input == "[ops] carol (high) re msg_1: disk full"
    (fired,) = recorder.of_type(TriggerFired)
    assert fired.context["sender"] == "carol" and fired.context["metadata"] == {"priority": "high"}


async def test_config_channel_trigger_subscribes_when_the_creature_starts(autojump_clock):
    channels = FakeChannels("tasks")
    config = {"triggers": [{"type": "channel", "name": "listen", "channel": "tasks"}]}
    agent = await channel_agent(channels, config)
    async with agent:
        assert channels.listeners("tasks") == 1  # subscribed before start() returned
        events = agent.subscribe()
        await channels.send("tasks", "hi", sender="erin")
        (result,) = await turns(agent, 1, events)
        assert result.input == "[Channel 'tasks' from erin]: hi"
        assert agent.cancel_job("listen")
        await trio.testing.wait_all_tasks_blocked()
        await channels.send("tasks", "after stop", sender="erin")
        assert channels.listeners("tasks") == 0  # the subscription was closed


async def test_config_channel_trigger_without_channels_fails_at_start():
    agent = await build({"triggers": [{"type": "channel", "channel": "tasks"}]})
    with pytest.raises(RuntimeError, match="has no channels"):
        async with agent:
            pass
    (job,) = agent.jobs.values()
    assert job.status == "error" and "has no channels" in job.error


@pytest.mark.parametrize(
    ("options", "path", "fragment"),
    [
        ({}, "triggers[0].channel", "must name a channel"),
        ({"channel": "x", "prompt": "{a.b}"}, "triggers[0].prompt", "not a plain name"),
        ({"channel": "x", "prompt": "{open"}, "triggers[0].prompt", "malformed"),
    ],
)
async def test_config_channel_errors(options, path, fragment):
    entry = {"type": "channel", **options}
    with pytest.raises(TriggerConfigError) as info:
        await build({"triggers": [entry]})
    assert info.value.path == path and fragment in str(info.value)


async def test_an_engine_can_install_a_listener_through_the_registry(autojump_clock):
    channels = FakeChannels("review")
    agent = await channel_agent(channels)
    async with agent:
        spec = agent.kernel.triggers["channel"]
        entry = kt.config.TriggerEntry(
            type="channel", name="channel_t_review", options={"channel": "review"}
        )
        job = await agent.add_trigger(spec.factory(entry, agent))
        assert job.id == "channel_t_review" and channels.listeners("review") == 1
        events = agent.subscribe()
        await channels.send("review", "please look at #12", sender="frank")
        (result,) = await turns(agent, 1, events)
    assert result.input == "[Channel 'review' from frank]: please look at #12"
