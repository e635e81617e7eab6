"""json_read, json_write and scratchpad."""

from __future__ import annotations

import contextlib
import json

import pytest
import trio
from kt_tools_helpers import drive

import kt
import kt_tools
from kt.events import from_wire, to_wire
from kt.testing import ScriptedLLM
from kt_tools.data import QueryError, parse_query

DATA = ["json_read", "json_write", "scratchpad"]


async def test_json_read_queries(work):
    (work / "d.json").write_text(
        json.dumps({"name": "kt", "deps": [{"n": "trio"}, {"n": "attrs"}], "a.b": 1, "ok": True})
    )
    async with drive(work, DATA) as t:
        whole = await t.call("json_read", path="d.json")
        nested = await t.call("json_read", path="d.json", query=".deps[1].n")
        negative = await t.call("json_read", path="d.json", query="deps[-1]")
        quoted = await t.call("json_read", path="d.json", query='.["a.b"]')
        boolean = await t.call("json_read", path="d.json", query=".ok")
        missing_key = await t.call("json_read", path="d.json", query=".nope")
        out_of_range = await t.call("json_read", path="d.json", query=".deps[5]")
        into_scalar = await t.call("json_read", path="d.json", query=".name.x")
    assert json.loads(whole.output)["name"] == "kt"
    assert nested.output == "attrs"
    assert json.loads(negative.output) == {"n": "attrs"}
    assert quoted.output == "1"
    assert boolean.output == "true"
    assert (
        missing_key.error.startswith("Query failed: no key 'nope'") and "deps" in missing_key.error
    )
    assert "out of range" in out_of_range.error
    assert "not an object" in into_scalar.error


async def test_json_read_errors_and_cap(work):
    (work / "bad.json").write_text("{oops")
    (work / "big.json").write_text(json.dumps(["x" * 100] * 1000))
    async with drive(work, DATA) as t:
        bad = await t.call("json_read", path="bad.json")
        missing = await t.call("json_read", path="none.json")
        big = await t.call("json_read", path="big.json")
    assert bad.error.startswith("Invalid JSON")
    assert "File not found" in missing.error
    assert "(truncated," in big.output and len(big.output) < 51_000


async def test_json_write_creates_sets_and_checks(work):
    async with drive(work, DATA) as t:
        created = await t.call("json_write", path="cfg/s.json", query=".server.port", value="8080")
        text = await t.call("json_write", path="cfg/s.json", query=".name", value="plain words")
        alias = await t.call("json_write", path="cfg/s.json", query=".tags", content='["a", "b"]')
        item = await t.call("json_write", path="cfg/s.json", query=".tags[1]", value='"c"')
        bad_index = await t.call("json_write", path="cfg/s.json", query=".tags[9]", value="1")
        no_value = await t.call("json_write", path="cfg/s.json", query=".x")
        native = await t.call("json_write", path="cfg/s.json", query=".obj", value={"k": [1, 2]})
    assert created.output.endswith("at '.server.port'")
    data = json.loads((work / "cfg" / "s.json").read_text())
    assert data == {
        "server": {"port": 8080},
        "name": "plain words",
        "tags": ["a", "c"],
        "obj": {"k": [1, 2]},
    }
    assert text.status == alias.status == item.status == native.status == "ok"
    assert "does not exist" in bad_index.error
    assert "Value is required" in no_value.error
    assert (work / "cfg" / "s.json").read_text().endswith("}\n")


def test_parse_query():
    assert parse_query(".") == []
    assert parse_query("a.b[2]") == ["a", "b", 2]
    assert parse_query('.x["y.z"]') == ["x", "y.z"]
    with pytest.raises(QueryError):
        parse_query(".a[")


async def test_scratchpad_actions(work):
    async with drive(work, DATA) as t:
        assert (await t.call("scratchpad", action="list")).output == "(empty)"
        assert (
            await t.call("scratchpad", action="set", key="plan", value="step 1")
        ).output == "Set 'plan'"
        assert (await t.call("scratchpad", key="plan")).output == "step 1"
        missing = await t.call("scratchpad", action="get", key="nope")
        reserved = await t.call("scratchpad", action="set", key="__x__", value="v")
        no_key = await t.call("scratchpad", action="get")
        bad_action = await t.call("scratchpad", action="pop", key="plan")
        listed = await t.call("scratchpad", action="list")
        deleted = await t.call("scratchpad", action="delete", key="plan")
        gone = await t.call("scratchpad", action="delete", key="plan")
        await t.call("scratchpad", action="set", key="a", value="1")
        cleared = await t.call("scratchpad", action="clear")
        after = await t.call("scratchpad", action="list")
        pad = kt_tools.scratchpad_of(t.agent)
    assert missing.status == "ok" and missing.output == "Key 'nope' not found"
    assert "reserved" in reserved.error
    assert "needs a key" in no_key.error
    assert bad_action.status == "error" and "get" in bad_action.error  # the schema's enum
    assert listed.output == "- plan"
    assert deleted.output == "Deleted 'plan'" and gone.output == "Key 'plan' not found"
    assert cleared.output == "Scratchpad cleared" and after.output == "(empty)"
    assert pad == {}


async def test_scratchpad_writes_are_events_and_replaying_them_restores_it(work):
    async with drive(work, DATA) as t:
        events = t.agent.subscribe()
        await t.call("scratchpad", action="set", key="k", value="v1")
        await t.call("scratchpad", action="set", key="gone", value="x")
        await t.call("scratchpad", action="delete", key="gone")
        written = []
        with contextlib.suppress(trio.WouldBlock):
            while True:
                event = events.receive_nowait()
                if isinstance(event, kt_tools.ScratchpadWritten):
                    written.append(event)
        events.close()
    assert [(e.action, e.key, e.value) for e in written] == [
        ("set", "k", "v1"),
        ("set", "gone", "x"),
        ("delete", "gone", ""),
    ]
    wire = [to_wire(e) for e in written]
    assert wire[0]["type"] == "scratchpad_write"

    kernel = kt.Kernel(plugins=[kt_tools])
    async with await kt.Agent.build(
        {"name": "resumed"}, llm=ScriptedLLM(["x"]), kernel=kernel
    ) as agent:
        for data in wire:
            await agent.emit(from_wire(data))
        assert kt_tools.scratchpad_of(agent) == {"k": "v1"}


@pytest.mark.parametrize("tool", ["json_read", "json_write"])
async def test_json_tools_respect_the_path_guard(work, tmp_path, tool):
    (tmp_path / "d.json").write_text("{}")
    args = {"value": "1", "query": ".x"} if tool == "json_write" else {}
    async with drive(work, [{"name": tool, "path_guard": "block"}]) as t:
        record = await t.call(tool, path=str(tmp_path / "d.json"), **args)
    assert "outside the working directory" in record.error
    assert (tmp_path / "d.json").read_text() == "{}"
