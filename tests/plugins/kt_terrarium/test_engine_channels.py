"""Channels: kinds, permissions, delivery timing, subscriptions, observers (§17, 6-8, 19)."""

from __future__ import annotations

import pytest
import trio
from test_engine_support import bare, drain, echo, replying, turn_inputs

import kt
import kt_terrarium
from kt.testing import ScriptedLLM, ToolCall
from kt_terrarium import ChannelMessageSent


def team(*names: str, kind: str = "broadcast") -> dict:
    """A recipe where every creature listens and sends on one channel, `team`."""
    return {
        "creatures": [
            {"name": n, "channels": {"listen": ["team"], "can_send": ["team"]}} for n in names
        ],
        "channels": {"team": {"kind": kind}},
    }


async def test_broadcast_reaches_every_listener_but_the_sender():
    """Scenario 6: a sends on `team`; b and c get one turn each, a none."""
    a_llm = ScriptedLLM([ToolCall("send_message", {"channel": "team", "message": "hi"}), "sent"])
    llms = {"a": a_llm, "b": echo("b"), "c": echo("c")}
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        events = engine.subscribe(creature_events=True)
        await engine.apply_recipe(team("a", "b", "c"), llm=llms)
        result = await engine["a"].run("go")
        await engine.wait_idle()
        seen = drain(events)
    assert [c.status for c in result.tool_calls] == ["ok"]
    assert turn_inputs(seen, "b") == ["[Channel 'team' from a]: hi"]
    assert turn_inputs(seen, "c") == ["[Channel 'team' from a]: hi"]
    assert turn_inputs(seen, "a") == ["go"]
    (sent,) = [e for e in seen if isinstance(e, ChannelMessageSent)]
    assert sent.creature == "a" and sent.delivered_to == ("b", "c")


async def test_queue_hands_each_message_to_one_listener_round_robin():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(
            team("w1", "w2", "w3", kind="queue"), llm={n: echo(n) for n in ("w1", "w2", "w3")}
        )
        ids = []
        for i in range(6):
            message = await engine.send("team", f"job {i}")
            ids.append(message.message_id)
        await engine.wait_idle()
        turns = {n: engine[n].agent.turn_index for n in ("w1", "w2", "w3")}
    assert turns == {"w1": 2, "w2": 2, "w3": 2}
    assert len(set(ids)) == 6


async def test_a_queue_without_listener_keeps_messages_until_one_listens():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        a = await engine.add_creature({"name": "a"}, llm=ScriptedLLM(["x"]))
        await engine.add_channel("jobs", creature="a", kind="queue")
        first = await engine.send("jobs", "first")
        await engine.send("jobs", "second")
        (info,) = engine.channels
        assert info.backlog == 2
        worker_llm = echo("worker")
        await engine.add_creature({"name": "worker"}, llm=worker_llm)
        change = await engine.add_edge("worker", "jobs", "listen", graph=a.graph_id)
        assert change.delta == "merge"
        await engine.wait_idle()
    assert [c.last_user_text for c in worker_llm.calls] == [
        "[Channel 'jobs' from human]: first",
        "[Channel 'jobs' from human]: second",
    ]
    assert first.kind == "queue"


async def test_messages_sent_before_a_listener_starts_are_not_lost():
    """Listening is an edge, made at wiring time: a listener that starts later still hears."""
    late_llm = echo("late")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.add_creature({"name": "a"}, llm=ScriptedLLM(["x"]))
        late = await engine.add_creature({"name": "late"}, llm=late_llm, start=False)
        await engine.connect("a", "late", channel="news")
        await engine["a"].send("news", "sent before start")
        assert late_llm.call_count == 0
        await late.start()
        await engine.wait_idle()
    assert late_llm.calls[0].last_user_text == "[Channel 'news' from a]: sent before start"


