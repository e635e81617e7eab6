"""``kt_terrarium``: the terrarium engine, its recipes and the ``kt terrarium`` commands.

A terrarium hosts many creatures as a graph joined by channels; it runs no model itself::

    from kt_terrarium import Terrarium

    async with Terrarium() as engine:
        writer = await engine.add_creature("creatures/writer")
        ...

Every public name is importable from ``kt_terrarium``; the modules, top-down:

* :mod:`~kt_terrarium.engine`: :class:`Terrarium`, the facade that composes the parts below.
* :mod:`~kt_terrarium.handles`: :class:`CreatureHandle`, what the engine holds per creature.
* :mod:`~kt_terrarium.hosting` / :mod:`~kt_terrarium.remote`: running creatures in this process,
  or through a transport; :mod:`~kt_terrarium.transport` is the protocol transports implement,
  :mod:`~kt_terrarium.worker` the loop that hosts a placed creature, and
  :mod:`~kt_terrarium.testing` an in-process loopback transport.
* :mod:`~kt_terrarium.routing`: channels, edges and message delivery;
  :mod:`~kt_terrarium.channels`: channel values and the channel service creatures' tools reach
  through ``kt.CHANNEL_SERVICE``.
* :mod:`~kt_terrarium.wiring`: output wires.
* :mod:`~kt_terrarium.graphs`: graphs, merges, splits and their sessions;
  :mod:`~kt_terrarium.topology`: the pure graph logic behind them (no trio);
  :mod:`~kt_terrarium.persistence`: graph stores, from the kernel's session stores.
* :mod:`~kt_terrarium.bus`: the event fan-out; :mod:`~kt_terrarium.events`: the engine's events;
  :mod:`~kt_terrarium.errors`: its errors; :mod:`~kt_terrarium.state` and
  :mod:`~kt_terrarium.snapshots`: shared state, and state as plain data.
* :mod:`~kt_terrarium.recipes` (reading ``terrarium.toml`` / ``terrarium.yaml``) and
  :mod:`~kt_terrarium.recipe_apply` (populating an engine from one).
* :mod:`~kt_terrarium.graph_tools`: the privileged ``group_*`` tools, contributed through
  ``kt_tools()``, and the terrarium section of creatures' prompts.
* ``kt terrarium run RECIPE`` / ``kt terrarium check RECIPE``: the command line.

Loading the plugin costs nothing: the engine is imported on first use of one of its names,
click only when ``kt`` asks for plugin commands.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import kt

kt_requires = (
    "kt_cli",  # kt terrarium run drives the focus creature through kt_cli.repl
    "kt_compose",  # a hosted creature is a compose step (handle.step())
)

if TYPE_CHECKING:
    from kt_terrarium.channels import (  # noqa: F401
        CHANNELS,
        ChannelInfo,
        ChannelMessage,
        ChannelService,
    )
    from kt_terrarium.engine import Terrarium  # noqa: F401
    from kt_terrarium.errors import (  # noqa: F401
        ChannelError,
        ChannelExistsError,
        ChannelNotFoundError,
        ChannelPermissionError,
        CreatureExistsError,
        CreatureNotFoundError,
        PrivilegeError,
        SessionStoreMissingError,
        TerrariumError,
        TopologyError,
        TransportError,
        UnknownTransportError,
        WiringLoopError,
    )
    from kt_terrarium.events import (  # noqa: F401
        ChannelCreated,
        ChannelEdgeChanged,
        ChannelMessageSent,
        ChannelRemoved,
        CreatureAdded,
        CreatureRemoved,
        DirectMessage,
        GraphSessionStarted,
        OutputWireAdded,
        OutputWireDelivered,
        OutputWireDropped,
        OutputWireRemoved,
        TopologyChanged,
    )
    from kt_terrarium.graphs import GraphChange, GraphInfo  # noqa: F401
    from kt_terrarium.handles import CreatureHandle  # noqa: F401
    from kt_terrarium.persistence import GraphStore  # noqa: F401
    from kt_terrarium.recipe_apply import AppliedRecipe  # noqa: F401
    from kt_terrarium.recipes import Recipe, load_recipe  # noqa: F401
    from kt_terrarium.transport import Link, Placement, Transport  # noqa: F401
    from kt_terrarium.wiring import Wire  # noqa: F401
    from kt_terrarium.worker import serve_creature  # noqa: F401

_LAZY = {
    **dict.fromkeys(["Terrarium"], "kt_terrarium.engine"),
    **dict.fromkeys(["CreatureHandle"], "kt_terrarium.handles"),
    **dict.fromkeys(["GraphChange", "GraphInfo"], "kt_terrarium.graphs"),
    **dict.fromkeys(["Wire"], "kt_terrarium.wiring"),
    **dict.fromkeys(["AppliedRecipe"], "kt_terrarium.recipe_apply"),
    **dict.fromkeys(["Recipe", "load_recipe"], "kt_terrarium.recipes"),
    **dict.fromkeys(["GraphStore"], "kt_terrarium.persistence"),
    **dict.fromkeys(["Link", "Placement", "Transport"], "kt_terrarium.transport"),
    **dict.fromkeys(["serve_creature"], "kt_terrarium.worker"),
    **dict.fromkeys(
        ["CHANNELS", "ChannelInfo", "ChannelMessage", "ChannelService"], "kt_terrarium.channels"
    ),
    **dict.fromkeys(
        [
            "ChannelCreated",
            "ChannelEdgeChanged",
            "ChannelMessageSent",
            "ChannelRemoved",
            "CreatureAdded",
            "CreatureRemoved",
            "DirectMessage",
            "GraphSessionStarted",
            "OutputWireAdded",
            "OutputWireDelivered",
            "OutputWireDropped",
            "OutputWireRemoved",
            "TopologyChanged",
        ],
        "kt_terrarium.events",
    ),
    **dict.fromkeys(
        [
            "ChannelError",
            "ChannelExistsError",
            "ChannelNotFoundError",
            "ChannelPermissionError",
            "CreatureExistsError",
            "CreatureNotFoundError",
            "PrivilegeError",
            "SessionStoreMissingError",
            "TerrariumError",
            "TopologyError",
            "TransportError",
            "UnknownTransportError",
            "WiringLoopError",
        ],
        "kt_terrarium.errors",
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


GRAPH_TOOLS = (
    "group_status",
    "group_add_node",
    "group_remove_node",
    "group_start_node",
    "group_stop_node",
    "group_channel",
    "group_connect",
    "group_wire",
    "group_send",
)
"""The names of ``graph_tools.PRIVILEGED_TOOLS``, so that a kernel registers them without
importing the engine's modules (a test checks that the two lists agree)."""


@kt.hookimpl
def kt_tools() -> list[kt.LazySpec]:
    """The privileged ``group_*`` tools the engine gives a terrarium's root creatures."""
    return [kt.LazySpec(name, f"kt_terrarium.graph_tools:{name}") for name in GRAPH_TOOLS]


@kt.hookimpl
def kt_cli_commands(cli: Any) -> None:
    """Add the ``terrarium`` command group to ``kt``."""
    from kt_terrarium.commands import terrarium

    cli.add_command(terrarium)
