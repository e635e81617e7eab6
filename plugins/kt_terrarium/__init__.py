"""``kt_terrarium``: the terrarium engine, its recipes and the ``kt terrarium`` commands.

A terrarium hosts many creatures as a graph joined by channels; it runs no model itself::

    from kt_terrarium import Terrarium

    async with Terrarium() as engine:
        writer = await engine.add_creature("creatures/writer")
        ...

* :mod:`kt_terrarium.engine`: :class:`Terrarium`, creature handles, output wiring, hot-plug.
* :mod:`kt_terrarium.channels`: channels, the channel service creatures' tools reach through
  ``kt.CHANNEL_SERVICE``, and the engine's errors.
* :mod:`kt_terrarium.recipes`: terrarium recipe files (``terrarium.toml`` / ``terrarium.yaml``).
* :mod:`kt_terrarium.graph_tools`: the privileged ``group_*`` tools, contributed through
  ``kt_tools()``.
* ``kt terrarium run RECIPE`` / ``kt terrarium check RECIPE``: the command line.

Loading the plugin costs nothing: the engine is imported on first use of one of its names,
click only when ``kt`` asks for plugin commands.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import kt

if TYPE_CHECKING:
    from kt_terrarium.channels import (  # noqa: F401
        CHANNELS,
        ChannelError,
        ChannelExistsError,
        ChannelInfo,
        ChannelMessage,
        ChannelMessageSent,
        ChannelNotFoundError,
        ChannelPermissionError,
        ChannelService,
        CreatureExistsError,
        CreatureNotFoundError,
        PrivilegeError,
        TerrariumError,
        TopologyError,
        WiringLoopError,
    )
    from kt_terrarium.engine import CreatureHandle, GraphInfo, Terrarium, Wire  # noqa: F401
    from kt_terrarium.recipes import Recipe, load_recipe  # noqa: F401

_LAZY = {
    **dict.fromkeys(["CreatureHandle", "GraphInfo", "Terrarium", "Wire"], "kt_terrarium.engine"),
    **dict.fromkeys(["Recipe", "load_recipe"], "kt_terrarium.recipes"),
    **dict.fromkeys(
        [
            "CHANNELS",
            "ChannelError",
            "ChannelExistsError",
            "ChannelInfo",
            "ChannelMessage",
            "ChannelMessageSent",
            "ChannelNotFoundError",
            "ChannelPermissionError",
            "ChannelService",
            "CreatureExistsError",
            "CreatureNotFoundError",
            "PrivilegeError",
            "TerrariumError",
            "TopologyError",
            "WiringLoopError",
        ],
        "kt_terrarium.channels",
    ),
}

__all__ = sorted([*_LAZY, "kt_cli_commands", "kt_tools"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kt_terrarium' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


@kt.hookimpl
def kt_tools() -> list[kt.ToolSpec]:
    """The privileged ``group_*`` tools the engine gives a terrarium's root creatures."""
    from kt_terrarium.graph_tools import PRIVILEGED_TOOLS

    return list(PRIVILEGED_TOOLS)


@kt.hookimpl
def kt_cli_commands(cli: Any) -> None:
    """Add the ``terrarium`` command group to ``kt``."""
    from kt_terrarium.commands import terrarium

    cli.add_command(terrarium)
