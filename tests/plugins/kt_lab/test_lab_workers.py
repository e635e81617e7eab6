"""The redis transport with real `kt worker` subprocesses and a real redis-server."""

from __future__ import annotations

import pytest
import trio
from lab_support import drain, engine, start

from kt_lab.status import Lab


def creature(name: str) -> dict:
    return {"name": name}


async def test_a_creature_placed_on_a_named_worker_runs_there(workers, redis_server):
    await start(workers, "w1", "w2")
    async with engine(redis_server.url) as host:
        far = await host.add_creature(
            creature("far"), transport="redis", node="w2", llm_selector="labscript/echo"
        )
        result = await far.run("hello")
        assert result.text == "got: hello"

        lab = Lab(redis_server.url)
        nodes = {node.name: node for node in await lab.nodes()}
        assert set(nodes) == {"w1", "w2"} and all(n.alive for n in nodes.values())
        assert [c for c, _ in nodes["w2"].creatures] == ["far"] and nodes["w1"].creatures == ()
        listed = nodes["w2"].as_dict()
        assert listed["status"] == "alive" and listed["creatures"][0]["id"] == "far"
        assert await lab.ready()
        lab.close()


async def test_labels_choose_the_node_and_an_unknown_node_is_refused(workers, redis_server):
    await start(workers, "cpu-1")
    await start(workers, "gpu-1", labels="gpu,cuda")
    async with engine(redis_server.url) as host:
        far = await host.add_creature(
            creature("far"), transport="redis", node="labels:gpu", llm_selector="labscript/echo"
        )
        assert (await far.run("x")).text == "got: x"
        lab = Lab(redis_server.url)
        owners = {n.name: [c for c, _ in n.creatures] for n in await lab.nodes()}
        assert owners == {"cpu-1": [], "gpu-1": ["far"]}
        with pytest.raises(Exception, match=r"no live node named 'tpu-9'.*live nodes: cpu-1"):
            await host.add_creature(creature("lost"), transport="redis", node="tpu-9")
        with pytest.raises(Exception, match="no live node carrying labels tpu"):
            await host.add_creature(creature("lost"), transport="redis", node="labels:tpu")
        lab.close()


async def test_a_terrarium_over_two_workers_with_a_broadcast_a_queue_and_a_wire(
    workers, redis_server
):
    await start(workers, "w1", "w2")
    async with engine(redis_server.url) as host:
        speaker = await host.add_creature(
            creature("speaker"), transport="redis", node="w1", llm_selector="labscript/send-news"
        )
        ears = [
            await host.add_creature(
                creature(n), transport="redis", node=node, llm_selector="labscript/echo"
            )
            for n, node in (("ear1", "w1"), ("ear2", "w2"))
        ]
        await host.connect("speaker", "ear1", channel="news", kind="broadcast")
        await host.connect("speaker", "ear2", channel="news")
        workers_ = [
            await host.add_creature(
                creature(n), transport="redis", node=node, llm_selector="labscript/echo"
            )
            for n, node in (("job1", "w1"), ("job2", "w2"))
        ]
        await host.connect("speaker", "job1", channel="jobs", kind="queue")
        await host.connect("speaker", "job2", channel="jobs")
        await host.add_creature(
            creature("sink"), transport="redis", node="w2", llm_selector="labscript/echo"
        )
        await host.wire("ear1", "sink")  # ear1 (w1) → sink (w2): a cross-node output wire
        events = host.subscribe(creature_events=True)

        await speaker.run("extra extra")
        await host.wait_idle()
        for n in range(4):
            await host.send("jobs", f"job {n}", sender="speaker")
        await host.wait_idle()

        seen = drain(events)
        inputs = {}
        for event in seen:
            if event.type == "turn_started":
                inputs.setdefault(event.creature, []).append(event.input)
        assert inputs["ear1"] == ["[Channel 'news' from speaker]: extra extra"]
        assert inputs["ear2"] == ["[Channel 'news' from speaker]: extra extra"]
        assert inputs["sink"] == [
            "[output-wire from ear1] got: [Channel 'news' from speaker]: extra extra"
        ]
        jobs = inputs.get("job1", []) + inputs.get("job2", [])
        assert sorted(jobs) == [f"[Channel 'jobs' from speaker]: job {n}" for n in range(4)]
        assert ears and workers_


async def test_interrupt_reaches_a_turn_running_on_a_worker(workers, redis_server):
    await start(workers, "w1")
    async with engine(redis_server.url) as host:
        far = await host.add_creature(
            {"name": "far", "tools": ["record", "hang"]},
            transport="redis",
            llm_selector="labscript/steps",
        )
        events = host.subscribe(creature_events=True)
        results = []

        async def run() -> None:
            results.append(await far.run("work"))

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run)
                while not (
                    (event := await events.receive()).type == "tool_call_started"
                    and event.name == "hang"
                ):
                    pass
                far.interrupt()  # over the control stream, not queued behind the turn
        assert results[0].status == "interrupted"
        assert (await far.run("again")).text == "finished"  # and the creature goes on
