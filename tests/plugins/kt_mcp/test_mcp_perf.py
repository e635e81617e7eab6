"""kt_mcp performance for the MCP-complete issue (benchmarks: deselected by default).

Run with ``python -m pytest tests/plugins/kt_mcp/test_mcp_perf.py -m benchmark -s``.
Figures are printed, and checked as ratios, never as absolute times:

* start-up with 10 stdio servers: they start concurrently, so 10 cost far less than 10 times
  one (a server that starts in milliseconds shows kt's own share; the SDK-built toy server a
  realistic one);
* a resource read and a prompt fetch, over stdio and over streamable HTTP: kt's path against
  the SDK session's bare request on the same connection (about 1.0x), with a tool call on the
  same connection for scale;
* re-listing after a list change: a call that changes the server's tools (and waits for the new
  list) against a call that changes nothing.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from kt_mcp_helpers import LIVE, TOY

import kt
import kt_mcp
from kt.testing import ScriptedLLM
from kt_mcp.connection import ServerConnection
from kt_mcp.settings import ServerSettings
from kt_mcp.tools import call_mcp_tool

pytestmark = pytest.mark.benchmark

RAW = TOY.parent / "raw_server.py"


async def _ready_time(script: Any, count: int) -> float:
    servers = [
        {"name": f"s{i}", "command": sys.executable, "args": [str(script)]} for i in range(count)
    ]
    kernel = kt.Kernel(plugins=[kt_mcp])
    config = {"name": "bench", "mcp_servers": servers}
    agent = await kt.Agent.build(config, llm=ScriptedLLM(["x"]), kernel=kernel)
    started = time.perf_counter()
    await agent.start()
    took = time.perf_counter() - started
    connected = [c for c in kt_mcp.manager.manager(agent).connections.values()]
    assert all(c.status == "connected" for c in connected)
    await agent.stop()
    return took


async def test_startup_with_10_stdio_servers():
    import mcp.client.stdio  # noqa: F401  (the SDK's import is paid once per process)

    rows = {}
    for script in (RAW, TOY):
        for count in (1, 10):
            rows[script.stem, count] = statistics.median(
                [await _ready_time(script, count) for _ in range(3)]
            )
    print()
    for (stem, count), took in rows.items():
        print(f"{stem:>10} x{count:<2}: ready in {took * 1000:7.1f} ms")
    for stem in ("raw_server", "toy_server"):
        ratio = rows[stem, 10] / rows[stem, 1]
        print(f"{stem:>10}: 10 servers / 1 server = {ratio:.2f} (one after another: 10)")
    # Ten interpreters starting on two cores cost CPU time even when nothing waits in turn.
    assert rows["raw_server", 10] < 8 * rows["raw_server", 1]
    assert rows["toy_server", 10] < 7 * rows["toy_server", 1]


async def _median_ms(*fns: Callable[[], Awaitable[Any]], rounds: int = 100) -> list[float]:
    """Median milliseconds of each of *fns*, called in turn each round (drift hits all alike)."""
    for _ in range(5):
        for fn in fns:
            await fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, kept in zip(fns, times, strict=True):
            started = time.perf_counter()
            await fn()
            kept.append(time.perf_counter() - started)
    return [statistics.median(kept) * 1000 for kept in times]


async def _measure(connection: ServerConnection) -> dict[str, float]:
    session = connection.session  # the bare requests go through the very session kt uses

    async def tool() -> None:
        await connection.call("echo", {"text": "hi"})

    async def resource() -> None:
        result = await connection.read_resource("toy://notes/bees")
        assert result.contents[0].text == "A note about bees."

    async def bare_resource() -> None:
        await session.read_resource("toy://notes/bees")

    async def prompt() -> None:
        result = await connection.get_prompt("review", {"code": "x = 1"})
        assert "x = 1" in result.messages[0].content.text

    async def bare_prompt() -> None:
        await session.get_prompt("review", {"code": "x = 1"})

    (tool_ms,) = await _median_ms(tool)
    resource_ms, bare_resource_ms = await _median_ms(resource, bare_resource)
    prompt_ms, bare_prompt_ms = await _median_ms(prompt, bare_prompt)
    return {
        "tool call": tool_ms,
        "resource read": resource_ms,
        "bare resource read": bare_resource_ms,
        "prompt fetch": prompt_ms,
        "bare prompt fetch": bare_prompt_ms,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_resource_read_and_prompt_fetch_over_stdio_and_http(nursery):
    results = {}
    stdio = ServerSettings(name="toy", command=sys.executable, args=(str(TOY),))
    connection = ServerConnection(stdio, spawn=nursery.start)
    assert await connection.connect()
    results["stdio"] = await _measure(connection)
    await connection.disconnect()

    port = _free_port()
    process = await trio.lowlevel.open_process(
        [sys.executable, str(TOY), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        seen = b""
        while b"running on" not in seen.lower():
            chunk = await process.stderr.receive_some()
            assert chunk, seen.decode()
            seen += chunk
        http = ServerSettings(name="toy", transport="http", url=f"http://127.0.0.1:{port}/mcp")
        connection = ServerConnection(http, spawn=nursery.start)
        assert await connection.connect()
        results["http"] = await _measure(connection)
        await connection.disconnect()
    finally:
        process.terminate()
        await process.wait()
        await process.stderr.aclose()

    print()
    for transport, row in results.items():
        base = row["tool call"]
        cells = ", ".join(f"{k} {v:.2f} ms ({v / base:.2f}x)" for k, v in row.items())
        print(f"{transport:>5}: {cells}")
    for row in results.values():
        # kt's path is the session's request plus one check: about 1.0x (loaded machines vary).
        assert row["resource read"] < 1.5 * row["bare resource read"]
        assert row["prompt fetch"] < 1.5 * row["bare prompt fetch"]


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_relisting_after_a_list_change(nursery, protocol):
    settings = ServerSettings(
        name="live", command=sys.executable, args=(str(LIVE),), protocol=protocol
    )
    changes = []

    async def on_changed(connection: ServerConnection, kind: str) -> None:
        changes.append(kind)

    connection = ServerConnection(settings, spawn=nursery.start, on_changed=on_changed)
    assert await connection.connect()
    toggle = iter(["unlock", "lock"] * 1000)

    async def changing() -> None:
        result = await call_mcp_tool(connection, next(toggle), {})
        assert result.ok

    async def unchanging() -> None:
        result = await call_mcp_tool(connection, "echo", {"text": "hi"})
        assert result.ok

    plain, relisted = await _median_ms(unchanging, changing, rounds=40)
    await connection.disconnect()
    print(
        f"\n{protocol:>6}: call {plain:.2f} ms; call + re-list after list_changed "
        f"{relisted:.2f} ms ({relisted / plain:.2f}x); {len(changes)} changes applied"
    )
    assert "tools" in changes
    # unlock changes three lists: the tools, the resources (and templates), the prompts, each
    # listed again before the call returns; lock changes the tools only.
    assert relisted < 10 * plain
