"""A host that goes away mid-stream and comes back resumes from its stored cursor."""

from __future__ import annotations

import trio
from lab_support import start

from kt_lab.host import RedisTransport
from kt_lab.redis_io import loads
from kt_terrarium.transport import Placement


async def test_a_restarted_host_resumes_each_stream_from_its_stored_cursor(workers, redis_server):
    await start(workers, "w1")
    placement = Placement(
        creature_id="far",
        placement_id="run1",
        config={"name": "far"},
        llm_selector="labscript/stream-3000",
    )
    first_seen = []
    with trio.CancelScope() as crash:
        # No periodic store in this host: the cursor is stored exactly once, at message 150.
        async with RedisTransport(redis_server.url, host="lab-host", watch_every=3600) as first:
            link = await first.place(placement)
            messages = link.receive()
            first_seen.append(await messages.__anext__())
            assert first_seen[0]["kind"] == "built"
            await link.send({"kind": "start"})
            await link.send({"kind": "turn", "input": "go", "ref": "t1"})
            async for message in messages:
                first_seen.append(message)
                if len(first_seen) == 150:
                    await first.store_cursors()  # what the host does every watch_every
                if len(first_seen) == 200:
                    crash.cancel()  # the host dies in the middle of the turn's stream
    async with RedisTransport(redis_server.url, host="lab-host", watch_every=0.2) as second:
        (found,) = await second.placements()
        assert found["creature"] == "far" and found["owner"] == "w1"
        cursor = found["cursor"]
        link = await second.attach(found["placement_id"])
        second_seen = []
        async for message in link.receive():
            second_seen.append(message)
            if message.get("event", {}).get("type") == "turn_completed":
                break
        await link.send({"kind": "stop"})
        async for message in link.receive():
            if message["kind"] == "stopped":
                break
        assert await second.placements() == []  # stopped: nothing left to adopt
        ttl = await second.redis.call(
            second.redis.client.ttl, second.keys.creature("far.run1").events
        )
        assert 0 < ttl <= 7 * 24 * 3600  # kept for a week, then gone
        events_key = second.keys.creature(found["placement_id"]).events
        stored = await second.redis.call(second.redis.client.xrange, events_key)
    ids = [entry_id for entry_id, _ in stored]
    everything = [loads(fields["m"]) for _, fields in stored]
    upto = ids.index(cursor) + 1
    assert upto == 149 and len(first_seen) == 200  # stored: what the engine had handled
    assert everything[:upto] == first_seen[:upto]
    # Up to the cursor: marked as taken in before (the engine learns from them, publishes none).
    replayed = [m for m in second_seen if m.get("replayed")]
    fresh = [m for m in second_seen if not m.get("replayed")]
    assert second_seen == replayed + fresh
    # The stream's last entry when the second host attached is marked: it knows it caught up.
    assert not any(m.get("caught_up") for m in replayed)  # the stream went on after the cursor
    assert len([m for m in fresh if m.get("caught_up")]) == 1

    def unmarked(messages):
        return [
            {k: v for k, v in m.items() if k not in ("replayed", "caught_up")} for m in messages
        ]

    assert unmarked(replayed) == everything[:upto]
    assert unmarked(fresh) == everything[upto : upto + len(fresh)]  # from the cursor on, in order
    deltas = [
        m for m in first_seen[:upto] + fresh if m.get("event", {}).get("type") == "text_delta"
    ]
    assert len(deltas) == 3000  # the whole turn, each event exactly once
