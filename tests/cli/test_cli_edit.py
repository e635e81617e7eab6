"""`kt edit TARGET`: find the config file and open it in the user's editor."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner
from kt_cli_helpers import kt_env, run_kt, write

import kt
from kt_cli.main import cli
from kt_cli.state import CliState


@pytest.fixture
def editor(tmp_path):
    """An $EDITOR that records the file it was given and exits with code 3."""
    log = tmp_path / "editor.log"
    script = write(
        tmp_path / "editor.py",
        f"""
        import sys
        with open({str(log)!r}, "a") as out:
            out.write(sys.argv[-1] + "\\n")
        sys.exit(3)
        """,
    )
    return f"{sys.executable} {script}", log


def test_edit_opens_the_creature_file_and_returns_the_editors_exit_code(
    creature, editor, isolated_kt
):
    command, log = editor
    env = kt_env(isolated_kt) | {"EDITOR": command}
    env.pop("VISUAL", None)
    done = run_kt(["edit", creature], env=env)
    assert done.returncode == 3, done.stderr
    assert log.read_text().splitlines() == [str(creature / "creature.toml")]


def test_visual_wins_over_editor(creature, editor, isolated_kt):
    command, log = editor
    done = run_kt(
        ["edit", creature / "creature.toml"],
        env=kt_env(isolated_kt) | {"VISUAL": command, "EDITOR": "false-editor-not-used"},
    )
    assert done.returncode == 3
    assert log.read_text().splitlines() == [str(creature / "creature.toml")]


def test_edit_finds_a_terrarium_recipe_and_prints_the_path(tmp_path):
    write(tmp_path / "team" / "terrarium.toml", 'name = "team"\n')
    result = CliRunner().invoke(cli, ["edit", str(tmp_path / "team"), "--print-path"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{tmp_path / 'team' / 'terrarium.toml'}\n"


class _Packs:
    kt_plugin_name = "packs"

    def __init__(self, root):
        self.root = root

    @kt.hookimpl
    def kt_resolve_ref(self, ref):
        pack, _, rest = ref[1:].partition("/")
        return self.root / pack / rest if pack == "acme" else None


def test_edit_resolves_pack_references_and_bare_pack_names(tmp_path):
    write(tmp_path / "acme" / "creatures" / "bot" / "config.yaml", "name: bot\n")
    write(tmp_path / "acme" / "kt-pack.toml", 'name = "acme"\n')
    state = CliState(kernel=kt.Kernel(plugins=[_Packs(tmp_path)]))
    result = CliRunner().invoke(cli, ["edit", "@acme/creatures/bot", "--print-path"], obj=state)
    assert result.stdout == f"{tmp_path / 'acme' / 'creatures' / 'bot' / 'config.yaml'}\n"
    result = CliRunner().invoke(cli, ["edit", "acme", "--print-path"], obj=state)
    assert result.stdout == f"{tmp_path / 'acme' / 'kt-pack.toml'}\n"


def test_edit_of_nothing_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli, ["edit", "no-such-thing"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "kt: error: no creature or terrarium at 'no-such-thing': not a path, and no installed "
        "pack resolves @no-such-thing"
    )
    write(tmp_path / "empty" / "notes.txt", "")
    result = CliRunner().invoke(cli, ["edit", str(tmp_path / "empty")])
    assert "no config file in folder" in result.stderr


def test_edit_without_any_editor_says_to_set_editor(creature, monkeypatch):
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(cli, ["edit", str(creature)])
    assert result.exit_code == 1
    assert "kt: error: no editor: set $EDITOR" in result.stderr
