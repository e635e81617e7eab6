"""``kt serve``: the API server as a detached daemon, with a state file and a log.

``$KT_HOME/run/serve.json`` holds the daemon's pid and URL; ``$KT_HOME/run/serve.log`` its
output. ``start`` returns once the server is bound and Studio is ready (the child says so on a
pipe), or reports why the child died, with the end of the log. A state file whose process is
gone is stale: ``status`` and ``start`` remove it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

from kt.errors import KTError

__all__ = ["DaemonError", "ServerState", "start", "status", "stop"]

START_DEADLINE = 60.0  # seconds for a server to become ready
STOP_DEADLINE = 20.0  # seconds for it to exit after SIGTERM


class DaemonError(KTError):
    """The daemon could not be started or stopped; the message says why and what to do."""


@attrs.frozen(kw_only=True)
class ServerState:
    """A running daemon, as its state file records it."""

    pid: int
    url: str
    started_at: float
    log: str


def run_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$KT_HOME/run``."""
    from kt.config.home import kt_home

    return kt_home(os.environ if env is None else env) / "run"


def _alive(pid: int) -> bool:
    """Whether *pid* runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: what kill(0) said
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def status(env: Mapping[str, str] | None = None) -> tuple[ServerState | None, bool]:
    """The running daemon (or ``None``) and whether a stale state file was removed."""
    path = run_dir(env) / "serve.json"
    if not path.is_file():
        return None, False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = ServerState(**data)
    except (ValueError, TypeError):
        path.unlink(missing_ok=True)
        return None, True
    if not _alive(state.pid):
        path.unlink(missing_ok=True)
        return None, True
    return state, False


def start(args: list[str], env: Mapping[str, str] | None = None) -> ServerState:
    """Start ``python -m kt_web.server ARGS`` detached; return once it serves.

    Raises:
        DaemonError: one is running already, or the child died or never became ready.
    """
    env = dict(os.environ if env is None else env)
    running, _ = status(env)
    if running is not None:
        raise DaemonError(
            f"a server is running already (pid {running.pid}, {running.url}); "
            "`kt serve stop` or `kt serve restart`"
        )
    folder = run_dir(env)
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "serve.log"
    read_end, write_end = os.pipe()
    command = [sys.executable, "-m", "kt_web.server", *args, "--ready-fd", str(write_end)]
    with log.open("ab") as output:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
            start_new_session=True,  # survives the terminal that started it
            env=env,
        )
    os.close(write_end)
    try:
        line = _read_ready(read_end, child)
    finally:
        os.close(read_end)
    if not line.startswith("ready "):
        if child.poll() is None:
            child.terminate()
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        raise DaemonError(f"the server did not start; the end of {log}:\n{tail}")
    state = ServerState(
        pid=child.pid, url=line.split(" ", 1)[1], started_at=time.time(), log=str(log)
    )
    (folder / "serve.json").write_text(json.dumps(attrs.asdict(state)), encoding="utf-8")
    return state


def _read_ready(fd: int, child: subprocess.Popen[bytes]) -> str:
    """Wait for the child's ``ready URL`` line, its death (EOF), or the deadline."""
    deadline = time.monotonic() + START_DEADLINE
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return ""
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            return ""
        chunk = os.read(fd, 256)
        if not chunk:  # every copy of the write end closed: the child died
            return ""
        data += chunk
    return data.decode().splitlines()[0]


def stop(env: Mapping[str, str] | None = None) -> ServerState | None:
    """Stop the daemon (SIGTERM, then SIGKILL after the deadline); ``None`` if none ran.

    Raises:
        DaemonError: it did not exit even after SIGKILL.
    """
    state, _ = status(env)
    if state is None:
        return None
    os.kill(state.pid, signal.SIGTERM)
    if not _wait_exit(state.pid, STOP_DEADLINE):
        os.kill(state.pid, signal.SIGKILL)
        if not _wait_exit(state.pid, 5):
            raise DaemonError(f"pid {state.pid} did not exit; stop it by hand")
    (run_dir(env) / "serve.json").unlink(missing_ok=True)
    return state


def _wait_exit(pid: int, timeout: float) -> bool:
    """Wait for *pid* to exit, on a pidfd (an event, not a polling loop)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        exited = bool(readable)
    finally:
        os.close(fd)
    if exited:
        try:  # reap it when it is our child (tests start it in-process)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return exited


def read_log(env: Mapping[str, str] | None = None, *, lines: int = 50) -> list[str]:
    """The last *lines* lines of the daemon's log."""
    log = run_dir(env) / "serve.log"
    if not log.is_file():
        return []
    return log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
