"""Fixtures for kt_mcp's tests: an isolated kt home and a kernel holding the plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

import kt
import kt_mcp


@pytest.fixture(autouse=True)
def kt_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own kt home (registry, stderr logs)."""
    home = tmp_path / "kt-home"
    home.mkdir()
    monkeypatch.setenv("KT_HOME", str(home))
    return home


@pytest.fixture
def kernel() -> kt.Kernel:
    return kt.Kernel(plugins=[kt_mcp])


@pytest.fixture
def kt_cmd(kt_home):
    """Run `kt ARGS...` in-process with a kernel holding kt_mcp; returns the click result."""
    from click.testing import CliRunner

    from kt_cli.main import cli
    from kt_cli.state import CliState

    def run(*args: str):
        state = CliState(kernel=kt.Kernel(plugins=[kt_mcp]))
        return CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)

    return run
