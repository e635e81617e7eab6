"""kt_mcp as a client: creatures use real MCP servers through native tools.

Real peers only: the time, git and fetch servers from PyPI, and a toy server written with the
SDK's MCPServer (tests/plugins/kt_mcp/servers/toy_server.py) for crashes, hangs, errors,
progress and cancellation. The model is a ScriptedLLM making native tool calls.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trio
from kt_mcp_helpers import TOY, creature, pypi_server, toy

import kt
from kt.events import ToolCallCompleted, ToolCallStarted, TurnCompleted
from kt.testing import EventRecorder, ScriptedLLM, ToolCall
from kt_mcp import MCPProgress, MCPServerConnected, MCPServerFailed


async def build(config, script, kernel, **kwargs) -> kt.Agent:
    llm = ScriptedLLM(script, exhausted="raise")
    return await kt.Agent.build(config, llm=llm, kernel=kernel, **kwargs)


# -- Servers from PyPI ---------------------------------------------------------------------------


async def test_time_server_converts_a_time_zone_through_a_native_tool(kernel):
    # Both zones have no daylight saving time, so the answer does not depend on the date.
    args = {"source_timezone": "Asia/Kolkata", "time": "12:00", "target_timezone": "Asia/Tokyo"}
    llm = ScriptedLLM([ToolCall("time__convert_time", args), "15:30 in Tokyo."], exhausted="raise")
    config = creature(pypi_server("time", "mcp_server_time", "--local-timezone", "UTC"))
    async with await kt.Agent.build(config, llm=llm, kernel=kernel) as agent:
        assert {"time__convert_time", "time__get_current_time"} <= set(agent.tools)
        result = await agent.run("Noon in Kolkata is what time in Tokyo?")

    assert result.status == "completed"
    (record,) = result.tool_calls
    assert record.status == "ok"
    data = json.loads(record.output)
    assert data["source"]["timezone"] == "Asia/Kolkata"
    assert data["target"]["timezone"] == "Asia/Tokyo"
    assert data["target"]["datetime"].endswith("T15:30:00+09:00")
    assert data["time_difference"] == "+3.5h"
    assert record.metadata["structured_content"]["time_difference"] == "+3.5h"
    # The model was offered the server's own schema, and saw the JSON as the tool result.
    offered = {schema.name: schema for schema in llm.calls[0].tools}
    parameters = offered["time__convert_time"].parameters
    assert parameters["required"] == ["source_timezone", "time", "target_timezone"]
    assert "IANA" in parameters["properties"]["source_timezone"]["description"]
    assert "+3.5h" in llm.calls[1].messages[-1].content


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


async def test_git_server_status_log_and_diff_on_a_temporary_repository(kernel, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "kt@example.com")
    _git(repo, "config", "user.name", "KT Tests")
    (repo / "hello.txt").write_text("hello\n")
    _git(repo, "add", "hello.txt")
    _git(repo, "commit", "-q", "-m", "First commit of the terrarium")
    (repo / "hello.txt").write_text("hello, world\n")
    (repo / "new.txt").write_text("untracked\n")

    where = {"repo_path": str(repo)}
    calls = [  # one round: the three read-only calls run concurrently on one connection
        ToolCall("git__git_status", where),
        ToolCall("git__git_log", where),
        ToolCall("git__git_diff_unstaged", where),
    ]
    config = creature(pypi_server("git", "mcp_server_git", "--repository", str(repo)))
    async with await build(config, [calls, "Reviewed."], kernel) as agent:
        result = await agent.run("What changed?")

    status, log, diff = result.tool_calls
    assert [c.status for c in result.tool_calls] == ["ok", "ok", "ok"]
    assert "new.txt" in status.output and "hello.txt" in status.output
    assert "First commit of the terrarium" in log.output
    assert "-hello" in diff.output and "+hello, world" in diff.output


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output clean
        pass


async def test_fetch_server_reads_a_page_served_on_localhost(kernel, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        "<html><head><title>News</title></head><body><h1>Terrarium news</h1>"
        "<p>The axolotl moved to the big tank.</p></body></html>"
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
        config = creature(
            pypi_server("fetch", "mcp_server_fetch", "--ignore-robots-txt", "--allow-private-ips")
        )
        async with await build(
            config, [ToolCall("fetch__fetch", {"url": url}), "ok"], kernel
        ) as agent:
            result = await agent.run("Read the news page")
    finally:
        httpd.shutdown()
        thread.join()
    (record,) = result.tool_calls
    assert record.status == "ok", record.error
    assert "Terrarium news" in record.output
    assert "The axolotl moved to the big tank." in record.output


# -- Failures: crash, hang, isError, timeout, death ---------------------------------------------


async def test_a_server_that_crashes_on_start_is_an_event_and_the_others_work(
    kernel, kt_home, capfd
):
    recorder = EventRecorder()
    config = creature(toy("broken", "crash"), toy("toy"))
    script = [ToolCall("toy__echo", {"text": "hi"}), "Still fine."]
    async with await build(config, script, kernel, plugins=[recorder]) as agent:
        assert "toy__echo" in agent.tools
        assert not any(name.startswith("broken") for name in agent.tools)
        result = await agent.run("go")

    assert result.status == "completed"
    assert result.tool_calls[0].output == "echo: hi"
    (failed,) = recorder.of_type(MCPServerFailed)
    assert (failed.server, failed.stage) == ("broken", "connect")
    assert "exited during start-up" in failed.error
    assert "cannot open database /nonexistent/toy.sqlite" in failed.error  # its stderr's end
    log = kt_home / "logs" / "mcp" / "broken.log"
    assert failed.log == str(log)
    assert "cannot open database" in log.read_text()
    # The server's stderr went to its log, not to the terminal.
    assert "cannot open database" not in capfd.readouterr().err
    (connected,) = recorder.of_type(MCPServerConnected)
    assert connected.server == "toy" and "echo" in connected.tools


async def test_a_call_to_a_server_that_crashed_on_start_is_a_clear_tool_error(kernel):
    config = creature(toy("broken", "crash", mode="meta"))
    call = ToolCall("mcp_call", {"server": "broken", "tool": "echo", "arguments": {"text": "x"}})
    llm = ScriptedLLM([call, "It is down."], exhausted="raise")
    async with await kt.Agent.build(config, llm=llm, kernel=kernel) as agent:
        result = await agent.run("go")
    (record,) = result.tool_calls
    assert record.status == "error"
    assert "MCP server 'broken' exited during start-up" in record.error
    assert "cannot open database" in record.error
    assert "exited during start-up" in llm.calls[1].messages[-1].content  # the model saw it


async def test_a_server_that_hangs_on_start_times_out_and_the_creature_works(kernel):
    recorder = EventRecorder()
    config = creature(toy("stuck", "hang", connect_timeout=1), toy("toy"))
    started = trio.current_time()
    script = [ToolCall("toy__echo", {"text": "alive"}), "ok"]
    async with await build(config, script, kernel, plugins=[recorder]) as agent:
        assert trio.current_time() - started < 15  # the hang cost its connect_timeout only
        result = await agent.run("go")
    assert result.tool_calls[0].output == "echo: alive"
    (failed,) = recorder.of_type(MCPServerFailed)
    assert failed.server == "stuck"
    assert "did not start and answer within 1s (connect_timeout)" in failed.error


async def test_an_is_error_result_is_a_tool_error_the_model_sees(kernel):
    llm = ScriptedLLM([ToolCall("toy__fail", {"reason": "no access"}), "ok"], exhausted="raise")
    async with await kt.Agent.build(creature(toy()), llm=llm, kernel=kernel) as agent:
        result = await agent.run("go")
    (record,) = result.tool_calls
    assert record.status == "error"
    assert "refused: no access" in record.error
    assert record.error_type is None  # the server flagged it; nothing in kt failed
    assert llm.calls[1].messages[-1].content.startswith("Error: ")
    assert result.status == "completed"


async def test_a_call_timeout_cancels_the_request_on_the_server_and_the_creature_goes_on(
    kernel, tmp_path
):
    marker = tmp_path / "slow.marker"
    script = [
        ToolCall("toy__slow", {"marker": str(marker)}),
        ToolCall("toy__echo", {"text": "still here"}),
        "done",
    ]
    config = creature(toy(call_timeout=0.5))
    async with await build(config, script, kernel) as agent:
        result = await agent.run("go")
    slow, echo = result.tool_calls
    assert slow.status == "timeout"
    assert "did not answer 'slow' within 0.5s (call_timeout)" in slow.error
    assert echo.status == "ok" and echo.output == "echo: still here"
    assert result.status == "completed"
    assert marker.read_text() == "cancelled"  # notifications/cancelled reached the server


async def test_interrupting_the_turn_cancels_the_in_flight_request(kernel, tmp_path):
    marker = tmp_path / "slow.marker"
    script = [ToolCall("toy__slow", {"marker": str(marker)}), "after"]
    async with await build(creature(toy()), script, kernel) as agent:
        events = agent.subscribe()
        results = []
        async with trio.open_nursery() as nursery:

            async def ask():
                results.append(await agent.run("go"))

            nursery.start_soon(ask)
            async for event in events:  # the server reports progress once the tool runs
                if isinstance(event, MCPProgress):
                    agent.interrupt()
                    break
        events.close()
        (result,) = results
        assert result.status == "interrupted"
        assert result.tool_calls[0].status == "interrupted"
        assert kt.history.is_well_formed(agent.history)
    assert marker.read_text() == "cancelled"


async def test_progress_notifications_are_events_in_the_turn(kernel):
    script = [ToolCall("toy__progress", {"steps": 3}), "ok"]
    async with await build(creature(toy()), script, kernel) as agent:
        async with agent.run_stream("go") as stream:
            events = [event async for event in stream]
    kinds = [type(e) for e in events]
    progress = [e for e in events if isinstance(e, MCPProgress)]
    assert [(p.progress, p.total, p.message) for p in progress] == [
        (1, 3, "step 1"),
        (2, 3, "step 2"),
        (3, 3, "step 3"),
    ]
    (started,) = [e for e in events if isinstance(e, ToolCallStarted)]
    assert all(p.call_id == started.call_id and p.tool == "progress" for p in progress)
    first, last = kinds.index(MCPProgress), len(kinds) - 1 - kinds[::-1].index(MCPProgress)
    assert kinds.index(ToolCallStarted) < first and last < kinds.index(ToolCallCompleted)
    assert isinstance(events[-1], TurnCompleted)
    assert events[-1].result.tool_calls[0].output == "done after 3 steps"


async def test_a_server_that_dies_mid_call_is_restarted_by_the_next_call(kernel):
    recorder = EventRecorder()
    script = [
        ToolCall("toy__pid", {}),
        ToolCall("toy__die", {}),
        ToolCall("toy__pid", {}),
        "done",
    ]
    async with await build(creature(toy()), script, kernel, plugins=[recorder]) as agent:
        result = await agent.run("go")
    before, died, after = result.tool_calls
    assert died.status == "error"
    assert "closed the connection during the call to 'die'" in died.error
    assert before.status == after.status == "ok"
    assert before.output != after.output  # a new server process
    failed = recorder.of_type(MCPServerFailed)
    assert [f.stage for f in failed] == ["connection"]
    assert "dying on purpose" in failed[0].error
    assert [c.reconnect for c in recorder.of_type(MCPServerConnected)] == [False, True]


# -- Modes, naming, registry, transports ---------------------------------------------------------


async def test_meta_mode_offers_five_meta_tools_and_a_small_prompt(kernel):
    config = creature(toy(mode="meta"))
    script = [
        ToolCall("mcp_servers", {}),
        ToolCall("mcp_tools", {"server": "toy"}),
        ToolCall("mcp_call", {"server": "toy", "tool": "echo", "arguments": {"text": "hi"}}),
        ToolCall("mcp_call", {"server": "toy", "tool": "nope"}),
        ToolCall("mcp_call", {"server": "elsewhere", "tool": "echo"}),
        ToolCall("mcp_disconnect", {"server": "toy"}),
        ToolCall("mcp_servers", {}),
        ToolCall("mcp_connect", {"server": "toy"}),
        "done",
    ]
    async with await build(config, script, kernel) as agent:
        names = set(agent.tools)
        prompt = agent.system_prompt
        result = await agent.run("go")
    meta = {"mcp_servers", "mcp_tools", "mcp_call", "mcp_connect", "mcp_disconnect"}
    assert names == meta | {"mcp_resources", "mcp_read_resource"}  # the toy offers resources
    assert "- toy: echo, fail, slow, progress, die, picture, pid" in prompt
    assert "Toy server for tests" in prompt  # the server's instructions
    listing, tools, called, unknown_tool, unknown_server, gone, relisting, back = [
        c for c in result.tool_calls
    ]
    assert "- toy (stdio, meta, connected, 7 tools)" in listing.output
    assert '"text"' in tools.output and "- echo: Echo the text back." in tools.output
    assert called.output == "echo: hi"
    assert unknown_tool.status == "error" and "its tools: die, echo" in unknown_tool.error
    assert "no MCP server 'elsewhere'; this creature's servers: toy" in unknown_server.error
    assert gone.output == "Disconnected from 'toy'."
    assert "- toy (stdio, meta, disconnected, 7 tools)" in relisting.output
    assert back.output.startswith("Connected to 'toy': 7 tools: echo, fail")


async def test_mode_for_every_server_comes_from_the_creatures_kt_mcp_plugin_entry(kernel):
    recorder = EventRecorder()
    config = creature(toy(), plugins=[{"name": "kt_mcp", "module": "kt_mcp", "mode": "meta"}])
    async with await build(config, ["hi"], kernel, plugins=[recorder]) as agent:
        assert "mcp_call" in agent.tools and "toy__echo" not in agent.tools
    # kt_mcp is in the kernel's set and the creature's: its servers still start once.
    assert len(recorder.of_type(MCPServerConnected)) == 1


async def test_names_are_namespaced_and_collisions_renamed(kernel):
    @kt.tool(name="toy__echo")
    def mine(text: str) -> str:
        """The creature's own tool with a colliding name."""
        return "mine"

    config = creature(toy(), toy("bare", prefix="", tools=["pid"]))
    async with await build(config, ["hi"], kernel, tools=[mine]) as agent:
        names = set(agent.tools)
        assert agent.tools["toy__echo"] is mine
        assert agent.tools["toy__echo_2"].description.startswith("[MCP server 'toy'] Echo")
    assert "pid" in names and "bare__pid" not in names  # prefix "" and a tool filter
    assert not any(name.startswith("bare__") or name == "echo" for name in names)


async def test_a_registry_server_is_used_by_name(kernel, kt_home, monkeypatch):
    monkeypatch.setenv("TOY_MODE", "ok")
    (kt_home / "mcp.toml").write_text(
        "[servers.toy]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f'args = [{json.dumps(str(TOY))}, "${{TOY_MODE:crash}}"]\n'
        "call_timeout = 5\n"
    )
    config = creature({"name": "toy", "call_timeout": 7})
    script = [ToolCall("toy__echo", {"text": "from the registry"}), "ok"]
    async with await build(config, script, kernel) as agent:
        result = await agent.run("go")
        from kt_mcp.manager import manager

        settings = manager(agent).connections["toy"].settings
    assert result.tool_calls[0].output == "echo: from the registry"
    assert settings.origin == "creature+registry"
    assert settings.call_timeout == 7  # the creature's entry wins over the registry's


async def test_images_from_a_server_become_image_parts(kernel):
    script = [ToolCall("toy__picture", {}), "A red pixel."]
    async with await build(creature(toy()), script, kernel) as agent:
        result = await agent.run("go")
    (record,) = result.tool_calls
    assert record.status == "ok"
    assert "a red pixel" in record.output and "[image]" in record.output


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("mode", "transport", "path"), [("http", "http", "/mcp"), ("sse", "sse", "/sse")]
)
async def test_http_and_sse_servers(kernel, mode, transport, path):
    port = _free_port()
    process = await trio.lowlevel.open_process(
        [sys.executable, str(TOY), mode, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        seen = b""
        while b"running on" not in seen.lower():  # uvicorn says so once it listens
            chunk = await process.stderr.receive_some()
            assert chunk, f"the toy server exited: {seen.decode()}"
            seen += chunk
        entry = {"name": "web", "transport": transport, "url": f"http://127.0.0.1:{port}{path}"}
        script = [ToolCall("web__echo", {"text": "over HTTP"}), "ok"]
        async with await build(creature(entry), script, kernel) as agent:
            result = await agent.run("go")
        assert result.tool_calls[0].output == "echo: over HTTP"
    finally:
        process.terminate()
        await process.wait()
        await process.stderr.aclose()


async def test_creatures_without_mcp_servers_do_not_import_the_sdk(kernel):
    code = (
        "import sys, trio, kt, kt_mcp\n"
        "from kt.testing import ScriptedLLM\n"
        "async def main():\n"
        "    kernel = kt.Kernel(plugins=[kt_mcp])\n"
        "    async with await kt.Agent.build({'name': 'x'}, llm=ScriptedLLM(['hi']), kernel=kernel) as a:\n"
        "        await a.run('hi')\n"
        "trio.run(main)\n"
        "print('mcp' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
