"""Privileged creatures and the graph tools; the graph section of prompts (§17, 9, 13-16)."""

from __future__ import annotations

import json

import pytest
from test_engine_support import bare, drain, echo, replying, system_prompt, write

import kt
import kt_terrarium
from kt.testing import ScriptedLLM, ToolCall
from kt_terrarium import CreatureAdded, OutputWireAdded, Wire, graph_tools
from kt_terrarium.recipes import WireSpec

GROUP_TOOLS = {spec.name for spec in graph_tools.PRIVILEGED_TOOLS}

SWE_TEAM = {
    "name": "swe_team",
    "root": {"system_prompt": "You coordinate."},
    "creatures": [
        {
            "name": "swe",
            "output_wiring": ["reviewer", {"to": "root", "with_content": False}],
            "channels": {"listen": ["tasks", "feedback", "team_chat"], "can_send": ["team_chat"]},
        },
        {
            "name": "reviewer",
            "output_wiring": [{"to": "root", "with_content": False}],
            "channels": {"listen": ["team_chat"], "can_send": ["feedback", "results", "team_chat"]},
        },
    ],
    "channels": {
        "tasks": {"type": "queue", "description": "Incoming task assignments"},
        "feedback": {"type": "queue"},
        "results": {"type": "queue"},
        "team_chat": {"type": "broadcast"},
    },
}


def outputs(result: kt.TurnResult) -> list:
    return [json.loads(c.output) if c.status == "ok" else c.error for c in result.tool_calls]


async def test_recipe_channels_and_root_wiring():
    """Scenario 9: direct channels, report_to_root, the root's edges and tools."""
    llms = {"root": echo("root"), "swe": echo("swe"), "reviewer": echo("reviewer")}
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        applied = await engine.apply_recipe(SWE_TEAM, llm=llms)
        assert applied.root == "root" and applied.creature_ids == ("swe", "reviewer", "root")
        (graph,) = engine.graphs()
        names = {c.name for c in graph.channels}
        assert {"tasks", "swe", "reviewer", "report_to_root"} <= names
        swe, reviewer, root = engine["swe"], engine["reviewer"], engine["root"]
        assert "swe" in swe.listen_channels and "reviewer" in reviewer.listen_channels
        assert "report_to_root" in swe.send_channels
        assert "report_to_root" in reviewer.send_channels
        # The root hears reports, its own channel, every broadcast channel and every queue
        # channel nobody else listens on (results); it does not compete for `tasks`.
        assert root.listen_channels == ("report_to_root", "results", "root", "team_chat")
        assert root.send_channels == ()
        assert root.is_privileged and GROUP_TOOLS <= set(root.agent.tools)
        for member in (swe, reviewer):
            assert not member.is_privileged
            assert "send_message" in member.agent.tools
            assert not GROUP_TOOLS & set(member.agent.tools)
        assert all(engine[c].is_running for c in engine)


