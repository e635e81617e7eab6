"""The LLM guide and reference: their Python blocks run, their models.toml examples load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kt_llm.models import ModelCatalog

DOCS = Path(__file__).resolve().parents[3] / "docs"
PAGES = [DOCS / "reference" / "llm.md", DOCS / "guides" / "models.md"]


def blocks(page: Path, language: str) -> list[str]:
    """The fenced blocks of *language* (a block marked ``fragment`` is left out)."""
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(), flags=re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run(page, capsys):
    for code in blocks(page, "python"):
        exec(compile(code, str(page), "exec"), {"__name__": "__doc_example__"})
    if page.name == "llm.md":
        assert "this call cost $" in capsys.readouterr().out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_models_toml_examples_load(page, home):
    examples = [b for b in blocks(page, "toml") if re.search(r'^\["\w[\w.-]*/', b, flags=re.M)]
    assert examples
    home.mkdir(parents=True, exist_ok=True)
    for text in examples:
        (home / "models.toml").write_text(text)
        catalog = ModelCatalog()
        assert catalog.user, text