async def test_sending_without_a_send_edge_is_refused_until_wired():
    """Scenario 7: b listens on `tasks` but cannot send on it."""
    b_llm = ScriptedLLM(
        [
            ToolCall("send_message", {"channel": "tasks", "message": "x"}),
            "refused",
            ToolCall("send_message", {"channel": "tasks", "message": "x"}),
            "sent",
        ]
    )
    recipe = {
        "creatures": [
            {"name": "a", "channels": {"listen": ["tasks"]}},
            {"name": "b", "channels": {"listen": ["tasks"], "can_send": ["chat"]}},
        ],
        "channels": {"tasks": {}, "chat": {}},
    }
    a_llm = echo("a")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(recipe, llm={"a": a_llm, "b": b_llm})
        first = await engine["b"].run("try")
        await engine.wait_idle()
        assert a_llm.call_count == 0
        await engine.add_edge("b", "tasks", "send")
        second = await engine["b"].run("again")
        await engine.wait_idle()
    (refused,) = first.tool_calls
    assert refused.status == "error"
    assert "may not send on channel 'tasks'" in refused.error
    assert "it can send on: b, chat" not in refused.error  # its direct channel is for others
    assert "it can send on: chat" in refused.error
    assert second.tool_calls[0].status == "ok"
    assert a_llm.calls[0].last_user_text == "[Channel 'tasks' from b]: x"


async def test_an_unknown_channel_is_an_error_and_is_never_created():
    """Scenario 8."""
    llm = ScriptedLLM([ToolCall("send_message", {"channel": "nope", "message": "x"}), "ok"])
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(team("a", "b"), llm={"a": llm, "b": echo("b")})
        before = [c.name for c in engine.channels]
        result = await engine["a"].run("go")
        after = [c.name for c in engine.channels]
    (call,) = result.tool_calls
    assert call.status == "error"
    assert "no channel 'nope'" in call.error and "team (broadcast)" in call.error
    assert "not created by sending" in call.error
    assert before == after


async def test_the_channel_service_protocol_for_plugins():
    """What kt_tools' send_message and kt_triggers' watch_channel rely on."""
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(team("a", "b"), llm={"a": echo("a"), "b": echo("b")})
        service = engine["a"].agent.stash[kt_terrarium.CHANNELS]
        assert isinstance(service, kt_terrarium.ChannelService)
        assert service.creature_id == "a"
        assert service.channels() == {"team": "broadcast"}
        assert [c.name for c in service.list()] == ["a", "b", "team"]
        with pytest.raises(LookupError, match="no channel 'nope'"):
            await service.send("nope", "x")
        with pytest.raises(PermissionError, match="may not send on channel 'b'"):
            await service.send("b", "x")
        with pytest.raises(PermissionError, match="cannot send as 'b'"):
            await service.send("team", "x", sender="b")
        with pytest.raises(PermissionError, match="may not listen"):
            service.subscribe("b")
        message_id = await service.send("team", {"k": 1}, sender="a", metadata={"p": 2})
        assert message_id.startswith("msg_")
        await engine.wait_idle()
    assert engine["b"].agent.history[0].content == """[Channel 'team' from a]: {"k":1}"""


async def test_a_subscription_takes_over_delivery_and_never_sees_own_messages():
    b_llm = echo("b")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(team("a", "b"), llm={"a": echo("a"), "b": b_llm})
        watch = engine["b"].agent.stash[kt_terrarium.CHANNELS].subscribe("team")
        await engine["b"].send("team", "mine")
        await engine["a"].send("team", "for b")
        await engine.wait_idle()
        message = watch.receive_nowait()
        assert (message.sender, message.text, message.sender_id) == ("a", "for b", "a")
        with pytest.raises(trio.WouldBlock):
            watch.receive_nowait()
        assert b_llm.call_count == 0  # the subscriber handles `team`, not b's turns
        await watch.aclose()
        await engine["a"].send("team", "after close")
        await engine.wait_idle()
    assert b_llm.calls[0].last_user_text == "[Channel 'team' from a]: after close"


async def test_observers_do_not_consume_and_see_new_channels():
    """Scenario 19: an engine subscriber sees traffic; listeners still get their turns."""
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        observer = engine.subscribe(types={"channel_message"})
        await engine.apply_recipe(
            team("a", "b", kind="queue"), llm={"a": echo("a"), "b": echo("b")}
        )
        await engine["a"].send("team", "one")
        await engine.add_channel("later", creature="a")
        await engine.add_edge("b", "later", "listen")
        await engine.send("later", "two")
        await engine.wait_idle()
        seen = drain(observer)
        assert engine["b"].agent.turn_index == 2
    assert [(e.channel, e.content, e.delivered_to) for e in seen] == [
        ("team", "one", ("b",)),
        ("later", "two", ("b",)),
    ]


