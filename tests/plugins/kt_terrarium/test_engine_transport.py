"""Creatures hosted through a transport (kt_transports): driven like local ones, over a link.

The transport is kt_terrarium.testing.LoopbackTransport, registered by an in-test plugin: each
creature runs in a task with the worker's own kernel, and every message crosses as JSON text.
"""

from __future__ import annotations

import pytest
import trio
from test_engine_support import bare, drain, echo, last_user, system_prompt, turn_inputs

import kt
import kt_terrarium
from kt.events import ErrorOccurred, TurnStarted
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall
from kt_terrarium.testing import LoopbackTransport


class Loopback:
    """A transport plugin: ``loopback`` builds a LoopbackTransport and remembers it."""

    def __init__(self) -> None:
        self.made: list[LoopbackTransport] = []

    @kt.hookimpl
    def kt_transports(self) -> list[kt.TransportSpec]:
        return [kt.TransportSpec("loopback", self.build, "in-process, for tests")]

    def build(self, **options) -> LoopbackTransport:
        transport = LoopbackTransport(**options)
        self.made.append(transport)
        return transport

    @property
    def transport(self) -> LoopbackTransport:
        (made,) = self.made
        return made


class Models:
    """The worker's models, one per creature: ``fn(creature_id, config)`` for the transport."""

    def __init__(self, **scripts) -> None:
        self.scripts = scripts
        self.built: dict[str, ScriptedLLM] = {}

    def __call__(self, creature_id, config):
        script = self.scripts.get(creature_id)
        model = script if script is not None else echo(creature_id)
        self.built[creature_id] = model
        return model


def engine_with(plugin: Loopback, models: Models, **options) -> kt_terrarium.Terrarium:
    kernel = kt.Kernel(plugins=[plugin])
    loopback = {"llm": models, **options}
    return kt_terrarium.Terrarium(kernel=kernel, transports={"loopback": loopback})


def kinds(link) -> list[str]:
    return [message["kind"] for message in link.sent]


async def test_hook_kt_transports():
    """A transport a plugin registers hosts a creature the engine drives over its link."""
    plugin, models = Loopback(), Models()
    async with engine_with(plugin, models) as engine:
        events = engine.subscribe(creature_events=True)
        far = await engine.add_creature({"name": "far"}, transport="loopback")

        result = await far.run("hello")

        assert result.status == "completed" and result.text == "far got: hello"
        assert far.transport == "loopback" and far.is_running
        status = far.status()
        assert status["transport"] == "loopback" and status["model"] == "ScriptedLLM"
        assert status["turn_index"] == 1 and "send_message" in status["tools"]
        with pytest.raises(kt_terrarium.TransportError, match="runs through transport"):
            far.agent  # noqa: B018 (the agent lives on the worker's side)
    seen = drain(events)  # the engine has shut down: the creature stopped over the link
    (placement,) = plugin.transport.placements
    assert placement.creature_id == "far" and placement.config == {"name": "far"}
    assert models.built["far"].calls[0].last_user_text == "hello"  # the worker's model answered
    (link,) = plugin.transport.links
    assert kinds(link)[:3] == ["start", "graph", "turn"] and kinds(link)[-1] == "stop"
    started = [e for e in seen if isinstance(e, TurnStarted) and e.creature == "far"]
    assert [e.input for e in started] == ["hello"]
    assert [e.type for e in seen if e.creature == "far"][-1] == "creature_stopped"


async def test_run_stream_inject_and_wait_idle_work_as_for_a_local_creature():
    plugin, models = Loopback(), Models()
    async with engine_with(plugin, models) as engine:
        far = await engine.add_creature({"name": "far"}, transport="loopback")
        async with far.run_stream("stream me") as stream:
            streamed = [event async for event in stream]
        assert [e.type for e in streamed] == [
            "turn_started",
            "llm_call_started",
            "text_delta",
            "llm_call_completed",
            "turn_completed",
        ]
        assert streamed[-1].result.text == "far got: stream me"

        far.inject("queued one")
        far.inject("queued two")
        assert not engine.is_idle
        await engine.wait_idle()
        assert far.status()["turn_index"] == 3
        assert [m.last_user_text for m in models.built["far"].calls] == [
            "stream me",
            "queued one",
            "queued two",
        ]


