"""Memory search: live full-text index, offline vectors, hybrid, the search_memory tool."""

from __future__ import annotations

import math
import sqlite3

import pytest
import trio
from kt_sessions_helpers import crash_image

import kt
import kt_sessions
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall
from kt_sessions import db as _db
from kt_sessions.errors import EmbeddingMismatchError, MemoryIndexError
from kt_sessions.memory import HashingEmbedder, MemoryIndex, make_embedder
from kt_sessions.store import SessionStore

TOPICS = [
    "We will deploy the web service to staging tomorrow morning.",
    "The auth bug comes from an expired token in the login handler.",
    "Lunch options near the office are limited on Fridays.",
]


def noted(request):
    """Reply "Noted: <the user's words>"."""
    return f"Noted: {[m for m in request.messages if m.role == 'user'][-1].content}"


async def recorded(kernel, session_dir, replies=None):
    llm = ScriptedLLM(replies or [noted])
    agent = await kt.Agent.build(
        {"name": "mem"}, llm=llm, kernel=kernel, session=True, session_dir=session_dir
    )
    return agent


async def test_full_text_search_works_while_the_session_is_being_written(kernel, session_dir):
    agent = await recorded(kernel, session_dir)
    async with agent:
        await agent.run(TOPICS[1])
        with kt_sessions.SessionReader(agent.session.path) as reader:  # a second connection
            hits = reader.search("auth bug", mode="fts", k=5)
        assert [h.kind for h in hits] == ["user", "assistant"]
        assert all("auth bug" in h.content for h in hits)
        assert hits[0].turn_index == 1 and hits[0].creature == "mem"
        await agent.run(TOPICS[0])
        with kt_sessions.SessionReader(agent.session.path) as reader:
            assert reader.search("staging", mode="fts")[0].turn_index == 2
            assert reader.search("nothing-like-this", mode="fts") == []
            assert reader.search('"OR auth*', mode="fts")  # operators are not interpreted


def test_the_offline_embedder_is_deterministic_normalised_and_matches_word_pieces():
    embedder = HashingEmbedder()
    (a, b, c) = embedder.embed(["deploy the service", "deployment of services", "lunch menu"])
    assert len(a) == 256 and math.isclose(sum(v * v for v in a), 1.0, rel_tol=1e-9)
    assert HashingEmbedder().embed(["deploy the service"])[0] == a  # same in any process

    def cosine(x, y):
        return sum(p * q for p, q in zip(x, y, strict=True))

    assert cosine(a, b) > cosine(a, c) + 0.2


async def test_vector_index_is_incremental_and_records_its_embedder(kernel, session_dir):
    agent = await recorded(kernel, session_dir)
    async with agent:
        for text in TOPICS:
            await agent.run(text)
    db = _db.open_database(agent.session.path)
    try:
        index = MemoryIndex(db)
        assert index.settings() is None
        with pytest.raises(MemoryIndexError, match="kt embedding"):
            index.search("deploy", mode="semantic")
        assert index.search("deploy", mode="hybrid")[0].content == TOPICS[0]  # fts fallback
        assert index.index() == 6
        assert index.index() == 0  # nothing new
        settings = index.settings()
        assert (settings["provider"], settings["model"], settings["dimensions"]) == (
            "hashed",
            "char-ngram-v1",
            256,
        )
        semantic = index.search("deployment to the staging environment", mode="semantic", k=2)
        assert TOPICS[0] in [h.content for h in semantic]
        hybrid = index.search("expired login token", mode="auto", k=3)
        assert hybrid[0].content in (TOPICS[1], f"Noted: {TOPICS[1]}")
        assert index.counts() == {"fts": 6, "vectors": 6, "pending": 0}
        with pytest.raises(EmbeddingMismatchError, match="256 dimensions"):
            index.search("deploy", mode="semantic", embedder=HashingEmbedder(dimensions=64))
        with pytest.raises(EmbeddingMismatchError):
            index.index(HashingEmbedder(dimensions=64))
        assert index.index(HashingEmbedder(dimensions=64), rebuild=True) == 6
        assert index.settings()["dimensions"] == 64
    finally:
        db.close()


