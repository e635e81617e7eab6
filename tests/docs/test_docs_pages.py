"""Every code block in the docs, the README and AGENTS.md that can run, runs as a test.

- A ```python block runs as written; the Python blocks of a page share one namespace.
- A ```bash (or ```sh) block is a script: it runs with ``set -euo pipefail`` and must exit 0.
- A ```console block is a session: each ``$ command`` runs (a line ending in ``\\`` goes on),
  and the lines under it are output it must show, in order (other lines may come between; a
  ``...`` in an expected line stands for any text). A command shown failing ends with
  ``# exit N``, the status it must exit with.
- A block that cannot run as written (it continues a story told in prose, installs, needs a
  key, a network or a server, or shows a shape) is fenced ``python fragment``, ``bash
  fragment`` or ``console fragment`` on purpose.

The blocks of one page run in document order, in one fresh folder (with the repository's
``examples`` linked in, since pages run them) and with a fresh ``KT_HOME``, offline: a page is
a story a reader follows in an empty folder, and cannot lean on the machine it runs on.
The blocks of a page that define tests also run as a test module in a fresh folder, and a
fragment that names its file (``# examples/x.py`` on its first line) must quote it exactly.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [*ROOT.joinpath("docs").rglob("*.md"), ROOT / "README.md", ROOT / "AGENTS.md"],
    key=lambda page: page.relative_to(ROOT).as_posix(),
)
_PARSE = Sybil(parsers=[PythonCodeBlockParser()]).parse
SHELL_BLOCK = re.compile(r"^```(bash|sh|console)\n(.*?)^```", re.M | re.S)
EXIT = re.compile(r"\s+# exit (\d+)$")


def _shell_blocks(page: Path) -> list[tuple[str, int, str]]:
    text = page.read_text(encoding="utf-8")
    return [
        (m.group(1), text[: m.start()].count("\n") + 1, m.group(2))
        for m in SHELL_BLOCK.finditer(text)
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


def _run_shell(kind: str, body: str, where: str, folder: Path, env: dict[str, str]) -> None:
    hint = f"fix it, or fence it ```{kind} fragment if it cannot run offline as written"
    if kind in ("bash", "sh"):
        done = _run("set -euo pipefail\n" + body, folder, env)
        assert done.returncode == 0, f"{where} fails; {hint}\n{done.stdout}{done.stderr}"
        return
    for command, status, expected in _session(body):
        done = _run(command, folder, env)
        output = done.stdout + done.stderr
        assert done.returncode == status, (
            f"{where}: `{command}` exited {done.returncode}, not {status}; {hint}\n{output}"
        )
        missing = _shows(output, expected)
        assert missing is None, f"{where}: `{command}` did not show {missing!r}; {hint}\n{output}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_block_of_the_page_runs_in_order(page, tmp_path, monkeypatch):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.setenv("KT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KT_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.endswith(("_API_KEY", "_TOKEN"))]:
        monkeypatch.delenv(name)  # the reader's machine has no keys: pages run offline
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    steps = [(example.line, "python", example) for example in _PARSE(page)]
    steps += [(line, kind, body) for kind, line, body in _shell_blocks(page)]
    for line, kind, block in sorted(steps, key=lambda step: step[0]):
        where = f"{page.relative_to(ROOT)}, the {kind} block at line {line}"
        if kind != "python":
            _run_shell(kind, block, where, tmp_path, env)
            continue
        try:
            block.evaluate()
        except Exception as exc:
            raise AssertionError(
                f"{where} fails ({type(exc).__name__}: {exc}); fix it, or fence it "
                "```python fragment if it is not meant to run as written"
            ) from exc


QUOTE = re.compile(
    r"^```(python fragment|toml)\n# ((?:examples|plugins|kernel|cli|web)/\S+)\n(.*?)^```",
    re.M | re.S,
)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_a_block_that_names_its_file_quotes_it(page):
    """A block whose first line is ``# examples/x.py`` shows that file as it is.

    A Python fragment is an excerpt, character for character; a TOML block shows the file's
    settings (each of its lines is a line of the file; the file may say more).
    """
    for kind, name, excerpt in QUOTE.findall(page.read_text(encoding="utf-8")):
        source = ROOT / name
        assert source.is_file(), f"{page.name} quotes {name}, which does not exist"
        text = source.read_text(encoding="utf-8")
        if kind == "toml":
            lines = {line.strip() for line in text.splitlines()}
            stale = [line for line in excerpt.splitlines() if line.strip() not in lines]
            assert not stale, (
                f"{page.name}: {name} no longer has the lines {stale}; copy them again"
            )
            continue
        assert excerpt in text, (
            f"{page.name}: the excerpt of {name} starting {excerpt.splitlines()[0]!r} no longer "
            "matches the file; copy it again"
        )


TEST_BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def _test_module(page: Path) -> str:
    """The blocks of *page* that define tests, in order: one test module, as a reader builds it."""
    blocks = TEST_BLOCK.findall(page.read_text(encoding="utf-8"))
    return "\n\n".join(b for b in blocks if re.search(r"^(async )?def test_", b, re.M))


SNIPPET_PAGES = [page for page in PAGES if _test_module(page)]


@pytest.mark.parametrize("page", SNIPPET_PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_a_page_s_test_module_passes_in_a_fresh_folder(page, tmp_path):
    """The blocks of a page that define tests are a test module; it passes in a fresh folder.

    The folder holds those blocks, in order, as ``test_snippet.py`` and the pytest setting the
    guides tell readers to write first (``trio_mode = true``), nothing else.
    """
    source = _test_module(page)
    (tmp_path / "test_snippet.py").write_text(source, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\ntrio_mode = true\n")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    wanted = len(re.findall(r"^(?:async )?def test_", source, re.M))
    env = {**os.environ, "KT_HOME": str(tmp_path / "home")}
    env.pop("KT_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_snippet.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and f"{wanted} passed" in done.stdout, (
        f"{page.relative_to(ROOT)}: its test module fails in a fresh folder\n"
        + done.stdout[-3000:]
        + done.stderr[-2000:]
    )


FRAGMENT = re.compile(r"^```python fragment\n(.*?)^```", re.M | re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_python_fragment_is_python(page):
    """A fragment does not run, but it parses (top-level ``await`` allowed): no typos hide."""
    import ast

    text = page.read_text(encoding="utf-8")
    for match in FRAGMENT.finditer(text):
        line = text[: match.start()].count("\n") + 1
        try:
            flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            compile(match.group(1), f"{page.name}:{line}", "exec", flags=flags)
        except SyntaxError as exc:
            message = f"{page.relative_to(ROOT)}: the fragment at line {line}: {exc}"
            raise AssertionError(message) from exc
