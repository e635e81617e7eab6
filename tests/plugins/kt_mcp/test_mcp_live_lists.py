"""Live lists: a server that changes its tools, resources or prompts while connected.

The live server's ``unlock`` adds a tool, a resource and a prompt, ``lock`` removes the tool and
``reshape`` changes ``echo``'s schema; each announces the change on both protocol eras (a
``subscriptions/listen`` stream at 2026-07-28, ``notifications/*/list_changed`` before). The
creature's tools must follow within the same turn, without a reconnection.
"""

from __future__ import annotations

import pytest
from kt_mcp_helpers import creature, live

import kt
from kt.testing import EventRecorder, ScriptedLLM, ToolCall
from kt_mcp import MCPServerConnected, MCPServerListChanged
from kt_mcp.manager import manager

ERAS = [
    "auto",
    "legacy",
]  # auto negotiates 2026-07-28 with the SDK's server; legacy is the handshake


@pytest.mark.parametrize("protocol", ERAS)
async def test_a_tool_added_by_the_server_is_callable_in_the_same_turn(kernel, protocol):
    recorder = EventRecorder()
    script = [
        ToolCall("live__unlock", {}),
        ToolCall("live__secret", {}),
        ToolCall("live__lock", {}),
        ToolCall("live__secret", {}),
        "done",
    ]
    llm = ScriptedLLM(script, exhausted="raise")
    config = creature(live(protocol=protocol))
    async with await kt.Agent.build(config, llm=llm, kernel=kernel, plugins=[recorder]) as agent:
        assert "live__secret" not in agent.tools
        result = await agent.run("find the secret")
        assert "live__secret" not in agent.tools  # withdrawn again by lock

    unlocked, secret, locked, gone = result.tool_calls
    assert unlocked.output == "unlocked"
    assert secret.status == "ok" and secret.output == "the secret is 42"
    assert locked.output == "locked"
    assert gone.status != "ok" and "live__secret" in (gone.error or "")
    # The model was offered the new tool in the request after unlock, and not after lock.
    offered = [{schema.name for schema in call.tools} for call in llm.calls]
    assert "live__secret" not in offered[0]
    assert "live__secret" in offered[1]
    assert "live__secret" not in offered[3]
    # One connection all along, and each change is an event naming what came and went.
    assert len(recorder.of_type(MCPServerConnected)) == 1
    changes = [(e.kind, e.added, e.removed) for e in recorder.of_type(MCPServerListChanged)]
    assert ("tools", ("secret",), ()) in changes
    assert ("resources", ("live://secret",), ()) in changes
    assert ("prompts", ("secret",), ()) in changes
    assert ("tools", (), ("secret",)) in changes


@pytest.mark.parametrize("protocol", ERAS)
async def test_a_changed_schema_replaces_the_tool(kernel, protocol):
    script = [
        ToolCall("live__reshape", {}),
        ToolCall("live__echo", {"text": "hi", "loud": True}),
        "ok",
    ]
    llm = ScriptedLLM(script, exhausted="raise")
    async with await kt.Agent.build(
        creature(live(protocol=protocol)), llm=llm, kernel=kernel
    ) as agent:
        before = agent.tools["live__echo"].parameters
        result = await agent.run("shout")
        after = agent.tools["live__echo"].parameters

    assert "loud" not in before["properties"]
    assert after["required"] == ["text", "loud"]
    assert result.tool_calls[1].output == "HI"  # validated against the new schema
    schemas = {schema.name: schema.parameters for schema in llm.calls[1].tools}
    assert "loud" in schemas["live__echo"]["properties"]


async def test_meta_mode_sees_new_tools_and_the_prompt_lists_them(kernel):
    script = [
        ToolCall("mcp_call", {"server": "live", "tool": "unlock"}),
        ToolCall("mcp_call", {"server": "live", "tool": "secret"}),
        "done",
    ]
    llm = ScriptedLLM(script, exhausted="raise")
    async with await kt.Agent.build(creature(live(mode="meta")), llm=llm, kernel=kernel) as agent:
        result = await agent.run("find the secret")
        listed = {t.name for t in manager(agent).connections["live"].tools}
    assert result.tool_calls[1].output == "the secret is 42"
    assert "secret" in listed


async def test_the_creatures_working_dir_is_offered_as_the_clients_root(kernel, tmp_path):
    llm = ScriptedLLM([ToolCall("live__roots", {}), "ok"], exhausted="raise")
    config = creature(live(protocol="legacy"))  # roots/list is a handshake-era request
    async with await kt.Agent.build(config, llm=llm, kernel=kernel, pwd=tmp_path) as agent:
        result = await agent.run("where do I work?")
    assert result.tool_calls[0].output == tmp_path.resolve().as_uri()


async def _answer_requests(agent, answers):
    """Answer each MCP user request on *agent* as a front end would, in order."""
    from kt.events import answer_request
    from kt_mcp import MCPElicitation, MCPSamplingApproval

    asked = []
    with agent.subscribe() as events:
        async for event in events:
            if isinstance(event, MCPElicitation | MCPSamplingApproval):
                asked.append(event)
                await answer_request(agent, event.request_id, answers.pop(0), source="test")
                if not answers:
                    return asked
    return asked


@pytest.mark.parametrize("protocol", ERAS)
@pytest.mark.parametrize(
    ("answer", "said"), [("Ada", "Hello, Ada!"), ("decline", "no name (decline)")]
)
async def test_an_elicitation_is_a_question_to_the_user(kernel, nursery, answer, said, protocol):
    llm = ScriptedLLM([ToolCall("live__greet", {}), "done"], exhausted="raise")
    config = creature(live(protocol=protocol))
    async with await kt.Agent.build(config, llm=llm, kernel=kernel) as agent:
        asked = []

        async def front_end():
            asked.extend(await _answer_requests(agent, [answer]))

        nursery.start_soon(front_end)
        result = await agent.run("greet me")
    assert result.tool_calls[0].output == said
    (question,) = asked
    assert question.kind == "question" and question.server == "live"
    assert question.prompt.startswith("MCP server 'live' asks: Who is there?")
    assert "- name (string)" in question.prompt and question.fields == ("name",)


@pytest.mark.parametrize("protocol", ERAS)
async def test_sampling_uses_the_creatures_model_when_the_user_allows(kernel, nursery, protocol):
    script = [ToolCall("live__haiku", {"topic": "ponds"}), "an old silent pond", "done"]
    llm = ScriptedLLM(script, exhausted="raise")
    config = creature(live(protocol=protocol))
    async with await kt.Agent.build(config, llm=llm, kernel=kernel) as agent:
        asked = []

        async def front_end():
            asked.extend(await _answer_requests(agent, ["allow"]))

        nursery.start_soon(front_end)
        result = await agent.run("a haiku please")
    assert result.tool_calls[0].output == "the model wrote: an old silent pond"
    (approval,) = asked
    assert approval.kind == "approval" and "asks to use this creature's model" in approval.prompt
    assert llm.calls[1].messages[-1].content == "ponds"  # the server's message, to the model


async def test_sampling_denied_by_the_entry_never_reaches_the_model(kernel):
    llm = ScriptedLLM([ToolCall("live__haiku", {"topic": "ponds"}), "done"], exhausted="raise")
    config = creature(live(protocol="legacy", sampling="deny"))
    async with await kt.Agent.build(config, llm=llm, kernel=kernel) as agent:
        result = await agent.run("a haiku please")
    assert result.tool_calls[0].output.startswith("refused:")
    assert "does not let MCP server 'live' use its model" in result.tool_calls[0].output
    assert len(llm.calls) == 2  # the turn's two calls, none for the server
