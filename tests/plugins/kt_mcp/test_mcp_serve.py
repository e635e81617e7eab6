"""``kt mcp serve``: the official SDK's client uses a creature over stdio and over HTTP.

The server is the real ``kt`` command in a subprocess (``python -m kt_cli``), with kt_mcp found
through its entry point and the creature's model played by the built-in ``scripted`` backend.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import trio
from kt_mcp_helpers import creature

import kt
import kt_mcp
from kt.testing import ScriptedLLM, ToolCall

ROOT = Path(__file__).resolve().parents[3]

CREATURE = """\
name = "helper"
description = "Answers questions about the terrarium."
system_prompt = "You help."

[[tools]]
name = "count_words"
type = "custom"
module = "./tools.py"
"""

TOOLS = '''\
def count_words(text: str) -> str:
    """Count the words in a text."""
    return str(len(text.split()))
'''

REPLIES = """\
[[replies]]
text = "The axolotl is in the big tank."

[[replies]]
tool_calls = [{ name = "count_words", args = { text = "one two three" } }]

[[replies]]
text = "There are 3 words."
"""


@pytest.fixture
def helper(tmp_path) -> Path:
    folder = tmp_path / "helper"
    folder.mkdir()
    (folder / "creature.toml").write_text(CREATURE)
    (folder / "tools.py").write_text(TOOLS)
    (folder / "replies.toml").write_text(REPLIES)
    return folder


@pytest.fixture
def kt_env(tmp_path, kt_home) -> dict[str, str]:
    """Environment for a `kt` subprocess that loads kt_mcp (and only it) by entry point."""
    paths = [str(ROOT / "plugins"), str(ROOT / "cli"), str(ROOT / "kernel")]
    if not entry_points(group="kt.plugins", name="kt_mcp"):  # not installed yet: a stand-in
        site = tmp_path / "site"
        info = site / "kt_mcp_entry-0.0.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: kt-mcp-entry\nVersion: 0.0.0\n"
        )
        (info / "entry_points.txt").write_text("[kt.plugins]\nkt_mcp = kt_mcp\n")
        paths.insert(0, str(site))
    return {
        "PYTHONPATH": os.pathsep.join(paths),
        "KT_PLUGINS": "kt_mcp",
        "KT_HOME": str(kt_home),
        "PATH": os.environ.get("PATH", ""),
    }


def _serve_args(helper: Path, *extra: str) -> list[str]:
    llm = f"scripted:{helper / 'replies.toml'}"
    return ["-m", "kt_cli", "mcp", "serve", str(helper), "--llm", llm, *extra]


async def test_the_sdk_client_uses_a_creature_over_stdio(helper, kt_env):
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=_serve_args(helper, "--expose-tools"), env=kt_env
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


async def _start_http_server(helper: Path, env: dict[str, str], *extra: str):
    process = await trio.lowlevel.open_process(
        [sys.executable, *_serve_args(helper, "--transport", "http", "--port", "0", *extra)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen = b""
    while b"over MCP at " not in seen or not seen.endswith(b"\n"):
        chunk = await process.stderr.receive_some()
        assert chunk, f"kt mcp serve exited: {seen.decode()}"
        seen += chunk
    url = seen.decode().split("over MCP at ")[1].split()[0]
    return process, url, seen.decode()


async def test_the_sdk_client_uses_a_creature_over_http_with_a_bearer_token(helper, kt_env):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    process, url, _ = await _start_http_server(helper, kt_env, "--token", "s3cret")
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
    process, url, stderr = await _start_http_server(helper, kt_env)
    process.terminate()
    await process.wait()
    await process.stderr.aclose()
    token = stderr.split("bearer token for this server: ")[1].split()[0]
    assert len(token) >= 24
    assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
