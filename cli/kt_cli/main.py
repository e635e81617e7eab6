"""The ``kt`` command group: built-in commands, plugin commands, global options, error reports.

``kt --version`` and ``kt run`` (or any built-in command) never look at plugin commands.
``kt --help`` lists the commands from the cache that the last collection wrote
(:mod:`kt_cli.command_cache`), so it loads no plugin at all. A plugin command's name is looked
up in the same cache, which names the plugin that provides it: only that plugin (and the
plugins it requires) is imported to get the command, and the command builds the invocation's
kernel when it needs one. When the cache is missing or out of date, ``kt`` builds the kernel,
asks each plugin through the ``kt_cli_commands`` hook, and refreshes the cache.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import click

import kt
from kt.errors import RegistryClashError
from kt_cli import command_cache
from kt_cli.commands import BUILTIN_COMMANDS
from kt_cli.reporting import EXIT_INTERRUPTED, as_command_error, single_exception
from kt_cli.state import CliState, common_options

if TYPE_CHECKING:
    import pluggy

__all__ = ["KTGroup", "cli", "collect_plugin_commands", "main"]


def collect_plugin_commands(
    pm: pluggy.PluginManager,
    *,
    reserved: Collection[str] = (),
    failed: list[str] | None = None,
    origins: dict[str, str] | None = None,
) -> dict[str, click.Command]:
    """Ask every plugin for its commands through ``kt_cli_commands``, one plugin at a time.

    Args:
        pm: The kernel's plugin manager (``kt_cli_commands`` is added to it if missing).
        reserved: Names of built-in commands, which plugins may not take.
        failed: When given, the names of plugins whose implementation raised are appended
            (their commands are left out, with a warning on stderr).
        origins: When given, filled with the plugin that provides each command, by name.

    Returns:
        The plugins' commands by name.

    Raises:
        RegistryClashError: a plugin's command takes a built-in name or another plugin's.
    """
    from kt_cli.plugin import add_cli_hookspecs

    add_cli_hookspecs(pm)
    commands: dict[str, click.Command] = {}
    origins = {} if origins is None else origins
    for impl in reversed(pm.hook.kt_cli_commands.get_hookimpls()):  # registration order
        group = click.Group("kt")
        try:
            impl.function(*(group for _ in impl.argnames))
        except Exception as exc:  # one broken plugin must not take `kt --help` down
            click.echo(
                f"kt: warning: plugin '{impl.plugin_name}' failed in kt_cli_commands "
                f"({type(exc).__name__}: {exc}); its commands are left out",
                err=True,
            )
            if failed is not None:
                failed.append(impl.plugin_name)
            continue
        for name, command in group.commands.items():
            if name in reserved:
                raise RegistryClashError(
                    f"command '{name}' is both a built-in kt command and a command of plugin "
                    f"'{impl.plugin_name}'; uninstall that plugin or leave it out with "
                    "--plugins NAME,..."
                )
            if name in commands:
                raise RegistryClashError(
                    f"command '{name}' is registered by both plugin '{origins[name]}' and "
                    f"plugin '{impl.plugin_name}'; uninstall or leave out one of them "
                    "(--plugins NAME,...)"
                )
            commands[name] = command
            origins[name] = impl.plugin_name
    return commands


def _state(ctx: click.Context) -> CliState:
    return ctx.ensure_object(CliState)


class KTGroup(click.Group):
    """The ``kt`` group: built-in commands by import path, then the plugins' commands.

    Built-in names (:data:`kt_cli.commands.BUILTIN_COMMANDS`) resolve without building a
    kernel. Other names collect the plugins' commands once per invocation. The listing for
    ``--help`` comes from :mod:`kt_cli.command_cache` while that is up to date. Errors escaping
    any command are reported by :class:`kt_cli.reporting.CommandError`.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Built-in and plugin command names, sorted."""
        cached = self._cached_commands(ctx)
        if cached is not None:
            return [command.name for command in cached]
        return sorted({*self.commands, *BUILTIN_COMMANDS, *self._plugin_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command *cmd_name*: a built-in one if it exists, else a plugin's, else ``None``."""
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in BUILTIN_COMMANDS:
            return self._builtin(cmd_name)
        return self._owned_command(ctx, cmd_name) or self._plugin_commands(ctx).get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the command list of ``--help``, from the cache when it is up to date."""
        cached = self._cached_commands(ctx)
        if cached is None:
            super().format_commands(ctx, formatter)
            return
        shown = [command for command in cached if not command.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(command.name) for command in shown)
        rows = [(c.name, c.stand_in().get_short_help_str(limit)) for c in shown]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _builtin(self, name: str) -> click.Command:
        module, _, attr = BUILTIN_COMMANDS[name].partition(":")
        return getattr(importlib.import_module(module), attr)

    def _cached_commands(self, ctx: click.Context) -> list[command_cache.CachedCommand] | None:
        state = _state(ctx)
        if state.plugin_commands is not None or not state.kernel_from_selection:
            return None  # collected already (cheaper to use), or a kernel the key cannot name
        return command_cache.load_commands(state.plugins)

    def _owned_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The plugin command *name*, from the one plugin the cache says provides it.

        ``None`` when the cache cannot say (no up-to-date entry, an unknown name), or that
        plugin no longer provides it: the caller then asks every plugin.
        """
        state = _state(ctx)
        cached = None if state.plugin_commands is not None else self._cached_commands(ctx)
        owner = next((c.plugin for c in cached or () if c.name == name), None)
        if owner is None:
            return None
        from kt.plugins import load_entry_points, new_plugin_manager

        pm = new_plugin_manager()
        if load_entry_points(pm, [owner]):
            return None  # it fails now: the full collection reports why
        pm.hook.kt_addhookspecs.call_historic(kwargs={"pm": pm})
        reserved = {*self.commands, *BUILTIN_COMMANDS}
        return collect_plugin_commands(pm, reserved=reserved, failed=[]).get(name)

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        state = _state(ctx)
        if state.plugin_commands is None:
            failed: list[str] = []
            origins: dict[str, str] = {}
            try:
                kernel = state.kernel()
                state.plugin_commands = collect_plugin_commands(
                    kernel.pm,
                    reserved={*self.commands, *BUILTIN_COMMANDS},
                    failed=failed,
                    origins=origins,
                )
            except Exception as exc:
                report = as_command_error(exc, verbose=state.verbose)
                if report is None:
                    raise
                raise report from exc
            if state.kernel_from_selection and not failed:  # a warning must show every time
                self._store_cache(state, kernel, origins)
        return state.plugin_commands

    def _store_cache(self, state: CliState, kernel: kt.Kernel, origins: dict[str, str]) -> None:
        commands = {name: self._builtin(name) for name in BUILTIN_COMMANDS}
        commands.update(self.commands)
        commands.update(state.plugin_commands or {})
        summaries = [
            command_cache.CachedCommand.of(name, command, origins.get(name))
            for name, command in commands.items()
        ]
        command_cache.store_commands(state.plugins, summaries, kernel)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the chosen command; report ``KTError`` and unexpected errors in one line."""
        try:
            return super().invoke(ctx)
        except BaseException as exc:
            if isinstance(single_exception(exc), KeyboardInterrupt):
                click.echo("\nkt: stopped by Ctrl+C", err=True)
                ctx.exit(EXIT_INTERRUPTED)
            report = as_command_error(exc, verbose=_state(ctx).verbose)
            if report is None:
                raise
            raise report from exc


@click.group(cls=KTGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    kt.__version__, "--version", "-V", prog_name="kt-terrarium", message="%(prog)s %(version)s"
)
@common_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """KT Terrarium: build and run LLM agents ("creatures") from config folders.

    --verbose, --log-level, --plugins and --no-plugins are accepted before the command name and
    after it.
    Plugins add commands of their own (the kt_cli_commands hook); `kt plugins` lists the
    plugins, `kt doctor` checks the setup.

    \b
    Environment:
      KT_HOME       the kt home folder (default ~/.kt)
      KT_PLUGINS    comma-separated plugins to load (empty: none); --plugins overrides it
      KT_LOG_LEVEL  what reaches the log file KT_HOME/logs/kt.log: debug, info (default),
                    warning or error; --log-level overrides it

    Exit codes: 0 ok, 1 a failure while running, 2 a usage or config error, 130 Ctrl+C.
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    state = ctx.ensure_object(CliState)
    if _WRITES_LOG_FILE:
        from kt.config.home import kt_home
        from kt_cli.logs import configure

        configure(kt_home(), state.log_level)


_WRITES_LOG_FILE = False
"""Set by :func:`main`: the process is the ``kt`` command, so its logging is kt's to set up
(a program or test calling :data:`cli` keeps its own)."""


def main(args: Sequence[str] | None = None) -> None:
    """Run the ``kt`` command (the console script and ``python -m kt_cli``); exits the process.

    Args:
        args: The arguments (default: ``sys.argv[1:]``).
    """
    global _WRITES_LOG_FILE
    _WRITES_LOG_FILE = True
    cli.main(args=args, prog_name="kt")
