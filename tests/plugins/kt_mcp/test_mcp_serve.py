"""``kt mcp serve``: the official SDK's client uses a creature over stdio and over HTTP.

The server is the real ``kt`` command in a subprocess (``python -m kt_cli``), with kt_mcp found
through its entry point and the creature's model played by the built-in ``scripted`` backend.
"""

from __future__ import annotations

import sys

import pytest
from kt_mcp_helpers import creature, serve_args, start_http_server

import kt
import kt_mcp
from kt.testing import ScriptedLLM, ToolCall


async def test_the_sdk_client_uses_a_creature_over_stdio(helper, kt_env):
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=serve_args(helper, "--expose-tools"), env=kt_env
    )
    async with Client(params) as client:
        listed = await client.session.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        assert set(tools) == {"ask_helper", "count_words"}
        assert "Answers questions about the terrarium." in tools["ask_helper"].description
        assert tools["ask_helper"].input_schema["required"] == ["prompt"]
        assert "run_in_background" not in tools["count_words"].input_schema["properties"]

        answer = await client.session.call_tool("ask_helper", {"prompt": "Where is the axolotl?"})
        assert not answer.is_error
        assert answer.content[0].text == "The axolotl is in the big tank."
        assert answer.structured_content["status"] == "completed"

        # One turn with a tool round: the creature's own tool runs inside the turn.
        counted = await client.session.call_tool("ask_helper", {"prompt": "Count: one two three"})
        assert counted.content[0].text == "There are 3 words."
        assert counted.structured_content["tool_calls"] == [{"name": "count_words", "status": "ok"}]

        direct = await client.session.call_tool("count_words", {"text": "a b c d"})
        assert not direct.is_error and direct.content[0].text == "4"

        invalid = await client.session.call_tool("count_words", {"words": "a"})
        assert invalid.is_error and "missing required argument 'text'" in invalid.content[0].text

        empty = await client.session.call_tool("ask_helper", {"prompt": ""})
        assert empty.is_error and "non-empty string argument 'prompt'" in empty.content[0].text

        # The replies file is used up: the turn fails, and the client gets an error result.
        failed = await client.session.call_tool("ask_helper", {"prompt": "More?"})
        assert failed.is_error and "ended with status 'error'" in failed.content[0].text


