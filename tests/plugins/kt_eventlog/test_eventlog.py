"""kt_eventlog: a creature's events as JSON lines, readable back with kt.events.from_wire."""

from __future__ import annotations

import json
import stat

import kt
import kt_eventlog
from kt.events import from_wire
from kt.testing import ScriptedLLM, ToolCall


@kt.tool
def echo(text: str) -> str:
    """Echo."""
    return text


async def test_every_event_is_a_json_line_with_private_permissions(tmp_path, monkeypatch):
    monkeypatch.setenv("KT_HOME", str(tmp_path / "home"))
    log = kt_eventlog.EventLog()
    llm = ScriptedLLM([ToolCall("echo", {"text": "hi"}), "done"], chunk_size=1)
    async with await kt.Agent.build(
        {"name": "logged"}, llm=llm, kernel=kt.Kernel(plugins=[]), tools=[echo], plugins=[log]
    ) as agent:
        await agent.run("go")
    assert log.path.parent == tmp_path / "home" / "logs" / "events"
    assert log.path.name.startswith("logged-")
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700
    lines = log.path.read_text(encoding="utf-8").splitlines()
    events = [from_wire(json.loads(line)) for line in lines]
    types = [e.type for e in events]
    assert types[0] == "creature_started" and types[-1] == "creature_stopped"
    assert "tool_call_completed" in types and "turn_completed" in types
    assert "text_delta" not in types  # streamed text is left out by default


async def test_a_path_pattern_and_a_type_filter(tmp_path):
    log = kt_eventlog.EventLog(path="logs/{creature}.jsonl", types=["turn_completed"])
    async with await kt.Agent.build(
        {"name": "f"},
        llm=ScriptedLLM(["a", "b"]),
        kernel=kt.Kernel(plugins=[]),
        plugins=[log],
        pwd=tmp_path,
    ) as agent:
        await agent.run("1")
        await agent.run("2")
    assert log.path == tmp_path / "logs" / "f.jsonl"
    rows = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [(r["type"], r["result"]["text"]) for r in rows] == [
        ("turn_completed", "a"),
        ("turn_completed", "b"),
    ]
