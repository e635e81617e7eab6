"""``kt mcp add | list | remove | test``, run in-process through the real ``kt`` group."""

from __future__ import annotations

import sys

from kt_mcp_helpers import TOY


def test_add_list_remove_round_trip(kt_cmd, kt_home):
    added = kt_cmd("mcp", "add", "toy", "--env", "A=1", "--", sys.executable, str(TOY), "ok")
    assert added.exit_code == 0, added.output
    assert f"added MCP server 'toy' to {kt_home / 'mcp.toml'}" in added.output
    web = kt_cmd("mcp", "add", "docs", "--url", "https://docs.example/mcp", "--mode", "meta")
    assert web.exit_code == 0, web.output
    text = (kt_home / "mcp.toml").read_text()
    assert "[servers.toy]" in text and 'A = "1"' in text and "[servers.docs]" in text

    listed = kt_cmd("mcp", "list")
    lines = listed.output.splitlines()
    assert lines[0].split() == ["NAME", "TRANSPORT", "MODE", "FROM", "COMMAND", "/", "URL"]
    assert lines[1].split()[:4] == ["toy", "stdio", "native", "registry"]
    assert str(TOY) in lines[1]
    assert lines[2].split() == ["docs", "http", "meta", "registry", "https://docs.example/mcp"]

    again = kt_cmd("mcp", "add", "toy", "--", "other")
    assert again.exit_code != 0 and "already in the registry" in again.output

    removed = kt_cmd("mcp", "remove", "toy")
    assert removed.exit_code == 0
    assert "[servers.toy]" not in (kt_home / "mcp.toml").read_text()
    missing = kt_cmd("mcp", "remove", "toy")
    assert missing.exit_code == 1 and "no MCP server 'toy'" in missing.output


def test_list_a_creatures_servers_resolved_against_the_registry(kt_cmd, kt_home, tmp_path):
    kt_cmd("mcp", "add", "toy", "--", sys.executable, str(TOY))
    folder = tmp_path / "bot"
    folder.mkdir()
    (folder / "creature.toml").write_text(
        'name = "bot"\n'
        '[[mcp_servers]]\nname = "toy"\nmode = "meta"\n'
        '[[mcp_servers]]\nname = "local"\ncommand = "srv"\nargs = ["--x"]\n'
        '[[mcp_servers]]\nname = "typo"\ncommand = "srv"\nconect_timeout = 3\n'
    )
    listed = kt_cmd("mcp", "list", "--creature", str(folder))
    lines = listed.output.splitlines()
    assert lines[1].split()[:4] == ["toy", "stdio", "meta", "creature+registry"]
    assert lines[2].split() == ["local", "stdio", "native", "creature", "srv", "--x"]
    assert "typo" in lines[3] and "unknown key 'conect_timeout'" in lines[3]
    assert "did you mean 'connect_timeout'?" in lines[3]


def test_test_connects_and_lists_the_tools(kt_cmd):
    kt_cmd("mcp", "add", "toy", "--", sys.executable, str(TOY))
    tested = kt_cmd("mcp", "test", "toy")
    assert tested.exit_code == 0, tested.output
    assert "connected to 'toy' (stdio:" in tested.output and "7 tools" in tested.output
    assert "  echo(text: string, times: integer?)" in tested.output
    assert "      Echo the text back." in tested.output


def test_test_reports_a_server_that_fails_with_its_stderr(kt_cmd, kt_home):
    kt_cmd("mcp", "add", "broken", "--", sys.executable, str(TOY), "crash")
    tested = kt_cmd("mcp", "test", "broken")
    assert tested.exit_code == 1
    assert "exited during start-up" in tested.output
    assert "cannot open database" in tested.output
    assert str(kt_home / "logs" / "mcp" / "broken.log") in tested.output


def test_test_an_unknown_server_names_the_fix(kt_cmd):
    tested = kt_cmd("mcp", "test", "nowhere")
    assert tested.exit_code == 2
    assert "kt mcp add nowhere" in tested.output


def test_mcp_appears_in_kt_help(kt_cmd):
    helped = kt_cmd("--help")
    assert "mcp" in helped.output
    group = kt_cmd("mcp", "--help")
    for command in ("add", "list", "remove", "serve", "test"):
        assert f"  {command}" in group.output


def test_disable_and_enable_keep_a_server_from_creatures(kt_cmd, kt_home, tmp_path):
    kt_cmd("mcp", "add", "toy", "--", sys.executable, str(TOY))
    folder = tmp_path / "bot"
    folder.mkdir()
    (folder / "creature.toml").write_text('name = "bot"\n[[mcp_servers]]\nname = "toy"\n')
    disabled = kt_cmd("mcp", "disable", "toy")
    assert disabled.exit_code == 0 and "disabled MCP server 'toy'" in disabled.output
    assert "(disabled: kt mcp enable toy)" in kt_cmd("mcp", "list").output
    assert "has no MCP servers" in kt_cmd("mcp", "list", "--creature", str(folder)).output
    assert kt_cmd("mcp", "enable", "toy").exit_code == 0
    assert "enabled" not in (kt_home / "mcp.toml").read_text()
    assert "toy" in kt_cmd("mcp", "list", "--creature", str(folder)).output
    missing = kt_cmd("mcp", "disable", "nope")
    assert missing.exit_code == 1 and "no MCP server 'nope'" in missing.output


def test_list_creature_shows_the_mode_its_kt_mcp_entry_sets(kt_cmd, tmp_path):
    folder = tmp_path / "bot"
    folder.mkdir()
    (folder / "creature.toml").write_text(
        'name = "bot"\n[[plugins]]\nname = "kt_mcp"\nmode = "meta"\n'
        f'[[mcp_servers]]\nname = "toy"\ncommand = "{sys.executable}"\n'
    )
    listed = kt_cmd("mcp", "list", "--creature", str(folder))
    assert listed.output.splitlines()[1].split()[:3] == ["toy", "stdio", "meta"]