async def test_interrupt_reaches_the_running_turn(autojump_clock):
    slow = ScriptedLLM([ScriptEntry(text="too late", delay=30)])
    plugin, models = Loopback(), Models(far=slow)
    async with engine_with(plugin, models) as engine:
        far = await engine.add_creature({"name": "far"}, transport="loopback")
        async with trio.open_nursery() as nursery:
            results = []

            async def run() -> None:
                results.append(await far.run("take your time"))

            nursery.start_soon(run)
            await trio.testing.wait_all_tasks_blocked()
            assert far.status()["busy"]
            far.interrupt()
        assert results[0].status == "interrupted"
        assert trio.current_time() < 30


async def test_a_cancelled_caller_cancels_the_turn_there(autojump_clock):
    slow = ScriptedLLM([ScriptEntry(text="never", delay=30), "second"])
    plugin, models = Loopback(), Models(far=slow)
    async with engine_with(plugin, models) as engine:
        events = engine.subscribe(types={"turn_completed"}, creature_events=True)
        far = await engine.add_creature({"name": "far"}, transport="loopback")
        with trio.move_on_after(5):
            await far.run("slow")
        completed = await events.receive()
        assert completed.result.status == "cancelled"
        assert (await far.run("next")).text == "second"


async def test_wires_and_channels_cross_the_transport_both_ways():
    def far_reply(request):
        if request.messages[-1].role == "tool":
            return "sent it"
        if last_user(request) == "[output-wire from near] near got: draft":
            return [ToolCall("send_message", {"channel": "results", "message": "reviewed"})]
        return "far idle"  # near's answer comes back over the wire: no second message

    plugin, models = Loopback(), Models(far=ScriptedLLM([far_reply]))
    near_llm = echo("near")
    async with engine_with(plugin, models) as engine:
        near = await engine.add_creature({"name": "near"}, llm=near_llm)
        far = await engine.add_creature({"name": "far"}, transport="loopback")
        await engine.wire("near", "far")  # a local turn's end reaches the remote creature
        await engine.connect("far", "near", channel="results")  # and the remote one sends back
        events = engine.subscribe(creature_events=True)

        await near.run("draft")
        await engine.wait_idle()

        seen = drain(events)
        assert turn_inputs(seen, "far") == [
            "[output-wire from near] near got: draft",
            "[output-wire from near] near got: [Channel 'results' from far]: reviewed",
        ]
        assert turn_inputs(seen, "near") == ["draft", "[Channel 'results' from far]: reviewed"]
        (sent,) = [e for e in seen if e.type == "channel_message"]
        assert sent.creature == "far" and sent.delivered_to == ("near",)
        assert far.send_channels == ("results",)
        prompt = system_prompt(models.built["far"], -1)  # the engine's section, kept current
        assert "`results` (broadcast)" in prompt and "Channels you can send on" in prompt


async def test_a_remote_creature_without_a_send_edge_gets_the_engines_error():
    def reply(request):
        if request.messages[-1].role == "tool":
            return request.messages[-1].content
        return [ToolCall("send_message", {"channel": "secret", "message": "psst"})]

    plugin, models = Loopback(), Models(far=ScriptedLLM([reply]))
    async with engine_with(plugin, models) as engine:
        await engine.add_creature({"name": "near"}, llm=echo("near"))
        far = await engine.add_creature({"name": "far"}, transport="loopback")
        await engine.connect("near", "far", channel="secret")  # far listens, may not send

        result = await far.run("try it")

        assert "'far' may not send on channel 'secret'" in result.text
        assert "it can send on: no channel" in result.tool_calls[0].error  # the engine checked


async def test_stop_and_start_again_places_the_creature_with_its_conversation():
    plugin, models = Loopback(), Models()
    async with engine_with(plugin, models) as engine:
        far = await engine.add_creature({"name": "far"}, transport="loopback")
        await far.run("first")
        await far.stop()
        assert far.state == "stopped"
        with pytest.raises(kt.AgentStoppedError):
            await far.run("while stopped")

        await far.start()
        second = await far.run("second")

        assert second.turn_index == 2
        first, again = plugin.transport.placements
        assert first.history is None and again.history["turn_index"] == 1
        assert [m["content"] for m in again.history["messages"]] == ["first", "far got: first"]
        assert [m.content for m in models.built["far"].calls[-1].messages[1:]] == [
            "first",
            "far got: first",
            "second",
        ]


