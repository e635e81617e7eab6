"""Fixtures for the kt_tools tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working directory for the creature, inside tmp_path (which holds 'outside' files)."""
    path = tmp_path / "work"
    path.mkdir()
    return path
