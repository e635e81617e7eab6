"""Session performance: per-turn cost with persistence on and off, bytes per turn, resume time,
full-text search latency, and a comparison with the reference framework.

Run with ``python -m pytest tests/benchmarks -m benchmark -s -k sessions``. Budgets:

* per-turn cost stays flat as history grows (10, 100, 1,000 turns): the turn 1,000 window may
  cost at most 3x the turn 10 window with persistence on (append-only writes, no rewrite of the
  history);
* resuming a session of 10,000 events takes under 1 s (with and without a snapshot);
* a full-text search over 100,000 messages takes under 50 ms (median of 20 queries);
* opening a new session (``Agent.build`` + start with ``session=True``, minus the same without)
  takes under 5 ms (target 2 ms; the margin is for a shared machine's disk, as a new file's
  write-ahead log is synced once).

The reference comparison runs the same scripted conversation in the reference framework
(``kohakuterrarium`` from PyPI) with its session store on, in its own virtualenv. It needs
``KT_REFERENCE_PYTHON`` (default ``/tmp/kohaku/bin/python``) to point at a Python where it is
installed (``python -m venv /tmp/kohaku && /tmp/kohaku/bin/pip install kohakuterrarium``); it
is skipped, saying so, when that interpreter is missing.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

import kt
import kt_sessions
from kt.llm import LLMDone, TextChunk, Usage
from kt_sessions.memory import MemoryIndex
from kt_sessions.store import SessionStore

pytestmark = pytest.mark.benchmark

REPLY = (
    "This is a scripted reply of about two hundred characters, streamed in ten chunks so that "
    "every turn writes the same amount of text to the session log; nothing in it changes from "
    "turn to turn, ok."
)
CHUNKS = [REPLY[i : i + 20] for i in range(0, len(REPLY), 20)]


class SteadyModel:
    """A model with constant cost per call: the same reply in ten chunks, no request copy."""

    async def stream(self, request):
        for chunk in CHUNKS:
            yield TextChunk(chunk)
        yield LLMDone(usage=Usage(100, 50, 150))


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


async def timed_turns(turns: int, session_dir: Path | None) -> tuple[list[float], Path | None]:
    kernel = kt.Kernel(plugins=[kt_sessions])
    options = {} if session_dir is None else {"session": True, "session_dir": session_dir}
    agent = await kt.Agent.build({"name": "bench"}, llm=SteadyModel(), kernel=kernel, **options)
    times = []
    async with agent:
        for i in range(turns):
            start = time.perf_counter()
            await agent.run(f"question {i}")
            times.append(time.perf_counter() - start)
    return times, (agent.session.path if agent.session else None)


async def cost_at(history: int, session_dir: Path | None, measured: int = 40) -> float:
    """Median ms of *measured* turns run after *history* turns (their log included)."""
    times, _ = await timed_turns(history + measured, session_dir)
    return statistics.median(times[history:]) * 1000


async def test_per_turn_cost_with_persistence_on_and_off(tmp_path):
    # Each point is the best of three runs: the machine is shared, and a busy moment must not
    # look like growth.
    rows = {}
    for history in (10, 100, 1000):
        off = min([await cost_at(history, None) for _ in range(3)])
        on = min([await cost_at(history, tmp_path / f"s{history}-{i}") for i in range(3)])
        rows[history] = (off, on)
    _, path = await timed_turns(1000, tmp_path / "bytes")
    assert path is not None
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    events = connection.execute("SELECT COUNT(*) FROM event").fetchone()[0]
    connection.close()
    stored = file_bytes(path)
    print("\nper-turn cost (median of 40 turns after the history), persistence off / on:")
    for history, (off, on) in rows.items():
        print(
            f"  history {history:>5} turns: off {off:6.3f} ms  on {on:6.3f} ms  (+{on - off:.3f})"
        )
    print(
        f"bytes stored per turn: {stored / 1000:,.0f} ({events / 1000:.0f} events per turn, "
        f"{stored / events:,.0f} bytes per event, FTS index included)"
    )
    assert rows[1000][1] < 2 * rows[10][1]


async def test_opening_a_new_session(tmp_path):
    kernel = kt.Kernel(plugins=[kt_sessions])

    async def build_and_start(session: bool) -> float:
        options = {"session": True, "session_dir": tmp_path / "open"} if session else {}
        start = time.perf_counter()
        agent = await kt.Agent.build({"name": "s"}, llm=SteadyModel(), kernel=kernel, **options)
        await agent.start()
        elapsed = time.perf_counter() - start
        await agent.stop()
        return elapsed

    await build_and_start(True)  # the first one imports the plugin and makes the empty file

    async def median_ms(session: bool) -> float:
        return statistics.median([await build_and_start(session) for _ in range(15)]) * 1000

    # Best of three medians, as for the per-turn cost: a busy moment is not the code's cost.
    opened = min([await median_ms(True) - await median_ms(False) for _ in range(3)])
    print(f"\nopening a new session: {opened:.2f} ms (build and start, with minus without)")
    assert opened < 5


async def recorded_session(tmp_path: Path, events_wanted: int) -> Path:
    kernel = kt.Kernel(plugins=[kt_sessions])
    agent = await kt.Agent.build(
        {"name": "long"},
        llm=SteadyModel(),
        kernel=kernel,
        session=True,
        session_dir=tmp_path / "sessions",
    )
    async with agent:
        i = 0
        while agent.session.store.last_event_id() < events_wanted - 20:
            await agent.run(f"question {i}")
            i += 1
    return agent.session.path


async def test_resume_of_ten_thousand_events(tmp_path):
    path = await recorded_session(tmp_path, 10_000)
    kernel = kt.Kernel(plugins=[kt_sessions])
    with kt_sessions.SessionReader(path) as reader:
        events = reader.last_event_id()
        messages = len(reader.conversation())

    async def resume_seconds() -> float:
        start = time.perf_counter()
        agent = await kt.Agent.resume(path, kernel=kernel, llm=SteadyModel())
        elapsed = time.perf_counter() - start
        assert len(agent.history) == messages
        return elapsed

    with_snapshot = min([await resume_seconds() for _ in range(3)])
    connection = sqlite3.connect(path)
    connection.execute("DELETE FROM snapshot")  # as after a crash before any snapshot
    connection.commit()
    connection.close()
    from_log = min([await resume_seconds() for _ in range(3)])
    print(
        f"\nresume of {events:,} events ({messages} messages): {with_snapshot * 1000:.0f} ms "
        f"with the snapshot, {from_log * 1000:.0f} ms replaying the whole log"
    )
    assert with_snapshot < 1.0 and from_log < 1.0


VOCABULARY = [
    "deploy", "staging", "token", "login", "auth", "bug", "release", "config", "database",
    "index", "search", "session", "cache", "retry", "timeout", "network", "schema", "migration",
    "branch", "merge", "review", "test", "build", "docker", "kernel", "plugin", "hook", "event",
    "stream", "model", "prompt", "tool", "shell", "file", "python", "trio", "sqlite", "vector",
]  # fmt: skip


def sentence(rng: random.Random) -> str:
    filler = [f"w{rng.randrange(5000)}" for _ in range(rng.randrange(8, 30))]
    topical = rng.sample(VOCABULARY, 3)
    words = filler + topical
    rng.shuffle(words)
    return " ".join(words)


def test_full_text_search_over_one_hundred_thousand_messages(tmp_path):
    rng = random.Random(7)
    store = SessionStore.open(tmp_path / "big.ktsession")
    wire = {"creature": "big", "turn_index": 0, "timestamp": time.time()}
    start = time.perf_counter()
    with store.db.atomic():
        for n in range(100_000):
            wire["turn_index"] = n // 2
            store.add_blocks(wire, n + 1, "user" if n % 2 == 0 else "assistant", "", sentence(rng))
    built = time.perf_counter() - start
    index = MemoryIndex(store.db)
    queries = [" ".join(rng.sample(VOCABULARY, 2)) for _ in range(20)]
    index.search(queries[0], mode="fts")  # warm the page cache
    times = []
    for query in queries:
        t0 = time.perf_counter()
        hits = index.search(query, mode="fts", k=10)
        times.append(time.perf_counter() - t0)
        assert len(hits) == 10
    rare = []
    for word in ("w17", "w4242", "w999"):
        t0 = time.perf_counter()
        index.search(word, mode="fts", k=10)
        rare.append(time.perf_counter() - t0)
    store.close()
    median = statistics.median(times) * 1000
    print(
        f"\nfull-text search over 100,000 messages: median {median:.1f} ms, worst "
        f"{max(times) * 1000:.1f} ms (two common words, top 10); rare word "
        f"{statistics.median(rare) * 1000:.2f} ms; indexing took {built:.1f} s "
        f"({built / 100_000 * 1e6:.0f} us per message)"
    )
    assert median < 50


REFERENCE_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, tempfile, time
    from pathlib import Path
    from kohakuterrarium.core.agent import Agent
    from kohakuterrarium.session.store import SessionStore
    from kohakuterrarium.testing.llm import ScriptedLLM, ScriptEntry

    REPLY = sys.argv[3]

    async def main(turns, persist, folder):
        tmp = Path(tempfile.mkdtemp())
        llm = ScriptedLLM([ScriptEntry(response=REPLY, chunk_size=20)] * (turns + 5))
        agent = await Agent.build(folder, llm=llm, io="headless")
        path = tmp / "bench.kohakutr"
        store = None
        if persist:
            store = SessionStore(path, writer_lock=True)
            store.init_meta(session_id="bench", config_type="agent", config_path=folder,
                            pwd=str(tmp), agents=["bench"])
            agent.attach_session_store(store)
        times = []
        async with agent:
            for i in range(turns):
                t = time.perf_counter()
                await agent.run(f"question {i}")
                times.append(time.perf_counter() - t)
        size, events = 0, 0
        if store is not None:
            events = len(store.get_events("bench"))
            store.close()
            size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        print(json.dumps({"times": times, "bytes": size, "events": events}))

    asyncio.run(main(int(sys.argv[1]), sys.argv[2] == "on", sys.argv[4]))
    """
)


