"""``kt_terrarium``: the ``kt terrarium`` commands, for running terrarium recipes.

* ``kt terrarium run RECIPE``: build the recipe's creatures in a :class:`kt.Terrarium`, start
  them, and talk to the root (or ``--focus`` creature): each line of input is a turn of it;
  its replies stream to stdout, and the team's activity (channel messages, output wires, other
  creatures' turns) goes to stderr. After each line, the command waits until the whole team is
  idle before reading the next one.
* ``kt terrarium check RECIPE``: load and check a recipe without running anything; print its
  creatures, channels and wiring.

The engine itself is the kernel's (``kt.Terrarium``); this plugin is only its command line. It
adds its commands through the ``kt_cli_commands`` hook that ``kt_cli`` declares, and imports
click only when ``kt`` asks for plugin commands.
"""

from __future__ import annotations

from typing import Any

import kt

__all__ = ["kt_cli_commands"]


@kt.hookimpl
def kt_cli_commands(cli: Any) -> None:
    """Add the ``terrarium`` command group to ``kt``."""
    from kt_terrarium.commands import terrarium

    cli.add_command(terrarium)