async def test_search_memory_tool_finds_earlier_rounds(kernel, session_dir):
    config = {"name": "recall", "tools": [{"name": "search_memory"}]}
    llm = ScriptedLLM(
        [
            "Noted the deploy plan.",
            "Noted the bug.",
            ToolCall("search_memory", {"query": "deploy", "k": 2}),
            "You planned a deploy to staging.",
        ]
    )
    agent = await kt.Agent.build(
        config, llm=llm, kernel=kernel, session=True, session_dir=session_dir
    )
    async with agent:
        await agent.run(TOPICS[0])
        await agent.run(TOPICS[1])
        result = await agent.run("What did we plan?")
    (call,) = result.tool_calls
    assert call.status == "ok"
    lines = call.output.splitlines()
    assert lines[0] == "Found 2 result(s) for: deploy"
    assert lines[1].startswith("#1 [round 1] ") and "(recall)" in lines[1]
    assert "deploy" in call.output and "staging" in call.output


async def test_search_memory_finds_the_turn_it_runs_in(kernel, session_dir):
    config = {"name": "now", "tools": [{"name": "search_memory"}]}
    llm = ScriptedLLM([ToolCall("search_memory", {"query": "zebra"}), "Found it."])
    agent = await kt.Agent.build(
        config, llm=llm, kernel=kernel, session=True, session_dir=session_dir
    )
    async with agent:
        result = await agent.run("Remember the zebra crossing.")
    (call,) = result.tool_calls
    assert call.output.splitlines()[0] == "Found 1 result(s) for: zebra"
    assert "Remember the zebra crossing." in call.output


