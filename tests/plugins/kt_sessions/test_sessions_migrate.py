"""Older session files are upgraded into a sibling file; the original is never touched."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

import kt
import kt_sessions
from kt.testing import ScriptedLLM, ToolCall
from kt_sessions.errors import SessionFormatError


@kt.tool
def lookup(topic: str) -> str:
    """Look a topic up.

    Args:
        topic: The topic.
    """
    return f"notes about {topic}"


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def version_one_file(kernel, tmp_path):
    """A schema-1 file (log and meta only, as early builds wrote) with a real conversation."""
    agent = await kt.Agent.build(
        {"name": "old"},
        llm=ScriptedLLM([ToolCall("lookup", {"topic": "auth"}), "The auth notes.", "Bye."]),
        tools=[lookup],
        kernel=kernel,
        session=True,
        session_dir=tmp_path / "new",
    )
    async with agent:
        await agent.run("tell me about auth")
        await agent.run("thanks")
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    old = sessions / "old_20240101-000000_abcdef.ktsession"
    source = sqlite3.connect(agent.session.path)
    target = sqlite3.connect(old)
    target.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    target.execute(
        "CREATE TABLE event (id INTEGER PRIMARY KEY AUTOINCREMENT, creature TEXT NOT NULL, "
        "type TEXT NOT NULL, turn_index INTEGER NOT NULL, timestamp REAL NOT NULL, "
        "data TEXT NOT NULL)"
    )
    target.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        source.execute("SELECT key, value FROM meta WHERE key != 'schema_version'"),
    )
    target.executemany(
        "INSERT INTO event VALUES (?, ?, ?, ?, ?, ?)",
        source.execute("SELECT id, creature, type, turn_index, timestamp, data FROM event"),
    )
    target.commit()
    target.close()
    source.close()
    return old, agent.history


async def test_an_old_file_is_read_through_an_upgraded_copy(kernel, tmp_path):
    old, history = await version_one_file(kernel, tmp_path)
    before = digest(old)
    with kt_sessions.SessionReader(old) as reader:
        assert reader.path.name == "old_20240101-000000_abcdef.v2.ktsession"
        assert reader.meta["schema_version"] == 2
        assert reader.meta["migrated"]["from_version"] == 1
        assert reader.conversation() == history
        assert [t.status for t in reader.turns()] == ["completed", "completed"]
        assert reader.search("auth notes", mode="fts")  # derived tables were rebuilt
        assert reader.usage().total_tokens > 0
    assert digest(old) == before
    assert [p.name for p in kt_sessions.session_files(old.parent)] == [
        "old_20240101-000000_abcdef.v2.ktsession"
    ]


async def test_resuming_an_old_file_upgrades_it_once(kernel, tmp_path):
    old, history = await version_one_file(kernel, tmp_path)
    before = digest(old)
    for reply in ("first resume", "second resume"):
        agent = await kt.Agent.resume(old, kernel=kernel, llm=ScriptedLLM([reply]), tools=[lookup])
        async with agent:
            await agent.run("again")
    assert digest(old) == before
    files = sorted(p.name for p in old.parent.glob("*.ktsession"))
    assert files == [old.name, "old_20240101-000000_abcdef.v2.ktsession"]
    with kt_sessions.SessionReader(old.parent / files[1]) as reader:
        assert [t.text for t in reader.turns()][-2:] == ["first resume", "second resume"]


def test_a_file_that_is_not_a_session_is_refused(tmp_path):
    bogus = tmp_path / "notes.ktsession"
    connection = sqlite3.connect(bogus)
    connection.execute("CREATE TABLE notes (x)")
    connection.commit()
    connection.close()
    with pytest.raises(SessionFormatError, match="not a kt session file"):
        kt_sessions.SessionReader(bogus)
    newer = tmp_path / "future.ktsession"
    connection = sqlite3.connect(newer)
    connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    connection.execute("CREATE TABLE event (id INTEGER PRIMARY KEY)")
    connection.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    connection.commit()
    connection.close()
    with pytest.raises(SessionFormatError, match="newer kt_sessions"):
        kt_sessions.SessionReader(newer)
