"""Running a tool's command inside an operating-system sandbox (bubblewrap).

The guard's sandbox (``kt_guard``) reads a command before it runs and refuses what its policy
forbids; what a permitted program then does is not watched. This module is the other half:
with ``isolation = "bwrap"`` the ``bash`` and ``python`` tools start each command inside a
bubblewrap sandbox (Linux user namespaces), so the kernel enforces the limits whatever the
command does:

* the whole file system is mounted **read-only**;
* the creature's **working directory is writable** (and the folders in ``isolation_writable``);
* ``/tmp`` is a fresh, empty, writable folder of the command's own;
* the **kt home** (``~/.kt``: keys, sessions, packages) is **invisible**, replaced by an empty
  folder, and so are ``~/.ssh``, ``~/.aws``, ``~/.gnupg``, ``~/.netrc`` and
  ``isolation_hidden``;
* the **network is off** (a new network namespace with only its own loopback) unless
  ``isolation_network = true``;
* the command gets its own process-id namespace and session and dies with kt.

Where bubblewrap is missing or cannot create namespaces (some containers forbid it), the tool
refuses to be built, and says why and how to fix it: it never falls back to running the
command unconfined.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from kt.errors import ConfigValidationError

__all__ = ["ISOLATION_MODES", "HIDDEN_BY_DEFAULT", "bwrap_argv", "check_available"]

ISOLATION_MODES = ("none", "bwrap")
HIDDEN_BY_DEFAULT = ("~/.ssh", "~/.aws", "~/.gnupg", "~/.netrc", "~/.config/gcloud")


@functools.cache
def _probe(executable: str) -> str | None:
    """Why bubblewrap at *executable* cannot sandbox here; ``None`` when it can."""
    try:
        completed = subprocess.run(
            [executable, "--ro-bind", "/", "/", "--unshare-all", "--", "true"],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{executable} could not be run ({exc})"
    if completed.returncode != 0:
        detail = completed.stderr.decode(errors="replace").strip() or f"exit {completed.returncode}"
        return f"{executable} cannot create a sandbox here: {detail}"
    return None


def check_available(tool: str) -> str:
    """The bubblewrap executable, after checking that it can sandbox on this machine.

    Raises:
        ConfigValidationError: bubblewrap is missing or cannot create namespaces; the message
            says how to install it or which option to change.
    """
    executable = os.environ.get("KT_BWRAP_PATH") or shutil.which("bwrap")
    if executable is None:
        raise ConfigValidationError(
            f"tool '{tool}': isolation = \"bwrap\" needs bubblewrap, which is not installed. "
            "Install it (Debian/Ubuntu: `apt-get install bubblewrap`), or set "
            'isolation = "none" to run commands without an OS sandbox.',
            path="options.isolation",
        )
    problem = _probe(executable)
    if problem is not None:
        raise ConfigValidationError(
            f"tool '{tool}': isolation = \"bwrap\" is not available: {problem}. Allow user "
            'namespaces on this machine (or in the container), or set isolation = "none".',
            path="options.isolation",
        )
    return executable


def _expand(path: str, home: Path, base: Path) -> Path:
    if path == "~" or path.startswith("~/"):
        path = str(home) + path[1:]
    p = Path(path)
    return Path(os.path.realpath(p if p.is_absolute() else base / p))


def bwrap_argv(
    executable: str,
    argv: Sequence[str],
    *,
    working_dir: Path,
    kt_home: Path,
    network: bool,
    writable: Sequence[str] = (),
    hidden: Sequence[str] = (),
    home: Path | None = None,
) -> list[str]:
    """The command line that runs *argv* in a bubblewrap sandbox.

    Args:
        executable: The ``bwrap`` program.
        argv: The command to run inside.
        working_dir: Mounted writable; the command starts there.
        kt_home: Hidden (an empty folder in its place).
        network: Keep the host's network; ``False`` gives the command none.
        writable: More folders to mount writable (``~`` and relative paths allowed).
        hidden: More files or folders to hide.
        home: The user's home (default: ``Path.home()``).
    """
    home = home or Path.home()
    work = Path(os.path.realpath(working_dir))
    args = [executable, "--die-with-parent", "--new-session", "--ro-bind", "/", "/"]
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        args.append("--unshare-net")
    for folder in [work, *(_expand(w, home, work) for w in writable)]:
        if folder.is_dir():
            args += ["--bind", str(folder), str(folder)]
    for path in [kt_home, *(_expand(h, home, work) for h in (*HIDDEN_BY_DEFAULT, *hidden))]:
        path = Path(os.path.realpath(path))
        if path == work or work.is_relative_to(path):
            continue  # hiding it would hide the working directory itself
        if path.is_dir():
            args += ["--tmpfs", str(path)]
        elif path.exists():
            args += ["--ro-bind", "/dev/null", str(path)]
    args += ["--chdir", str(work), "--", *argv]
    return args
