"""The command cache behind `kt --help`: used when up to date, refreshed when anything changes."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner
from kt_cli_helpers import kt_env, run_kt, write

from kt_cli import command_cache
from kt_cli.main import cli

HELLO = """
import os

import click

import kt

with open(os.environ["KT_TEST_IMPORTS"], "a") as log:  # proves the plugin was imported
    log.write("imported\\n")


@kt.hookimpl
def kt_cli_commands(cli):
    @cli.command(help="{help}")
    @click.argument("who")
    def hello(who):
        click.echo(f"hello {{who}}")
"""


def install(site, name: str, module: str, body: str) -> None:
    write(site / f"{module}.py", body)
    dist = site / f"{name}-1.0.dist-info"
    write(dist / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    write(dist / "entry_points.txt", f"[kt.plugins]\n{name} = {module}\n")


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    install(site, "kt_hello", "kt_hello_mod", HELLO.format(help="Greet someone."))
    return site


@pytest.fixture
def env(isolated_kt, site, tmp_path):
    env = kt_env(isolated_kt, plugins="kt_hello", extra_paths=[site])
    env["KT_TEST_IMPORTS"] = str(tmp_path / "imports.log")
    return env


def command_help(text: str, name: str) -> str | None:
    """The help shown for command *name* in `kt --help` output (None: not listed)."""
    listing = text.split("Commands:", 1)[1]
    for line in listing.splitlines():
        words = line.split(maxsplit=1)
        if words and words[0] == name:
            return words[1] if len(words) > 1 else ""
    return None


def imports(env) -> int:
    try:
        with open(env["KT_TEST_IMPORTS"]) as log:
            return len(log.read().splitlines())
    except FileNotFoundError:
        return 0


def help_text(env) -> str:
    done = run_kt(["--help"], env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_second_help_lists_the_same_commands_without_loading_plugins(env, isolated_kt):
    del env["KT_PLUGINS"]  # every installed plugin: the default set
    first = help_text(env)
    assert command_help(first, "hello") == "Greet someone."
    assert command_help(first, "run").startswith("Run the creature at TARGET")
    assert imports(env) == 1
    assert (isolated_kt / "cache" / "cli-commands.json").is_file()
    second = help_text(env)
    assert second == first
    assert imports(env) == 1  # the plugin was not imported again
    done = run_kt(["hello", "cache"], env=env)  # running a plugin command loads it for real
    assert (done.returncode, done.stdout) == (0, "hello cache\n")


def test_editing_a_plugin_refreshes_the_listing(env, site):
    assert command_help(help_text(env), "hello") == "Greet someone."
    write(site / "kt_hello_mod.py", HELLO.format(help="Say hello, politely."))
    assert command_help(help_text(env), "hello") == "Say hello, politely."
    assert imports(env) == 2


def test_installing_a_plugin_refreshes_the_listing(env, site):
    env.pop("KT_PLUGINS")  # every installed plugin: the new one joins the set
    assert command_help(help_text(env), "howdy") is None
    install(site, "kt_howdy", "kt_howdy_mod", HELLO.format(help="Hi.").replace("hello", "howdy"))
    assert command_help(help_text(env), "howdy") == "Hi."


def test_bytecode_in_a_plugin_package_keeps_the_listing_a_new_module_refreshes_it(env, site):
    package = site / "kt_pack_mod"
    write(package / "__init__.py", HELLO.format(help="Greet from a package."))
    dist = site / "kt_pack-1.0.dist-info"
    write(dist / "METADATA", "Metadata-Version: 2.1\nName: kt_pack\nVersion: 1.0\n")
    write(dist / "entry_points.txt", "[kt.plugins]\nkt_pack = kt_pack_mod\n")
    env["KT_PLUGINS"] = "kt_pack"
    assert command_help(help_text(env), "hello") == "Greet from a package."
    assert imports(env) == 1
    # Python creating __pycache__ (any process importing the plugin) changes the folder's
    # time, not the plugin.
    shutil.rmtree(package / "__pycache__", ignore_errors=True)
    (package / "__pycache__").mkdir()
    assert command_help(help_text(env), "hello") == "Greet from a package."
    assert imports(env) == 1
    write(package / "extra.py", "")  # a new module may change what the plugin offers
    help_text(env)
    assert imports(env) == 2


def test_the_plugin_selection_is_part_of_the_key(env):
    assert command_help(help_text(env), "hello")
    assert command_help(help_text({**env, "KT_PLUGINS": ""}), "hello") is None
    assert command_help(help_text({**env, "KT_PLUGINS": ""}), "hello") is None
    assert command_help(help_text(env), "hello")
    assert imports(env) == 1  # both contexts were served from the cache the second time
    done = run_kt(["--no-plugins", "--help"], env=env)
    assert command_help(done.stdout, "hello") is None


def test_a_plugin_failing_in_its_hook_is_never_cached(env, site, isolated_kt):
    install(
        site,
        "kt_broken",
        "kt_broken_mod",
        "import kt\n\n@kt.hookimpl\ndef kt_cli_commands(cli):\n    raise RuntimeError('no')\n",
    )
    env["KT_PLUGINS"] = "kt_hello,kt_broken"
    for _ in range(2):
        done = run_kt(["--help"], env=env)
        assert "plugin 'kt_broken' failed in kt_cli_commands" in done.stderr
    assert not (isolated_kt / "cache" / "cli-commands.json").exists()


def test_kt_cli_cache_0_turns_the_cache_off(env, isolated_kt):
    env["KT_CLI_CACHE"] = "0"
    help_text(env)
    help_text(env)
    assert imports(env) == 2
    assert not (isolated_kt / "cache" / "cli-commands.json").exists()


def test_a_corrupt_cache_file_is_ignored_and_rewritten(env, isolated_kt):
    write(isolated_kt / "cache" / "cli-commands.json", "{not json")
    assert "hello" in help_text(env)
    data = json.loads((isolated_kt / "cache" / "cli-commands.json").read_text())
    assert data["format"] == command_cache.CACHE_FORMAT


def test_an_injected_kernel_never_uses_the_cache(isolated_kt):
    import kt
    from kt_cli.state import CliState

    state = CliState(kernel=kt.Kernel(plugins=[]))
    result = CliRunner().invoke(cli, ["--help"], obj=state)
    assert result.exit_code == 0
    assert not (isolated_kt / "cache" / "cli-commands.json").exists()


def test_stamps_cover_sys_path_the_user_config_and_plugin_sources(isolated_kt, monkeypatch):
    import kt

    monkeypatch.delenv("KT_PLUGINS")
    kernel = kt.Kernel(plugins=["kt_formats"])
    command_cache.store_commands(None, [command_cache.CachedCommand("x", help="X.")], kernel)
    entries = json.loads((isolated_kt / "cache" / "cli-commands.json").read_text())["entries"]
    (entry,) = entries.values()
    stamps = entry["stamps"]
    assert str(isolated_kt / "config.toml") in stamps
    assert any(path.endswith(os.path.join("kt_formats", "bracket.py")) for path in stamps)
    assert any(path.endswith(os.path.join("kt_cli", "main.py")) for path in stamps)
    loaded = command_cache.load_commands(None)
    assert [c.name for c in loaded] == ["x"]
    write(isolated_kt / "config.toml", "[kt]\nplugins = []\n")  # a user config appears
    assert command_cache.load_commands(None) is None


def test_a_plugin_command_imports_only_the_plugin_that_provides_it(env, site, tmp_path):
    other_log = tmp_path / "other.log"
    install(
        site,
        "kt_other",
        "kt_other_mod",
        f"open({str(other_log)!r}, 'a').write('imported\\n')\n",
    )
    env["KT_PLUGINS"] = "kt_hello,kt_other"
    help_text(env)  # collects every plugin's commands and fills the cache
    assert imports(env) == 1 and other_log.read_text().count("imported") == 1
    done = run_kt(["hello", "bob"], env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello bob\n"
    assert imports(env) == 2  # the plugin that provides `hello` ...
    assert other_log.read_text().count("imported") == 1  # ... and no other


def test_a_plugin_command_without_a_cache_entry_asks_every_plugin(env, isolated_kt):
    env["KT_CLI_CACHE"] = "0"
    done = run_kt(["hello", "ann"], env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello ann\n"
