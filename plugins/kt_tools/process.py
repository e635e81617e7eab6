"""Running a command in its own process group, with a time limit and a clean kill.

A shell command starts children (pipelines, ``make`` and its compilers, a server started with
``&``). Killing only the shell would leave them running, still writing to files and holding
ports. So each command starts a new session (its own process group), and every way of ending
it early (the time limit, an interrupt, the creature stopping) signals the whole group:
``SIGTERM`` first, then ``SIGKILL`` after a grace period.

Output (stdout and stderr merged, in the order written) goes to a temporary file, not a pipe:
a background child that keeps the pipe open cannot make the call hang, a command that prints
gigabytes does not fill memory, and whatever was written before a kill is still there to
report.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence

import attrs
import trio


@attrs.frozen
class ProcessOutcome:
    """How a command ended.

    Attributes:
        output: Merged stdout and stderr, decoded as UTF-8 (bad bytes replaced), at most
            ``capture_bytes`` of it.
        exit_code: The exit status; -1 when the command was killed for running too long.
        timed_out: The time limit ended it.
        total_bytes: How many bytes the command wrote in all.
    """

    output: str
    exit_code: int
    timed_out: bool
    total_bytes: int


async def run_command(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str] | None,
    time_limit: float | None,
    capture_bytes: int,
    kill_grace: float = 2.0,
) -> ProcessOutcome:
    """Run *argv* to completion or until *time_limit* seconds pass.

    Cancellation (an interrupt of the turn, a turn timeout, the creature stopping): the whole
    process group is killed, shielded and within ``kill_grace`` seconds plus a moment for
    ``SIGKILL``, and then ``trio.Cancelled`` propagates. Nothing of the command keeps running.

    Args:
        argv: Program and arguments.
        cwd: Working directory of the command.
        env: Its environment; ``None`` inherits this process's.
        time_limit: Seconds before the group is killed and the outcome says ``timed_out``;
            ``None`` or 0: no limit.
        capture_bytes: Keep at most this many bytes of output (the count of all is kept).
        kill_grace: Seconds between ``SIGTERM`` and ``SIGKILL``.

    Returns:
        The outcome; partial output is kept when the time limit ended the command.

    Raises:
        OSError: the program cannot be started.
    """
    with tempfile.TemporaryFile(prefix="kt-tool-") as log:
        process = await trio.lowlevel.open_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=os.fspath(cwd),
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
        timed_out = False
        try:
            with trio.move_on_after(time_limit or float("inf")) as scope:
                await process.wait()
            if scope.cancelled_caught:
                timed_out = True
                await _kill_group(process, kill_grace)
        finally:
            if process.returncode is None:  # cancelled from outside: kill, then re-raise
                await _kill_group(process, kill_grace)
        log.flush()
        total = os.fstat(log.fileno()).st_size
        log.seek(0)
        data = log.read(capture_bytes) if capture_bytes else log.read()
    exit_code = -1 if timed_out else (process.returncode or 0)
    return ProcessOutcome(data.decode("utf-8", errors="replace"), exit_code, timed_out, total)


async def _kill_group(process: trio.Process, grace: float) -> None:
    """SIGTERM the process group, wait up to *grace* seconds, then SIGKILL it. Shielded."""
    with trio.CancelScope(shield=True):
        _signal_group(process, signal.SIGTERM)
        with trio.move_on_after(grace):
            await process.wait()
        _signal_group(process, signal.SIGKILL)  # stragglers that ignored SIGTERM
        with trio.move_on_after(5):
            await process.wait()


def _signal_group(process: trio.Process, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # start_new_session: the group id is the leader's pid
    except (ProcessLookupError, PermissionError):
        pass
