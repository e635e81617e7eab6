"""The shipped model catalog is read one model's table at a time, with the same result."""

from __future__ import annotations

import tomllib

import pytest

import kt
from kt_llm import models
from kt_llm.models import CATALOG_FILE, describe, facts_from, shipped_catalog, shipped_presets


@pytest.fixture
def fresh_catalog():
    """Forget what this process read of the shipped file, before and after the test."""
    caches = (models._catalog_parts, models._shipped_tables, models.shipped_presets)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


def test_reading_table_by_table_gives_what_parsing_the_whole_file_gives(fresh_catalog):
    whole = tomllib.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    tables = {name: table for name, table in whole.items() if name not in ("source", "presets")}
    assert shipped_catalog() == {
        name: facts_from(table, path=name) for name, table in tables.items()
    }
    assert list(shipped_catalog()) == list(tables)
    assert shipped_presets() == {p: tuple(m) for p, m in whole["presets"].items()}


def test_describing_one_model_parses_only_its_tables(fresh_catalog, monkeypatch, tmp_path):
    parsed: list[str] = []
    loads = tomllib.loads

    def counting_loads(text: str) -> dict:
        parsed.append(text)
        return loads(text)

    monkeypatch.setattr(models.tomllib, "loads", counting_loads)
    profile = kt.LLMProfile(name="openai", backend="openai", model="gpt-4o")
    info = describe(profile, env={"KT_HOME": str(tmp_path)})
    assert info.context_window and info.sources == ("catalog",)
    size = len(CATALOG_FILE.read_text(encoding="utf-8"))
    assert 0 < sum(len(text) for text in parsed) < size / 20
