"""The `kt` group: version, help, global options, plugin commands, error reports (CliRunner)."""

from __future__ import annotations

import json

import click
import pluggy
import pytest
from click.testing import CliRunner

import kt
from kt.errors import ConfigValidationError, LLMConnectionError
from kt.plugins import hookimpl, new_plugin_manager
from kt.plugins.kernel import Kernel
from kt_cli import hookspecs as cli_hookspecs
from kt_cli.main import cli, collect_plugin_commands
from kt_cli.plugin import add_cli_hookspecs
from kt_cli.state import CliState, common_options, pass_state


class HelloPlugin:
    """Contributes `kt hello`; counts how often it was asked for commands."""

    kt_plugin_name = "hello_plugin"

    def __init__(self, command_name: str = "hello") -> None:
        self.calls = 0
        self.command_name = command_name

    @hookimpl
    def kt_cli_commands(self, cli: click.Group) -> None:
        self.calls += 1

        @cli.command(self.command_name, help="Say hello.")
        @click.argument("who", default="world")
        def hello(who: str) -> None:
            click.echo(f"hello {who}")


class RaisingCommandPlugin:
    """Contributes `kt explode`, which raises what the test asks for."""

    kt_plugin_name = "raising_plugin"

    def __init__(self, error: BaseException) -> None:
        self.error = error

    @hookimpl
    def kt_cli_commands(self, cli: click.Group) -> None:
        @cli.command()
        def explode() -> None:
            raise self.error


class BrokenHookPlugin:
    kt_plugin_name = "broken_hook"

    @hookimpl
    def kt_cli_commands(self, cli: click.Group) -> None:
        raise RuntimeError("cannot build my commands")


def invoke(args, *, plugins=(), **kwargs):
    state = CliState(kernel=Kernel(plugins=list(plugins)))
    return CliRunner().invoke(cli, args, obj=state, **kwargs)


def test_version_prints_the_distribution_and_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"kt-terrarium {kt.__version__}\n"


def test_version_does_not_ask_plugins_for_commands():
    hello = HelloPlugin()
    result = invoke(["--version"], plugins=[hello])
    assert result.exit_code == 0
    assert hello.calls == 0


def test_help_lists_builtin_and_plugin_commands_once():
    hello = HelloPlugin()
    result = invoke(["--help"], plugins=[hello])
    assert result.exit_code == 0, result.output
    commands = result.stdout.split("Commands:")[1]
    for name in ("doctor", "plugins", "run", "hello"):
        assert f"  {name} " in commands
    assert hello.calls == 1


def test_builtin_command_does_not_ask_plugins_for_commands():
    hello = HelloPlugin()
    result = invoke(["plugins"], plugins=[hello])
    assert result.exit_code == 0, result.output
    assert hello.calls == 0


def test_hook_kt_cli_commands_adds_a_runnable_command():
    hello = HelloPlugin()
    result = invoke(["hello", "terrarium"], plugins=[hello])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello terrarium\n"


def test_unknown_command_is_a_usage_error():
    result = invoke(["no-such-command"])
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.stderr


def test_plugin_command_taking_a_builtin_name_is_a_clash_naming_the_plugin():
    result = invoke(["--help"], plugins=[HelloPlugin("run")])
    assert result.exit_code == 2
    assert "kt: error: command 'run' is both a built-in kt command" in result.stderr
    assert "hello_plugin" in result.stderr
    assert "Traceback" not in result.stderr


def test_two_plugins_with_one_command_name_clash_naming_both():
    first, second = HelloPlugin(), HelloPlugin()
    second.kt_plugin_name = "other_hello"
    result = invoke(["hello"], plugins=[first, second])
    assert result.exit_code == 2
    assert "'hello_plugin'" in result.stderr and "'other_hello'" in result.stderr


def test_plugin_whose_hook_raises_is_skipped_with_a_warning():
    result = invoke(["hello"], plugins=[BrokenHookPlugin(), HelloPlugin()])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello world\n"
    assert "plugin 'broken_hook' failed in kt_cli_commands" in result.stderr
    assert "cannot build my commands" in result.stderr


def test_collect_plugin_commands_works_without_the_kt_cli_plugin_loaded():
    pm = new_plugin_manager()
    pm.register(HelloPlugin(), name="hello_plugin")
    commands = collect_plugin_commands(pm)
    assert list(commands) == ["hello"]
    assert pm.hook.kt_cli_commands.spec is not None


def test_add_cli_hookspecs_is_idempotent():
    pm = pluggy.PluginManager("kt")
    add_cli_hookspecs(pm)
    add_cli_hookspecs(pm)
    assert pm.hook.kt_cli_commands.spec.namespace is cli_hookspecs