async def test_a_root_spawns_a_worker_opens_a_channel_sends_a_task_and_gets_the_result(tmp_path):
    """Spawn, wire, task and result, all through the root's tools (and scenario 13)."""
    write(tmp_path / "worker" / "creature.toml", 'name = "worker"\n')
    root_llm = ScriptedLLM(
        [
            ToolCall("group_add_node", {"config": "worker"}),
            ToolCall(
                "group_channel",
                {
                    "action": "wire",
                    "channel": "jobs",
                    "creature": "worker",
                    "direction": "listen",
                    "kind": "queue",
                },
            ),
            [
                ToolCall(
                    "group_channel",
                    {
                        "action": "wire",
                        "channel": "done",
                        "creature": "worker",
                        "direction": "send",
                    },
                ),
                ToolCall(
                    "group_channel", {"action": "wire", "channel": "done", "direction": "listen"}
                ),
            ],
            ToolCall("send_message", {"channel": "jobs", "message": "compute 6*7"}),
            "Delegated.",
            "The worker says 42.",
        ],
        exhausted="raise",
    )
    worker_llm = ScriptedLLM(
        [ToolCall("send_message", {"channel": "done", "message": "42"}), "sent"],
        exhausted="raise",
    )
    models = {"worker": worker_llm}
    async with kt_terrarium.Terrarium(
        kernel=bare(), pwd=tmp_path, llm=lambda cid, config: models.get(cid)
    ) as engine:
        events = engine.subscribe(types={"creature_added"})
        root = await engine.add_creature({"name": "root"}, llm=root_llm, is_privileged=True)
        first = await root.run("Get 6*7 computed by a worker.")
        await engine.wait_idle()
        added = [e for e in drain(events) if isinstance(e, CreatureAdded)]

        assert first.text == "Delegated." and [c.status for c in first.tool_calls] == ["ok"] * 5
        spawned = outputs(first)[0]
        assert spawned["creature"] == "worker" and spawned["parent"] == "root"
        worker = engine["worker"]
        assert worker.graph_id == root.graph_id and worker.parent == "root"
        assert not worker.is_privileged and not GROUP_TOOLS & set(worker.agent.tools)
        assert added[-1].creature == "worker" and added[-1].parent == "root"
        assert {c.name: c.kind for c in engine.channels} == {"done": "broadcast", "jobs": "queue"}
        assert worker.agent.history[0].content == "[Channel 'jobs' from root]: compute 6*7"
        assert root.agent.turn_index == 2
        assert root_llm.calls[-1].last_user_text == "[Channel 'done' from worker]: 42"
        assert root.agent.history[-1].content == "The worker says 42."


async def test_ordinary_creatures_cannot_use_graph_tools():
    """Scenario 13: unknown tool for a worker; a smuggled graph tool is refused at call time."""
    llm = ScriptedLLM(
        [[ToolCall("group_status"), ToolCall("group_send", {"to": "x", "message": "y"})], "ok"]
    )
    smuggler_llm = ScriptedLLM([ToolCall("group_status"), "ok"])
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        worker = await engine.add_creature({"name": "worker"}, llm=llm)
        smuggler = await engine.add_creature(
            {"name": "smuggler"}, llm=smuggler_llm, tools=[graph_tools.group_status]
        )
        plain = await worker.run("try")
        smuggled = await smuggler.run("try")
    assert [c.error_type for c in plain.tool_calls] == ["ToolNotFoundError"] * 2
    (call,) = smuggled.tool_calls
    assert call.status == "error" and "only for privileged creatures" in call.error


async def test_group_remove_node_refuses_privileged_targets():
    """Scenario 14."""
    root_llm = ScriptedLLM(
        [
            [
                ToolCall("group_remove_node", {"creature": "root"}),
                ToolCall("group_remove_node", {"creature": "admin"}),
                ToolCall("group_stop_node", {"creature": "admin"}),
                ToolCall("group_remove_node", {"creature": "stranger"}),
            ],
            "ok",
        ]
    )
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        root = await engine.add_creature({"name": "root"}, llm=root_llm, is_privileged=True)
        await engine.add_creature({"name": "admin"}, llm=echo("a"), is_privileged=True)
        await engine.add_creature({"name": "stranger"}, llm=echo("s"))
        await engine.connect("root", "admin", channel="ops")
        before = engine.status()
        result = await root.run("clean up")
        after = engine.status()
    errors = [c.error for c in result.tool_calls]
    assert "cannot act on yourself" in errors[0]
    assert "'admin' is privileged; only the user" in errors[1]
    assert "'admin' is privileged" in errors[2]
    assert "no creature 'stranger' in your group" in errors[3]
    assert before["graphs"].keys() == after["graphs"].keys()
    assert engine["admin"].state == "stopped"  # stopped by the engine's shutdown, not the tool


