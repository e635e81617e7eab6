"""``kt mcp import``: other clients' ``mcpServers`` JSON into ``~/.kt/mcp.toml``."""

from __future__ import annotations

import json
import sys

import pytest
from kt_mcp_helpers import TOY

from kt_mcp.settings import load_registry

DESKTOP = {
    "mcpServers": {
        "toy": {"command": sys.executable, "args": [str(TOY)], "env": {"TOY_LEVEL": "3"}},
        "off": {"command": "x", "disabled": True},
        "odd": {"args": ["no", "command"]},
    },
    "globalShortcut": "Ctrl+Space",
}


@pytest.fixture
def user_home(tmp_path, monkeypatch):
    """A home folder with Claude Desktop, Claude Code and Cursor files, and a project in it."""
    home = tmp_path / "home"
    project = home / "src" / "app"
    project.mkdir(parents=True)
    desktop = home / ".config" / "Claude" / "claude_desktop_config.json"
    desktop.parent.mkdir(parents=True)
    desktop.write_text(json.dumps(DESKTOP))
    claude_code = {
        "mcpServers": {
            "docs": {
                "type": "http",
                "url": "https://docs.example/mcp",
                "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"},
            },
            "toy": {"command": "other-toy"},  # named by Claude Desktop first
            "socket": {"type": "ws", "url": "ws://localhost:9000"},
        },
        "projects": {
            str(project.resolve()): {
                "mcpServers": {"git": {"command": "uvx", "args": ["mcp-server-git"]}}
            },
            "/elsewhere": {"mcpServers": {"hidden": {"command": "nope"}}},
        },
    }
    (home / ".claude.json").write_text(json.dumps(claude_code))
    cursor = home / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    cursor.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "legacy": {"url": "http://127.0.0.1:9/sse", "type": "sse", "alwaysAllow": ["x"]}
                }
            }
        )
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("APPDATA", raising=False)
    monkeypatch.chdir(project)
    return home


def test_import_reads_every_known_location_and_says_what_it_skipped(kt_cmd, user_home, kt_home):
    done = kt_cmd("mcp", "import")
    assert done.exit_code == 0, done.output
    out = done.output
    assert f"read {user_home / '.config/Claude/claude_desktop_config.json'}" in out
    assert f"read {user_home / '.claude.json'}" in out
    assert f"imported 'toy': {sys.executable} {TOY}" in out
    assert "imported 'docs': https://docs.example/mcp" in out
    assert "imported 'git': uvx mcp-server-git" in out
    assert "imported 'legacy': http://127.0.0.1:9/sse (ignored: alwaysAllow)" in out
    assert "skipped 'off' from" in out and "it is disabled there" in out
    assert "skipped 'odd' from" in out and "neither command nor url" in out
    assert "skipped 'toy' from" in out and "already imported from" in out
    assert "skipped 'socket'" in out and "transport 'ws' is not one kt speaks" in out
    assert "hidden" not in out  # another project's servers are not this one's
    assert "4 imported, 4 skipped" in out

    registry = load_registry()
    assert registry["toy"]["env"] == {"TOY_LEVEL": "3"}
    assert registry["docs"]["transport"] == "http"
    assert registry["docs"]["headers"] == {"Authorization": "Bearer ${DOCS_TOKEN}"}  # kept
    assert registry["legacy"]["transport"] == "sse"

    # The imported stdio server works: kt mcp test starts it.
    tested = kt_cmd("mcp", "test", "toy")
    assert tested.exit_code == 0 and "7 tools" in tested.output

    again = kt_cmd("mcp", "import", str(user_home / ".cursor" / "mcp.json"))
    assert "skipped 'legacy'" in again.output and "already in the registry" in again.output
    replaced = kt_cmd("mcp", "import", str(user_home / ".cursor" / "mcp.json"), "--replace")
    assert "imported 'legacy'" in replaced.output


def test_dry_run_writes_nothing(kt_cmd, user_home, kt_home):
    done = kt_cmd("mcp", "import", "--dry-run")
    assert "would import 'toy'" in done.output and "nothing written" in done.output
    assert not (kt_home / "mcp.toml").exists()


def test_a_file_that_is_not_an_mcp_config_is_an_error(kt_cmd, tmp_path, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = kt_cmd("mcp", "import", str(bad))
    assert done.exit_code != 0 and "cannot read it as JSON" in done.output
    other = tmp_path / "other.json"
    other.write_text('{"servers": {}}')
    done = kt_cmd("mcp", "import", str(other))
    assert done.exit_code != 0 and "has no mcpServers object" in done.output
    monkeypatch.setenv("HOME", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    none = kt_cmd("mcp", "import")
    assert none.exit_code != 0 and "found no MCP client configuration; looked in:" in none.output
