"""``kt_tui``: a full-screen terminal UI for talking to a creature (``kt run --mode tui``).

The screen: a scrolling transcript (inputs, streamed replies, one line per finished tool call),
a side panel (model, session, usage, running calls, background jobs, sub-agents), a status line
with a spinner, and an input box that takes the same slash commands as the ``cli`` mode.

The plugin contributes the ``tui`` run mode through ``kt_cli_run_modes``, the hook the ``kt``
command declares; ``kt`` hands the mode an interactive session object (see that hook's
reference), so this package never imports ``kt_cli``. urwid is imported only when the mode
runs; without it the mode says which extra to install. See ``docs/guides/terminal.md``.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import attrs

import kt

__all__ = ["TuiMode", "tui_mode"]

INSTALL_HINT = "urwid is not installed: pip install 'kt-terrarium[tui]'"
NO_TERMINAL = (
    "it needs a terminal on standard input and output; with pipes use --mode plain or --mode cli"
)


@attrs.frozen
class TuiMode:
    """The ``tui`` run mode, as ``kt_cli_run_modes`` returns it.

    Attributes:
        name: ``"tui"``.
        description: One line for listings.
        unavailable: Why it cannot run (urwid missing), or ``""``.
    """

    name: str = "tui"
    description: str = "full screen: transcript, side panel of jobs, sub-agents and usage"
    unavailable: str = ""

    async def run(self, session: Any) -> int:
        """Show the full-screen UI for *session* until the user leaves.

        Args:
            session: The interactive session ``kt`` passes to run modes.

        Returns:
            0 after Ctrl+D or ``/exit``; 130 after Ctrl+C ended the run.
        """
        from kt_tui.app import TuiApp

        return await TuiApp(session).run()


def tui_mode() -> TuiMode:
    """The mode object, saying whether it can run here (without importing urwid).

    It cannot without urwid, or when standard input or output is not a terminal.
    """
    if importlib.util.find_spec("urwid") is None:
        return TuiMode(unavailable=INSTALL_HINT)
    if not (_isatty(sys.stdin) and _isatty(sys.stdout)):
        return TuiMode(unavailable=NO_TERMINAL)
    return TuiMode()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@kt.hookimpl
def kt_cli_run_modes() -> list[TuiMode]:
    """Contribute the ``tui`` run mode."""
    return [tui_mode()]
