"""Every ```python block in the docs, the README and AGENTS.md runs as a test.

A block that cannot run as written (it continues a story told in prose, needs a key or a
network, or shows a shape) is fenced ```python fragment and skipped on purpose. The blocks of
one page run in order in one namespace, in a fresh temporary folder (with the repository's
``examples`` linked in, since pages run them) and a fresh ``KT_HOME``: a page cannot lean on
the machine it runs on.
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


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_python_block_of_the_page_runs(page, tmp_path, monkeypatch):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.setenv("KT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KT_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)
    document = _PARSE(page)
    for example in document:
        try:
            example.evaluate()
        except Exception as exc:
            where = f"{page.relative_to(ROOT)}, the block at line {example.line}"
            raise AssertionError(
                f"{where} fails ({type(exc).__name__}: {exc}); fix it, or fence it "
                "```python fragment if it is not meant to run as written"
            ) from exc


QUOTE = re.compile(
    r"^```python fragment\n# ((?:examples|plugins|kernel|cli|web)/\S+)\n(.*?)^```", re.M | re.S
)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_a_fragment_that_names_its_file_quotes_it_exactly(page):
    """A fragment whose first line is ``# examples/x.py`` is an excerpt of that file, as is."""
    for match in QUOTE.finditer(page.read_text(encoding="utf-8")):
        source, excerpt = ROOT / match.group(1), match.group(2)
        assert source.is_file(), f"{page.name} quotes {match.group(1)}, which does not exist"
        assert excerpt in source.read_text(encoding="utf-8"), (
            f"{page.name}: the excerpt of {match.group(1)} starting "
            f"{excerpt.splitlines()[0]!r} no longer matches the file; copy it again"
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
