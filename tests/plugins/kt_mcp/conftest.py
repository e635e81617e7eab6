"""Fixtures for kt_mcp's tests: an isolated kt home and a kernel holding the plugin."""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from kt_mcp_helpers import HOST_TOKEN

import kt
import kt_mcp

ROOT = Path(__file__).resolve().parents[3]


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
    """Run `kt ARGS...` in-process with a kernel holding kt_mcp (and *plugins*); returns the
    click result."""
    from click.testing import CliRunner

    from kt_cli.main import cli
    from kt_cli.state import CliState

    def run(*args: str, plugins: tuple[str, ...] = ()):
        state = CliState(kernel=kt.Kernel(plugins=[kt_mcp, *plugins]))
        return CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)

    return run


@pytest.fixture
def kt_env(tmp_path, kt_home) -> dict[str, str]:
    """Environment for a `kt` subprocess that loads kt_mcp (and what it requires) by entry point."""
    paths = [str(ROOT / "plugins"), str(ROOT / "cli"), str(ROOT / "kernel")]
    if not entry_points(group="kt.plugins", name="kt_mcp"):  # not installed yet: a stand-in
        site = tmp_path / "site"
        info = site / "kt_mcp_entry-0.0.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: kt-mcp-entry\nVersion: 0.0.0\n"
        )
        (info / "entry_points.txt").write_text("[kt.plugins]\nkt_mcp = kt_mcp\n")
        paths.insert(0, str(site))
    return {
        "PYTHONPATH": os.pathsep.join(paths),
        "KT_PLUGINS": "kt_mcp",
        "KT_HOME": str(kt_home),
        "PATH": os.environ.get("PATH", ""),
    }


CREATURE = """\
name = "helper"
description = "Answers questions about the terrarium."
system_prompt = "You help."

[[tools]]
name = "count_words"
type = "custom"
module = "./tools.py"
"""

TOOLS = '''\
def count_words(text: str) -> str:
    """Count the words in a text."""
    return str(len(text.split()))
'''

REPLIES = """\
[[replies]]
text = "The axolotl is in the big tank."

[[replies]]
tool_calls = [{ name = "count_words", args = { text = "one two three" } }]

[[replies]]
text = "There are 3 words."
"""


@pytest.fixture
def helper(tmp_path) -> Path:
    """A creature folder served in the tests: a tool of its own and scripted replies."""
    folder = tmp_path / "helper"
    folder.mkdir()
    (folder / "creature.toml").write_text(CREATURE)
    (folder / "tools.py").write_text(TOOLS)
    (folder / "replies.toml").write_text(REPLIES)
    return folder


@pytest.fixture
def web_host(tmp_path):
    """A real ``kt_web`` server process, as ``kt serve`` runs it, with host token ``h0st``."""
    pytest.importorskip("flask")
    web_tests = str(ROOT / "tests" / "web")
    sys.path.insert(0, web_tests)  # the web tests' launcher of a real server process
    try:
        from kt_web_helpers import Server
    finally:
        sys.path.remove(web_tests)
    # The token is checked on loopback too (loopback peers skip it by default).
    env = {"KT_AUTH_HOST_TOKEN": HOST_TOKEN, "KT_AUTH_LOOPBACK_BYPASS": "0"}
    host = Server(tmp_path / "web-home", env=env)
    yield host
    host.stop()
