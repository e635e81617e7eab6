"""Graph changes reach remote creatures with their next turn, or at once while a turn runs.

The engine does not push every change of the graph to every idle remote creature (that made a
change cost O(N) and N additions O(N^2)): an idle creature gets its prompt section and channels
just before its next turn; a creature running a turn gets each change as it happens. The
transport here is the in-process loopback one; the redis transport carries the same messages.
"""

from __future__ import annotations

import trio
import trio.testing

import kt
import kt_terrarium
from kt.events import TurnStarted
from kt.testing import ScriptedLLM, ScriptEntry
from kt_terrarium.testing import LoopbackTransport


class Loopback:
    def __init__(self) -> None:
        self.made: list[LoopbackTransport] = []

    @kt.hookimpl
    def kt_transports(self) -> list[kt.TransportSpec]:
        return [kt.TransportSpec("loopback", self.build, "in-process, for tests")]

    def build(self, **options) -> LoopbackTransport:
        self.made.append(LoopbackTransport(**options))
        return self.made[-1]


def kinds(link) -> list[str]:
    return [message["kind"] for message in link.sent]


async def test_an_idle_remote_creature_gets_graph_changes_with_its_next_turn():
    seen_prompts = []

    def reply(request):
        seen_prompts.append(request.messages[0].content)
        return "ok"

    plugin = Loopback()
    options = {"loopback": {"llm": lambda creature_id, config: ScriptedLLM([reply])}}
    local = ScriptedLLM(["near ok"] * 5)
    async with kt_terrarium.Terrarium(
        kernel=kt.Kernel(plugins=[plugin]), transports=options
    ) as engine:
        await engine.add_creature({"name": "near"}, llm=local)
        far = await engine.add_creature({"name": "far"}, transport="loopback")
        (link,) = plugin.made[0].links
        await trio.testing.wait_all_tasks_blocked()
        before = kinds(link)

        for n in range(3):
            await engine.connect("near", "far", channel=f"ch{n}")
        await trio.testing.wait_all_tasks_blocked()
        assert kinds(link) == before  # nothing pushed to an idle creature

        await far.run("hello")
        after = kinds(link)[len(before) :]
        assert after[:2] == ["graph", "turn"]  # the graph came just before the turn
        assert after.count("graph") == 1
        assert "`ch2` (broadcast)" in seen_prompts[-1]


async def test_a_change_reaches_a_remote_creature_while_its_turn_runs(autojump_clock):
    plugin = Loopback()
    slow = ScriptedLLM([ScriptEntry(text="done", delay=5)])
    options = {"loopback": {"llm": lambda creature_id, config: slow}}
    async with kt_terrarium.Terrarium(
        kernel=kt.Kernel(plugins=[plugin]), transports=options
    ) as engine:
        await engine.add_creature({"name": "near"}, llm=ScriptedLLM(["near ok"]))
        far = await engine.add_creature({"name": "far"}, transport="loopback")
        (link,) = plugin.made[0].links
        events = engine.subscribe(creature_events=True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(far.run, "take your time")
            while not isinstance(await events.receive(), TurnStarted):
                pass
            sent = len(link.sent)
            await engine.connect("near", "far", channel="late")
            await trio.testing.wait_all_tasks_blocked()
            pushed = link.sent[sent:]
            assert [m["kind"] for m in pushed] == ["graph"]
            assert "late" in pushed[0]["channels"] or any(
                c["name"] == "late" for c in pushed[0]["listing"]
            )