def test_kt_cli_plugin_declares_the_hookspec_through_kt_addhookspecs():
    from kt_cli import plugin

    kernel = Kernel(plugins=[plugin])
    assert kernel.pm.hook.kt_cli_commands.spec is not None


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigValidationError("bad value", path="controller.temperature"), 2),
        (LLMConnectionError("the endpoint refused the connection"), 1),
    ],
)
def test_kt_error_is_one_line_with_the_exit_code_of_its_kind(error, code):
    result = invoke(["explode"], plugins=[RaisingCommandPlugin(error)])
    assert result.exit_code == code
    assert result.stderr.splitlines()[0] == f"kt: error: {error}"
    assert "Traceback" not in result.stderr


def test_verbose_adds_the_traceback():
    error = LLMConnectionError("refused")
    result = invoke(["--verbose", "explode"], plugins=[RaisingCommandPlugin(error)])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "kt: error: refused" in result.stderr


def test_global_options_after_a_builtin_command_name_are_accepted():
    result = CliRunner().invoke(cli, ["plugins", "--verbose", "--no-plugins"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No plugins loaded")


def test_unexpected_exception_is_reported_as_an_internal_error():
    result = invoke(["explode"], plugins=[RaisingCommandPlugin(ValueError("oops"))])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "kt: error: internal error: ValueError: oops"
    assert lines[1].startswith("hint: this is a bug")
    assert "Traceback" not in result.stderr


def test_keyboard_interrupt_exits_130():
    result = invoke(["explode"], plugins=[RaisingCommandPlugin(KeyboardInterrupt())])
    assert result.exit_code == 130
    assert "stopped by Ctrl+C" in result.stderr


def test_plugins_and_no_plugins_on_one_command_conflict():
    result = CliRunner().invoke(cli, ["plugins", "--plugins", "a", "--no-plugins"])
    assert result.exit_code == 2
    assert "cannot be used together" in result.stderr


def test_command_level_plugin_choice_overrides_the_global_one():
    result = CliRunner().invoke(cli, ["--plugins", "not_installed_x", "plugins", "--no-plugins"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No plugins loaded")


def test_a_misspelt_plugin_is_a_usage_error_listing_the_installed_ones():
    result = CliRunner().invoke(cli, ["--plugins", "kt_tools,kt_gaurd", "plugins"])
    assert result.exit_code == 2
    assert "unknown plugin 'kt_gaurd' (did you mean 'kt_guard'?)" in result.stderr
    assert "kt_tools" in result.stderr.split("installed plugins are:")[1]


class FailingRegistration:
    kt_plugin_name = "failing_registration"

    @hookimpl
    def kt_tools(self):
        raise RuntimeError("cannot build my tools")


def test_plugins_lists_failed_plugins_with_their_reason():
    result = invoke(["plugins"], plugins=[FailingRegistration()])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split() == ["NAME", "VERSION", "STATUS", "HOOKS", "/", "FAILURE"]
    assert row.split()[:3] == ["failing_registration", "-", "failed"]
    assert "cannot build my tools" in row


class ShadowGrep:
    """A third-party plugin whose tool takes a built-in tool's name."""

    kt_plugin_name = "shadow_grep"

    @hookimpl
    def kt_tools(self):
        return [kt.tool(lambda pattern: pattern, name="grep")]


def test_a_tool_name_clash_is_listed_and_does_not_stop_kt_plugins():
    import kt_tools

    result = invoke(["plugins"], plugins=[kt_tools, ShadowGrep()])
    assert result.exit_code == 0, result.output
    assert "1 name(s) registered by two plugins (the first one is kept):" in result.stdout
    assert "tool 'grep' is registered by both plugin 'kt_tools' and plugin 'shadow_grep'" in (
        result.stdout
    )
    data = json.loads(invoke(["plugins", "--json"], plugins=[kt_tools, ShadowGrep()]).stdout)
    clashes = {entry["name"]: entry["clashes"] for entry in data}
    assert len(clashes["shadow_grep"]) == 1 and clashes["shadow_grep"] == clashes["kt_tools"]


def test_plugins_json_lists_hooks_and_status():
    result = invoke(["plugins", "--json"], plugins=[HelloPlugin()])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "name": "hello_plugin",
            "version": None,
            "status": "loaded",
            "hooks": ["kt_cli_commands"],
            "failure": None,
            "clashes": [],
        }
    ]


def test_plugin_commands_share_the_invocations_kernel():
    seen = []

    class KernelUser:
        kt_plugin_name = "kernel_user"

        @hookimpl
        def kt_cli_commands(self, cli: click.Group) -> None:
            @cli.command()
            @common_options
            @pass_state
            def which(state: CliState) -> None:
                seen.append(state.kernel())
                click.echo(",".join(state.kernel().plugin_names))

    kernel = Kernel(plugins=[KernelUser()])
    result = CliRunner().invoke(cli, ["which"], obj=CliState(kernel=kernel))
    assert result.exit_code == 0, result.output
    assert seen == [kernel]
    assert result.stdout == "kernel_user\n"
