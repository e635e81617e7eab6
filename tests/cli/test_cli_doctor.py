"""`kt doctor`: one OK/WARN/FAIL line per check, exit code 1 on any FAIL (CliRunner)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from kt_cli_helpers import write

from kt_cli.main import cli


def doctor(*args):
    return CliRunner().invoke(cli, ["doctor", *map(str, args)])


def line(result, subject: str) -> str:
    """The check line for *subject* (status first)."""
    for text in result.stdout.splitlines():
        if text[6:].startswith(f"{subject}:"):
            return text
    raise AssertionError(f"no {subject!r} line in:\n{result.stdout}")


def test_doctor_without_target_checks_the_installation(isolated_kt):
    result = doctor()
    assert result.exit_code == 0, result.output
    assert line(result, "python").startswith("OK ")
    assert line(result, "kt").startswith("OK    kt: kt-terrarium ")
    assert line(result, "kt home") == f"OK    kt home: {isolated_kt} (from KT_HOME) (writable)"
    assert line(result, "plugins") == (
        "OK    plugins: none loaded (the bare kernel); chosen by KT_PLUGINS"
    )
    assert line(result, "llm backends").startswith("WARN  llm backends: scripted (kernel)")
    assert result.stdout.rstrip().endswith("checks: 0 failed, 1 warning")


def test_missing_home_is_a_warning_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("KT_HOME", str(tmp_path / "absent"))
    result = doctor()
    assert result.exit_code == 0
    assert line(result, "kt home").startswith("WARN ")
    assert f"fix: create it with `mkdir -p {tmp_path / 'absent'}`" in result.stdout


def test_home_that_is_a_file_fails(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("KT_HOME", str(tmp_path / "file"))
    result = doctor()
    assert result.exit_code == 1
    assert line(result, "kt home").startswith("FAIL ")


def test_invalid_user_config_fails(isolated_kt):
    (isolated_kt / "config.toml").write_text("[kt\nplugins = ")
    result = doctor()
    assert result.exit_code == 1
    assert line(result, "user config").startswith("FAIL ")
    assert "not valid TOML" in line(result, "user config")


def test_unbuildable_plugin_set_fails_and_skips_the_target(isolated_kt, monkeypatch, creature):
    monkeypatch.delenv("KT_PLUGINS")  # so the kernel reads the broken user config
    (isolated_kt / "config.toml").write_text("[kt\nplugins = ")
    result = doctor(creature)
    assert result.exit_code == 1
    assert line(result, "plugins").startswith("FAIL  plugins: ")
    expected = f"WARN  config: {creature} not checked: the plugin set could not be built"
    assert line(result, "config") == expected


def test_a_misspelt_plugin_fails_the_plugin_check_listing_the_installed_ones():
    result = doctor("--plugins", "kt_toolz")
    assert result.exit_code == 1
    assert line(result, "plugins").startswith(
        "FAIL  plugins: unknown plugin 'kt_toolz' (did you mean 'kt_tools'?)"
    )


@pytest.fixture
def site_with_plugins(tmp_path, monkeypatch):
    """A third-party plugin with its own `grep` tool and one that cannot be imported."""
    site = tmp_path / "site"
    grep = "import kt\n\n@kt.hookimpl\ndef kt_tools():\n    return [kt.tool(lambda p: p, name='grep')]\n"
    for name, body in (("kt_test_grep", grep), ("kt_test_broken", "import no_such_module_x\n")):
        write(site / f"{name}.py", body)
        info = site / f"{name}-1.0.dist-info"
        write(info / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        write(info / "entry_points.txt", f"[kt.plugins]\n{name} = {name}\n")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_plugin_that_failed_to_load_and_a_clash_are_warnings(site_with_plugins):
    result = doctor("--plugins", "kt_tools,kt_test_grep,kt_test_broken")
    assert result.exit_code == 0, result.output
    assert line(result, "plugin kt_test_broken").startswith(
        "WARN  plugin kt_test_broken: failed to load: ModuleNotFoundError"
    )
    assert line(result, "tool grep") == (
        "WARN  tool grep: registered by both plugin 'kt_tools' and plugin 'kt_test_grep'; "
        "using the one from 'kt_tools'"
    )
    assert 'add `grep = "kt_test_grep"` to [kt.prefer]' in result.stdout
    assert line(result, "plugins").endswith("chosen by --plugins")


def test_target_that_builds_and_has_a_model(creature, script):
    replies = script('replies = ["hi"]')
    result = doctor(creature, "--llm", f"scripted:{replies}")
    assert result.exit_code == 0, result.output
    assert line(result, "config") == (
        f"OK    config: creature 'tester' ({creature / 'creature.toml'})"
    )
    assert line(result, "model") == (
        f"OK    model: scripted:{replies} (backend 'scripted' from kernel)"
    )
    assert line(result, "build").startswith("OK    build: tools: none; tool format: native")


def test_target_without_a_model_is_a_warning_naming_the_fix(creature):
    result = doctor(creature)
    assert result.exit_code == 0, result.output
    assert line(result, "model").startswith("WARN  model: no model is configured")
    assert "fix: for an offline run, use --llm scripted:FILE" in result.stdout
    assert line(result, "build").startswith("OK ")


def test_target_whose_script_is_missing_fails_the_model_check(creature, tmp_path):
    result = doctor(creature, "--llm", f"scripted:{tmp_path / 'nope.toml'}")
    assert result.exit_code == 1
    assert "script file not found" in line(result, "model")


def test_invalid_config_fails(tmp_path):
    write(tmp_path / "bad" / "creature.toml", 'name = "bad"\ntemprature = 0.2\n')
    result = doctor(tmp_path / "bad")
    assert result.exit_code == 1
    assert line(result, "config").startswith("FAIL  config: ")
    assert "temprature" in line(result, "config")


def test_config_naming_an_unknown_tool_fails_the_build(tmp_path, script):
    write(tmp_path / "c" / "creature.toml", 'name = "c"\n[[tools]]\nname = "bash"\n')
    replies = script('replies = ["x"]')
    result = doctor(tmp_path / "c", "--llm", f"scripted:{replies}")
    assert result.exit_code == 1
    assert line(result, "build").startswith("FAIL  build: ")
    assert "unknown tool 'bash'" in line(result, "build")


def test_hook_kt_doctor_checks():
    import attrs

    import kt
    from kt_cli.commands.doctor import plugin_doctor_checks

    @attrs.frozen
    class Result:
        status: str
        subject: str
        detail: str
        fix: str = ""

    class Good:
        kt_plugin_name = "good"

        @kt.hookimpl
        def kt_doctor_checks(self, online):
            return [Result("WARN", "widget", f"online={online}", "turn it on")]

    class Broken:
        kt_plugin_name = "broken"

        @kt.hookimpl
        def kt_doctor_checks(self):
            raise RuntimeError("no widget")

    kernel = kt.Kernel(plugins=[Good(), Broken()])
    checks = plugin_doctor_checks(kernel, online=True)
    by_subject = {c.subject: c for c in checks}
    assert by_subject["widget"].detail == "online=True" and by_subject["widget"].fix == "turn it on"
    assert by_subject["plugin broken"].status == "FAIL"
    assert "no widget" in by_subject["plugin broken"].detail