async def test_group_stop_start_and_remove_a_member():
    root_llm = ScriptedLLM(
        [
            ToolCall("group_stop_node", {"creature": "member"}),
            ToolCall("group_start_node", {"creature": "member"}),
            ToolCall("group_remove_node", {"creature": "member"}),
            "done",
        ]
    )
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        root = await engine.add_creature({"name": "root"}, llm=root_llm, is_privileged=True)
        await engine.add_creature({"name": "member"}, llm=echo("m"))
        await engine.connect("root", "member", channel="ops")
        result = await root.run("cycle it")
    assert outputs(result) == [
        {"stopped": "member"},
        {"started": "member"},
        {"removed": "member", "graph_id": root.graph_id},
    ]
    assert "member" not in engine


async def test_group_wire_joins_graphs_with_a_deterministic_edge_id():
    """Scenario 15: the same inputs give the same edge id, here computed before wiring."""
    edge_id = Wire.from_spec("x", WireSpec(to="y")).edge_id
    add = {"action": "add", "source": "x", "to": "y"}
    remove = {"action": "remove", "source": "x", "edge_id": edge_id}
    root_llm = ScriptedLLM(
        [
            ToolCall("group_wire", add),
            ToolCall("group_wire", add),
            ToolCall("group_wire", remove),
            ToolCall("group_wire", remove),
            "done",
        ]
    )
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        events = engine.subscribe(types={"output_wire_added", "topology_changed"})
        root = await engine.add_creature({"name": "root"}, llm=root_llm, is_privileged=True)
        await engine.add_creature({"name": "x"}, llm=echo("x"))
        await engine.add_creature({"name": "y"}, llm=echo("y"))
        await engine.connect("root", "y", channel="ry")
        drain(events)
        result = await root.run("wire")
        graphs = engine.graphs()
        seen = drain(events)
    # The wire joined x's graph to root's; removing it split x off again.
    assert sorted(g.creature_ids for g in graphs) == [("root", "y"), ("x",)]
    assert [e.kind for e in seen if e.type == "topology_changed" and e.kind != "nothing"] == [
        "merge",
        "split",
    ]
    added, again, removed, missing = result.tool_calls
    assert json.loads(added.output)["edge_id"] == json.loads(again.output)["edge_id"] == edge_id
    assert len([e for e in seen if isinstance(e, OutputWireAdded)]) == 1
    assert json.loads(removed.output)["removed"] == [edge_id]
    assert missing.status == "error" and "no output wire" in missing.error


async def test_the_graph_section_of_the_prompt_follows_the_graph():
    """Scenario 16: one section, replaced (never stacked), listing what b listens on."""
    b_llm = echo("b")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.add_creature({"name": "a"}, llm=echo("a"))
        b = await engine.add_creature({"name": "b"}, llm=b_llm)
        await b.run("alone")
        assert graph_tools.SECTION_START not in system_prompt(b_llm)

        await engine.connect("a", "b", channel="ab", description="a talks to b")
        await b.run("connected")
        prompt = system_prompt(b_llm)
        assert prompt.count(graph_tools.SECTION_START) == 1
        listening = prompt.split("Channels you listen on:")[1]
        assert "- `ab` (broadcast): a talks to b" in listening

        await engine.disconnect("a", "b", channel="ab")
        await b.run("disconnected")
        assert graph_tools.SECTION_START not in system_prompt(b_llm)
        assert system_prompt(b_llm).startswith(b.agent.config.system_prompt)


async def test_the_root_prompt_describes_the_whole_graph_deterministically():
    llms = {"root": echo("root"), "swe": echo("swe"), "reviewer": echo("reviewer")}
    prompts = []
    for _ in range(2):
        async with kt_terrarium.Terrarium(kernel=bare()) as engine:
            await engine.apply_recipe(SWE_TEAM, llm=dict(llms))
            prompts.append(engine["root"].link.section_text())
    assert prompts[0] == prompts[1]
    text = prompts[0]
    assert "You are privileged" in text
    assert "- `swe`, running: listens on feedback, swe, tasks, team_chat; sends on " in text
    assert "report_to_root, team_chat" in text
    assert "Turn-end text of `reviewer`, `swe` is delivered to you." in text