def test_compare_with_the_reference_framework(tmp_path):
    python = os.environ.get("KT_REFERENCE_PYTHON", "/tmp/kohaku/bin/python")
    if not Path(python).exists():
        pytest.skip(
            f"the reference framework is not installed at {python}: run `python -m venv "
            "/tmp/kohaku && /tmp/kohaku/bin/pip install kohakuterrarium` (or set "
            "KT_REFERENCE_PYTHON) to compare"
        )
    folder = tmp_path / "reference-creature"
    folder.mkdir()
    (folder / "config.yaml").write_text('name: bench\nsystem_prompt: "You answer briefly."\n')
    script = tmp_path / "reference_bench.py"
    script.write_text(REFERENCE_SCRIPT)
    turns = 300

    def reference(persist: bool) -> dict:
        done = subprocess.run(
            [python, str(script), str(turns), "on" if persist else "off", REPLY, str(folder)],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": "", "KT_HOME": str(tmp_path / "kt-home")},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    import trio

    ours_off, _ = trio.run(timed_turns, turns, None)
    ours_on, path = trio.run(timed_turns, turns, tmp_path / "ours")
    theirs_off, theirs_on = reference(False), reference(True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()

    def med(times: list[float]) -> float:
        return statistics.median(times[20:]) * 1000

    ours_cost = med(ours_on) - med(ours_off)
    theirs_cost = med(theirs_on["times"]) - med(theirs_off["times"])
    print(
        f"\nsame scripted run, {turns} turns, median per turn (ms):\n"
        f"  kt:        off {med(ours_off):.3f}  on {med(ours_on):.3f}  "
        f"(persistence +{ours_cost:.3f} ms, {file_bytes(path) / turns:,.0f} bytes/turn)\n"
        f"  reference: off {med(theirs_off['times']):.3f}  on {med(theirs_on['times']):.3f}  "
        f"(persistence +{theirs_cost:.3f} ms, {theirs_on['bytes'] / turns:,.0f} bytes/turn, "
        f"{theirs_on['events']} events)\n"
        f"  turn with persistence on: reference / kt = "
        f"{med(theirs_on['times']) / med(ours_on):.1f}x"
    )
