"""Fixtures for the web tests: a folder of creatures and scripts, a server per module."""

from __future__ import annotations

from pathlib import Path

import pytest
from kt_web_helpers import Server, write, write_helper_and_team


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A folder with a creature, a recipe and reply scripts."""
    root = tmp_path_factory.mktemp("web")
    write_helper_and_team(root)
    many = 40  # the scripted backend raises once its replies run out
    write(
        root / "replies.toml", f"replies = {['hello from the script'] * many}\n".replace("'", '"')
    )
    slow = '[[replies]]\ntext = "a slow and steady reply"\nchunk_size = 2\ndelay = 0.05\n'
    write(root / "slow.toml", slow * many)
    write(root / "broken.toml", '[[replies]]\nerror = "the model is down"\n')
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server with every auth layer off."""
    running = Server(tmp_path_factory.mktemp("home"))
    yield running
    running.client.close()
    running.stop()
