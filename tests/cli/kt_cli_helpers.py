"""Helpers for the `kt` command tests: subprocess runs with an isolated environment."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = [REPO / "kernel", REPO / "plugins", REPO / "cli"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def kt_env(home: Path, *, plugins: str = "", extra_paths: list[Path] = ()) -> dict[str, str]:
    """Environment for a `python -m kt_cli` subprocess: source roots, kt home, plugin set."""
    env = dict(os.environ)
    paths = [str(p) for p in [*extra_paths, *SOURCE_ROOTS]]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["KT_HOME"] = str(home)
    env["KT_PLUGINS"] = plugins
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("COLUMNS", None)
    return env


def run_kt(args, *, env, stdin: str = "", cwd: Path = REPO, timeout: float = 60):
    """Run `python -m kt_cli ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "kt_cli", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


def start_kt(args, *, env, cwd: Path = REPO) -> subprocess.Popen:
    """Start `python -m kt_cli ARGS` with pipes for stdin, stdout and stderr (bytes)."""
    return subprocess.Popen(
        [sys.executable, "-m", "kt_cli", *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )


def read_until(stream, marker: bytes, timeout: float = 30) -> bytes:
    """Read from a pipe until *marker* appears; fail (not hang) after *timeout* seconds."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{marker!r} did not appear; got {data!r}")
        ready, _, _ = select.select([stream], [], [], remaining)
        if ready:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"stream closed before {marker!r}; got {data!r}")
            data += chunk
    return data
