"""Fixtures for the `kt` command tests: isolated kt home and plugin set, creature folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from kt_cli_helpers import write


@pytest.fixture(autouse=True)
def isolated_kt(tmp_path, monkeypatch):
    """Every test gets its own kt home and the bare plugin set unless it chooses otherwise."""
    home = tmp_path / "kt-home"
    home.mkdir()
    monkeypatch.setenv("KT_HOME", str(home))
    monkeypatch.setenv("KT_PLUGINS", "")
    return home


@pytest.fixture
def creature(tmp_path) -> Path:
    """A creature folder with a prompt and no model configured."""
    folder = tmp_path / "creature"
    write(folder / "creature.toml", 'name = "tester"\nsystem_prompt = "You test things."\n')
    return folder


@pytest.fixture
def script(tmp_path):
    """Write a reply script (TOML body) and return its path."""

    def make(body: str, name: str = "replies.toml") -> Path:
        return write(tmp_path / name, body)

    return make
