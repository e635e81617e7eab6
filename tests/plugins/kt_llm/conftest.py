"""Fixtures: an isolated kt home with no provider keys in the environment, the fake servers."""

from __future__ import annotations

import pytest
from fake_llm_servers import FakeServer

import kt
import kt_anthropic
import kt_gemini
import kt_llm
import kt_openai

KEY_VARS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENROUTER_API_KEY",
    "DEEPSEEK_API_KEY",
    "MOONSHOT_API_KEY",
    "ZAI_API_KEY",
    "VLLM_API_KEY",
)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Every test gets its own kt home and no provider key in the environment."""
    path = tmp_path / "kt-home"
    monkeypatch.setenv("KT_HOME", str(path))
    monkeypatch.setenv("KT_PLUGINS", "")
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def kernel():
    """kt_llm with the three backend plugins."""
    return kt.Kernel(plugins=[kt_llm, kt_openai, kt_anthropic, kt_gemini])


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake
