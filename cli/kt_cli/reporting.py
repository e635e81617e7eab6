"""How ``kt`` reports a failed command: one line, a hint where one helps, an exit code.

Every :class:`kt.errors.KTError` already names the problem and the fix, so it is printed as
``kt: error: <message>``, followed by a ``hint:`` line when the command line itself offers a
better way out. The traceback is printed only with ``--verbose``.

Exit codes: ``2`` when the command cannot start as given (a config, plugin or usage problem:
fix the input and run again), ``1`` for a failure while running, ``130`` when interrupted by
Ctrl+C.
"""

from __future__ import annotations

import sys
import traceback
from typing import TextIO

import click

from kt.errors import (
    ConfigError,
    KTError,
    LLMNotConfiguredError,
    ModuleLoadError,
    PluginLoadError,
    RegistryClashError,
    UnknownNameError,
)

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "CommandError",
    "as_command_error",
    "exit_code_for",
    "hint_for",
    "single_exception",
]

EXIT_FAILURE = 1
"""Something failed while running (a turn, a check, an unexpected error)."""

EXIT_USAGE = 2
"""The command cannot start as given: a usage, config or plugin problem. Also click's code."""

EXIT_INTERRUPTED = 130
"""Stopped by Ctrl+C (128 + SIGINT, as shells report it)."""

_USAGE_ERRORS = (
    ConfigError,
    ModuleLoadError,
    LLMNotConfiguredError,
    PluginLoadError,
    RegistryClashError,
)


def exit_code_for(exc: BaseException) -> int:
    """The exit code for a command that failed with *exc*.

    Args:
        exc: The error.

    Returns:
        :data:`EXIT_USAGE` for config, module, plugin and model-selection errors, else
        :data:`EXIT_FAILURE`.
    """
    return EXIT_USAGE if isinstance(exc, _USAGE_ERRORS) else EXIT_FAILURE


def hint_for(exc: BaseException) -> str | None:
    """A hint that points at the command line's own remedies, or ``None``.

    Args:
        exc: The error.

    Returns:
        One line without the ``hint:`` prefix, or ``None`` when the message says it all.
    """
    if isinstance(exc, LLMNotConfiguredError):
        return (
            "to try a creature offline, run it with --llm scripted:FILE, where FILE is a "
            "TOML file of [[replies]] (see docs/reference/cli.md)"
        )
    if isinstance(exc, UnknownNameError):
        return "`kt doctor TARGET` checks the whole config at once"
    if isinstance(exc, ModuleLoadError):
        return (
            "a dotted module name must be importable (install its package or extend "
            "PYTHONPATH); a path such as ./tools.py is loaded from the creature folder"
        )
    if isinstance(exc, PluginLoadError | RegistryClashError):
        return "choose the plugin set with --plugins NAME,... or --no-plugins (or KT_PLUGINS)"
    return None


def single_exception(exc: BaseException) -> BaseException:
    """The one exception inside nested exception groups, or *exc* itself.

    trio wraps errors raised in nurseries in ``ExceptionGroup``; a group holding exactly one
    error is reported as that error.

    Args:
        exc: An exception, possibly a group.

    Returns:
        The single leaf exception, or *exc* when it is not a group of exactly one.
    """
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class CommandError(click.ClickException):
    """A failed command as click reports it: ``kt: error:`` line, hint, exit code.

    Args:
        error: What went wrong (a ``KTError``, or an unexpected exception).
        verbose: Print the traceback before the message.
        internal: The error is a bug in kt or a plugin, not a problem with the input.
    """

    def __init__(self, error: BaseException, *, verbose: bool = False, internal: bool = False):
        message = str(error) or type(error).__name__
        if internal:
            message = f"internal error: {type(error).__name__}: {message}"
        super().__init__(message)
        self.error = error
        self.verbose = verbose
        self.internal = internal
        self.exit_code = exit_code_for(error)
        self.hint = (
            "this is a bug in kt or a plugin; rerun with --verbose for the traceback and report it"
            if internal and not verbose
            else hint_for(error)
        )

    def show(self, file: TextIO | None = None) -> None:
        """Print the report to *file* (default: stderr)."""
        file = sys.stderr if file is None else file
        if self.verbose:
            traceback.print_exception(self.error, file=file)
        click.echo(f"kt: error: {self.message}", file=file)
        if self.hint:
            click.echo(f"hint: {self.hint}", file=file)


class ClosedPipe(CommandError):
    """Standard output was closed by its reader (``kt list | head -3``): end quietly.

    Nothing is printed, and standard output is pointed at the null device, so the final flush
    when the interpreter exits does not fail again. The exit code is 1, as click's own.
    """

    def show(self, file: TextIO | None = None) -> None:
        """Print nothing; silence standard output."""
        import os

        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # no real stdout: nothing to silence
            pass


def as_command_error(exc: BaseException, *, verbose: bool) -> CommandError | None:
    """Wrap *exc* for reporting, or return ``None`` for exceptions click handles itself.

    Args:
        exc: An exception that escaped a command.
        verbose: Whether ``--verbose`` was given.

    Returns:
        The report for a ``KTError``, a command's ``click.ClickException`` (reported in kt's
        ``kt: error:`` form with its exit code) or an unexpected ``Exception``; ``None`` for
        usage errors, ``Exit`` and ``Abort`` (click reports them with the usage) and for
        non-``Exception`` errors.
    """
    exc = single_exception(exc)
    if isinstance(exc, click.ClickException) and not isinstance(
        exc, click.UsageError | CommandError
    ):  # a command's own failure (not a usage error): kt's form, click's exit code
        report = CommandError(exc, verbose=False)
        report.exit_code, report.hint = exc.exit_code, ""
        return report
    if isinstance(exc, click.ClickException | click.exceptions.Exit | click.Abort):
        return None
    if isinstance(exc, BrokenPipeError):
        return ClosedPipe(exc)
    if isinstance(exc, KTError):
        return CommandError(exc, verbose=verbose)
    if isinstance(exc, Exception):
        return CommandError(exc, verbose=verbose, internal=True)
    return None
