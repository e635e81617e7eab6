"""Where creatures go: ``on_node`` in a creature config or a recipe member, and ``place_on``.

Two Laboratory workers run in this process (trio tasks) on a real redis-server; each builds its
creatures with a model that says which worker answered, so a reply proves where it ran.
"""

from __future__ import annotations

import pytest
import trio

import kt
import kt_terrarium
from kt.testing import ScriptedLLM
from kt_lab.worker import LabWorker
from kt_terrarium.errors import TransportError


def answering_from(node):
    def llm(creature_id, config):
        return ScriptedLLM(
            [lambda request: f"{creature_id}@{node}: {request.messages[-1].content}"] * 20
        )

    return llm


async def two_workers(nursery, url):
    for name, labels in (("w1", ()), ("w2", ("gpu",))):
        worker = LabWorker(
            url,
            name,
            labels=labels,
            kernel=kt.Kernel(plugins=[]),
            llm=answering_from(name),
            lease_ttl=1,
        )
        await nursery.start(worker.run)


def engine(url, **options):
    transports = {"redis": {"url": url, "watch_every": 0.2}}
    return kt_terrarium.Terrarium(
        kernel=kt.Kernel(plugins=["kt_lab"]), transports=transports, **options
    )


async def test_on_node_in_a_creature_config_places_it_there(redis_server):
    async with trio.open_nursery() as nursery:
        await two_workers(nursery, redis_server.url)
        async with engine(redis_server.url) as host:
            named = await host.add_creature({"name": "named", "on_node": "w1"})
            labelled = await host.add_creature({"name": "labelled", "on_node": "labels:gpu"})
            here = await host.add_creature({"name": "here"}, llm=ScriptedLLM(["local"]))
            asked = await host.add_creature({"name": "asked"}, node="w1")  # as on_node = "w1"

            assert (await named.run("hi")).text == "named@w1: hi"
            assert (await labelled.run("hi")).text == "labelled@w2: hi"
            assert (await here.run("hi")).text == "local"
            assert (await asked.run("hi")).text == "asked@w1: hi"
            assert named.transport == "redis" and here.transport is None
            assert host.status("labelled")["transport"] == "redis"
        nursery.cancel_scope.cancel()


async def test_a_recipe_spread_over_two_nodes_with_a_wire_across(redis_server, tmp_path):
    recipe = tmp_path / "terrarium.toml"
    recipe.write_text(
        """
name = "spread"

[[creatures]]
name = "writer"
on_node = "w1"
output_wiring = ["reviewer"]

[[creatures]]
name = "reviewer"
on_node = "labels:gpu"
"""
    )
    async with trio.open_nursery() as nursery:
        await two_workers(nursery, redis_server.url)
        async with engine(redis_server.url) as host:
            applied = await host.apply_recipe(recipe)
            assert sorted(applied.creature_ids) == ["reviewer", "writer"]
            events = host.subscribe(creature_events=True)
            assert (await host["writer"].run("draft")).text == "writer@w1: draft"
            await host.wait_idle()
            ended = []
            while True:
                try:
                    event = events.receive_nowait()
                except trio.WouldBlock:
                    break
                if event.type == "turn_completed" and event.creature == "reviewer":
                    ended.append(event.result.text)
            assert ended == ["reviewer@w2: [output-wire from writer] writer@w1: draft"]
        nursery.cancel_scope.cancel()


async def test_place_on_hosts_every_new_creature_on_the_workers(redis_server):
    async with trio.open_nursery() as nursery:
        await two_workers(nursery, redis_server.url)
        async with engine(redis_server.url, place_on="labels:gpu") as host:
            far = await host.add_creature({"name": "far"})
            pinned = await host.add_creature({"name": "pinned", "on_node": "w1"})
            assert (await far.run("hi")).text == "far@w2: hi"
            assert (await pinned.run("hi")).text == "pinned@w1: hi"  # its own on_node wins
        nursery.cancel_scope.cancel()


async def test_what_on_node_cannot_take_is_refused(redis_server):
    async with engine(redis_server.url) as host:
        with pytest.raises(TransportError, match="cannot take llm"):
            await host.add_creature({"name": "far", "on_node": "w1"}, llm=ScriptedLLM(["x"]))
        with pytest.raises(TransportError, match="cannot be privileged"):
            await host.add_creature({"name": "boss", "on_node": "w1"}, is_privileged=True)
        with pytest.raises(TransportError, match="no live node named 'w9'"):
            await host.add_creature({"name": "lost", "on_node": "w9"})
        assert len(host) == 0


async def test_on_node_without_a_transport_plugin_says_what_to_install():
    async with kt_terrarium.Terrarium(kernel=kt.Kernel(plugins=[])) as host:
        with pytest.raises(kt_terrarium.UnknownTransportError, match=r"kt-terrarium\[lab\]"):
            await host.add_creature({"name": "far", "on_node": "w1"})
