"""Run modes: how ``kt`` talks to a running creature (``kt run --mode plain|cli|tui``).

A run mode is an input module (the ``kt_inputs`` registry): ``--mode NAME`` serves the creature
from the input called ``NAME``. ``kt_cli`` provides ``plain`` and ``cli``, ``kt_tui`` provides
``tui``, and any plugin's input works the same way (``--mode webhook``). An input that does not
show the creature's events itself (``plain``, ``webhook``) gets the ``stdout`` output, so the
replies reach the terminal.

:func:`interact` is the one entry point for every command that hands a creature to the user:
it chooses the input, starts the agent, serves it (``agent.serve()``), stops the agent and
prints the resume command. Plugin commands reach it through the click context
(``click.get_current_context().find_root().obj.interact(agent, ...)``), since plugins never
import ``kt_cli``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from kt.errors import KTError

if TYPE_CHECKING:
    import kt

__all__ = ["ModeError", "default_mode", "find_mode", "interact", "mode_names"]


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


def mode_names(kernel: kt.Kernel) -> list[str]:
    """The modes *kernel* offers: its input modules, ``kt_cli``'s first, then by name."""
    from kt_cli.plugin import host

    inputs = host(kernel).inputs
    own = [name for name in inputs if inputs.origin(name) in ("kt_cli", "kt_cli.plugin")]
    return own + sorted(name for name in inputs if name not in own)


def find_mode(name: str, kernel: kt.Kernel) -> Any:
    """Check that mode *name* can run here; return its input spec.

    An input's factory may have an ``unavailable()`` method saying why it cannot run here
    (``kt_tui``: urwid missing, or no terminal); it is asked before the creature is built.

    Args:
        name: The mode asked for.
        kernel: The plugin set.

    Returns:
        The ``kt.InputSpec`` called *name*.

    Raises:
        ModeError: no such input, or it cannot run here (the message says what to install or
            to use instead).
    """
    from kt_cli.plugin import host

    spec = host(kernel).inputs.get(name)
    if spec is None:
        known = ", ".join(mode_names(kernel))
        if name == "tui":
            raise ModeError(f"mode 'tui' needs the kt_tui plugin ({_tui_hint()}); modes: {known}")
        raise ModeError(f"unknown mode '{name}'; modes: {known}")
    unavailable = getattr(spec.factory, "unavailable", None)
    reason = unavailable() if callable(unavailable) else ""
    if reason:
        raise ModeError(f"mode '{name}' cannot run: {reason}")
    return spec


def _tui_hint() -> str:
    from importlib.metadata import entry_points

    if entry_points(group="kt.plugins", name="kt_tui"):
        return "installed but not in the plugin set: add it with --plugins ...,kt_tui or KT_PLUGINS"
    return "not installed: pip install 'kt-terrarium[tui]'; or use --mode cli"


async def interact(
    agent: kt.Agent,
    *,
    mode: str | None = None,
    timeout: float | None = None,
    show_tools: bool = True,
    approvals: str | None = None,
) -> int:
    """Serve *agent* to the user from a terminal input, then stop it and print the resume command.

    The input is *mode*'s (replacing the one the agent was built with), else the agent's own
    (the creature config's ``input``), else :func:`default_mode`'s. When the agent has no
    output and the input does not show the creature's events itself, the ``stdout`` output
    is attached. Then the agent is started and ``agent.serve()`` runs until the input ends.

    Args:
        agent: A built agent, not started yet.
        mode: An input module's name (``plain``, ``cli``, ``tui``, ...), or ``None``.
        timeout: Time limit per turn in seconds, set on the input as its ``timeout``
            (``None``: the input's own, else the creature's).
        show_tools: ``False`` hides tool activity: sets ``show_tools`` on the input and the
            outputs that have it.
        approvals: The approval mode, set on the input as its ``approvals`` (``None``: the
            input's own).

    The agent is stopped however the input ends (also when the caller is cancelled, which
    cancels a running turn), and the resume command is printed on every way out.

    Returns:
        The input's ``exit_code`` (0 when it has none): 0, 1 (``plain``: a turn failed), 130
        (ended by Ctrl+C).

    Raises:
        ModeError: the mode does not exist or cannot run, or ``timeout`` was given for an
            input that takes none; raised before the agent starts.
    """
    from kt.config import module_entry
    from kt_cli.plugin import host

    kernel = host(agent.kernel)
    if mode is None and agent.input is None:
        mode = default_mode()
    if mode is not None:
        spec = find_mode(mode, kernel)
        agent.input = spec.factory(module_entry(mode), agent)
    _apply_options(agent, mode, timeout=timeout, show_tools=show_tools)
    if approvals is not None and hasattr(agent.input, "approvals"):
        agent.input.approvals = approvals
    if not agent.outputs and not getattr(agent.input, "renders_events", False):
        entry = module_entry({"type": "stdout", "show_tools": show_tools}, output=True)
        agent.outputs.append(kernel.outputs["stdout"].factory(entry, agent))
    try:
        async with agent:
            await agent.serve()
        return int(getattr(agent.input, "exit_code", 0) or 0)
    finally:  # on every way out, errors included: the session file has everything so far
        name = getattr(agent.session, "name", None)
        if name:
            sys.stderr.write(f"kt: session saved; continue it with: kt resume {name}\n")
            sys.stderr.flush()


def _apply_options(
    agent: kt.Agent, mode: str | None, *, timeout: float | None, show_tools: bool
) -> None:
    """Set ``--timeout`` and ``--quiet`` on the modules that take them."""
    module = agent.input
    if timeout is not None:
        if not hasattr(module, "timeout"):
            configured = getattr(agent.config, "input", None)
            kind = mode or getattr(configured, "type", None) or type(module).__name__
            raise ModeError(
                f"--timeout: the input '{kind}' takes no time limit per turn; set "
                "[controller] turn_timeout in the creature config instead"
            )
        module.timeout = timeout
    if not show_tools:
        for target in (module, *agent.outputs):
            if hasattr(target, "show_tools"):
                target.show_tools = False
