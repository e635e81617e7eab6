"""Fixtures: the fake model servers (shared with the kt_llm tests) and an isolated kt home."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kt_llm"))  # fake_llm_servers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kt_multimodal"))  # a PNG

from fake_llm_servers import FakeServer  # noqa: E402


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KT_HOME", str(tmp_path / "kt-home"))
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "kt-home"
