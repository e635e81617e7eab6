"""Every ```python block in the docs, the README and AGENTS.md runs as a test.

A block that cannot run as written (it continues a story told in prose, needs a key or a
network, or shows a shape) is fenced ```python fragment and skipped on purpose. The blocks of
one page run in order in one namespace, in a fresh temporary folder (with the repository's
``examples`` linked in, since pages run them) and a fresh ``KT_HOME``: a page cannot lean on
the machine it runs on.
"""

from __future__ import annotations

import re
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
