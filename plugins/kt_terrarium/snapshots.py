"""The engine's state as plain data: for UIs and the HTTP API, prompt sections and graph tools.

Every function reads the :class:`~kt_terrarium.state.EngineState` and returns dicts and lists
(everything sorted), so the same engine always gives the same snapshot.
"""

from __future__ import annotations

from typing import Any

from kt_terrarium.graph_tools import history_entry
from kt_terrarium.state import EngineState

__all__ = ["creature_status", "engine_status", "group", "group_snapshot", "prompt_snapshot"]


def creature_status(state: EngineState, creature_id: str) -> dict[str, Any]:
    """One creature's status (see ``Terrarium.status``).

    Raises:
        CreatureNotFoundError: not hosted.
    """
    handle = state.handle(creature_id)
    listen, send = state.edges(creature_id)
    body = handle.body
    working_dir = body.working_dir
    return {
        "id": handle.id,
        "graph_id": handle.graph_id,
        "state": handle.state,
        "running": handle.is_running,
        "busy": handle.turns.busy,
        "privileged": handle.privileged,
        "parent": handle.parent,
        "listen": list(listen),
        "send": list(send),
        "wires": [w.as_dict() for w in sorted(handle.wires, key=lambda w: w.edge_id)],
        "pwd": str(working_dir) if working_dir is not None else None,
        "model": body.model,
        "turn_index": body.turn_index,
        "tools": list(body.tools),
        "transport": handle.transport,
    }


def engine_status(state: EngineState, *, running: bool) -> dict[str, Any]:
    """The whole engine's status (see ``Terrarium.status``)."""
    return {
        "running": running,
        "creatures": {cid: creature_status(state, cid) for cid in sorted(state.creatures)},
        "graphs": {
            graph.id: {
                "creature_ids": sorted(graph.creatures),
                "channels": sorted(graph.channels),
                "session_id": graph.session_id,
                "parent_session_ids": list(graph.parents),
            }
            for graph in sorted(state.graphs.values(), key=lambda g: g.id)
        },
    }


def prompt_snapshot(state: EngineState, creature_id: str) -> dict[str, Any] | None:
    """What :func:`kt_terrarium.graph_tools.describe_graph` needs (``None``: not hosted)."""
    handle = state.creatures.get(creature_id)
    graph = state.graphs.get(handle.graph_id) if handle else None
    if handle is None or graph is None:
        return None
    listen, send = state.edges(creature_id)
    channels = {
        name: {"kind": c.kind, "description": c.description} for name, c in graph.channels.items()
    }
    wires_in = sorted(
        {h.id for h in state.creatures.values() for w in h.wires if w.target == creature_id}
    )
    snapshot: dict[str, Any] = {
        "creature": creature_id,
        "members": sorted(graph.creatures),
        "listen": list(listen),
        "send": list(send),
        "wires_out": [
            {"to": w.target, "with_content": w.with_content}
            for w in sorted(handle.wires, key=lambda w: (w.target, w.edge_id))
        ],
        "wires_in": wires_in,
        "privileged": handle.privileged,
        "channels": channels,
        "creatures": [],
    }
    if handle.privileged:
        snapshot["send"] = sorted(graph.channels)
        for cid in sorted(graph.creatures):
            other_listen, other_send = state.edges(cid)
            other = state.creatures[cid]
            snapshot["creatures"].append(
                {
                    "id": cid,
                    "running": other.state in ("running", "starting"),
                    "privileged": other.privileged,
                    "listen": list(other_listen),
                    "send": list(other_send),
                }
            )
    return snapshot


def group_snapshot(state: EngineState, creature_id: str, *, history: int = 0) -> dict[str, Any]:
    """What ``group_status`` shows *creature_id* about its group.

    Args:
        state: The engine's state.
        creature_id: The asking creature.
        history: Latest messages to include per channel (0: none).

    Returns:
        ``graph_id``, ``self``, ``creatures``, ``channels``, ``wires`` (plain data).
    """
    handle = state.handle(creature_id)
    graph = state.graphs[handle.graph_id]
    creatures = []
    for cid in sorted(group(state, creature_id)):
        other = state.creatures[cid]
        listen, send = state.edges(cid)
        creatures.append(
            {
                "id": cid,
                "running": other.is_running,
                "busy": other.turns.busy,
                "privileged": other.privileged,
                "parent": other.parent,
                "graph_id": other.graph_id,
                "in_my_graph": other.graph_id == graph.id,
                "listen": list(listen),
                "send": list(send),
            }
        )
    channels = []
    for name in sorted(graph.channels):
        channel = graph.channels[name]
        entry: dict[str, Any] = {
            "name": name,
            "kind": channel.kind,
            "description": channel.description,
            "listeners": list(channel.listeners),
            "senders": sorted(channel.senders),
            "messages": channel.message_count,
            "backlog": len(channel.backlog),
        }
        if history:
            entry["history"] = [history_entry(m) for m in list(channel.history)[-history:]]
        channels.append(entry)
    wires = [w.as_dict() for cid in sorted(graph.creatures) for w in state.creatures[cid].wires]
    return {
        "graph_id": graph.id,
        "self": {"id": creature_id, "privileged": handle.privileged},
        "creatures": creatures,
        "channels": channels,
        "wires": wires,
    }


def group(state: EngineState, creature_id: str) -> set[str]:
    """*creature_id*'s group: the creatures of its graph and the ones it spawned."""
    handle = state.handle(creature_id)
    members = set(state.graphs[handle.graph_id].creatures)
    members |= {h.id for h in state.creatures.values() if h.parent == creature_id}
    return members
