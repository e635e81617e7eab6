"""Recording: every event in the log, durable before it is reported, text in batches."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from typing import ClassVar

import attrs
import pytest
import trio

import kt
import kt_sessions
from kt.events import Event, TextDelta, from_wire
from kt.testing import EventRecorder, ScriptedLLM, ScriptEntry, ToolCall
from kt_sessions.store import DELTA_BATCH


@kt.tool
def count_words(text: str) -> str:
    """Count the words in a text.

    Args:
        text: The text.
    """
    return str(len(text.split()))


def rows(path, sql, params=()):
    """Query a session file on a separate read-only connection, as another process would."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


async def test_every_event_is_in_the_log_in_order_and_round_trips(kernel, session_dir):
    observed = EventRecorder()
    kernel = kt.Kernel(plugins=[kt_sessions, observed])
    llm = ScriptedLLM(
        [ToolCall("count_words", {"text": "a b c"}), "There are 3 words.", "Bye."], chunk_size=4
    )
    agent = await kt.Agent.build(
        {"name": "demo"},
        llm=llm,
        tools=[count_words],
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        everything = agent.subscribe()
        await agent.run("count a b c")
        await agent.run("thanks")
    errors = [event.message async for event in everything if event.type == "error"]
    assert errors == []  # a failing kt_event would be reported here, not raised
    with kt.SessionReader(agent.session.path, kernel=kernel) as reader:
        logged = list(reader.events())
    assert [e.id for e in logged] == list(range(1, len(logged) + 1))
    assert [e.event for e in logged] == observed.events
    assert {"text_delta", "tool_call_completed", "turn_completed", "creature_stopped"} <= {
        e.type for e in logged
    }


async def test_no_session_by_default_and_with_session_false(kernel, session_dir, isolated_home):
    for session in (None, False):
        agent = await kt.Agent.build(
            {"name": "quiet"}, llm=ScriptedLLM(["ok"]), kernel=kernel, session=session
        )
        assert agent.session is None
        async with agent:
            await agent.run("hi")
    assert not session_dir.exists()
    assert not (isolated_home / "sessions").exists()


async def test_default_folder_is_kt_home_sessions_and_names_say_creature_date_id(
    kernel, isolated_home
):
    agent = await kt.Agent.build(
        {"name": "swe"}, llm=ScriptedLLM(["ok"]), kernel=kernel, session=True
    )
    async with agent:
        await agent.run("hi")
    path = agent.session.path
    assert path.parent == isolated_home / "sessions"
    assert re.fullmatch(r"swe_\d{8}-\d{6}_[0-9a-f]{6}\.ktsession", path.name)
    assert agent.session.name == path.name.removesuffix(".ktsession")
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    meta = dict(rows(path, "SELECT key, value FROM meta"))
    assert json.loads(meta["schema_version"]) == 2
    assert json.loads(meta["status"]) == "paused"
    assert json.loads(meta["creatures"]) == ["swe"]


async def test_a_session_needs_a_store_plugin(tmp_path):
    bare = kt.Kernel(plugins=[])
    with pytest.raises(kt.UnknownNameError, match="kt_sessions"):
        await kt.Agent.build({"name": "x"}, llm=ScriptedLLM(["ok"]), kernel=bare, session=True)
    with pytest.raises(kt.UnknownNameError, match="session store"):
        kt.SessionReader(tmp_path / "x.ktsession", kernel=bare)
    with pytest.raises(kt.UnknownNameError, match="session store"):
        await kt.Agent.resume(tmp_path / "x.ktsession", kernel=bare)


class CheckDurable:
    """An output (what UIs are) that checks each event is on disk when it is told of it."""

    def __init__(self) -> None:
        self.agent = None
        self.checked = 0
        self.deltas_seen = 0
        self.lags = []

    async def on_event(self, event):
        path = self.agent.session.path
        if isinstance(event, TextDelta):
            self.deltas_seen += 1
            written = rows(path, "SELECT COUNT(*) FROM event WHERE type = 'text_delta'")[0][0]
            self.lags.append(self.deltas_seen - written)
            return
        found = rows(
            path,
            "SELECT COUNT(*) FROM event WHERE type = ? AND timestamp = ?",
            (event.type, event.timestamp),
        )[0][0]
        assert found == 1, f"{event.type} was reported before it was committed"
        self.checked += 1


async def test_an_event_is_committed_before_anything_reports_it(kernel, session_dir):
    check = CheckDurable()
    text = "x" * 150
    llm = ScriptedLLM([ToolCall("count_words", {"text": "a b"}), text], chunk_size=1)
    agent = await kt.Agent.build(
        {"name": "durable"},
        llm=llm,
        tools=[count_words],
        kernel=kernel,
        session=True,
        session_dir=session_dir,
        output=check,
    )
    check.agent = agent
    async with agent:
        result = await agent.run("go")
        # At the turn's end every streamed chunk is on disk, however the batches fell.
        written = rows(agent.session.path, "SELECT COUNT(*) FROM event WHERE type = 'text_delta'")[
            0
        ][0]
    assert result.text == text
    assert written == 150
    assert check.checked > 10
    # Streamed text is batched: never more than one batch behind what was shown.
    assert max(check.lags) < DELTA_BATCH
    assert max(check.lags) > 1


class StallingLLM:
    """Streams a few words, then stalls (as a slow model does) before finishing."""

    async def stream(self, request):
        yield kt.TextChunk("Hello ")
        yield kt.TextChunk("wor")
        await trio.sleep(30)
        yield kt.TextChunk("ld")
        yield kt.LLMDone()


async def test_text_of_a_stalled_stream_is_on_disk_within_a_second(
    kernel, session_dir, autojump_clock
):
    first_delta = trio.Event()

    class Watch:
        async def on_event(self, event):
            if isinstance(event, TextDelta):
                first_delta.set()

    agent = await kt.Agent.build(
        {"name": "stall"},
        llm=StallingLLM(),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
        output=Watch(),
    )
    async with agent, trio.open_nursery() as nursery:
        nursery.start_soon(agent.run, "hi")
        await first_delta.wait()
        path = agent.session.path
        assert rows(path, "SELECT COUNT(*) FROM event WHERE type = 'text_delta'")[0][0] == 0
        await trio.sleep(1.1)
        texts = rows(path, "SELECT data FROM event WHERE type = 'text_delta' ORDER BY id")
        assert "".join(json.loads(d)["text"] for (d,) in texts) == "Hello wor"
        nursery.cancel_scope.cancel()


async def test_a_config_can_ask_for_recording_and_session_wins_over_it(
    kernel, session_dir, tmp_path
):
    config = {
        "name": "configured",
        "plugins": [
            {
                "name": "session",
                "module": "kt_sessions",
                "class": "SessionRecorder",
                "session_dir": str(tmp_path / "from-config"),
            }
        ],
    }
    agent = await kt.Agent.build(config, llm=ScriptedLLM(["ok"]), kernel=kernel)
    async with agent:
        await agent.run("hi")
    (recorded,) = (tmp_path / "from-config").iterdir()
    assert recorded.name.startswith("configured_")

    both = await kt.Agent.build(
        config, llm=ScriptedLLM(["ok"]), kernel=kernel, session=True, session_dir=session_dir
    )
    async with both:
        await both.run("hi")
    assert len(list((tmp_path / "from-config").iterdir())) == 1  # the config's stayed idle
    assert [p.name for p in session_dir.iterdir()] == [both.session.path.name]


async def test_two_creatures_can_share_one_file(kernel, session_dir):
    first = await kt.Agent.build(
        {"name": "lead"},
        llm=ScriptedLLM(["lead reply"]),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with first:
        second = await kt.Agent.build(
            {"name": "helper"},
            llm=ScriptedLLM(["helper reply"]),
            kernel=kernel,
            session=first.session,
        )
        async with second:
            await first.run("one")
            await second.run("two")
            meta = {k: json.loads(v) for k, v in rows(first.session.path, "SELECT * FROM meta")}
            assert meta["status"] == "running" and meta["owner"]["pid"] == os.getpid()
            assert set(meta["recording"]) == {"lead", "helper"}
            assert meta["creatures"] == ["lead", "helper"]
    assert second.session.path == first.session.path
    with kt_sessions.SessionReader(first.session.path) as reader:
        assert reader.creatures == ["lead", "helper"]
        assert [t.text for t in reader.turns()] == ["lead reply", "helper reply"]
        assert reader.meta["status"] == "paused"
        assert reader.meta["owner"] is None and reader.meta["recording"] == {}


@attrs.frozen(kw_only=True)
class ScratchpadSet(Event):
    """A plugin's own event, in the shape kt_sessions derives its scratchpad table from."""

    type: ClassVar[str] = "scratchpad_set"
    key: str = ""
    value: str = ""


async def test_derived_tables_follow_the_log(kernel, session_dir):
    @kt.tool(background=True)
    async def slow_job() -> str:
        """A background job."""
        return "job output"

    llm = ScriptedLLM(
        [
            ScriptEntry(tool_calls=[ToolCall("slow_job", {})], usage=kt.Usage(10, 5, 15)),
            ScriptEntry(text="started it", usage=kt.Usage(20, 2, 22)),
            ScriptEntry(text="the job finished", usage=kt.Usage(30, 3, 33)),
        ]
    )
    agent = await kt.Agent.build(
        {"name": "tables"},
        llm=llm,
        tools=[slow_job],
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        events = agent.subscribe()
        await agent.run("start the job")
        async for event in events:  # the job's result comes back as a turn of its own
            if event.type == "turn_completed" and event.result.turn_index == 2:
                break
        events.close()
        await agent.emit(ScratchpadSet(key="plan", value="step 1"))
        await agent.emit(kt.events.SubAgentStarted(call_id="c1", name="explore", task="look"))
        await agent.emit(
            kt.events.SubAgentCompleted(
                call_id="c1", name="explore", status="completed", output="found it"
            )
        )
    path = agent.session.path
    assert rows(path, "SELECT turn_index, status, text FROM turn ORDER BY id") == [
        (1, "completed", "started it"),
        (2, "completed", "the job finished"),
    ]
    totals = json.loads(rows(path, "SELECT totals FROM usage")[0][0])
    assert totals["prompt_tokens"] == 60 and totals["total_tokens"] == 70
    assert rows(path, "SELECT name, status, output FROM job") == [("slow_job", "ok", "job output")]
    assert rows(path, "SELECT key, value FROM scratchpad") == [("plan", "step 1")]
    assert rows(path, "SELECT name, status, output FROM subagent_run") == [
        ("explore", "completed", "found it")
    ]
    with kt_sessions.SessionReader(path) as reader:
        assert reader.usage() == kt.Usage(60, 10, 70)
        record = reader.creature_record()
        assert record["config"]["name"] == "tables"
        assert record["source"] == {"name": "tables"}
        assert record["model"] == "ScriptedLLM"
        (attached,) = list(reader.events("session_attached"))
        assert from_wire(attached.wire).config["name"] == "tables"


async def test_a_file_that_cannot_be_recorded_into_fails_the_build(kernel, tmp_path):
    bogus = tmp_path / "notes.ktsession"
    connection = sqlite3.connect(bogus)
    connection.execute("CREATE TABLE notes (x)")
    connection.commit()
    connection.close()
    with pytest.raises(kt_sessions.errors.SessionFormatError, match="not a kt session"):
        await kt.Agent.build({"name": "x"}, llm=ScriptedLLM(["ok"]), kernel=kernel, session=bogus)
