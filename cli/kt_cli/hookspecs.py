"""Hook specifications that ``kt_cli`` adds to every kernel it hosts.

The ``kt_cli`` plugin adds this module to a kernel's plugin manager from its
``kt_addhookspecs`` implementation, and the ``kt`` command adds it itself when ``kt_cli`` is not
part of the chosen plugin set, so a plugin can implement these hooks whatever the set is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # annotations only: plugins import this module without paying for click
    import click

hookspec = pluggy.HookspecMarker("kt")


@hookspec
def kt_cli_commands(cli: click.Group) -> None:
    """Add your commands to the ``kt`` command group.

    Called when ``kt`` needs commands it does not have built in: to find a command name that
    is not a built-in one (``run``, ``doctor``, ``plugins`` ...), or to list every command for
    ``kt --help`` when the command cache is out of date. Running a built-in command never calls
    it, so a plugin's commands cost nothing there. Called at most once per ``kt`` invocation,
    for each plugin of the invocation's kernel (the set chosen by ``--plugins`` /
    ``--no-plugins``, ``KT_PLUGINS``, the user config, or every installed plugin), one plugin
    at a time in registration order.

    ``kt --help`` prints the names and help texts that the last collection stored in
    ``$KT_HOME/cache/cli-commands.json``, without loading any plugin. The cache is refreshed
    when the installed distributions, the plugin selection or a plugin's source files change
    (see ``kt_cli.command_cache``), so an implementation must give the same commands every
    time for the same installation: no commands that depend on the time, the network or the
    current directory.

    Add commands with ``@cli.command()`` or ``cli.add_command(command)``; a click group
    (``kt sessions list``) counts as one command. Keep the module that holds them light: import
    heavy dependencies inside the command's function, so that ``kt --help`` does not pay for
    them. A command that needs the invocation's kernel (the same plugin set ``kt`` itself uses)
    asks the click context for it: ``click.get_current_context().obj.kernel()`` (plugins never
    import ``kt_cli`` itself)::

        import click
        import kt


        @kt.hookimpl
        def kt_cli_commands(cli: click.Group) -> None:
            @cli.command(help="List the tools the loaded plugins provide.")
            def tools() -> None:
                kernel = click.get_current_context().obj.kernel()
                for name in sorted(kernel.tools):
                    click.echo(name)

    A command that raises a :class:`kt.errors.KTError` gets kt's error report (one line, a
    hint, exit code 2 for configuration errors and 1 otherwise) for free.

    A command name that a built-in command or another plugin already uses is a
    :class:`kt.errors.RegistryClashError` naming both, reported whenever plugin commands are
    collected. An implementation that raises anything else is reported as a warning on stderr
    and its commands are left out; the other plugins' commands are still offered.

    Args:
        cli: A click group that collects this plugin's commands for this invocation. It is not
            the ``kt`` group itself, so a plugin can neither remove nor replace the commands of
            ``kt`` or of other plugins.

    Use in creature plugins:
        Not called: creature plugins are loaded after the command has been chosen.
    """


@hookspec
def kt_doctor_checks(kernel: Any, online: bool, config: Any) -> list[Any]:
    """Contribute checks to ``kt doctor``.

    Called once per ``kt doctor`` run, for each plugin of the invocation's kernel, after the
    built-in checks of Python, the kt home and the plugin set. Results are printed in plugin
    order, one line each. An implementation that raises is reported as one ``FAIL`` line
    naming the plugin; the other checks still run.

    Args:
        kernel: The invocation's :class:`kt.Kernel`.
        online: ``True`` with ``kt doctor --online``: checks may contact the network (keep each
            to a few seconds); otherwise stay offline.
        config: With ``kt doctor TARGET``, the creature's loaded :class:`kt.CreatureConfig`
            (check what it uses: its MCP servers, its plugins' settings); else ``None``.

    Returns:
        A list of objects with ``status`` (``"OK"``, ``"WARN"`` or ``"FAIL"``), ``subject``,
        ``detail`` and ``fix`` (``""`` when there is nothing to do) attributes.
    """


@hookspec
def kt_cli_slash_commands() -> list[Any]:
    """Add slash commands to the interactive inputs (``cli``, ``tui``).

    Called once per interactive run, when its session is built, for each plugin of the
    creature's kernel. The commands join the built-in ones after them, in ``/help`` and in Tab
    completion. A name (or alias) a built-in command or an earlier plugin already has is left
    out, with a warning in the transcript; an implementation that raises is reported the same
    way and the run goes on.

    Returns:
        A list of objects (or dicts) with ``name`` (what follows the ``/``), ``summary`` (one
        line for ``/help``) and ``run``: ``run(session, args)``, sync or ``async``, gets the
        interactive session (its ``agent`` is the running creature) and the text after the
        name, and returns the lines to show (a string, a list of strings, or ``None``);
        raising ``kt.errors.KTError`` shows its message as an error. Optional: ``usage`` (the
        arguments, for ``/help``), ``aliases`` and ``runs_model`` (``True`` when it may call
        the model: the front end shows it busy and Ctrl+C interrupts it)::

            import kt


            @kt.hookimpl
            def kt_cli_slash_commands():
                def tools(session, args):
                    return sorted(session.agent.tools)

                return [{"name": "tools", "summary": "list the creature's tools", "run": tools}]

    Use in creature plugins:
        Not called: the session asks the kernel's plugins only.
    """