async def test_a_lost_worker_is_an_error_event_and_the_engine_stays_up():
    plugin, models = Loopback(), Models()
    async with engine_with(plugin, models) as engine:
        errors = engine.subscribe(types={"error"})
        far = await engine.add_creature({"name": "far"}, transport="loopback")
        near = await engine.add_creature({"name": "near"}, llm=echo("near"))
        await far.run("before")

        plugin.transport.kill("far")
        error = await errors.receive()

        assert isinstance(error, ErrorOccurred) and error.creature == "far"
        assert "TransportError" in error.message
        assert "closed before the creature stopped" in error.message
        await far.stopped.wait()
        assert far.state == "stopped"
        assert (await near.run("still here")).text == "near got: still here"
        await far.start()  # placed again, with the conversation its events recorded
        back = await far.run("back")
        assert back.text == "far got: back" and back.turn_index == 2
        assert plugin.transport.placements[-1].history["messages"][0]["content"] == "before"


async def test_the_worker_builds_the_creature_with_its_own_kernel():
    @kt.tool
    def worker_only() -> str:
        """A tool only the worker's plugins provide."""
        return "from the worker"

    class WorkerTools:
        @kt.hookimpl
        def kt_tools(self):
            return [worker_only]

    plugin, models = Loopback(), Models()
    worker_kernel = kt.Kernel(plugins=[WorkerTools()])
    async with engine_with(plugin, models, kernel=worker_kernel) as engine:
        config = {"name": "far", "tools": ["worker_only"]}
        with pytest.raises(kt.UnknownNameError):  # the engine's kernel does not have the tool
            await engine.add_creature(config)
        far = await engine.add_creature(config, transport="loopback")
        assert "worker_only" in far.status()["tools"]


async def test_a_config_the_worker_cannot_build_fails_the_add():
    plugin, models = Loopback(), Models()
    async with engine_with(plugin, models) as engine:
        with pytest.raises(kt.UnknownNameError, match="unknown tool 'nope'"):
            await engine.add_creature({"name": "far", "tools": ["nope"]}, transport="loopback")
        assert len(engine) == 0 and engine.graphs() == []
        assert [m["kind"] for m in plugin.transport.links[0].sent] == []  # never started


async def test_an_unknown_transport_lists_the_loaded_ones():
    async with kt_terrarium.Terrarium(kernel=kt.Kernel(plugins=[Loopback()])) as engine:
        with pytest.raises(kt_terrarium.UnknownTransportError, match=r"transports: loopback\)"):
            await engine.add_creature({"name": "far"}, transport="redis")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        with pytest.raises(LookupError, match=r"transports: none"):
            await engine.add_creature({"name": "far"}, transport="loopback")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"llm": ScriptedLLM(["x"])}, "cannot take llm"),
        ({"tools": [kt.tool(lambda: "x", name="t", description="t")]}, "cannot take tools"),
        ({"is_privileged": True}, "cannot be privileged"),
    ],
)
async def test_what_cannot_cross_a_transport_is_refused(options, fragment):
    plugin = Loopback()
    async with engine_with(plugin, Models()) as engine:
        with pytest.raises(kt_terrarium.TransportError, match=fragment):
            await engine.add_creature({"name": "far"}, transport="loopback", **options)
        with pytest.raises(kt_terrarium.TransportError, match="cannot take llm"):
            await engine.add_creature({"name": "near"}, llm=echo("near"), node="gpu-1")
    assert plugin.made == []  # refused before anything was placed


async def test_a_node_the_transport_does_not_have_is_its_error():
    plugin = Loopback()
    async with engine_with(plugin, Models(), nodes=["cpu-1"]) as engine:
        with pytest.raises(kt_terrarium.TransportError, match="no node 'gpu-1'"):
            await engine.add_creature({"name": "far"}, transport="loopback", node="gpu-1")
        far = await engine.add_creature({"name": "far"}, transport="loopback", node="cpu-1")
        assert plugin.transport.placements[-1].node == "cpu-1"
        assert (await far.run("hi")).text == "far got: hi"
