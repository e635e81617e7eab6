"""Serving more than one creature: a terrarium recipe (``kt mcp serve RECIPE``) and a host.

The recipe is served by the real ``kt`` command in a subprocess, used by the official SDK
client over stdio; the host is a real ``kt_web`` server process (gunicorn, as ``kt serve``
runs it) whose ``/api/mcp`` the SDK client uses over streamable HTTP. Every creature's model
is the built-in ``scripted`` backend, with a replies file of its own. The last tests run
in-process (the SDK client connected to the server object): a group server following an
engine's creatures, and stateless asks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from kt_mcp_helpers import HOST_TOKEN

import kt
import kt_mcp
from kt.testing import ScriptedLLM

RECIPE = """\
name = "team"

[root]
description = "Leads the team and answers for it."
system_prompt = "You lead."
controller = {{ llm = "scripted:{folder}/root.toml" }}

[[creatures]]
name = "alice"
description = "Knows the tanks."
system_prompt = "You are Alice."
controller = {{ llm = "scripted:{folder}/alice.toml" }}

[[creatures]]
name = "bob"
system_prompt = "You are Bob."
controller = {{ llm = "scripted:{folder}/bob.toml" }}
"""


def _replies(*texts: str) -> str:
    return "".join(f'[[replies]]\ntext = "{text}"\n\n' for text in texts)


@pytest.fixture
def team(tmp_path) -> Path:
    folder = tmp_path / "team"
    (folder / "prompts").mkdir(parents=True)
    (folder / "terrarium.toml").write_text(RECIPE.format(folder=folder))
    (folder / "root.toml").write_text(_replies("The root answers.", "The root again."))
    (folder / "alice.toml").write_text(_replies("Alice: the axolotl is in tank 2."))
    (folder / "bob.toml").write_text(_replies("Bob: the pump is fine."))
    (folder / "prompts" / "check.md").write_text("# Check a tank\nCheck tank {tank}.\n")
    return folder


def _params(kt_env: dict[str, str], target: Path, *extra: str):
    from mcp import StdioServerParameters

    args = ["-m", "kt_cli", "mcp", "serve", str(target), *extra]
    env = {**kt_env, "KT_PLUGINS": "kt_mcp,kt_terrarium"}
    return StdioServerParameters(command=sys.executable, args=args, env=env)


async def test_a_recipe_is_served_by_its_root(team, kt_env):
    from mcp import Client

    async with Client(_params(kt_env, team)) as client:
        listed = await client.session.list_tools()
        (ask,) = listed.tools
        assert ask.name == "ask_root"
        assert "Leads the team and answers for it." in ask.description
        answer = await client.session.call_tool("ask_root", {"prompt": "Where is the axolotl?"})
        assert not answer.is_error and answer.content[0].text == "The root answers."
        uris = [str(r.uri) for r in (await client.session.list_resources()).resources]
        assert uris == ["kt://root/system-prompt", "kt://root/conversation"]
        talk = await client.session.read_resource("kt://root/conversation")
        assert "Where is the axolotl?" in talk.contents[0].text
        prompts = [p.name for p in (await client.session.list_prompts()).prompts]
        assert prompts == ["check"]


async def test_with_members_every_creature_of_the_recipe_is_a_tool(team, kt_env):
    from mcp import Client

    async with Client(_params(kt_env, team, "--members")) as client:
        tools = {t.name: t for t in (await client.session.list_tools()).tools}
        assert set(tools) == {"ask_alice", "ask_bob", "ask_root"}
        assert "Knows the tanks." in tools["ask_alice"].description
        alice = await client.session.call_tool("ask_alice", {"prompt": "Where is the axolotl?"})
        bob = await client.session.call_tool("ask_bob", {"prompt": "And the pump?"})
        assert alice.content[0].text == "Alice: the axolotl is in tank 2."
        assert bob.content[0].text == "Bob: the pump is fine."

        # Each creature keeps its own conversation, and offers it as a resource.
        uris = {str(r.uri) for r in (await client.session.list_resources()).resources}
        assert {"kt://alice/conversation", "kt://bob/conversation"} <= uris
        talk = await client.session.read_resource("kt://alice/conversation")
        assert "Where is the axolotl?" in talk.contents[0].text
        assert "pump" not in talk.contents[0].text

        # Prompts are named by their creature, so those of several creatures sit side by side.
        names = {p.name for p in (await client.session.list_prompts()).prompts}
        assert {"alice__check", "bob__check", "root__check"} == names
        got = await client.session.get_prompt("bob__check", {"tank": "3"})
        assert got.messages[0].content.text == "# Check a tank\nCheck tank 3.\n"

        # Bob's replies are used up: his turn fails, and the client is told so.
        failed = await client.session.call_tool("ask_bob", {"prompt": "Again?"})
        assert failed.is_error and "ended with status 'error'" in failed.content[0].text
        unknown = await client.session.call_tool("ask_carol", {"prompt": "Hi"})
        assert unknown.is_error and "ask_alice, ask_bob, ask_root" in unknown.content[0].text


def test_a_recipe_without_a_root_needs_members(kt_cmd, tmp_path):
    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "terrarium.toml").write_text(
        'name = "pair"\n\n[[creatures]]\nname = "solo"\nsystem_prompt = "Hi."\n'
    )
    refused = kt_cmd(
        "mcp", "serve", str(folder), "--llm", "scripted:none", plugins=["kt_terrarium"]
    )
    assert refused.exit_code != 0
    assert "terrarium 'pair' has no root creature to serve" in refused.output
    assert "--members" in refused.output


def test_a_recipe_needs_the_terrarium_plugin(kt_cmd, team):
    refused = kt_cmd("mcp", "serve", str(team))
    assert refused.exit_code != 0
    assert "serving a terrarium recipe needs the kt_terrarium plugin" in refused.output
    assert "--plugins ...,kt_terrarium" in refused.output


def test_members_is_for_recipes_and_not_with_expose_tools(kt_cmd, team, tmp_path):
    creature = tmp_path / "solo"
    creature.mkdir()
    (creature / "creature.toml").write_text('name = "solo"\n')
    on_a_creature = kt_cmd("mcp", "serve", str(creature), "--members")
    assert on_a_creature.exit_code == 2
    assert "--members serves the creatures of a terrarium recipe" in on_a_creature.output
    both = kt_cmd(
        "mcp", "serve", str(team), "--members", "--expose-tools", plugins=["kt_terrarium"]
    )
    assert both.exit_code != 0 and "give one of them" in both.output


# -- A kt serve host ------------------------------------------------------------------------


async def test_a_kt_serve_host_offers_its_running_creatures(web_host, team):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    auth = {"Authorization": f"Bearer {HOST_TOKEN}"}
    async with httpx2.AsyncClient(base_url=web_host.url, headers=auth, timeout=30) as http:
        started = await http.post("/api/sessions/active/terrarium", json={"config_path": str(team)})
        assert started.status_code in (200, 201), started.text
        session = started.json()["session_id"]

        endpoint = f"{web_host.url}/api/mcp"
        async with Client(streamable_http_client(endpoint, http_client=http)) as client:
            tools = {t.name for t in (await client.session.list_tools()).tools}
            assert tools == {"ask_alice", "ask_bob", "ask_root"}
            answer = await client.session.call_tool("ask_alice", {"prompt": "Where?"})
            assert answer.content[0].text == "Alice: the axolotl is in tank 2."

        # The turn is the creature's own: the web API shows it in the same conversation.
        history = await http.get(f"/api/sessions/{session}/creatures/alice/history")
        texts = [m["content"] for m in history.json()["messages"]]
        assert texts[-2:] == ["Where?", "Alice: the axolotl is in tank 2."]

        # A session stopped is gone from the tools at the next listing.
        assert (await http.delete(f"/api/sessions/active/{session}")).status_code in (200, 204)
        async with Client(streamable_http_client(endpoint, http_client=http)) as client:
            assert (await client.session.list_tools()).tools == []

        # The host's token guards /api/mcp; pages of other origins and GET streams are refused.
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        accept = {"Accept": "application/json, text/event-stream"}
        without = await http.post("/api/mcp", json=ping, headers={"Authorization": ""})
        assert without.status_code == 401
        page = await http.post("/api/mcp", json=ping, headers={**accept, "Origin": "http://a.b"})
        assert page.status_code == 403 and "a.b" in page.json()["error"]["message"]
        local = await http.post(
            "/api/mcp", json=ping, headers={**accept, "Origin": "http://localhost:5173"}
        )
        assert local.status_code == 200 and local.json()["result"] == {}
        stream = await http.get("/api/mcp")
        assert stream.status_code == 405 and stream.headers["allow"] == "POST"


# -- In-process: the group follows the engine; stateless asks ------------------------------


async def test_a_group_server_follows_the_creatures_that_come_and_go():
    from mcp import Client

    from kt_mcp.hosting import engine_creatures
    from kt_mcp.serve import build_group_server
    from kt_terrarium import Terrarium

    kernel = kt.Kernel(plugins=[kt_mcp])
    async with Terrarium(kernel=kernel) as engine:
        await engine.add_creature({"name": "alice"}, llm=ScriptedLLM(["Alice here."]))
        server = build_group_server(engine_creatures(engine), name="kt-test", instructions="t")
        async with Client(server) as client:
            before = [t.name for t in (await client.list_tools()).tools]
            await engine.add_creature({"name": "bob"}, llm=ScriptedLLM(["Bob here."]))
            added = sorted(t.name for t in (await client.list_tools()).tools)
            answer = await client.call_tool("ask_bob", {"prompt": "Who is there?"})
            await engine.remove_creature("alice")
            after = [t.name for t in (await client.list_tools()).tools]
            gone = await client.call_tool("ask_alice", {"prompt": "Still there?"})
    assert before == ["ask_alice"] and added == ["ask_alice", "ask_bob"]
    assert answer.content[0].text == "Bob here."
    assert after == ["ask_bob"]
    assert gone.is_error and "unknown tool 'ask_alice'; this server offers: ask_bob" in (
        gone.content[0].text
    )


async def test_stateless_asks_forget_each_creatures_conversation():
    from mcp import Client

    from kt_mcp.hosting import recipe_server

    recipe = {"name": "pair", "root": {"system_prompt": "Lead."}, "creatures": [{"name": "al"}]}
    models = {"root": ScriptedLLM(["Root."]), "al": ScriptedLLM(["One.", "Two."])}
    kernel = kt.Kernel(plugins=["kt_terrarium", kt_mcp])
    async with recipe_server(
        recipe, kernel=kernel, members=True, stateless=True, llm=models
    ) as served:
        async with Client(served[0]) as client:
            await client.call_tool("ask_al", {"prompt": "first question"})
            second = await client.call_tool("ask_al", {"prompt": "second question"})
            talk = await client.read_resource("kt://al/conversation")
    assert second.content[0].text == "Two."
    assert talk.contents[0].text == "## user\n\nsecond question\n\n## assistant\n\nTwo."
