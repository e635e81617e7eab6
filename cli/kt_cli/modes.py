"""Run modes: how ``kt`` talks to a running creature (``kt run --mode plain|cli|tui``).

``plain`` and ``cli`` are built in (:mod:`kt_cli.plain`, :mod:`kt_cli.line_ui`); plugins add
more through the ``kt_cli_run_modes`` hook (``kt_tui`` adds ``tui``). :func:`interact` is the
one entry point for every command that hands a creature to the user: it starts the agent, runs
the mode, stops the agent and prints the resume command. Plugin commands reach it through the
click context (``click.get_current_context().find_root().obj.interact(agent, ...)``), since
plugins never import ``kt_cli``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from kt.errors import KTError

if TYPE_CHECKING:
    import kt

__all__ = ["BUILTIN_MODES", "ModeError", "default_mode", "find_mode", "interact"]

BUILTIN_MODES = {
    "plain": "a line of stdin is a turn, the reply streams to stdout (pipes, scripts, CI)",
    "cli": "a line interface: streaming replies, tool activity, spinner, slash commands",
}
"""The modes ``kt_cli`` itself provides, with one line each."""


class ModeError(KTError):
    """A run mode that does not exist or cannot run here (the message says how to get it)."""


def default_mode(stdin: TextIO | None = None, stdout: TextIO | None = None) -> str:
    """``cli`` when both standard input and output are terminals, else ``plain``."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    try:
        return "cli" if stdin.isatty() and stdout.isatty() else "plain"
    except (AttributeError, ValueError):
        return "plain"


def plugin_modes(kernel: kt.Kernel) -> dict[str, Any]:
    """The run modes plugins contribute through ``kt_cli_run_modes``, by name.

    Args:
        kernel: The plugin set to ask.

    Returns:
        Mode objects (``name``, ``description``, ``run``; optionally ``unavailable``).
    """
    from kt_cli.plugin import add_cli_hookspecs

    add_cli_hookspecs(kernel.pm)
    found: dict[str, Any] = {}
    for modes in kernel.pm.hook.kt_cli_run_modes():
        for mode in modes or []:
            found.setdefault(str(mode.name), mode)
    return found


def find_mode(name: str, kernel: kt.Kernel) -> Any:
    """Check that mode *name* can run; return the plugin's mode object (``None``: built in).

    Args:
        name: The mode asked for.
        kernel: The plugin set.

    Returns:
        ``None`` for ``plain`` and ``cli``, else the mode object a plugin contributed.

    Raises:
        ModeError: no such mode, or its plugin says it cannot run (a missing dependency).
    """
    if name in BUILTIN_MODES:
        return None
    modes = plugin_modes(kernel)
    mode = modes.get(name)
    if mode is None:
        known = ", ".join([*BUILTIN_MODES, *sorted(modes)])
        if name == "tui":
            raise ModeError(f"mode 'tui' needs the kt_tui plugin ({_tui_hint()}); modes: {known}")
        raise ModeError(f"unknown mode '{name}'; modes: {known}")
    unavailable = getattr(mode, "unavailable", "") or ""
    if unavailable:
        raise ModeError(f"mode '{name}' cannot run: {unavailable}")
    return mode


def _tui_hint() -> str:
    from importlib.metadata import entry_points

    if entry_points(group="kt.plugins", name="kt_tui"):
        return "installed but not in the plugin set: add it with --plugins ...,kt_tui or KT_PLUGINS"
    return "not installed: pip install 'kt-terrarium[tui]'; or use --mode cli"


async def interact(
    agent: kt.Agent,
    *,
    mode: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    timeout: float | None = None,
    show_tools: bool = True,
) -> int:
    """Start *agent*, let the user talk to it in *mode*, stop it, print the resume command.

    Args:
        agent: A built agent, not started yet.
        mode: ``plain``, ``cli`` or a plugin's mode (default: :func:`default_mode`).
        stdin: Input (default ``sys.stdin``).
        stdout: Output (default ``sys.stdout``).
        stderr: Notices and the resume command (default ``sys.stderr``).
        timeout: Time limit per turn in seconds (``None``: the creature's own).
        show_tools: Show tool activity.

    The agent is stopped however the mode ends (also when the caller is cancelled, which
    cancels a running turn), and the resume command is printed on every way out.

    Returns:
        The exit code: 0, 1 (``plain``: a turn failed), 130 (ended by Ctrl+C).

    Raises:
        ModeError: the mode does not exist or cannot run; raised before the agent starts.
    """
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    mode = mode or default_mode(stdin, stdout)
    plugin_mode = find_mode(mode, agent.kernel)
    try:
        async with agent:
            if mode == "plain":
                return await _run_plain(agent, stdin, stdout, stderr, timeout, show_tools)
            session = _session(agent, timeout, stdout)
            if mode == "cli":
                from kt_cli.line_ui import LineInterface

                ui = LineInterface(
                    session, stdin=stdin, out=stdout, history=session.history, show_tools=show_tools
                )
                return await ui.run()
            return int(await plugin_mode.run(session) or 0)
    finally:  # on every way out, errors included: the session file has everything so far
        name = getattr(agent.session, "name", None)
        if name:
            stderr.write(f"kt: session saved; continue it with: kt resume {name}\n")
            stderr.flush()


def _session(agent: kt.Agent, timeout: float | None, stdout: TextIO) -> Any:
    from kt.config.home import kt_home
    from kt_cli.interactive import InteractiveSession
    from kt_cli.line_ui import symbols_for
    from kt_cli.terminal import History

    session = InteractiveSession(agent, timeout=timeout, symbols=symbols_for(stdout))
    session.history = History(kt_home(agent.kernel.env) / "input-history")
    return session


async def _run_plain(
    agent: kt.Agent,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    timeout: float | None,
    show_tools: bool,
) -> int:
    from kt_cli.output import TextPrinter
    from kt_cli.plain import LineReader, PlainSession

    plain = PlainSession(
        agent,
        lines=LineReader(stdin),
        printer=TextPrinter(stdout, stderr, show_tools=show_tools),
        err=stderr,
        timeout=timeout,
    )
    return await plain.run()
