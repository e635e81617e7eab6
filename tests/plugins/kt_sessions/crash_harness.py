"""A crash harness: kill a real `kt run` at random points, resume it, check nothing was lost.

Each run drives a scripted creature whose every reply asks for a fast and a slow tool call in
one round (so one call often finishes while the other still runs), kills the process with
SIGKILL at a seeded random moment, then resumes it with `kt resume --last`. The checks:

* **no completed result reported interrupted**: every call whose ``tool_call_completed``
  event is in the file reaches the resumed conversation with its recorded result, never an
  "Interrupted" or "In doubt" one;
* **no call re-run**: the tools' side-effect log does not change during the resume;
* **every history well formed** (``kt.history.is_well_formed``), and a call that started and
  never completed is reported "In doubt", not as not having run.

Used by ``test_sessions_crash_durability.py`` (a few runs) and by the benchmark-marked run in
``tests/benchmarks/test_crash_bench.py`` (many runs).
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import attrs

import kt_sessions
from kt.history import MISSING_RESULT, is_well_formed

REPO = Path(__file__).resolve().parents[3]
SOURCE_ROOTS = [REPO / "kernel", REPO / "plugins", REPO / "cli"]
TURNS = 4

TOOLS = '''
import pathlib

import trio
import kt

LOG = pathlib.Path(__file__).with_name("tool-runs.log")


def _log(line):
    with LOG.open("a") as log:
        log.write(line + "\\n")


@kt.tool
async def slow(seconds: float, tag: str) -> str:
    """Work for a while, with a side effect at the start and at the end.

    Args:
        seconds: How long.
        tag: A label.
    """
    _log(f"start {tag}")
    await trio.sleep(seconds)
    _log(f"end {tag}")
    return f"slow {tag} done"


@kt.tool
def fast(tag: str) -> str:
    """Answer at once, with a side effect.

    Args:
        tag: A label.
    """
    _log(f"start {tag}")
    _log(f"end {tag}")
    return f"fast {tag} done"
'''

CONFIG = """
name = "crashy"
system_prompt = "You work in small steps."

[[tools]]
name = "slow"
module = "./tools.py"

[[tools]]
name = "fast"
module = "./tools.py"

