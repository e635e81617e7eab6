"""Where a pack comes from: a local folder (copied, or linked with ``-e``) or a git repository.

git runs as a subprocess with prompts switched off, so a private URL fails with git's message
instead of waiting for a password nobody will type.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from kt_packages.errors import PackSourceError

__all__ = ["copy_pack", "git_clone", "git_head", "git_pull", "is_git_url", "remove_tree"]

GIT_OUTPUT_LINES = 10

_COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".venv", ".mypy_cache")


def is_git_url(source: str) -> bool:
    """Whether *source* names a git repository (a URL, ``git@host:...`` or ``*.git``).

    Args:
        source: What the user passed to ``kt install``.

    Returns:
        ``True`` for ``http(s)://``, ``ssh://``, ``git://``, ``file://``, ``git@`` and
        anything ending in ``.git``.
    """
    prefixes = ("http://", "https://", "ssh://", "git://", "file://", "git@")
    return source.startswith(prefixes) or source.rstrip("/").endswith(".git")


def _git(args: list[str], *, what: str) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "echo"}
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        raise PackSourceError(
            f"cannot {what}: git is not installed; install git, or download the pack and run "
            "`kt install FOLDER`"
        ) from None
    if done.returncode != 0:
        output = "\n".join(
            (done.stderr or done.stdout or "").strip().splitlines()[-GIT_OUTPUT_LINES:]
        )
        raise PackSourceError(f"cannot {what}: git failed (exit code {done.returncode}): {output}")
    return done.stdout


def git_clone(url: str, destination: Path) -> None:
    """Clone *url* into *destination* (which must not exist yet).

    Raises:
        PackSourceError: git is missing or the clone failed (git's message included).
    """
    _git(["clone", "--quiet", url, str(destination)], what=f"clone {url}")


def git_pull(folder: Path) -> None:
    """Fast-forward the clone in *folder* from its upstream (``git pull --ff-only``).

    Raises:
        PackSourceError: git failed, for example because the clone has local commits.
    """
    _git(["-C", str(folder), "pull", "--ff-only", "--quiet"], what=f"update {folder}")


def git_head(folder: Path) -> str:
    """The commit the clone in *folder* is at."""
    return _git(["-C", str(folder), "rev-parse", "HEAD"], what=f"read {folder}").strip()


def copy_pack(source: Path, destination: Path) -> None:
    """Copy a pack folder, leaving out ``.git``, caches and virtual environments.

    Raises:
        PackSourceError: the copy failed (permissions, disk space).
    """
    try:
        shutil.copytree(source, destination, ignore=_COPY_IGNORE)
    except (OSError, shutil.Error) as exc:
        raise PackSourceError(f"cannot copy {source} to {destination}: {exc}") from exc


def remove_tree(path: Path) -> None:
    """Delete a folder, including read-only files (git objects are read-only)."""

    def make_writable_and_retry(function, failed_path, _exc_info):
        os.chmod(failed_path, stat.S_IWRITE | stat.S_IREAD | stat.S_IEXEC)
        function(failed_path)

    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=make_writable_and_retry)
