"""The `tui` input as kt sees it: offered through kt_inputs, refused with a reason."""

from __future__ import annotations

import importlib.util

import pytest
from click.testing import CliRunner
from kt_cli_helpers import kt_env, run_kt, write

import kt
import kt_tui
from kt_cli.main import cli
from kt_cli.modes import ModeError, find_mode, mode_names


@pytest.fixture
def on_a_terminal(monkeypatch):
    monkeypatch.setattr(kt_tui, "_isatty", lambda stream: True)


def test_hook_kt_inputs_offers_tui_after_the_inputs_of_kt_cli(on_a_terminal):
    pytest.importorskip("urwid")
    kernel = kt.Kernel(plugins=[kt_tui])
    assert "kt_cli" in kernel.plugin_names  # loaded first: kt_tui requires it
    assert mode_names(kernel) == ["plain", "cli", "tui"]
    spec = find_mode("tui", kernel)
    assert spec.name == "tui" and spec.factory.unavailable() == ""
    assert "side panel" in spec.description
    assert kernel.inputs.origin("tui") == "kt_tui"


async def test_a_config_naming_tui_on_pipes_is_refused_with_the_reason():
    pytest.importorskip("urwid")
    with pytest.raises(ModeError, match="input 'tui' cannot run: it needs a terminal"):
        await kt.Agent.build(
            {"name": "t", "input": "tui"},
            llm=kt.testing.ScriptedLLM([]),
            kernel=kt.Kernel(plugins=[kt_tui]),
        )


def test_without_urwid_the_mode_names_the_extra_to_install(monkeypatch, on_a_terminal):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "urwid" else real(name, *a)
    )
    with pytest.raises(ModeError) as caught:
        find_mode("tui", kt.Kernel(plugins=[kt_tui]))
    assert str(caught.value) == (
        "mode 'tui' cannot run: urwid is not installed: pip install 'kt-terrarium[tui]'"
    )


def test_without_a_terminal_the_mode_says_to_use_plain_or_cli():
    pytest.importorskip("urwid")
    with pytest.raises(ModeError, match="needs a terminal on standard input and output"):
        find_mode("tui", kt.Kernel(plugins=[kt_tui]))


def test_kt_run_refuses_tui_on_pipes_before_building_the_creature(tmp_path, isolated_kt, tui_site):
    pytest.importorskip("urwid")
    write(tmp_path / "c" / "creature.toml", 'name = "c"\n')  # no model: never built
    done = run_kt(
        ["run", tmp_path / "c", "--mode", "tui"],
        env=kt_env(isolated_kt, plugins="kt_tui", extra_paths=[tui_site]),
    )
    assert done.returncode == 2
    assert "mode 'tui' cannot run: it needs a terminal" in done.stderr


def test_kt_run_says_when_kt_tui_is_installed_but_not_in_the_plugin_set(
    tmp_path, isolated_kt, tui_site
):
    write(tmp_path / "c" / "creature.toml", 'name = "c"\n')
    done = run_kt(
        ["run", tmp_path / "c", "--mode", "tui"],
        env=kt_env(isolated_kt, plugins="", extra_paths=[tui_site]),
    )
    assert done.returncode == 2
    assert "mode 'tui' needs the kt_tui plugin (installed but not in the plugin set" in done.stderr


def test_kt_run_mode_tui_with_cli_runner_is_refused_without_the_plugin(tmp_path):
    write(tmp_path / "c" / "creature.toml", 'name = "c"\n')
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "c"), "--mode", "tui"])
    assert result.exit_code == 2
    assert "mode 'tui' needs the kt_tui plugin" in result.stderr
