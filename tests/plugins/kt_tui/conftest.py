"""Fixtures for the kt_tui tests: an isolated kt home, and kt_tui installed as an entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CLI_TESTS = Path(__file__).resolve().parents[2] / "cli"
if str(CLI_TESTS) not in sys.path:  # the pty driver lives with the `kt` command's tests
    sys.path.insert(0, str(CLI_TESTS))

from kt_cli_helpers import write  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_kt(tmp_path, monkeypatch):
    """Every test gets its own kt home and the bare plugin set unless it chooses otherwise."""
    home = tmp_path / "kt-home"
    home.mkdir()
    monkeypatch.setenv("KT_HOME", str(home))
    monkeypatch.setenv("KT_PLUGINS", "")
    return home


@pytest.fixture
def tui_site(tmp_path):
    """A folder for PYTHONPATH where kt_tui is an installed plugin (a throwaway .dist-info)."""
    site = tmp_path / "site"
    dist = site / "kt_tui-0.1.0.dist-info"
    write(dist / "METADATA", "Metadata-Version: 2.1\nName: kt_tui\nVersion: 0.1.0\n")
    write(dist / "entry_points.txt", "[kt.plugins]\nkt_tui = kt_tui\n")
    return site
