"""The ``kt_cli`` plugin: the ``kt_cli_commands`` hook specification and the ``stdout`` output.

This module is the ``kt_cli`` entry point in the ``kt.plugins`` group, so every process that
loads the default plugin set imports it (a web server, a script calling ``kt.Kernel()``). It
therefore imports neither click nor trio; the output class is imported when a creature builds
one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from kt import OutputSpec, hookimpl
from kt_cli import hookspecs

if TYPE_CHECKING:
    from kt_cli.output import TextPrinter


def add_cli_hookspecs(pm: pluggy.PluginManager) -> None:
    """Add :mod:`kt_cli.hookspecs` to *pm* unless it is there already.

    The ``kt`` command calls this for kernels whose plugin set leaves ``kt_cli`` out, so
    plugins can always contribute commands; calling it twice is harmless.

    Args:
        pm: A kernel's plugin manager.
    """
    caller = getattr(pm.hook, "kt_cli_commands", None)
    if caller is None or caller.spec is None:
        pm.add_hookspecs(hookspecs)


@hookimpl
def kt_addhookspecs(pm: pluggy.PluginManager) -> None:
    """Declare ``kt_cli_commands`` so other plugins can add ``kt`` commands."""
    add_cli_hookspecs(pm)


def _stdout_output(entry: Any, agent: Any) -> TextPrinter:
    import sys

    from kt_cli.output import TextPrinter

    options = getattr(entry, "options", None) or {}
    return TextPrinter(sys.stdout, sys.stderr, show_tools=bool(options.get("show_tools", False)))


@hookimpl
def kt_outputs() -> list[OutputSpec]:
    """Contribute the ``stdout`` output (``output = {type = "stdout"}``)."""
    return [
        OutputSpec(
            "stdout",
            _stdout_output,
            "streams the creature's text to standard output as it arrives "
            "(option show_tools = true adds tool activity lines on stderr)",
        )
    ]
