"""Faults: a worker killed with kill -9 mid-turn, a zombie owner fenced, Redis restarted."""

from __future__ import annotations

import random

import pytest
import trio
from lab_support import drain, engine, start

import kt
from kt_lab.errors import FencedError
from kt_lab.keys import LabKeys
from kt_lab.redis_io import Redis, loads
from kt_lab.status import Lab

STEPS = {"name": "far", "tools": ["record", "hang"]}

# Where the kill lands, as (event type, tool name or None): before any tool, after the first
# tool completed, while the second tool runs (its result never comes: in doubt).
KILL_POINTS = [
    ("llm_call_started", None),
    ("tool_call_completed", "record"),
    ("tool_call_started", "hang"),
]
SEED = random.randrange(1_000_000)


async def wait_for(events, kind: str, name: str | None = None):
    while True:
        event = await events.receive()
        if event.type == kind and (name is None or getattr(event, "name", None) == name):
            return event


def stream_entries(url: str) -> list[tuple[str, dict, str]]:
    """Every event-stream entry of every creature: (id, message, owner token)."""
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    out = []
    for key in client.scan_iter("kt:{*}:ev"):
        out += [(i, loads(f["m"]), f["by"]) for i, f in client.xrange(key)]
    client.close()
    return out


async def run_and_kill(workers, redis_server, kill_at):
    await start(workers, "w1")
    await start(workers, "w2")
    async with engine(redis_server.url) as host:
        far = await host.add_creature(
            STEPS, transport="redis", node="w1", llm_selector="labscript/steps"
        )
        events = host.subscribe(creature_events=True)
        seen = []
        results = []

        async def run() -> None:
            results.append(await far.run("work"))

        with trio.fail_after(60):  # a takeover that never finishes fails here, not in CI's limit
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run)
                seen.append(await wait_for(events, *kill_at))
                await trio.to_thread.run_sync(workers.kill, "w1")
        seen += drain(events)
        (result,) = results
        lab = Lab(redis_server.url)
        owners = {n.name: [c for c, _ in n.creatures] for n in await lab.nodes() if n.alive}
        lab.close()
        (rebuilt,) = [e for e in seen if e.type == "history_replaced"]
        assert rebuilt.reason == "turn_restart"
        return result, seen, owners, rebuilt.messages


@pytest.mark.parametrize("kill_at", KILL_POINTS, ids=lambda p: f"{p[0]}-{p[1]}")
async def test_kill_9_mid_turn_another_worker_finishes_it(workers, redis_server, kill_at):
    result, seen, owners, history = await run_and_kill(workers, redis_server, kill_at)

    assert result.status == "completed" and result.text == "finished after restart"
    assert owners == {"w2": ["far"]}
    warnings = [e for e in seen if e.type == "warning"]
    assert any(
        w.source == "kt_lab.turn_restart" and "from node 'w1'" in w.message for w in warnings
    )
    records = workers.records()
    assert all(line.endswith(" w1") for line in records)  # nothing ran again on w2
    tool_results = {m.name: m.content for m in history if m.role == "tool"}
    if kill_at[1] in ("record", "hang"):
        assert records.count("record1 w1") == 1
        assert tool_results["record"] == "recorded 1"  # a completed call keeps its result
    if kill_at[1] == "hang":
        assert records.count("hang w1") == 1
        assert tool_results["hang"].startswith("In doubt: this call started on node 'w1'")
        assert any(w.source == "kt_lab.in_doubt" and "(hang)" in w.message for w in warnings)
    entries = stream_entries(redis_server.url)
    owners_in_order = [by.split(":")[0] for _, _, by in entries]
    first_w2 = owners_in_order.index("w2")
    assert set(owners_in_order[:first_w2]) == {"w1"} and set(owners_in_order[first_w2:]) == {"w2"}
    kinds = [m["event"]["type"] for _, m, _ in entries if m["kind"] == "event"]
    assert kinds.count("turn_completed") == 1 and kinds.count("creature_started") == 1


async def test_kill_9_at_a_random_event(workers, redis_server):
    rng = random.Random(SEED)
    kill_at = rng.choice(
        # every event the steps script's turn emits before `hang` blocks (it streams no text)
        [
            ("turn_started", None),
            ("llm_call_completed", None),
            ("tool_call_started", "record"),
            *KILL_POINTS,
        ]
    )
    result, _, owners, _ = await run_and_kill(workers, redis_server, kill_at)
    assert result.text == "finished after restart", f"seed {SEED}, kill at {kill_at}"
    assert owners == {"w2": ["far"]}