async def test_a_turn_a_killed_process_left_open_is_searchable_once_reopened(
    kernel, session_dir, tmp_path
):
    copied = trio.Event()
    image = tmp_path / "killed.ktsession"

    @kt.tool
    async def wait_here() -> str:
        """Wait until the test has copied the session file."""
        crash_image(agent.session.path, image)
        copied.set()
        return "copied"

    llm = ScriptedLLM([ToolCall("wait_here", {}), "done"])
    agent = await kt.Agent.build(
        {"name": "cut"},
        llm=llm,
        tools=[wait_here],
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        await agent.run("Plan the okapi migration.")
    assert copied.is_set()
    with kt_sessions.SessionReader(agent.session.path) as reader:  # completed: indexed
        assert [h.kind for h in reader.search("okapi", mode="fts")] == ["user"]
    SessionStore.open(image).close()  # what resuming the killed run does first
    with kt_sessions.SessionReader(image) as reader:
        hits = reader.search("okapi", mode="fts")
        assert [(h.kind, h.content) for h in hits] == [("user", "Plan the okapi migration.")]


def test_a_long_turn_indexes_its_blocks_within_a_second(tmp_path, monkeypatch):
    from kt_sessions import store as store_module

    store = SessionStore.open(tmp_path / "long.ktsession")
    base = {"creature": "c", "turn_index": 1, "timestamp": 1.0}

    def said(text):
        message = {"role": "user", "content": text, "tool_calls": [], "meta": {}}
        store.append_wire({**base, "type": "message_appended", "message": message})

    try:
        store.append_wire({**base, "type": "turn_started", "input": "x", "source": "user"})
        said("first giraffe")
        monkeypatch.setattr(store_module, "INDEX_SECONDS", 0.0)
        said("second giraffe")  # the oldest unindexed block is old enough: both are indexed
        with kt_sessions.SessionReader(store.path) as reader:
            assert len(reader.search("giraffe", mode="fts")) == 2
    finally:
        store.close()


def test_blocks_a_failed_transaction_did_not_index_are_indexed_by_the_next(tmp_path, monkeypatch):
    store = SessionStore.open(tmp_path / "failing.ktsession")
    base = {"creature": "c", "turn_index": 1, "timestamp": 1.0}
    message = {"role": "user", "content": "a quiet zebra", "tool_calls": [], "meta": {}}
    ended = {**base, "type": "turn_completed", "result": {"status": "completed"}}

    def disk_error(*args):
        raise sqlite3.OperationalError("disk I/O error")

    try:
        store.append_wire({**base, "type": "turn_started", "input": "x", "source": "user"})
        store.append_wire({**base, "type": "message_appended", "message": message})
        with monkeypatch.context() as patch:
            patch.setattr(store._hot.index_block, "run_many", disk_error)
            with pytest.raises(sqlite3.OperationalError):
                store.append_wire(ended)  # rolled back, index entries included
        store.append_wire(ended)
        with kt_sessions.SessionReader(store.path) as reader:
            assert [h.content for h in reader.search("zebra", mode="fts")] == ["a quiet zebra"]
    finally:
        store.close()


async def test_search_memory_semantic_builds_the_index_it_needs(kernel, session_dir):
    config = {
        "name": "vec",
        "tools": [{"name": "search_memory"}],
        "memory": {"embedding": {"provider": "hashing", "dimensions": 128}},
    }
    llm = ScriptedLLM(
        ["ok", ToolCall("search_memory", {"query": "deployment", "mode": "semantic"}), "done"]
    )
    agent = await kt.Agent.build(
        config, llm=llm, kernel=kernel, session=True, session_dir=session_dir
    )
    async with agent:
        await agent.run(TOPICS[0])
        result = await agent.run("search")
    assert "deploy the web service" in result.tool_calls[0].output
    with kt_sessions.SessionReader(agent.session.path) as reader:
        assert reader.memory.settings()["dimensions"] == 128


async def test_search_memory_without_a_session_says_so(kernel):
    llm = ScriptedLLM([ToolCall("search_memory", {"query": "x"}), "ok"])
    agent = await kt.Agent.build(
        {"name": "nosession", "tools": [{"name": "search_memory"}]}, llm=llm, kernel=kernel
    )
    async with agent:
        result = await agent.run("search")
    assert result.tool_calls[0].status == "error"
    assert "Session memory is not available" in result.tool_calls[0].error


async def test_compaction_is_recorded_resumed_and_the_full_history_stays_searchable(
    kernel, session_dir
):
    class Summariser:
        @kt.hookimpl
        def kt_compact(self, messages):
            return "The user talked about deploys and bugs."

    kernel = kt.Kernel(plugins=[kt_sessions, Summariser()])
    agent = await recorded(kernel, session_dir)
    async with agent:
        for text in TOPICS:
            await agent.run(text)
        assert await agent.compact(keep_recent_turns=1)
        compacted = list(agent.history)
    assert compacted[0].meta == {"summary": True}
    assert [m.content for m in compacted[1:]] == [TOPICS[2], f"Noted: {TOPICS[2]}"]
    resumed = await kt.Agent.resume(agent.session.path, kernel=kernel, llm=ScriptedLLM(["x"]))
    assert resumed.history == compacted
    with kt_sessions.SessionReader(agent.session.path) as reader:
        assert reader.search("auth bug", mode="fts")  # compacted away, still searchable
        kinds = {h.kind for h in reader.search("deploys bugs", mode="fts", k=10)}
        assert "summary" in kinds
        assert [e.wire["reason"] for e in reader.events("history_replaced")] == ["compaction"]


def test_hook_kt_embedding_providers():
    """Plugins offer embedders by name; a missing package says what to install."""

    class Tiny:
        provider, model, dimensions = "tiny", "t1", 2

        def embed(self, texts):
            return [[1.0, 0.0] for _ in texts]

    class TinyPlugin:
        @kt.hookimpl
        def kt_embedding_providers(self, register):
            register("tiny", lambda model, dimensions: Tiny(), "two dimensions")

    kernel = kt.Kernel(plugins=[kt_sessions, TinyPlugin()])
    assert make_embedder("tiny", kernel=kernel).dimensions == 2
    assert isinstance(make_embedder(), HashingEmbedder)
    with pytest.raises(MemoryIndexError, match="unknown embedding provider 'nope'"):
        make_embedder("nope", kernel=kernel)
    with pytest.raises(MemoryIndexError, match="pip install sentence-transformers"):
        make_embedder("sentence-transformers")


async def test_a_text_format_creature_indexes_tool_results_too(session_dir):
    pytest.importorskip("kt_formats")
    import kt_formats

    @kt.tool
    def lookup(key: str) -> str:
        """Look a key up.

        Args:
            key: The key.
        """
        return f"value of {key} is 42"

    kernel = kt.Kernel(plugins=[kt_sessions, kt_formats])
    llm = ScriptedLLM([ScriptEntry(text="[/lookup]\n@@key=answer\n[lookup/]"), "It is 42."])
    agent = await kt.Agent.build(
        {"name": "texty", "controller": {"tool_format": "bracket"}},
        llm=llm,
        tools=[lookup],
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        await agent.run("what is the answer?")
    with kt_sessions.SessionReader(agent.session.path) as reader:
        (hit,) = reader.search("value 42", mode="fts", k=1)
        assert hit.kind == "tool"
        assert reader.conversation() == agent.history
