"""A message storm across 100 creatures: no message lost, none duplicated."""

from __future__ import annotations

import re
from collections import Counter

import trio
from test_engine_support import Brain, after_tools, bare, drain, last_user

import kt_terrarium
from kt.events import TurnStarted
from kt.testing import ToolCall

CREATURES = 100
PER_CREATURE = 5
_ID = re.compile(r"\[Channel '(?P<channel>[^']+)' from (?P<sender>[^\]]+)\]: (?P<body>.*)")


def storm_brain(name: str, channel: str):
    """On "go": send PER_CREATURE messages at once; any other turn: just "ok"."""

    def on(request):
        if after_tools(request) or last_user(request) != "go":
            return "ok"
        return [
            ToolCall("send_message", {"channel": channel, "message": f"{name}#{i}"})
            for i in range(PER_CREATURE)
        ]

    return Brain(on)


async def storm(kind: str) -> tuple[list[TurnStarted], list]:
    names = [f"c{i:03d}" for i in range(CREATURES)]
    recipe = {
        "creatures": [
            {"name": n, "channels": {"listen": ["storm"], "can_send": ["storm"]}} for n in names
        ],
        "channels": {"storm": {"kind": kind}},
    }
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        events = engine.subscribe(types={"turn_started", "channel_message"}, creature_events=True)
        await engine.apply_recipe(recipe, llm=lambda cid, config: storm_brain(cid, "storm"))
        senders = names[:: 10 if kind == "broadcast" else 1]  # broadcast: 10 senders x 99 copies
        async with trio.open_nursery() as nursery:
            for name in senders:
                nursery.start_soon(engine[name].run, "go")
        await engine.wait_idle()
        seen = drain(events)
    turns = [e for e in seen if isinstance(e, TurnStarted) and e.source == "channel"]
    sent = [e for e in seen if e.type == "channel_message"]
    return turns, sent


async def test_a_queue_storm_delivers_each_message_exactly_once():
    turns, sent = await storm("queue")
    assert len(sent) == CREATURES * PER_CREATURE
    bodies = Counter()
    for turn in turns:
        match = _ID.fullmatch(turn.input)
        assert match is not None and match["sender"] != turn.creature  # never to its sender
        bodies[match["body"]] += 1
    expected = {f"c{i:03d}#{j}" for i in range(CREATURES) for j in range(PER_CREATURE)}
    assert set(bodies) == expected
    assert set(bodies.values()) == {1}  # none lost, none duplicated
    # and the event records agree with the turns
    assert Counter(len(e.delivered_to) for e in sent) == {1: CREATURES * PER_CREATURE}


async def test_a_broadcast_storm_reaches_every_other_creature_exactly_once():
    turns, sent = await storm("broadcast")
    senders = {f"c{i:03d}" for i in range(0, CREATURES, 10)}
    assert len(sent) == len(senders) * PER_CREATURE
    received = Counter()
    for turn in turns:
        match = _ID.fullmatch(turn.input)
        assert match is not None and match["sender"] != turn.creature
        received[(turn.creature, match["body"])] += 1
    assert set(received.values()) == {1}
    for sender in senders:
        for j in range(PER_CREATURE):
            got = {c for (c, body) in received if body == f"{sender}#{j}"}
            assert len(got) == CREATURES - 1 and sender not in got
