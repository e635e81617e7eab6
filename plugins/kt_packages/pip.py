"""Installing a pack's Python plugins with pip, into the interpreter that runs ``kt``.

``kt install`` runs ``sys.executable -m pip``, never whatever ``pip`` is first on ``PATH``, so
the plugins land where the next ``kt.Kernel()`` looks for entry points. pip's own configuration
applies as usual (``pip.conf``, ``PIP_INDEX_URL``, ``PIP_TARGET`` ...). A failed pip run is
reported with the command and the end of pip's output, never swallowed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from kt_packages.errors import PipInstallError

__all__ = [
    "PipRunner",
    "distribution_name",
    "pip_install_command",
    "pip_uninstall_command",
    "run_pip",
    "visible_plugin_names",
]

PipRunner = Callable[[list[str]], subprocess.CompletedProcess]
"""Runs one pip command line and returns the finished process (output captured as text)."""

OUTPUT_LINES = 15
"""How many of pip's last output lines a failure report keeps."""


def pip_install_command(
    targets: Sequence[str], *, editable: bool = False, python: str | None = None
) -> list[str]:
    """The command line that installs *targets* (project folders or requirement specs).

    Args:
        targets: Folders of Python projects, or requirement specifiers (``httpx>=0.27``).
        editable: Install the project folders in editable mode (``-e``), as for an editable
            pack, so that edits to the plugin's code are live.
        python: The interpreter (default: ``sys.executable``, the one running kt).

    Returns:
        ``[python, "-m", "pip", "install", ...]``.
    """
    args = [python or sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    args.append("--no-input")
    for target in targets:
        args += ["-e", target] if editable else [target]
    return args


def pip_uninstall_command(distributions: Sequence[str], *, python: str | None = None) -> list[str]:
    """The command line that removes *distributions* (``pip uninstall -y``).

    Args:
        distributions: Distribution names, as in a project's ``[project] name``.
        python: The interpreter (default: ``sys.executable``).

    Returns:
        ``[python, "-m", "pip", "uninstall", "-y", ...]``.
    """
    return [python or sys.executable, "-m", "pip", "uninstall", "-y", *distributions]


def _subprocess_runner(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def run_pip(command: list[str], *, what: str, runner: PipRunner | None = None) -> str:
    """Run a pip command; return its output, or raise with the end of it.

    Args:
        command: The command line (from :func:`pip_install_command`).
        what: What is being installed, for the message (``"the Python plugins of pack 'x'"``).
        runner: Runs the command (default: ``subprocess.run``, output captured).

    Returns:
        pip's standard output.

    Raises:
        PipInstallError: pip could not be started or exited non-zero; the message holds the
            command and pip's last lines.
    """
    runner = runner or _subprocess_runner
    try:
        done = runner(command)
    except OSError as exc:
        raise PipInstallError(
            f"cannot run pip for {what} ({exc}); check that {command[0]} exists and has pip "
            f"(`{command[0]} -m ensurepip`)",
            command=command,
            output="",
        ) from exc
    importlib.invalidate_caches()  # new .dist-info folders must be seen by entry-point lookups
    if done.returncode != 0:
        output = "\n".join(
            line for line in f"{done.stdout or ''}\n{done.stderr or ''}".splitlines() if line
        )
        tail = "\n".join(output.splitlines()[-OUTPUT_LINES:])
        raise PipInstallError(
            f"pip failed (exit code {done.returncode}) while installing {what}.\n"
            f"command: {' '.join(command)}\n{tail}",
            command=command,
            output=tail,
        )
    return done.stdout or ""


def distribution_name(project: Path) -> str | None:
    """The distribution name a Python project declares (``[project] name``), if it says.

    Args:
        project: The project folder.

    Returns:
        The name, or ``None`` without a readable ``pyproject.toml`` naming it.
    """
    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    name = data.get("project", {}).get("name")
    return name if isinstance(name, str) else None


def visible_plugin_names() -> set[str]:
    """Names of the ``kt.plugins`` entry points this interpreter can see right now."""
    importlib.invalidate_caches()
    return {ep.name for ep in importlib.metadata.entry_points(group="kt.plugins")}


def is_installed(distribution: str) -> bool:
    """Whether this interpreter sees an installed distribution called *distribution*."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
