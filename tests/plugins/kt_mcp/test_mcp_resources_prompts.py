"""Resources and prompts as a client: the resource tools, prompt slash commands, ``kt mcp``.

The toy server offers a resource (``toy://readme``), a URI template (``toy://notes/{topic}``)
and a prompt (``review(code, focus?)``); the time server from PyPI offers neither.
"""

from __future__ import annotations

import sys

import pytest
from kt_mcp_helpers import TOY, creature, pypi_server, toy

import kt
from kt.testing import ScriptedLLM, ToolCall
from kt_mcp.errors import MCPConfigError
from kt_mcp.manager import manager

RESOURCE_TOOLS = {"mcp_resources", "mcp_read_resource"}


async def test_the_model_lists_and_reads_resources(kernel):
    script = [
        ToolCall("mcp_resources", {}),
        ToolCall("mcp_read_resource", {"server": "toy", "uri": "toy://readme"}),
        ToolCall("mcp_read_resource", {"server": "toy", "uri": "toy://notes/bees"}),
        ToolCall("mcp_read_resource", {"server": "toy", "uri": "toy://nowhere"}),
        ToolCall("mcp_read_resource", {"server": "elsewhere", "uri": "toy://readme"}),
        "done",
    ]
    llm = ScriptedLLM(script, exhausted="raise")
    async with await kt.Agent.build(creature(toy()), llm=llm, kernel=kernel) as agent:
        assert RESOURCE_TOOLS <= set(agent.tools)
        result = await agent.run("what does the toy say?")

    listing, readme, note, unknown, elsewhere = result.tool_calls
    assert "- toy://readme readme (text/plain): What the toy server is." in listing.output
    assert "- toy://notes/{topic} (template) note: A note on a topic." in listing.output
    assert readme.output == "The toy server answers tests."
    assert readme.metadata["mcp_uris"] == ["toy://readme"]
    assert note.output == "A note about bees."
    assert unknown.status == "error" and "refused 'toy://nowhere'" in unknown.error
    assert "no MCP server 'elsewhere'" in elsewhere.error


async def test_no_resource_tools_for_servers_without_resources(kernel):
    config = creature(pypi_server("time", "mcp_server_time", "--local-timezone", "UTC"))
    async with await kt.Agent.build(config, llm=ScriptedLLM(["hi"]), kernel=kernel) as agent:
        assert "time__get_current_time" in agent.tools
        assert not RESOURCE_TOOLS & set(agent.tools)


async def test_prompts_become_slash_commands_that_expand_to_the_users_message(kernel):
    async with await kt.Agent.build(creature(toy()), llm=ScriptedLLM(["hi"]), kernel=kernel) as a:
        found = manager(a)
        assert set(found.prompt_commands()) == {"toy:review"}
        named = await found.expand_prompt("toy:review", "code='x = 1' focus=style")
        whole = await found.expand_prompt("toy:review", "print(1)")
        with pytest.raises(MCPConfigError, match=r"needs code: /toy:review code=\.\.\. focus"):
            await found.expand_prompt("toy:review", "focus=style")
        with pytest.raises(MCPConfigError, match="no MCP prompt 'toy:nope'; the prompts: toy:rev"):
            await found.expand_prompt("toy:nope")
    assert named == "Review this code for style:\nx = 1"
    assert whole == "Review this code for bugs:\nprint(1)"


def test_kt_mcp_resources_lists_and_reads(kt_cmd):
    kt_cmd("mcp", "add", "toy", "--", sys.executable, str(TOY))
    listed = kt_cmd("mcp", "resources", "toy")
    assert listed.exit_code == 0, listed.output
    assert "toy://readme" in listed.output and "toy://notes/{topic} (template)" in listed.output
    read = kt_cmd("mcp", "resources", "toy", "toy://notes/ants")
    assert read.exit_code == 0 and read.output == "A note about ants.\n"
    missing = kt_cmd("mcp", "resources", "toy", "toy://nowhere")
    assert missing.exit_code == 1 and "cannot read toy://nowhere" in missing.output


def test_kt_mcp_prompts_lists_and_fills_in(kt_cmd):
    kt_cmd("mcp", "add", "toy", "--", sys.executable, str(TOY))
    listed = kt_cmd("mcp", "prompts", "toy")
    assert listed.exit_code == 0, listed.output
    assert "- review(code, focus?): Ask for a review of some code." in listed.output
    filled = kt_cmd("mcp", "prompts", "toy", "review", "--arg", "code=x = 1")
    assert filled.exit_code == 0 and filled.output == "Review this code for bugs:\nx = 1\n"
    refused = kt_cmd("mcp", "prompts", "toy", "nope")
    assert refused.exit_code == 1 and "refused the prompt 'nope'" in refused.output


def test_kt_mcp_test_mentions_resources_and_prompts(kt_cmd):
    kt_cmd("mcp", "add", "toy", "--", sys.executable, str(TOY))
    tested = kt_cmd("mcp", "test", "toy")
    assert "2 resources: kt mcp resources toy" in tested.output
    assert "1 prompts: kt mcp prompts toy" in tested.output


async def test_resource_mentions_are_read_into_the_users_message(kernel):
    async with await kt.Agent.build(creature(toy()), llm=ScriptedLLM(["hi"]), kernel=kernel) as a:
        found = manager(a)
        text = await found.expand_mentions(
            "Compare @toy:toy://notes/bees with @toy:toy://readme. Ignore @nobody:x://y"
        )
        plain = await found.expand_mentions("no mentions, just an email a@b.c")
        refused = await found.expand_mentions("see @toy:toy://nowhere")
    assert text.startswith("Compare @toy:toy://notes/bees with @toy:toy://readme.")
    assert '<resource server="toy" uri="toy://notes/bees">\nA note about bees.\n</resource>' in text
    assert '<resource server="toy" uri="toy://readme">\nThe toy server answers tests.' in text
    assert "nobody" not in text.split("Ignore")[1].split("\n", 1)[1]
    assert plain == "no mentions, just an email a@b.c"
    assert '<resource server="toy" uri="toy://nowhere" error=' in refused


async def test_the_terminal_offers_the_prompts_as_the_mcp_slash_command():
    import kt_cli.plugin
    import kt_mcp
    from kt_cli.interactive import InteractiveSession

    kernel = kt.Kernel(plugins=[kt_cli.plugin, kt_mcp])
    llm = ScriptedLLM(["reviewed"])
    async with await kt.Agent.build(creature(toy()), llm=llm, kernel=kernel) as agent:
        session = InteractiveSession(agent)
        listed = await session.submit("/mcp")
        await session.submit("/mcp toy:review code='x = 1'")
    assert any(line.startswith("/mcp toy:review code=... focus=...") for line in listed.lines)
    assert llm.calls[0].messages[-1].content == "Review this code for bugs:\nx = 1"
