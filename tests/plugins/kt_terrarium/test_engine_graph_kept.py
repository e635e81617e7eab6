"""A graph change returns once the remote creatures' places are kept with their placements.

A host killed right after a change must come back with it (``Terrarium.adopt`` reads what the
transport kept), so each change waits for the engine's graph-keeping task to write it, and
returns anyway when the transport fails or never answers (the change is made here; the next
change writes it again).
"""

from __future__ import annotations

import logging

import trio
from test_engine_support import echo

import kt
import kt_terrarium
from kt.errors import KTError
from kt_terrarium import remote
from kt_terrarium.testing import LoopbackTransport


class KeepingTransport(LoopbackTransport):
    """A loopback transport whose links keep their creature's place, the way kt_lab's do."""

    def __init__(self, *, behaviour: str = "keep", **options) -> None:
        super().__init__(**options)
        self.behaviour = behaviour
        self.kept: dict[str, dict] = {}  # creature id -> its place as last kept

    async def place(self, placement):
        link = await super().place(placement)
        creature = placement.creature_id

        async def record_graph(topology):
            if self.behaviour == "fail":
                raise KTError("the store is down")
            if self.behaviour == "hang":
                await trio.sleep_forever()
            self.kept[creature] = dict(topology)

        link.record_graph = record_graph
        return link


class Keeping:
    def __init__(self, behaviour: str = "keep") -> None:
        self.behaviour = behaviour
        self.made: list[KeepingTransport] = []

    @kt.hookimpl
    def kt_transports(self):
        return [kt.TransportSpec("keeping", self.build, "loopback that keeps places")]

    def build(self, **options) -> KeepingTransport:
        self.made.append(KeepingTransport(behaviour=self.behaviour, **options))
        return self.made[-1]


def engine_with(plugin: Keeping) -> kt_terrarium.Terrarium:
    options = {"keeping": {"llm": lambda creature_id, config: echo(creature_id)}}
    return kt_terrarium.Terrarium(kernel=kt.Kernel(plugins=[plugin]), transports=options)


async def test_every_graph_change_is_kept_before_it_returns():
    plugin = Keeping()
    async with engine_with(plugin) as engine:
        await engine.add_creature({"name": "a"}, transport="keeping")
        await engine.add_creature({"name": "b"}, transport="keeping")
        (transport,) = plugin.made

        await engine.connect("a", "b", channel="news", description="what happened")
        assert transport.kept["a"]["send"] == ["news"]
        assert transport.kept["b"]["listen"] == ["news"]
        assert transport.kept["a"]["channels"]["news"]["description"] == "what happened"

        await engine.wire("a", "b", max_hops=2)
        assert [(w["target"], w["max_hops"]) for w in transport.kept["a"]["wires"]] == [("b", 2)]

        await engine.unwire("a", "b")
        assert transport.kept["a"]["wires"] == []

        await engine.remove_edge("b", "news", "listen")
        assert transport.kept["b"]["listen"] == []


async def test_a_transport_that_fails_to_keep_does_not_fail_the_change(caplog):
    plugin = Keeping("fail")
    async with engine_with(plugin) as engine:
        await engine.add_creature({"name": "a"}, transport="keeping")
        with caplog.at_level(logging.WARNING, logger="kt_terrarium.remote"):
            await engine.add_channel("room", creature="a")
            await engine.add_edge("a", "room", "listen")
        assert engine.status("a")["listen"] == ["room"]  # made here all the same
        assert "a transport failed" in caplog.text


async def test_a_transport_that_never_answers_delays_a_change_by_at_most_keep_wait(
    autojump_clock, caplog
):
    plugin = Keeping("hang")
    async with engine_with(plugin) as engine:
        await engine.add_creature({"name": "a"}, transport="keeping")
        started = trio.current_time()
        with caplog.at_level(logging.WARNING, logger="kt_terrarium.remote"):
            await engine.add_channel("room", creature="a")
        assert trio.current_time() - started <= remote.KEEP_WAIT + 0.1
        assert "after 5.0 s yet" in caplog.text


async def test_an_engine_without_remote_creatures_waits_for_nothing(autojump_clock):
    async with kt_terrarium.Terrarium(kernel=kt.Kernel(plugins=[])) as engine:
        await engine.add_creature({"name": "here"}, llm=echo("here"))
        started = trio.current_time()
        await engine.add_channel("room", creature="here")
        await engine.add_edge("here", "room", "listen")
        assert trio.current_time() == started
