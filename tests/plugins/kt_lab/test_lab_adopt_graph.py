"""A restarted host takes its remote creatures back joined as they were: channels and wires.

Two `kt worker` subprocesses host a speaker (w1) and an ear (w2) joined by a broadcast channel
and an output wire. The host engine leaves them running and goes away (torn down, or a host
process killed with SIGKILL); a new engine with the same host name adopts them, and both the
channel and the wire still deliver.
"""

from __future__ import annotations

import subprocess

import trio
from lab_support import drain, engine, host_process, start

from kt_lab.status import Lab


async def set_up_and_leave(url: str) -> None:
    async with engine(url, host="h1") as host:
        await host.add_creature(
            {"name": "speaker"}, transport="redis", node="w1", llm_selector="labscript/send-news"
        )
        await host.add_creature(
            {"name": "ear"}, transport="redis", node="w2", llm_selector="labscript/echo"
        )
        await host.add_channel("news", creature="speaker", description="what happened")
        await host.add_edge("speaker", "news", "send")
        await host.add_edge("ear", "news", "listen", graph=host.graph_of("speaker"))
        await host.wire("speaker", "ear", max_hops=3)
        await host["speaker"].run("before")  # a turn ran: it is not only a fresh placement
        await host.wait_idle()
        host.leave_remote = True  # a lab host stopping: the creatures run on


HOST = """
import sys, trio, kt, kt_terrarium

async def main(url):
    options = {"redis": {"url": url, "host": "h1", "watch_every": 0.1}}
    kernel = kt.Kernel(plugins=["kt_lab"])
    async with kt_terrarium.Terrarium(kernel=kernel, transports=options) as host:
        await host.add_creature(
            {"name": "speaker"}, transport="redis", node="w1", llm_selector="labscript/send-news"
        )
        await host.add_creature(
            {"name": "ear"}, transport="redis", node="w2", llm_selector="labscript/echo"
        )
        await host.connect("speaker", "ear", channel="news", description="what happened")
        await host.wire("speaker", "ear", max_hops=3)  # returns once kept in Redis
        print("kept", flush=True)
        await trio.sleep_forever()

trio.run(main, sys.argv[1])
"""


def run_host_until_kept(url: str) -> subprocess.Popen[str]:
    return host_process(HOST, url, "kept")


def inputs_of(events) -> dict[str, list[str]]:
    inputs: dict[str, list[str]] = {}
    for event in events:
        if event.type == "turn_started":
            inputs.setdefault(event.creature, []).append(event.input)
    return inputs


async def test_adopted_creatures_keep_their_channel_and_wire(workers, redis_server):
    await start(workers, "w1", "w2")
    await set_up_and_leave(redis_server.url)

    async with engine(redis_server.url, host="h1") as host:
        adopted = await host.adopt("redis")
        assert sorted(h.id for h in adopted) == ["ear", "speaker"]
        assert host.graph_of("speaker") == host.graph_of("ear")  # one graph again
        speaker, ear = host.status("speaker"), host.status("ear")
        assert (speaker["send"], speaker["listen"]) == (["news"], [])
        assert (ear["listen"], ear["send"]) == (["news"], [])
        assert [(w["target"], w["max_hops"]) for w in speaker["wires"]] == [("ear", 3)]
        (channel,) = host.status()["graphs"][host.graph_of("ear")]["channels"]
        assert channel == "news"
        assert speaker["turn_index"] == 1 and ear["turn_index"] == 2  # history came back too

        events = host.subscribe(creature_events=True)
        await host["speaker"].run("after")
        await host.wait_idle()
        ear_inputs = sorted(inputs_of(drain(events))["ear"])
        assert ear_inputs == [
            "[Channel 'news' from speaker]: after",
            "[output-wire from speaker] sent",
        ]
        (node,) = [n for n in await Lab(redis_server.url).nodes() if n.name == "w2"]
        assert [c for c, _ in node.creatures] == ["ear"]  # the same placement, not a new one


async def test_creatures_of_two_graphs_stay_apart_with_same_named_channels(workers, redis_server):
    await start(workers, "w1")
    async with engine(redis_server.url, host="h1") as host:
        for name in ("a", "b"):
            await host.add_creature(
                {"name": name}, transport="redis", node="w1", llm_selector="labscript/echo"
            )
            await host.add_channel("room", creature=name, kind="queue", description=name)
            await host.add_edge(name, "room", "listen")
        assert host.graph_of("a") != host.graph_of("b")
        host.leave_remote = True

    async with engine(redis_server.url, host="h1") as host:
        assert len(await host.adopt("redis")) == 2
        assert host.graph_of("a") != host.graph_of("b")
        for name in ("a", "b"):
            snapshot = host.group_snapshot(name)
            (room,) = snapshot["channels"]
            assert (room["name"], room["kind"], room["description"]) == ("room", "queue", name)
            assert room["listeners"] == [name]


async def test_a_killed_host_comes_back_with_its_channel_and_wire(workers, redis_server):
    await start(workers, "w1", "w2")
    first = await trio.to_thread.run_sync(run_host_until_kept, redis_server.url)
    first.kill()  # kill -9: no goodbye, nothing recorded on the way out
    first.wait()

    async with engine(redis_server.url, host="h1") as host:
        assert sorted(h.id for h in await host.adopt("redis")) == ["ear", "speaker"]
        assert host.graph_of("speaker") == host.graph_of("ear")
        (channel,) = host.group_snapshot("ear")["channels"]
        assert (channel["name"], channel["description"]) == ("news", "what happened")
        assert (channel["listeners"], channel["senders"]) == (["ear"], ["speaker"])

        events = host.subscribe(creature_events=True)
        await host["speaker"].run("after")
        await host.wait_idle()
        assert sorted(inputs_of(drain(events))["ear"]) == [
            "[Channel 'news' from speaker]: after",
            "[output-wire from speaker] sent",
        ]