async def test_group_status_and_group_send():
    calls = [
        ToolCall("group_status", {"include_history": True, "history_limit": 1}),
        ToolCall("group_send", {"to": "swe", "message": "status?"}),
    ]
    root_llm = replying(lambda text: calls if text == "report" else "noted")
    llms = {"root": root_llm, "swe": echo("swe"), "reviewer": echo("reviewer")}
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(SWE_TEAM, llm=llms)
        await engine.send("tasks", "hello swe", sender="human")
        await engine.wait_idle()
        result = await engine["root"].run("report")
        await engine.wait_idle()
        swe_inputs = [m.content for m in engine["swe"].agent.history if m.role == "user"]
    status, sent = outputs(result)
    assert status["self"] == {"id": "root", "privileged": True}
    assert [c["id"] for c in status["creatures"]] == ["reviewer", "root", "swe"]
    (tasks,) = [c for c in status["channels"] if c["name"] == "tasks"]
    assert tasks["history"] == [
        {"content": "hello swe", "message_id": tasks["history"][0]["message_id"], "sender": "human"}
    ]
    assert sent == {"delivered": True, "to": "swe"}
    assert swe_inputs[-1] == "[direct from root] status?"


async def test_group_connect_and_channel_create_delete():
    root_llm = ScriptedLLM(
        [
            ToolCall("group_channel", {"action": "create", "channel": "news", "description": "d"}),
            ToolCall("group_channel", {"action": "create", "channel": "news"}),
            ToolCall("group_connect", {"action": "connect", "sender": "root", "receiver": "other"}),
            ToolCall(
                "group_connect", {"action": "disconnect", "sender": "root", "receiver": "other"}
            ),
            ToolCall("group_channel", {"action": "delete", "channel": "news"}),
            "done",
        ]
    )
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        root = await engine.add_creature({"name": "root"}, llm=root_llm, is_privileged=True)
        await engine.add_creature({"name": "other"}, llm=echo("o"))
        result = await root.run("go")
    created, duplicate, connected, disconnected, deleted = result.tool_calls
    assert json.loads(created.output)["created"] == "news"
    assert "already has a channel 'news'" in duplicate.error
    assert json.loads(connected.output)["channel"] == "root__other"
    assert json.loads(connected.output)["delta"] == "merge"
    assert json.loads(disconnected.output) == {"channels": ["root__other"], "delta": "split"}
    assert json.loads(deleted.output)["deleted"] == "news"


async def test_graph_tools_outside_an_engine_say_so():
    llm = ScriptedLLM(
        [ToolCall("group_status"), ToolCall("send_message", {"channel": "x", "message": "y"}), "ok"]
    )
    tools = [graph_tools.group_status, graph_tools.send_message]
    async with await kt.Agent.build({"name": "solo"}, llm=llm, tools=tools, kernel=bare()) as agent:
        result = await agent.run("go")
    assert all("not hosted by a terrarium" in c.error for c in result.tool_calls)


@pytest.mark.parametrize("privileged", [True, False])
async def test_privileged_recipe_members(privileged):
    recipe = {
        "creatures": [{"name": "lead", "privileged": privileged}, {"name": "dev"}],
        "channels": {"work": {}},
    }
    recipe["creatures"][1]["channels"] = {"listen": ["work"]}
    recipe["creatures"][0]["channels"] = {"listen": ["work"]}
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(recipe, llm={"lead": echo("l"), "dev": echo("d")})
        assert engine["lead"].is_privileged is privileged
        assert bool(GROUP_TOOLS & set(engine["lead"].agent.tools)) is privileged