async def test_channel_history_and_info():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(team("a", "b"), llm={"a": echo("a"), "b": echo("b")})
        for i in range(3):
            await engine.send("team", f"m{i}", sender="ops", metadata={"i": i})
        await engine.wait_idle()
        info = {c.name: c for c in engine.channels}["team"]
        assert info.message_count == 3 and info.listeners == ("a", "b")
        assert info.senders == ("a", "b")
        status = engine.group_snapshot("a", history=2)
    (team_channel,) = [c for c in status["channels"] if c["name"] == "team"]
    assert [m["content"] for m in team_channel["history"]] == ["m1", "m2"]


async def test_replies_can_reference_earlier_messages():
    captured = []
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(team("a", "b"), llm={"a": echo("a"), "b": echo("b")})
        watch = engine.subscribe(types={"channel_message"})
        first = await engine["a"].send("team", "question")
        await engine["b"].send("team", "answer", reply_to=first.message_id)
        await engine.wait_idle()
        captured = drain(watch)
    assert captured[1].reply_to == first.message_id


async def test_engine_send_needs_an_unambiguous_channel():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.add_creature({"name": "a"}, llm=echo("a"))
        await engine.add_creature({"name": "b"}, llm=echo("b"))
        await engine.add_channel("x", creature="a")
        await engine.add_channel("x", creature="b")
        with pytest.raises(kt_terrarium.TerrariumError, match="several graphs have a channel 'x'"):
            await engine.send("x", "hi")
        with pytest.raises(kt_terrarium.ChannelNotFoundError, match="no channel 'y'"):
            await engine.send("y", "hi")
        with pytest.raises(kt_terrarium.ChannelExistsError):
            await engine.add_channel("x", creature="a")
        with pytest.raises(kt_terrarium.TerrariumError, match="say which graph"):
            await engine.add_channel("z")
        await engine.send("x", "hi", graph=engine["a"].graph_id)


async def test_a_stopped_listener_misses_broadcasts_and_is_skipped_by_queues():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(
            team("a", "b", "c", kind="queue"), llm={n: echo(n) for n in "abc"}
        )
        await engine["b"].stop()
        for i in range(4):
            await engine["a"].send("team", f"job {i}")
        await engine.wait_idle()
        assert engine["c"].agent.turn_index == 4
        assert engine["b"].agent.turn_index == 0


async def test_creature_sends_carry_structured_content_and_the_send_event_is_recorded():
    llm = replying(lambda text: ToolCall("send_message", {"channel": "team", "message": text}))
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        recorder = kt.testing.EventRecorder()
        await engine.add_creature({"name": "a"}, llm=llm, plugins=[recorder], is_privileged=True)
        await engine.add_channel("team", creature="a")
        await engine["a"].run("hello")
    (sent,) = recorder.of_type(ChannelMessageSent)
    assert sent.content == "hello" and sent.queued is False and sent.delivered_to == ()


async def test_a_subscription_ends_when_its_creature_leaves_the_channel():
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.add_creature({"name": "boss"}, llm=echo("boss"), is_privileged=True)
        await engine.add_creature({"name": "b"}, llm=echo("b"))
        await engine.connect("boss", "b", channel="orders")
        watch = engine["boss"].subscribe("orders")  # privileged: no listen edge needed
        await engine.remove_edge("boss", "orders", "send")  # boss leaves: the graph splits
        assert engine["boss"].graph_id != engine["b"].graph_id
        with pytest.raises(trio.EndOfChannel):
            watch.receive_nowait()


async def test_a_creature_whose_start_fails_is_removed_again():
    class BrokenOutput:
        async def start(self):
            raise RuntimeError("no terminal")

        async def on_event(self, event):
            pass

    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        with pytest.raises(RuntimeError, match="no terminal"):
            await engine.add_creature({"name": "a"}, llm=echo("a"), output=BrokenOutput())
        assert "a" not in engine and engine.graphs() == []
        await engine.add_creature({"name": "a"}, llm=echo("a"))
