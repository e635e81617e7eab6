"""Every shell block in the docs, the README and AGENTS.md runs as a test.

- A ```bash (or ```sh) block is a script: it runs with ``set -euo pipefail`` and must exit 0.
- A ```console block is a session: each ``$ command`` runs (a line ending in ``\\`` goes on),
  and the lines under it are output it must show, in order (other lines may come between; a
  ``...`` in an expected line stands for any text). A command shown failing ends its lines with
  ``# exit N``, the status it must exit with.
- A block that cannot run here (it installs, needs a key, a network or a server, or shows a
  shape) is fenced ```bash fragment / ```console fragment on purpose.

The blocks of one page run in order, in one fresh folder (with the repository's ``examples``
linked in) and with a fresh ``KT_HOME``, offline, with the scripted model.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [*ROOT.joinpath("docs").rglob("*.md"), ROOT / "README.md", ROOT / "AGENTS.md"],
    key=lambda page: page.relative_to(ROOT).as_posix(),
)
BLOCK = re.compile(r"^```(bash|sh|console)\n(.*?)^```", re.M | re.S)
EXIT = re.compile(r"\s+# exit (\d+)$")


def _blocks(page: Path) -> list[tuple[str, int, str]]:
    text = page.read_text(encoding="utf-8")
    return [
        (m.group(1), text[: m.start()].count("\n") + 1, m.group(2)) for m in BLOCK.finditer(text)
    ]


def _session(body: str) -> list[tuple[str, int, list[str]]]:
    """A console block as (command, expected exit status, expected output lines)."""
    steps: list[tuple[str, int, list[str]]] = []
    lines = iter(body.splitlines())
    for line in lines:
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1] + next(lines, "").strip()
            status = EXIT.search(command)
            if status:
                command = command[: status.start()]
            steps.append((command, int(status.group(1)) if status else 0, []))
        elif steps and line.strip():
            steps[-1][2].append(line)
    return steps


def _shows(output: str, expected: list[str]) -> str | None:
    """``None`` when *output* has the *expected* lines in order; else the first one missing."""
    actual = iter(output.splitlines())
    for want in expected:
        pattern = re.compile(".*".join(re.escape(part.strip()) for part in want.split("...")))
        if not any(pattern.search(line) for line in actual):
            return want
    return None


def _run(command: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


SHELL_PAGES = [page for page in PAGES if _blocks(page)]


@pytest.mark.parametrize("page", SHELL_PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_shell_block_of_the_page_runs(page, tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "KT_HOME": str(tmp_path / "home"), "COLUMNS": "100", "NO_COLOR": "1"}
    env.pop("KT_PLUGINS", None)
    for kind, line, body in _blocks(page):
        where = f"{page.relative_to(ROOT)}, the {kind} block at line {line}"
        hint = f"fix it, or fence it ```{kind} fragment if it cannot run offline as written"
        if kind in ("bash", "sh"):
            done = _run("set -euo pipefail\n" + body, tmp_path, env)
            assert done.returncode == 0, f"{where} fails; {hint}\n{done.stdout}{done.stderr}"
            continue
        for command, status, expected in _session(body):
            done = _run(command, tmp_path, env)
            output = done.stdout + done.stderr
            assert done.returncode == status, (
                f"{where}: `{command}` exited {done.returncode}, not {status}; {hint}\n{output}"
            )
            missing = _shows(output, expected)
            assert missing is None, (
                f"{where}: `{command}` did not show {missing!r}; {hint}\n{output}"
            )
