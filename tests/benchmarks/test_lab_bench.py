"""The Laboratory's numbers: round trip, events per second, idle creatures, takeover time.

Run with ``python -m pytest tests/benchmarks -m benchmark -s -k lab``. A real redis-server (AOF
on) on a loopback port and real ``kt worker`` subprocesses with the tests' scripted plugin
(``tests/plugins/kt_lab/lab_script.py``). Each figure is printed with its ratio to what the
design's proof measured on this kind of machine (``docs/concepts/laboratory.md``): about 1 ms
round trip, 10,000-11,000 events/s, 32 MB for a worker watching 1,000 inboxes, 2.3 s from a
worker's death to its turn finishing elsewhere (lease 2 s). ``KT_BENCH_LAB_IDLE`` sets the
number of idle creatures (default 1000).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import pytest
import trio

pytestmark = pytest.mark.benchmark

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "kt_lab"))

from lab_support import REDIS_SERVER, RedisServer, Workers, drain, engine  # noqa: E402

PROOF = {"round_trip_ms": 1.0, "events_per_s": 10_500, "idle_mb": 32.0, "takeover_s": 2.3}


@pytest.fixture
def lab(tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    pytest.importorskip("redis")
    server = RedisServer(tmp_path / "redis")
    server.folder.mkdir()
    server.start()
    workers = Workers(server.url, tmp_path, lease_ttl=2.0)
    yield server, workers
    workers.stop_all()
    server.stop()


def report(name: str, value: float, unit: str, proof: float, better: str) -> None:
    ratio = value / proof
    print(
        f"\nlab {name}: {value:,.2f} {unit} ({ratio:.2f}x the proof's {proof:,} {unit}; "
        f"{better} is better)"
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def test_round_trip_and_events_per_second(lab):
    server, workers = lab
    await trio.to_thread.run_sync(workers.start, "w1")
    async with engine(server.url, watch_every=1.0) as host:
        far = await host.add_creature(
            {"name": "far"}, transport="redis", llm_selector="labscript/echo"
        )
        times = []
        for n in range(60):
            began = time.perf_counter()
            async with far.run_stream(f"ping {n}") as stream:
                async for _ in stream:
                    if not times or len(times) <= n:
                        times.append(time.perf_counter() - began)
            await host.wait_idle()
        round_trip = statistics.median(times[10:]) * 1000
        report(
            "round trip, message in to first event back",
            round_trip,
            "ms",
            PROOF["round_trip_ms"],
            "lower",
        )

        stream_far = await host.add_creature(
            {"name": "streamer"}, transport="redis", llm_selector="labscript/stream-5000"
        )
        events = host.subscribe(creature_events=True)
        began = time.perf_counter()
        for n in range(4):
            await stream_far.run(f"go {n}")
        elapsed = time.perf_counter() - began
        count = sum(event.creature == "streamer" for event in drain(events))
        rate = count / elapsed
        report(
            "events per second, one creature to the host",
            rate,
            "events/s",
            PROOF["events_per_s"],
            "higher",
        )
        assert count >= 4 * 5000


async def test_idle_creatures_on_one_worker(lab):
    """Placed and started through the transport itself: the engine's own per-creature cost is
    not what this measures (it is the worker's memory)."""
    from kt_lab.host import RedisTransport
    from kt_terrarium.transport import Placement

    server, workers = lab
    count = int(os.environ.get("KT_BENCH_LAB_IDLE", "1000"))
    workers.lease_ttl = 6.0  # the default: a 2 s lease (for the takeover figure) is too tight
    # for one busy worker renewing 1,000 leases on a shared 2-core machine
    await trio.to_thread.run_sync(lambda: workers.start("w1", capacity=count + 10))
    pid = workers.processes["w1"].pid
    before = rss_mb(pid)
    async with RedisTransport(server.url, watch_every=5.0) as transport:
        links = []
        began = time.perf_counter()
        for n in range(count):
            placement = Placement(
                creature_id=f"c{n}",
                placement_id=f"p{n}",
                config={"name": f"c{n}"},
                llm_selector="labscript/echo",
            )
            link = await transport.place(placement)
            messages = link.receive()
            seen = [await messages.__anext__()]
            assert seen[0]["kind"] == "built", seen
            await link.send({"kind": "start"})
            async for message in messages:
                seen.append(message)
                if message["kind"] == "started":
                    break
            assert seen[-1]["kind"] == "started", f"creature {n} of {count}: {seen}"
            links.append((link, messages))
        placed = time.perf_counter() - began
        after = rss_mb(pid)
        nodes = await transport.nodes()
        assert len(nodes[0].creatures) == count
        link, messages = links[-1]
        began = time.perf_counter()
        await link.send({"kind": "turn", "input": "ping", "ref": "r1"})
        while (await messages.__anext__()).get("event", {}).get("type") != "turn_completed":
            pass
        ping = (time.perf_counter() - began) * 1000
    print(
        f"\nlab placing and starting {count} creatures on one worker took {placed:.1f} s "
        f"({placed / count * 1000:.1f} ms each); a turn of the last one took {ping:.1f} ms"
    )
    report(f"worker RSS with {count} idle creatures", after, "MB", PROOF["idle_mb"], "lower")
    print(
        f"lab worker RSS before {before:.1f} MB, {(after - before) / count * 1024:.0f} KB "
        "per idle creature (a whole kt.Agent each; the proof's were toy objects)"
    )


async def test_time_from_a_workers_death_to_the_turn_finishing_elsewhere(lab):
    server, workers = lab
    await trio.to_thread.run_sync(workers.start, "w1")
    await trio.to_thread.run_sync(workers.start, "w2")
    async with engine(server.url, watch_every=0.1) as host:
        far = await host.add_creature(
            {"name": "far", "tools": ["record", "hang"]},
            transport="redis",
            node="w1",
            llm_selector="labscript/steps",
        )
        events = host.subscribe(creature_events=True)
        async with trio.open_nursery() as nursery:
            done = []

            async def run() -> None:
                done.append(await far.run("work"))
                done.append(time.perf_counter())

            nursery.start_soon(run)
            while True:
                event = await events.receive()
                if event.type == "tool_call_started" and event.name == "hang":
                    break
            workers.kill("w1")
            killed = time.perf_counter()
        assert done[0].text == "finished after restart"
        report(
            "kill -9 of the owner to the turn finished elsewhere (lease 2 s)",
            done[1] - killed,
            "s",
            PROOF["takeover_s"],
            "lower",
        )
