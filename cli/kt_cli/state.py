"""What one ``kt`` invocation shares between the command group and its commands.

The global options (``--verbose``, ``--plugins``, ``--no-plugins``) are accepted both before
the command name (``kt --no-plugins doctor``) and after it (``kt doctor --no-plugins``); the
one given last wins. They are recorded on a :class:`CliState`, the click context object, and
the kernel is built from them the first time a command asks for it, once per invocation.

Plugin commands use the same state::

    @cli.command()
    @common_options
    @pass_state
    def tools(state: CliState) -> None:
        for name in sorted(state.kernel().tools):
            click.echo(name)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kt_cli.logs import LEVELS

if TYPE_CHECKING:
    from kt import Kernel

__all__ = ["CliState", "common_options", "pass_state"]

F = TypeVar("F", bound=Callable[..., Any])


class CliState:
    """The options of one ``kt`` invocation and the kernel built from them.

    Args:
        kernel: A ready kernel to use instead of building one (tests, programs embedding the
            command); choosing plugins with ``--plugins`` / ``--no-plugins`` replaces it.

    Attributes:
        verbose: Print tracebacks with errors (``--verbose``).
        log_level: What reaches the log file (``--log-level``, ``KT_LOG_LEVEL``; see
            :mod:`kt_cli.logs`).
        plugins: The chosen plugin set: entry-point names, ``[]`` for the bare kernel, or
            ``None`` to let the kernel choose (``KT_PLUGINS``, the user config, or else every
            installed plugin).
        plugins_option: The option that chose :attr:`plugins` (``"--plugins"`` /
            ``"--no-plugins"``), or ``None``.
        plugin_commands: Commands contributed by plugins once collected (see
            :mod:`kt_cli.main`), by name; ``None`` before.
        kernel_from_selection: Whether the kernel is (or will be) built from the plugin
            selection, rather than given; only then can the command cache describe it.
    """

    def __init__(self, *, kernel: Kernel | None = None) -> None:
        from kt_cli.logs import level_from_env

        self.verbose = False
        self.log_level = level_from_env()
        self.plugins: list[str] | None = None
        self.plugins_option: str | None = None
        self._kernel = kernel
        self.kernel_from_selection = kernel is None
        self._chosen_in: int | None = None  # id() of the click context that chose the plugins
        self.plugin_commands: dict[str, click.Command] | None = None

    def choose_plugins(self, names: list[str], *, option: str, ctx: click.Context) -> None:
        """Record a plugin set chosen on the command line; a later choice replaces it.

        Args:
            names: Entry-point names (``[]``: the bare kernel).
            option: The option that chose them, for messages.
            ctx: The context of the command the option was given to.

        Raises:
            click.UsageError: when ``--plugins`` and ``--no-plugins`` are both given to the
                same command.
        """
        if self._chosen_in == id(ctx) and self.plugins_option != option:
            raise click.UsageError(
                f"{self.plugins_option} and {option} cannot be used together; give one",
                ctx=ctx,
            )
        if names != self.plugins or self.plugins_option is None:
            self._kernel = None  # a different set: build anew on next use
            self.kernel_from_selection = True
            self.plugin_commands = None
        self.plugins = names
        self.plugins_option = option
        self._chosen_in = id(ctx)

    def kernel(self) -> Kernel:
        """The invocation's kernel, built on first use from the chosen plugin set.

        Whatever the set, the kernel has ``kt_cli``'s hook specs and terminal modules (the
        ``plain`` and ``cli`` inputs, the ``stdout`` output): see :func:`kt_cli.plugin.host`.

        Returns:
            The kernel; the same object on every call until the plugin set changes.

        Raises:
            ConfigError: the user config (``~/.kt/config.toml``) is not valid TOML.
            RegistryClashError: two plugins register the same name.
        """
        from kt_cli.plugin import host

        if self._kernel is None:
            from kt import Kernel

            self._kernel = Kernel(plugins=self.plugins)
        return host(self._kernel)

    async def interact(
        self,
        agent: Any,
        *,
        mode: str | None = None,
        timeout: float | None = None,
        show_tools: bool = True,
        approvals: str | None = None,
    ) -> int:
        """Serve *agent* to the user from a terminal input, stop it; for any command.

        What ``kt run`` does after building the creature, offered to plugin commands (``kt
        resume`` ...) through the click context:
        ``await click.get_current_context().find_root().obj.interact(agent, mode=mode)``.
        Call it inside ``trio.run``. Reads standard input, writes standard output and error,
        and prints the resume command when the creature is recorded.

        Args:
            agent: A built agent, not started yet.
            mode: An input module's name: ``plain``, ``cli``, ``tui`` or another plugin's
                (default: the creature config's ``input``, else ``cli`` on a terminal and
                ``plain`` otherwise).
            timeout: Time limit per turn in seconds (``None``: the input's or creature's own).
            show_tools: Show tool activity.
            approvals: The approval mode (``ask``, ``accept-edits``, ``bypass``, ``deny``);
                ``None``: the input's own (default ``ask``).

        Returns:
            The exit code: 0; 1 when a ``plain`` turn failed; 130 when ended by Ctrl+C.

        Raises:
            ModeError: the mode does not exist or cannot run (before the agent starts).
        """
        from kt_cli.modes import interact

        return await interact(
            agent, mode=mode, timeout=timeout, show_tools=show_tools, approvals=approvals
        )

    def plugin_set_source(self) -> str:
        """Say what chose the plugin set, for ``kt doctor`` and messages.

        Returns:
            ``"--plugins"``, ``"--no-plugins"``, ``"KT_PLUGINS"``, ``"the user config"`` or
            ``"every installed plugin"``.

        Raises:
            ConfigError: the user config is not valid TOML.
        """
        if self.plugins_option is not None:
            return self.plugins_option
        if "KT_PLUGINS" in os.environ:
            return "KT_PLUGINS"
        from kt.config.home import user_config

        if user_config().get("kt", {}).get("plugins") is not None:
            return "the user config"
        return "every installed plugin"


pass_state = click.make_pass_decorator(CliState, ensure=True)
"""Decorator passing the invocation's :class:`CliState` as a command's first argument."""


def _state(ctx: click.Context) -> CliState:
    return ctx.ensure_object(CliState)


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _state(ctx).verbose = True


def _set_log_level(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        from kt_cli.logs import set_level

        _state(ctx).log_level = value.lower()
        set_level(value)


def _set_plugins(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        names = [name.strip() for name in value.split(",") if name.strip()]
        _state(ctx).choose_plugins(names, option="--plugins", ctx=ctx)


def _set_no_plugins(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _state(ctx).choose_plugins([], option="--no-plugins", ctx=ctx)


def common_options(command: F) -> F:
    """Add ``--verbose``, ``--log-level``, ``--plugins`` and ``--no-plugins`` to a command.

    The options are eager and not passed to the function: they are recorded on the
    invocation's :class:`CliState` (use :data:`pass_state` to get it).

    Args:
        command: The command function (before ``@click.command``).

    Returns:
        The same function with the options attached.
    """
    options = [
        click.option(
            "--verbose",
            "-v",
            is_flag=True,
            is_eager=True,
            expose_value=False,
            callback=_set_verbose,
            help="Show tracebacks with errors.",
        ),
        click.option(
            "--log-level",
            type=click.Choice(LEVELS, case_sensitive=False),
            metavar="LEVEL",
            is_eager=True,
            expose_value=False,
            callback=_set_log_level,
            help="What reaches the log file KT_HOME/logs/kt.log: debug, info (default), "
            "warning or error.",
        ),
        click.option(
            "--plugins",
            metavar="NAME,...",
            is_eager=True,
            expose_value=False,
            callback=_set_plugins,
            help="Load only these plugins (entry-point names, comma-separated); "
            "overrides KT_PLUGINS and the user config.",
        ),
        click.option(
            "--no-plugins",
            is_flag=True,
            is_eager=True,
            expose_value=False,
            callback=_set_no_plugins,
            help="Load no plugins: the bare kernel.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command
