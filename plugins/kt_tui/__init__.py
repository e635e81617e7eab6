"""``kt_tui``: a full-screen terminal UI for talking to a creature (``kt run --mode tui``).

The screen: a scrolling transcript (inputs, streamed replies, one line per finished tool call),
a side panel (model, session, usage, running calls, background jobs, sub-agents), a status line
with a spinner, and an input box that takes the same slash commands as the ``cli`` input.

The plugin contributes the ``tui`` input module through ``kt_inputs``: ``kt run --mode tui``,
or ``input = {type = "tui"}`` in a creature config (options ``timeout``, ``prompt``,
``show_tools``). It is built on the loop the ``kt`` command's own inputs share
(``kt_cli.repl``), so it declares ``kt_cli`` as a requirement. urwid is imported only when the
input runs; without it, or without a terminal, the input says what to do instead. See
``docs/guides/terminal.md``.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import kt

__all__ = ["INSTALL_HINT", "NO_TERMINAL", "TuiFactory", "kt_inputs"]

kt_requires = ("kt_cli",)

INSTALL_HINT = "urwid is not installed: pip install 'kt-terrarium[tui]'"
NO_TERMINAL = (
    "it needs a terminal on standard input and output; with pipes use --mode plain or --mode cli"
)


class TuiFactory:
    """Builds the ``tui`` input (``factory(entry, agent)``), or says why it cannot run here.

    ``kt run --mode tui`` asks :meth:`unavailable` before it builds the creature, so a missing
    urwid or a pipe is reported before any work is done.
    """

    def unavailable(self) -> str:
        """Why the input cannot run here (urwid missing, no terminal), or ``""``."""
        if importlib.util.find_spec("urwid") is None:
            return INSTALL_HINT
        if not (_isatty(sys.stdin) and _isatty(sys.stdout)):
            return NO_TERMINAL
        return ""

    def __call__(self, entry: Any, agent: Any) -> Any:
        """The input module for *entry* (``input = {type = "tui", ...}``).

        Raises:
            ModeError: it cannot run here (see :meth:`unavailable`).
            ConfigValidationError: an option it does not take, or a bad value.
        """
        reason = self.unavailable()
        if reason:
            from kt_cli.modes import ModeError

            raise ModeError(f"input 'tui' cannot run: {reason}")
        from kt_tui.app import TuiInput

        return TuiInput.from_entry(entry, agent)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@kt.hookimpl
def kt_inputs() -> list[kt.InputSpec]:
    """Contribute the ``tui`` input."""
    return [
        kt.InputSpec(
            "tui",
            TuiFactory(),
            "full screen: transcript, side panel of jobs, sub-agents and usage "
            "(options: timeout, prompt, show_tools)",
        )
    ]