[[plugins]]
name = "session"
module = "kt_sessions"
class = "SessionRecorder"
"""


def _script(turns: int) -> str:
    replies = []
    for n in range(1, turns + 1):
        replies.append(
            f"""
            [[replies]]
            text = "Turn {n}: working."
            chunk_size = 4
            delay = 0.01
            tool_calls = [
              {{ name = "slow", args = {{ seconds = 0.25, tag = "s{n}" }} }},
              {{ name = "fast", args = {{ tag = "f{n}" }} }},
            ]

            [[replies]]
            text = "Answer {n} is ready."
            chunk_size = 4
            delay = 0.01
            """
        )
    return textwrap.dedent("".join(replies))


@attrs.define
class Figures:
    """What a series of crash runs found."""

    runs: int = 0
    failures: list[str] = attrs.Factory(list)
    finished_calls: int = 0  # calls with a tool_call_completed event before the kill
    finished_reported_interrupted: int = 0
    in_doubt: int = 0  # calls that started and never completed, reported "In doubt"
    reruns: int = 0


class Harness:
    """Runs `kt` in subprocesses with an isolated home, on a creature folder of its own."""

    def __init__(self, workdir: Path, source_roots: list[Path] | None = None) -> None:
        self.workdir = workdir
        self.home = workdir / "kt-home"
        self.creature = workdir / "creature"
        self.site = workdir / "site"
        for folder in (self.home, self.creature, self.site):
            folder.mkdir(parents=True, exist_ok=True)
        info = self.site / "kt_sessions_crash-0.1.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kt_sessions_crash\n")
        (info / "entry_points.txt").write_text("[kt.plugins]\nkt_sessions = kt_sessions\n")
        (self.creature / "creature.toml").write_text(CONFIG)
        (self.creature / "tools.py").write_text(TOOLS)
        (self.creature / "replies.toml").write_text(_script(TURNS))
        (self.creature / "resume.toml").write_text('[[replies]]\ntext = "Resumed."\n')
        roots = source_roots or SOURCE_ROOTS
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [self.site, *roots])
        self.env["KT_HOME"] = str(self.home)
        self.env["KT_PLUGINS"] = "kt_sessions,kt_cli"
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env.pop("KT_SESSION_DIR", None)

    @property
    def log(self) -> Path:
        return self.creature / "tool-runs.log"

    def _command(self, *args: object) -> list[str]:
        return [sys.executable, "-m", "kt_cli", *map(str, args)]

    def run_once(self, rng: random.Random, figures: Figures) -> None:
        """One run: start, kill at a random point, inspect, resume, inspect again."""
        sessions = self.home / "sessions"
        for old in sessions.glob("*") if sessions.exists() else ():
            old.unlink()
        self.log.unlink(missing_ok=True)
        process = subprocess.Popen(
            self._command(
                "run",
                self.creature,
                "--mode",
                "plain",
                "--no-session",
                "--llm",
                f"scripted:{self.creature / 'replies.toml'}",
            ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=self.workdir,
        )
        assert process.stdin is not None
        process.stdin.write(b"".join(f"task {n}\n".encode() for n in range(1, TURNS + 1)))
        process.stdin.flush()
        _read_until(process, b"Turn 1:", 30)
        _read_for(process, rng.uniform(0.0, 1.6))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process.communicate(timeout=10)
        figures.runs += 1
        where = f"run {figures.runs}"

        paths = list(sessions.glob("*.ktsession"))
        if len(paths) != 1:
            figures.failures.append(f"{where}: {len(paths)} session files")
            return
        (path,) = paths
        with kt_sessions.SessionReader(path) as reader:
            completed = {e.wire["call_id"]: e.wire for e in reader.events("tool_call_completed")}
        figures.finished_calls += len(completed)
        runs_before = self.log.read_text() if self.log.exists() else ""

        resumed = subprocess.run(
            self._command(
                "resume",
                "--last",
                "--mode",
                "plain",
                "--llm",
                f"scripted:{self.creature / 'resume.toml'}",
            ),
            input="carry on\n",
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.workdir,
            timeout=60,
        )
        if resumed.returncode != 0:
            figures.failures.append(
                f"{where}: resume exited {resumed.returncode}: {resumed.stderr}"
            )
            return
        runs_after = self.log.read_text() if self.log.exists() else ""
        if runs_after != runs_before:
            figures.reruns += 1
            figures.failures.append(f"{where}: a tool ran again on resume")
        with kt_sessions.SessionReader(path) as reader:
            conversation = reader.conversation()
        if not is_well_formed(conversation):
            figures.failures.append(f"{where}: the resumed history is not well formed")
        answers = {m.tool_call_id: m.content for m in conversation if m.role == "tool"}
        for call_id, wire in completed.items():
            text = answers.get(call_id)
            if text is None:
                figures.failures.append(f"{where}: completed call {call_id} has no result")
            elif text.startswith(("Interrupted", "In doubt")) or text == MISSING_RESULT:
                figures.finished_reported_interrupted += 1
                figures.failures.append(f"{where}: completed call {call_id} reported {text!r}")
            elif wire["status"] == "ok" and text != wire["output"]:
                figures.failures.append(f"{where}: call {call_id} got {text!r}")
        started = {m.tool_call_id for m in conversation if m.role == "tool"} - set(completed)
        for call_id in started:
            if answers[call_id] != MISSING_RESULT:
                figures.failures.append(f"{where}: unfinished call {call_id}: {answers[call_id]!r}")
            figures.in_doubt += 1


def run_crashes(workdir: Path, runs: int, seed: int, **options: object) -> Figures:
    """Run the harness *runs* times with a seeded random kill point; return the figures."""
    harness = Harness(workdir, **options)  # type: ignore[arg-type]
    rng = random.Random(seed)
    figures = Figures()
    for _ in range(runs):
        harness.run_once(rng, figures)
    return figures


def _read_for(process: subprocess.Popen, seconds: float) -> tuple[bytes, bytes]:
    """Drain stdout and stderr for *seconds* (so the child never blocks on a full pipe)."""
    out = err = b""
    deadline = time.monotonic() + seconds
    stdout = process.stdout.fileno()  # type: ignore[union-attr]
    streams = [stdout, process.stderr.fileno()]  # type: ignore[union-attr]
    while streams:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select(streams, [], [], remaining)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                streams.remove(fd)
            elif fd == stdout:
                out += chunk
            else:
                err += chunk
    return out, err


def _read_until(process: subprocess.Popen, marker: bytes, limit: float) -> bytes:
    out = err = b""
    deadline = time.monotonic() + limit
    while marker not in out:
        if time.monotonic() > deadline or process.poll() is not None:
            raise AssertionError(f"`kt run` printed no {marker!r}: {out!r}; stderr: {err!r}")
        more_out, more_err = _read_for(process, 0.05)
        out, err = out + more_out, err + more_err
    return out
