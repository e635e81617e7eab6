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


class PtyKt:
    """`python -m kt_cli ARGS` on a pseudo-terminal, its screen kept by a terminal emulator.

    The child gets the pty's slave end as stdin, stdout and stderr, so it sees a real terminal
    (isatty, window size, raw mode). What it writes is fed to a pyte screen; `wait_for` reads
    until the screen shows what the test expects, blocking on the pty (no sleeps), and fails
    with the screen's contents after a deadline.
    """

    def __init__(self, args, *, env, cwd: Path = REPO, rows: int = 40, cols: int = 110):
        import fcntl
        import struct
        import termios

        import pyte

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kt_cli", *map(str, args)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm-256color"},
            cwd=cwd,
            start_new_session=True,
        )
        os.close(slave)
        self.fd = master
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.output = b""  # everything written, for text that scrolled off the screen
        self.closed = False

    def __enter__(self) -> PtyKt:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send(self, keys: str | bytes) -> None:
        os.write(self.fd, keys.encode() if isinstance(keys, str) else keys)

    def text(self) -> str:
        """The screen, one line per row, trailing blanks removed."""
        return "\n".join(line.rstrip() for line in self.screen.display).rstrip()

    def plain_output(self) -> str:
        """Everything written so far with escape sequences removed."""
        import re

        text = self.output.decode("utf-8", errors="replace")
        return re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\r", "", text)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            data = b""
        if not data:
            self.closed = True
            return False
        self.output += data
        self.stream.feed(data)
        return True

    def wait_for(self, wanted, timeout: float = 30) -> str:
        """Read until `wanted` (text, or a function of the screen text) holds; return the screen."""
        check = wanted if callable(wanted) else (lambda screen: wanted in screen)
        deadline = time.monotonic() + timeout
        while not check(self.text()):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                raise AssertionError(f"waited for {wanted!r}; the screen shows:\n{self.text()}")
            self._read(remaining)
        return self.text()

    def wait_exit(self, timeout: float = 30) -> int:
        """Read until the child closes the terminal, then return its exit code."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"kt did not exit; the screen shows:\n{self.text()}")
            self._read(remaining)
        return self.proc.wait(timeout=max(deadline - time.monotonic(), 1))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.close(self.fd)
        except OSError:
            pass
