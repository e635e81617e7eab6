"""kt against the MCP peers users run outside kt's environment, on both SDK major versions.

``kt mcp serve`` (and a ``kt serve`` host's ``/api/mcp``) is used by the 1.x SDK's client and
by the Inspector CLI, and a creature uses ``mcp-server-sqlite``, a server written for the 1.x
SDK. They live outside this environment,
as they do for users: the 1.x SDK in a virtualenv of its own (``mcp<2`` cannot be installed
beside kt's ``mcp>=2.3``), the Inspector CLI from npm. The "MCP peers" step of ``.ci/run``
prepares them under ``$KT_MCP_PEERS`` (default ``~/.cache/kt-terrarium/mcp-peers``):

* ``sdk1/``: a virtualenv with ``mcp<2`` and ``mcp-server-sqlite``; its Python runs
  ``peers/sdk1_client.py``;
* ``inspector/``: an npm prefix with ``@modelcontextprotocol/inspector-cli``.

Where they are missing the tests skip, naming that step; when ``KT_MCP_PEERS`` is set (as
``.ci/run`` sets it) a missing peer fails the test instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kt_mcp_helpers import HOST_TOKEN, creature, serve_args, start_http_server

import kt
from kt.testing import ScriptedLLM, ToolCall
from kt_mcp.manager import manager

CLIENT = Path(__file__).parent / "peers" / "sdk1_client.py"
INSPECTOR_PACKAGE = "inspector/node_modules/@modelcontextprotocol/inspector-cli"


def peer(relative: str) -> Path:
    """A prepared peer under ``$KT_MCP_PEERS``: skipped when absent, failed in CI."""
    configured = os.environ.get("KT_MCP_PEERS")
    base = Path(configured) if configured else Path.home() / ".cache/kt-terrarium/mcp-peers"
    path = base / relative
    if not path.exists():
        step = "the 'MCP peers' step of .ci/run"
        if configured:
            pytest.fail(f"{path} is missing: KT_MCP_PEERS is set, so {step} should have made it")
        pytest.skip(f"{path} is not prepared: run {step} (or point KT_MCP_PEERS at its output)")
    return path


@pytest.fixture
def reviewer(helper) -> Path:
    """The test creature with a prompt file besides its system prompt."""
    (helper / "prompts").mkdir()
    (helper / "prompts" / "review.md").write_text("# Review a tank log\nFind problems in: {log}\n")
    return helper


def _sdk1(env: dict[str, str], *argv: str) -> dict:
    python = peer("sdk1/bin/python")
    done = subprocess.run(
        [str(python), str(CLIENT), *argv], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _check_sdk1_report(report: dict, server: str = "kt-helper", prompt: str = "review") -> None:
    assert report["sdk"].startswith("1.")
    assert report["server"] == server
    assert report["tools"] == ["ask_helper"]
    assert report["answer"] == "The axolotl is in the big tank."
    assert report["answer_is_error"] is False
    assert report["empty"] == [True, "give the prompt: a non-empty string argument 'prompt'"]
    assert report["resources"] == ["kt://helper/system-prompt", "kt://helper/conversation"]
    assert report["conversation"] == (
        "## user\n\nWhere is the axolotl?\n\n## assistant\n\nThe axolotl is in the big tank."
    )
    assert report["prompts"] == [prompt]
    assert report["prompt"] == "# Review a tank log\nFind problems in: pump stopped\n"


def test_the_1x_sdk_client_uses_a_creature_over_stdio(reviewer, kt_env):
    report = _sdk1(kt_env, "stdio", sys.executable, *serve_args(reviewer))
    _check_sdk1_report(report)


async def test_the_1x_sdk_client_uses_a_creature_over_http(reviewer, kt_env):
    import trio

    process, url, _ = await start_http_server(reviewer, kt_env, "--token", "s3cret")
    try:
        report = await trio.to_thread.run_sync(_sdk1, kt_env, "http", url, "s3cret")
    finally:
        process.terminate()
        await process.wait()
        await process.stderr.aclose()
    _check_sdk1_report(report)


def _inspector(env: dict[str, str], *argv: str) -> dict:
    package = peer(INSPECTOR_PACKAGE)
    command = [str(package.parents[1] / ".bin" / "mcp-inspector-cli"), "--cli", *argv]
    # The CLI finds its own package.json relative to the working directory (../package.json),
    # so it runs from its build folder.
    done = subprocess.run(
        command, cwd=package / "build", env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout[done.stdout.index("{") :])


def test_the_inspector_cli_lists_and_calls_over_stdio(reviewer, kt_env):
    serve = [sys.executable, *serve_args(reviewer, "--expose-tools")]
    listed = _inspector(kt_env, *serve, "--method", "tools/list")
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert set(tools) == {"ask_helper", "count_words"}
    assert tools["count_words"]["inputSchema"]["required"] == ["text"]

    called = _inspector(
        kt_env, *serve, "--method", "tools/call", "--tool-name", "ask_helper",
        "--tool-arg", "prompt=Where is the axolotl?",
    )  # fmt: skip
    assert called["isError"] is False
    assert called["content"] == [{"type": "text", "text": "The axolotl is in the big tank."}]
    counted = _inspector(
        kt_env, *serve, "--method", "tools/call", "--tool-name", "count_words",
        "--tool-arg", "text=a b c",
    )  # fmt: skip
    assert counted["content"][0]["text"] == "3"

    prompt = _inspector(
        kt_env, *serve, "--method", "prompts/get", "--prompt-name", "review",
        "--prompt-args", "log=pump stopped",
    )  # fmt: skip
    assert prompt["messages"][0]["content"]["text"].endswith("Find problems in: pump stopped\n")
    read = _inspector(
        kt_env, *serve, "--method", "resources/read", "--uri", "kt://helper/conversation"
    )
    assert read["contents"][0]["text"] == "(no conversation yet)"  # every call is a new server


async def test_the_inspector_cli_uses_a_creature_over_http(reviewer, kt_env):
    import trio

    process, url, _ = await start_http_server(reviewer, kt_env, "--token", "s3cret")
    bearer = ["--transport", "http", "--header", "Authorization: Bearer s3cret"]
    try:
        listed = await trio.to_thread.run_sync(
            _inspector, kt_env, url, *bearer, "--method", "tools/list"
        )
        asked = await trio.to_thread.run_sync(
            _inspector, kt_env, url, *bearer, "--method", "tools/call",
            "--tool-name", "ask_helper", "--tool-arg", "prompt=Where is the axolotl?",
        )  # fmt: skip
        talk = await trio.to_thread.run_sync(
            _inspector, kt_env, url, *bearer, "--method", "resources/read",
            "--uri", "kt://helper/conversation",
        )  # fmt: skip
    finally:
        process.terminate()
        await process.wait()
        await process.stderr.aclose()
    assert [tool["name"] for tool in listed["tools"]] == ["ask_helper"]
    assert asked["content"][0]["text"] == "The axolotl is in the big tank."
    assert "Where is the axolotl?" in talk["contents"][0]["text"]  # one server, one conversation


async def test_a_creature_uses_a_1x_server_from_its_own_virtualenv(kernel, tmp_path):
    server = peer("sdk1/bin/mcp-server-sqlite")
    database = tmp_path / "tanks.db"
    entry = {"name": "db", "command": str(server), "args": ["--db-path", str(database)]}
    script = [
        ToolCall("db__create_table", {"query": "CREATE TABLE tanks (name TEXT, litres INT)"}),
        ToolCall("db__write_query", {"query": "INSERT INTO tanks VALUES ('big', 200)"}),
        ToolCall("db__read_query", {"query": "SELECT name, litres FROM tanks"}),
        ToolCall("db__read_query", {"query": "SELECT * FROM nowhere"}),
        ToolCall("db__append_insight", {"insight": "Big tanks hold 200 litres."}),
        "The big tank holds 200 litres.",
    ]
    llm = ScriptedLLM(script, exhausted="raise")
    async with await kt.Agent.build(creature(entry), llm=llm, kernel=kernel) as agent:
        result = await agent.run("How big is the big tank?")
        found = manager(agent)
        memo = await found.connections["db"].read_resource("memo://insights")
        prompt = await found.expand_prompt("db:mcp-demo", "topic=aquariums")
    created, wrote, read, failed, noted = result.tool_calls
    assert created.status == wrote.status == read.status == "ok"
    assert "'name': 'big'" in read.output and "'litres': 200" in read.output
    assert "no such table: nowhere" in failed.output  # this server answers errors as text
    assert noted.status == "ok" and "Big tanks hold 200 litres." in memo.contents[0].text
    assert "aquariums" in prompt
    assert result.text == "The big tank holds 200 litres."


async def test_the_1x_sdk_client_and_the_inspector_use_a_kt_serve_host(reviewer, kt_env, web_host):
    import httpx2
    import trio

    auth = {"Authorization": f"Bearer {HOST_TOKEN}"}
    async with httpx2.AsyncClient(base_url=web_host.url, headers=auth, timeout=30) as http:
        body = {"config_path": str(reviewer), "llm": f"scripted:{reviewer / 'replies.toml'}"}
        started = await http.post("/api/sessions/active/creature", json=body)
        assert started.status_code in (200, 201), started.text
    endpoint = f"{web_host.url.rstrip('/')}/api/mcp"

    report = await trio.to_thread.run_sync(_sdk1, kt_env, "http", endpoint, HOST_TOKEN)
    _check_sdk1_report(report, server="kt-serve", prompt="helper__review")
    bearer = ["--transport", "http", "--header", f"Authorization: Bearer {HOST_TOKEN}"]
    listed = await trio.to_thread.run_sync(
        _inspector, kt_env, endpoint, *bearer, "--method", "tools/list"
    )
    assert [tool["name"] for tool in listed["tools"]] == ["ask_helper"]
