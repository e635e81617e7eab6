"""Graph changes with many remote creatures: the engine's cost must grow with the change, not N.

Run with ``python -m pytest tests/benchmarks -m benchmark -s -k graph_sync``. The engine hosts N
idle creatures through the in-process loopback transport (each in a graph of its own, so none
of them is affected by the changes measured), then makes K changes in a separate graph of two
local creatures (a channel each: ``connect``). Printed: the time of one change and the work it
caused (terrarium sections recomputed for remote creatures), for N = 10, 100, 500
(``KT_BENCH_GRAPH_SYNC_N`` to choose others). Linear sync means the time of one change does not
grow with N and no remote creature's section is recomputed.
"""

from __future__ import annotations

import os
import time

import pytest
import trio
import trio.testing

import kt
import kt_terrarium
from kt.testing import ScriptedLLM
from kt_terrarium import handles
from kt_terrarium.testing import LoopbackTransport

pytestmark = pytest.mark.benchmark

SIZES = [int(n) for n in os.environ.get("KT_BENCH_GRAPH_SYNC_N", "10,100,500").split(",")]
CHANGES = 40


class Loopback:
    @kt.hookimpl
    def kt_transports(self) -> list[kt.TransportSpec]:
        return [kt.TransportSpec("loopback", LoopbackTransport, "in-process, for benchmarks")]


def echo(creature_id, config):
    return ScriptedLLM([f"{creature_id} here"] * 10)


class SectionCount:
    """Counts terrarium sections computed for remote creatures (their graph sync's work)."""

    def __init__(self, monkeypatch) -> None:
        self.remote = 0
        original = handles.CreatureLink.section_text

        def counted(link):
            if link.creature_id.startswith("far"):
                self.remote += 1
            return original(link)

        monkeypatch.setattr(handles.CreatureLink, "section_text", counted)


@pytest.mark.parametrize("count", SIZES)
async def test_one_graph_change_with_many_remote_creatures(count, monkeypatch):
    kernel = kt.Kernel(plugins=[Loopback()])
    options = {"loopback": {"llm": echo}}
    counter = SectionCount(monkeypatch)
    async with kt_terrarium.Terrarium(kernel=kernel, transports=options, llm=echo) as engine:
        began = time.perf_counter()
        for n in range(count):
            await engine.add_creature({"name": f"far{n}"}, transport="loopback")
        await trio.testing.wait_all_tasks_blocked()
        added = time.perf_counter() - began
        await engine.add_creature({"name": "a"})
        await engine.add_creature({"name": "b"})
        await trio.testing.wait_all_tasks_blocked()
        counter.remote = 0
        began = time.perf_counter()
        for n in range(CHANGES):
            await engine.connect("a", "b", channel=f"ch{n}")
            await trio.testing.wait_all_tasks_blocked()
        per_change = (time.perf_counter() - began) / CHANGES * 1000
        recomputed = counter.remote / CHANGES
        far = engine["far0"]
        assert (await far.run("still there?")).text == "far0 here"
    print(
        f"\ngraph sync, {count} remote creatures: adding them took {added:.2f} s "
        f"({added / count * 1000:.2f} ms each); one change in another graph took "
        f"{per_change:.3f} ms and recomputed {recomputed:.1f} remote sections"
    )
