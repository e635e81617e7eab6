"""The file format: schema 2 as earlier releases wrote it, and the models that read and write it.

``fixtures/schema2-before-orm.sqlite`` is a ``.ktsession`` file written by the plugin before its
models were declared once (commit e4551cc): a tool call, a background job, a scratchpad value, a
trigger, a channel message, a sub-agent run, a regenerated branch, a compaction, non-ASCII text,
a vector index (hashing, 16 dimensions) and a snapshot. It is stored without the suffix because
``*.ktsession`` files are ignored by git.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

import kt
import kt_sessions
from kt.testing import ScriptedLLM
from kt_sessions import db as _db
from kt_sessions.migrate import version_of
from kt_sessions.store import SessionStore
from kt_sessions.wire import dumps

FIXTURE = Path(__file__).parent / "fixtures" / "schema2-before-orm.sqlite"


@kt.tool
def count_words(text: str) -> str:
    """Count the words in a text.

    Args:
        text: The text.
    """
    return str(len(text.split()))


@kt.tool(background=True)
async def slow_job() -> str:
    """A background job."""
    return "job output"


def legacy_copy(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(FIXTURE, folder / "legacy.ktsession"))


def schema(path: Path) -> list[tuple[str, str, str]]:
    """Every table and index of a file: type, name, and its SQL with quoting normalised."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name")
        return [(kind, name, re.sub(r"[\"'\s]", "", sql or "")) for kind, name, sql in rows]
    finally:
        connection.close()