async def test_a_paused_owner_that_wakes_after_losing_its_lease_is_fenced(workers, redis_server):
    await start(workers, "w1", hang=1.5)  # its hang returns soon after it wakes: it tries to write
    await start(workers, "w2")
    async with engine(redis_server.url) as host:
        far = await host.add_creature(
            STEPS, transport="redis", node="w1", llm_selector="labscript/steps"
        )
        events = host.subscribe(creature_events=True)
        async with trio.open_nursery() as nursery:
            results = []

            async def run() -> None:
                results.append(await far.run("work"))

            nursery.start_soon(run)
            await wait_for(events, "tool_call_started", "hang")
            workers.pause("w1")  # SIGSTOP: alive, but silent past its lease
            restarted = await wait_for(events, "warning")
            assert restarted.source == "kt_lab.turn_restart"
        assert results[0].text == "finished after restart"
        workers.resume("w1")
        line = await trio.to_thread.run_sync(workers.wait_log, "w1", "fenced")
        assert "creature 'far'" in line and "lease" in line
        assert (await far.run("again")).text == "finished"  # w2 still owns it
    entries = stream_entries(redis_server.url)
    by = [token.split(":")[0] for _, _, token in entries]
    first_w2 = by.index("w2")
    assert "w1" not in by[first_w2:]  # the zombie never appended after the takeover


async def test_an_append_with_a_lost_lease_is_rejected(redis_server):
    redis = Redis(redis_server.url)
    keys = LabKeys().creature("c.1")
    old = await redis.acquire(keys.lease, keys.epoch, "w1", 60_000)
    assert old == "w1:1"
    assert await redis.acquire(keys.lease, keys.epoch, "w2", 60_000) is None  # held
    await redis.append(keys=keys, token=old, batch=1, entries=[('{"kind":"started"}', "")])
    retried = await redis.append(
        keys=keys, token=old, batch=1, entries=[('{"kind":"started"}', "")]
    )
    assert retried == "DUP"  # a retry after a lost reply writes nothing twice
    await redis.call(redis.client.delete, keys.lease)  # the lease lapsed
    new = await redis.acquire(keys.lease, keys.epoch, "w2", 60_000)
    assert new == "w2:2"
    with pytest.raises(FencedError, match="lease is w2:2"):
        await redis.append(keys=keys, token=old, batch=2, entries=[('{"kind":"stopped"}', "")])
    assert await redis.call(redis.client.xlen, keys.events) == 1
    redis.close()


async def test_redis_killed_and_restarted_keeps_every_acknowledged_event(redis_server):
    from kt.testing import ScriptedLLM
    from kt_lab.worker import LabWorker

    node = LabWorker(
        redis_server.url,
        "w1",
        kernel=kt.Kernel(plugins=[]),
        lease_ttl=30,
        llm=lambda creature_id, config: ScriptedLLM([lambda request: "x" * 40]),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        async with engine(redis_server.url) as host:
            far = await host.add_creature({"name": "far"}, transport="redis")
            events = host.subscribe(creature_events=True)
            for n in range(20):
                await far.run(f"turn {n}")
            received = drain(events)
        nursery.cancel_scope.cancel()
    before = stream_entries(redis_server.url)
    redis_server.kill()  # SIGKILL: only the AOF survives
    redis_server.start()
    after = stream_entries(redis_server.url)
    assert after == before
    turn_events = [m for _, m, _ in after if m["kind"] == "event" and m["event"]["turn_index"] >= 1]
    assert sum(m["event"]["type"] == "turn_completed" for m in turn_events) == 20
    assert len(received) <= len(before)


async def test_workers_and_the_host_ride_out_a_redis_restart(workers, redis_server):
    await start(workers, "w1")
    async with engine(redis_server.url) as host:
        far = await host.add_creature(
            {"name": "far"}, transport="redis", llm_selector="labscript/echo"
        )
        assert (await far.run("before")).text == "got: before"
        redis_server.kill()
        line = await trio.to_thread.run_sync(workers.wait_log, "w1", "cannot be reached")
        assert "retrying" in line
        redis_server.start()  # from its AOF
        with trio.fail_after(30):
            assert (await far.run("after")).text == "got: after"


async def test_a_worker_restarted_under_its_name_takes_its_creature_back(workers, redis_server):
    await start(workers, "w1")
    async with engine(redis_server.url) as host:
        far = await host.add_creature(
            STEPS, transport="redis", node="w1", llm_selector="labscript/steps"
        )
        events = host.subscribe(creature_events=True)
        results = []

        async def run() -> None:
            results.append(await far.run("work"))

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run)
                await wait_for(events, "tool_call_started", "hang")
                await trio.to_thread.run_sync(workers.kill, "w1")
                await start(workers, "w1")  # what systemd's Restart=on-failure does
        assert results[0].text == "finished after restart"
        assert workers.records().count("hang w1") == 1  # in doubt, not run again