async def test_the_sdk_client_uses_a_creature_over_http_with_a_bearer_token(helper, kt_env):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    process, url, _ = await start_http_server(helper, kt_env, "--token", "s3cret")
    try:
        async with httpx2.AsyncClient() as http:
            refused = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
            wrong = await http.post(url, json={}, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401

        headers = {"Authorization": "Bearer s3cret"}
        async with httpx2.AsyncClient(headers=headers) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                listed = await client.session.list_tools()
                assert [tool.name for tool in listed.tools] == ["ask_helper"]
                answer = await client.session.call_tool("ask_helper", {"prompt": "Where?"})
                assert answer.content[0].text == "The axolotl is in the big tank."

        # A kt creature can use the served creature too, sending the token as a header.
        entry = {"name": "helper", "transport": "http", "url": url, "headers": headers}
        call = ToolCall("helper__ask_helper", {"prompt": "Count: one two three"})
        llm = ScriptedLLM([call, "It says 3."], exhausted="raise")
        kernel = kt.Kernel(plugins=[kt_mcp])
        async with await kt.Agent.build(creature(entry), llm=llm, kernel=kernel) as agent:
            result = await agent.run("Ask the helper to count")
        assert result.tool_calls[0].output == "There are 3 words."
    finally:
        process.terminate()  # SIGTERM: the server stops its creature and exits cleanly
        code = await process.wait()
        await process.stderr.aclose()
    assert code == 0


async def test_http_without_a_token_prints_a_generated_one(helper, kt_env):
    process, url, stderr = await start_http_server(helper, kt_env)
    process.terminate()
    await process.wait()
    await process.stderr.aclose()
    token = stderr.split("bearer token for this server: ")[1].split()[0]
    assert len(token) >= 24
    assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")


async def test_the_sdk_client_reads_the_creatures_resources_and_prompts(helper, kt_env):
    from mcp import Client, StdioServerParameters
    from mcp.shared.exceptions import MCPError

    prompts = helper / "prompts"
    prompts.mkdir()
    (prompts / "system.md").write_text("You help with tanks.")
    (prompts / "review.md").write_text("# Review a tank log\nFind problems in: {log}\n")
    config = helper / "creature.toml"
    config.write_text(
        config.read_text().replace(
            'system_prompt = "You help."', 'system_prompt_file = "prompts/system.md"'
        )
    )
    params = StdioServerParameters(command=sys.executable, args=serve_args(helper), env=kt_env)
    async with Client(params) as client:
        listed = await client.session.list_resources()
        uris = [str(r.uri) for r in listed.resources]
        assert uris == ["kt://helper/system-prompt", "kt://helper/conversation"]
        system = await client.session.read_resource("kt://helper/system-prompt")
        assert system.contents[0].text.startswith("You help with tanks.")
        empty = await client.session.read_resource("kt://helper/conversation")
        assert empty.contents[0].text == "(no conversation yet)"
        await client.session.call_tool("ask_helper", {"prompt": "Where is the axolotl?"})
        talk = await client.session.read_resource("kt://helper/conversation")
        assert talk.contents[0].text == (
            "## user\n\nWhere is the axolotl?\n\n## assistant\n\nThe axolotl is in the big tank."
        )
        with pytest.raises(MCPError, match="no resource kt://helper/nope"):
            await client.session.read_resource("kt://helper/nope")

        offered = await client.session.list_prompts()
        (review,) = offered.prompts  # system.md is the system prompt, not a prompt
        assert review.name == "review" and review.description == "Review a tank log"
        assert [(a.name, a.required) for a in review.arguments] == [("log", True)]
        got = await client.session.get_prompt("review", {"log": "pump stopped"})
        assert got.messages[0].role == "user"
        assert (
            got.messages[0].content.text == "# Review a tank log\nFind problems in: pump stopped\n"
        )
        with pytest.raises(MCPError, match="needs the arguments: log"):
            await client.session.get_prompt("review", {})


def test_no_auth_on_a_network_address_is_refused_without_the_loud_flag(kt_cmd, helper):
    refused = kt_cmd(
        "mcp",
        "serve",
        str(helper),
        "--transport",
        "http",
        "--host",
        "0.0.0.0",
        "--no-auth",
        "--expose-tools",
    )
    assert refused.exit_code == 2
    assert "--no-auth on 0.0.0.0 would let anyone" in refused.output
    assert "--dangerously-allow-unauthenticated-network-access" in refused.output


def test_which_hosts_are_loopback_and_which_host_headers_are_allowed():
    from kt_mcp.serve import allowed_hosts, is_loopback

    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.5", "example.com", "::"]))
    assert "0.0.0.0:*" not in allowed_hosts("0.0.0.0")
    assert {"localhost:*", "10.0.0.5", "10.0.0.5:*", "box.lan:*"} <= set(
        allowed_hosts("10.0.0.5", ["box.lan"])
    )


async def test_http_checks_the_host_header_even_on_loopback_without_auth(helper, kt_env):
    import httpx2

    process, url, _ = await start_http_server(helper, kt_env, "--no-auth")
    port = url.split(":")[2].split("/")[0]
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream"}
    try:
        async with httpx2.AsyncClient(headers=headers) as http:
            rebound = await http.post(url, json=ping, headers={"Host": f"evil.example:{port}"})
            assert rebound.status_code == 421
            page = await http.post(url, json=ping, headers={"Origin": "http://evil.example"})
            assert page.status_code == 403
            local = await http.post(url, json=ping, headers={"Host": f"localhost:{port}"})
            assert local.status_code not in (401, 403, 421)
    finally:
        process.terminate()
        await process.wait()
        await process.stderr.aclose()


async def test_a_server_on_every_interface_still_checks_the_host_header(helper, kt_env):
    import httpx2

    process, url, _ = await start_http_server(
        helper, kt_env, "--host", "0.0.0.0", "--token", "s3cret", "--allowed-host", "box.lan"
    )
    port = url.split(":")[2].split("/")[0]
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream", "Authorization": "Bearer s3cret"}
    local = f"http://127.0.0.1:{port}/mcp"
    try:
        async with httpx2.AsyncClient(headers=headers) as http:
            rebound = await http.post(local, json=ping, headers={"Host": f"evil.example:{port}"})
            assert rebound.status_code == 421
            named = await http.post(local, json=ping, headers={"Host": f"box.lan:{port}"})
            assert named.status_code not in (401, 403, 421)
            lower = await http.post(local, json=ping, headers={"Authorization": "bearer s3cret"})
            assert lower.status_code not in (401, 403, 421)  # the scheme's case does not matter
            other = await http.post(local, json=ping, headers={"Authorization": "Basic s3cret"})
            assert other.status_code == 401
    finally:
        process.terminate()
        await process.wait()
        await process.stderr.aclose()