def query(path: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_a_new_file_has_exactly_the_schema_earlier_releases_wrote(tmp_path):
    store = SessionStore.open(tmp_path / "new.ktsession")
    store.close()
    assert schema(tmp_path / "new.ktsession") == schema(FIXTURE)
    assert version_of(tmp_path / "new.ktsession") == version_of(FIXTURE) == 2


def test_a_file_written_by_an_earlier_release_is_read_as_it_was_written(tmp_path):
    path = legacy_copy(tmp_path)
    with kt_sessions.SessionReader(path) as reader:
        assert reader.path == path  # schema 2: read in place, no upgrade copy
        assert reader.status == "paused"
        assert reader.creatures == ["legacy"]
        assert reader.usage() == kt.Usage(187, 41, 228)
        turns = reader.turns()
        assert [t.status for t in turns] == ["completed"] * 5
        assert [c.name for c in turns[0].tool_calls] == ["count_words"]
        assert turns[-1].text == "Après le résumé, tout va bien ✓."
        conversation = reader.conversation()
        assert conversation[0].meta == {"summary": True}  # compacted
        assert conversation[-1].content == "Après le résumé, tout va bien ✓."
        assert [b.reason for b in reader.branches()].count("regenerate") == 1
        record = reader.creature_record()
        assert record["source"] == {"name": "legacy"}
        assert record["tools"] == ["count_words", "slow_job"]
        assert len(list(reader.events())) == reader.last_event_id() == 89
        hit = reader.search("deploy job", mode="fts", k=1)[0]
        assert (hit.kind, hit.content) == ("user", "start the deploy job")
        assert reader.memory.counts() == {"fts": 17, "vectors": 17, "pending": 0}
        semantic = reader.search("staging config", mode="semantic", k=1)[0]
        assert (semantic.kind, semantic.tool_name) == ("subagent", "explore")


async def test_a_file_written_by_an_earlier_release_resumes_and_keeps_its_schema(tmp_path):
    path = legacy_copy(tmp_path / "sessions")
    before = schema(path)
    agent = await kt.Agent.resume(
        path,
        kernel=kt.Kernel(plugins=[kt_sessions]),
        llm=ScriptedLLM(["Still here."]),
        tools=[count_words, slow_job],
        pwd=tmp_path,
    )
    async with agent:
        result = await agent.run("are you there?")
    assert result.text == "Still here."
    assert agent.session.path == path  # written in place
    assert schema(path) == before
    assert query(path, "PRAGMA integrity_check") == [("ok",)]
    assert query(path, "SELECT status, text FROM turn ORDER BY id DESC LIMIT 1") == [
        ("completed", "Still here.")
    ]
    # Rows of both releases, side by side, in the same compact JSON text.
    usage = [json.loads(row[0]) for row in query(path, "SELECT usage FROM turn ORDER BY id")]
    assert [u["total_tokens"] for u in usage][:2] == [39, 73]
    texts = [row[0] for row in query(path, "SELECT data FROM event WHERE type = 'turn_started'")]
    assert all(text == dumps(json.loads(text)) for text in texts)
    with kt_sessions.SessionReader(path) as reader:
        assert [t.status for t in reader.turns()] == ["completed"] * 6
        assert reader.search("there", mode="fts")[0].content == "are you there?"
        assert reader.memory.counts()["pending"] == 2  # new blocks wait for `kt embedding`


def test_json_columns_hold_the_compact_text_of_the_value(tmp_path):
    store = SessionStore.open(tmp_path / "x.ktsession")
    store.set_meta(note={"b": 1.5, "a": "ünïcode"}, nothing=None, many=[1, 2])
    assert store.get_meta("note") == {"b": 1.5, "a": "ünïcode"}
    assert store.get_meta("nothing", "default") is None  # stored null, not missing
    assert store.get_meta("missing", "default") == "default"
    store.close()
    rows = dict(query(tmp_path / "x.ktsession", "SELECT key, value FROM meta"))
    assert rows["note"] == '{"b":1.5,"a":"ünïcode"}'
    assert rows["nothing"] == "null"
    assert rows["many"] == "[1,2]"


def test_several_files_are_open_at_once_each_with_its_own_rows(tmp_path):
    stores = [SessionStore.open(tmp_path / f"{name}.ktsession") for name in ("a", "b")]
    for store, name in zip(stores, ("a", "b"), strict=True):
        for index in range(3):
            wire = {"type": "turn_started", "creature": name, "turn_index": index + 1}
            store.append_wire({**wire, "timestamp": 1.0, "input": f"{name} {index}"})
    for store, name in zip(stores, ("a", "b"), strict=True):
        events = store.wire_events()
        assert [e["input"] for e in events] == [f"{name} 0", f"{name} 1", f"{name} 2"]
        assert store.last_event_id(name) == 3
        store.close()
    for name in ("a", "b"):
        turns = query(tmp_path / f"{name}.ktsession", "SELECT creature, input FROM turn")
        assert turns == [(name, f"{name} {i}") for i in range(3)]


def test_buffered_text_is_written_before_the_events_are_listed(tmp_path):
    store = SessionStore.open(tmp_path / "x.ktsession")
    base = {"creature": "c", "turn_index": 1, "timestamp": 1.0}
    assert store.append_wire({**base, "type": "text_delta", "text": "hi", "iteration": 0}) is None
    assert query(tmp_path / "x.ktsession", "SELECT COUNT(*) FROM event") == [(0,)]
    assert [e["text"] for e in store.wire_events()] == ["hi"]
    store.close()


async def test_file_names_with_uri_characters_are_read_and_resumed(kernel, tmp_path):
    path = tmp_path / "odd #1 ?x=%20.ktsession"
    agent = await kt.Agent.build(
        {"name": "odd"}, llm=ScriptedLLM(["one", "two"]), kernel=kernel, session=path
    )
    async with agent:
        await agent.run("first")
    assert version_of(path) == 2
    with kt_sessions.SessionReader(path) as reader:
        assert [t.text for t in reader.turns()] == ["one"]
    resumed = await kt.Agent.resume(path, kernel=kernel, llm=ScriptedLLM(["two"]))
    async with resumed:
        assert (await resumed.run("second")).text == "two"


def test_a_prepared_statement_converts_like_the_model_and_takes_only_its_own_values(tmp_path):
    store = SessionStore.open(tmp_path / "x.ktsession")
    try:
        insert = _db.Prepared.insert(_db.Turn)
        insert.run(store.db, creature="c", turn_index=1, started_at=2.0, usage={"total_tokens": 3})
        row = _db.Turn.select().where(_db.Turn.creature == "c").get(store.db)
        assert (row.status, row.usage, row.ended_at) == ("running", {"total_tokens": 3}, None)
        with pytest.raises(ValueError, match="colour: not a value of INSERT INTO"):
            insert.run(store.db, creature="c", turn_index=2, colour="red")
        literal = _db.Event.select().where(_db.Event.creature == "c")
        with pytest.raises(ValueError, match="param"):
            _db.Prepared(literal, [])
    finally:
        store.close()


def test_a_prepared_upsert_inserts_with_defaults_and_updates_only_its_columns(tmp_path):
    store = SessionStore.open(tmp_path / "x.ktsession")
    try:
        upsert = _db.Prepared.upsert(
            _db.Creature, key=[_db.Creature.name], update=[_db.Creature.tools]
        )
        upsert.run(store.db, name="c", config={"a": 1}, tools=["t1"])
        upsert.run(store.db, name="c", config={"a": 2}, tools=["t2"])
        row = _db.Creature.select().where(_db.Creature.name == "c").get(store.db)
        assert (row.config, row.tools, row.plugins, row.pwd) == ({"a": 1}, ["t2"], [], "")
    finally:
        store.close()
