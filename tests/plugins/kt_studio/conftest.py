"""Fixtures for Studio: an isolated kt home, a creature folder, a recipe folder."""

from __future__ import annotations

from pathlib import Path

import pytest


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def kt_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "kt-home"
    home.mkdir()
    monkeypatch.setenv("KT_HOME", str(home))
    monkeypatch.delenv("KT_SESSION_DIR", raising=False)
    return home


@pytest.fixture
def creature_dir(tmp_path) -> Path:
    folder = tmp_path / "creatures" / "helper"
    write(
        folder / "creature.toml",
        'name = "helper"\nsystem_prompt = "You help."\n[[tools]]\nname = "scratchpad"\n',
    )
    return folder


@pytest.fixture
def recipe_dir(tmp_path, creature_dir) -> Path:
    folder = tmp_path / "team"
    write(
        folder / "terrarium.toml",
        f"""name = "team"

[root]
base_config = "{creature_dir}"

[[creatures]]
name = "worker"
base_config = "{creature_dir}"
channels = {{ listen = ["tasks"] }}

[channels]
tasks = {{ kind = "queue", description = "work to do" }}
""",
    )
    return folder
