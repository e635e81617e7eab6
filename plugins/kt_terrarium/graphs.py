"""Graphs: the connected components of the engine's creatures, with their sessions and stores.

A graph holds creatures and channels, and has a *session*: an id, the ids of the sessions it
continues, and, when persisted, a :class:`~kt_terrarium.persistence.GraphStore` recording every
event of its creatures and the engine's events about it. :class:`GraphBook` makes graphs, merges
two of them when an edge joins them, and splits one when an edge, channel or creature goes and
it falls apart; which creatures stay together is decided by :mod:`kt_terrarium.topology`.

A merge or a split always starts new sessions: new stores copy their parents' records (a split
copies to each part the records of its own creatures and of the graph), and the parents are
closed, so no store is ever written by two graphs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from kt.events import HistoryReplaced
from kt_terrarium import topology
from kt_terrarium.channels import Channel, ChannelInfo
from kt_terrarium.errors import ChannelNotFoundError, TerrariumError, TopologyError
from kt_terrarium.events import (
    ChannelCreated,
    ChannelEdgeChanged,
    CreatureAdded,
    GraphSessionStarted,
    OutputWireAdded,
    TopologyChanged,
)
from kt_terrarium.persistence import (
    GraphStore,
    StoreFactory,
    copy_records,
    record,
    session_meta,
)
from kt_terrarium.state import EngineState
from kt_terrarium.wiring import Wire

__all__ = ["Graph", "GraphBook", "GraphChange", "GraphInfo", "new_id"]


def new_id(prefix: str) -> str:
    """A fresh ``<prefix>_<12 hex>`` id."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@attrs.define(eq=False)
class Graph:
    """One live graph (engine internal; readers get :class:`GraphInfo` snapshots).

    Attributes:
        id: ``graph_<12 hex>``; kept through merges (by the first graph) and splits (by one part).
        session_id: Its current session.
        parents: The sessions that one continues.
        origin: ``new``, ``recipe``, ``merge`` or ``split``.
        store: Where its session is recorded, or ``None``.
        creatures: Its creatures' ids.
        channels: Its channels by name.
        name: The recipe's name, for graphs made by a recipe.
    """

    id: str
    session_id: str
    parents: tuple[str, ...] = ()
    origin: str = "new"
    store: GraphStore | None = None
    creatures: set[str] = attrs.Factory(set)
    channels: dict[str, Channel] = attrs.Factory(dict)
    name: str = ""


@attrs.frozen(kw_only=True)
class GraphInfo:
    """A snapshot of one graph (``engine.graphs()``).

    Attributes:
        graph_id: ``graph_<12 hex>``.
        creature_ids: Its creatures, sorted.
        channels: Its channels, sorted by name.
        wires: Output wires between its creatures, sorted by id.
        session_id: Its current session.
        parent_session_ids: The sessions this one continues.
        origin: ``new``, ``recipe``, ``merge`` or ``split``.
        store_path: Where its session is persisted, if anywhere.
        name: The recipe's name for graphs made by a recipe (kept through merges and splits).
    """

    graph_id: str
    creature_ids: tuple[str, ...]
    channels: tuple[ChannelInfo, ...] = ()
    wires: tuple[Wire, ...] = ()
    session_id: str = ""
    parent_session_ids: tuple[str, ...] = ()
    origin: str = "new"
    store_path: Path | None = None
    name: str = ""


@attrs.frozen(kw_only=True)
class GraphChange:
    """What a topology operation did.

    Attributes:
        delta: ``merge`` (graphs joined), ``split`` (a graph fell apart) or ``nothing``.
        graph_id: The graph of the operation's (first) creature afterwards.
        graph_ids: Every graph involved afterwards.
        channel: The channel used, for operations on one channel.
        channels: The channels touched, for ``disconnect``.
    """

    delta: str = "nothing"
    graph_id: str = ""
    graph_ids: tuple[str, ...] = ()
    channel: str | None = None
    channels: tuple[str, ...] = ()

    @property
    def delta_kind(self) -> str:
        """:attr:`delta`, under the reference framework's name."""
        return self.delta

    @classmethod
    def after_split(cls, parts: list[str], **fields: Any) -> GraphChange:
        """The change of an operation that may have split a graph into *parts* (ids)."""
        fields.setdefault("graph_id", parts[0] if parts else "")
        return cls(delta="split" if len(parts) > 1 else "nothing", graph_ids=tuple(parts), **fields)


class GraphBook:
    """The engine's graphs: making, merging, splitting and dropping them, with their sessions.

    Args:
        state: The engine's shared state (its ``graphs`` are the book's).
        session_dir: The engine's ``session_dir``.
        store_factory: Returns the :data:`~kt_terrarium.persistence.StoreFactory` to open stores
            with; called only when a graph is persisted (it raises when none is loaded).
    """

    def __init__(
        self,
        state: EngineState,
        *,
        session_dir: Path | None,
        store_factory: Callable[[], StoreFactory],
    ) -> None:
        self.state = state
        self.session_dir = session_dir
        self._store_factory = store_factory

    # -- Lookups -------------------------------------------------------------------------------

    def find(self, graph: str | None, creature: str | None) -> Graph:
        """The graph *graph*, else *creature*'s, else the only one.

        Raises:
            TerrariumError: no such graph, or neither is given and there are several graphs.
            CreatureNotFoundError: *creature* is not hosted.
        """
        graphs = self.state.graphs
        if graph is not None:
            found = graphs.get(graph)
            if found is None:
                raise TerrariumError(
                    f"no graph '{graph}'; graphs: {', '.join(sorted(graphs)) or 'none'}"
                )
            return found
        if creature is not None:
            return self.state.graph_of(creature)
        if len(graphs) == 1:
            return next(iter(graphs.values()))
        raise TerrariumError(
            "say which graph: pass graph= or creature= "
            f"({len(graphs)} graphs: {', '.join(sorted(graphs)) or 'none'})"
        )

    def with_channel(self, name: str, graph: str | None) -> Graph:
        """The graph that has channel *name* (in *graph* when given).

        Raises:
            ChannelNotFoundError: no graph has it.
            TerrariumError: several graphs have it and *graph* is not given.
        """
        if graph is not None:
            owner = self.find(graph, None)
            if name not in owner.channels:
                raise ChannelNotFoundError(
                    f"no channel '{name}' in graph {owner.id}; channels: "
                    f"{', '.join(sorted(owner.channels)) or 'none'}"
                )
            return owner
        owners = [g for g in self.state.graphs.values() if name in g.channels]
        if not owners:
            known = sorted({c for g in self.state.graphs.values() for c in g.channels})
            raise ChannelNotFoundError(
                f"no channel '{name}' in any graph; channels: {', '.join(known) or 'none'}"
            )
        if len(owners) > 1:
            raise TerrariumError(
                f"several graphs have a channel '{name}' "
                f"({', '.join(sorted(g.id for g in owners))}); pass graph="
            )
        return owners[0]

    def info(self, graph: Graph) -> GraphInfo:
        """A snapshot of *graph*."""
        creatures = self.state.creatures
        wires = sorted((w for cid in graph.creatures for w in creatures[cid].wires), key=_edge_id)
        return GraphInfo(
            graph_id=graph.id,
            creature_ids=tuple(sorted(graph.creatures)),
            channels=tuple(graph.channels[n].info() for n in sorted(graph.channels)),
            wires=tuple(wires),
            session_id=graph.session_id,
            parent_session_ids=graph.parents,
            origin=graph.origin,
            store_path=Path(graph.store.path) if graph.store and graph.store.path else None,
            name=graph.name,
        )

    # -- Making and dropping -------------------------------------------------------------------

    def new_graph(
        self,
        *,
        origin: str,
        session: Any = None,
        name: str = "",
    ) -> Graph:
        """A new, empty graph with a session of its own.

        Args:
            origin: ``new`` or ``recipe``.
            session: ``None`` (the engine's ``session_dir``, if set), ``False`` (not
                persisted), ``True`` (the engine's ``session_dir``, which must be set), a folder,
                or a :class:`~kt_terrarium.persistence.GraphStore`.
            name: The recipe's name.

        Raises:
            TerrariumError: ``session=True`` without a ``session_dir``.
            SessionStoreMissingError: the graph is to be persisted and no loaded session store
                records graphs.
        """
        graph = Graph(id=new_id("graph"), session_id=new_id("session"), origin=origin, name=name)
        if isinstance(session, GraphStore) and not isinstance(session, bool):
            graph.store = session
        elif session is not False:
            directory = None
            if isinstance(session, str | os.PathLike):
                directory = Path(session)
            elif self.session_dir is not None:
                directory = self.session_dir
            elif session is True:
                raise TerrariumError("session=True needs Terrarium(session_dir=...)")
            if directory is not None:
                graph.store = self._open_store(directory, graph)
        self.state.graphs[graph.id] = graph
        self._announce(graph)
        return graph

    def drop(self, graph: Graph) -> None:
        """Forget an empty graph: end its subscriptions, close its store."""
        for channel in graph.channels.values():
            channel.close_taps()
        if graph.store is not None:
            graph.store.close()
        del self.state.graphs[graph.id]
        self.state.touch()

    def close(self) -> None:
        """End every subscription and close every store (the engine shuts down)."""
        for graph in self.state.graphs.values():
            for channel in graph.channels.values():
                channel.close_taps()
            if graph.store is not None:
                graph.store.close()

    # -- Merging -------------------------------------------------------------------------------

    def merge(self, keep_id: str, other_id: str, *, reason: str) -> None:
        """Fold graph *other_id* into *keep_id* (which keeps its id); a new session begins.

        Raises:
            TopologyError: both graphs have a channel of one name (nothing changes).
        """
        graphs, creatures = self.state.graphs, self.state.creatures
        keep, other = graphs[keep_id], graphs[other_id]
        clash = topology.channel_clash(keep.channels, other.channels)
        if clash:
            raise TopologyError(
                f"cannot join graphs {keep.id} and {other.id}: both have a channel named "
                f"{', '.join(repr(c) for c in clash)}; remove or rename one of them first"
            )
        directory = self._store_dir(keep, other)
        before = [
            (keep.session_id, keep.store, set(keep.creatures), list(keep.channels.values())),
            (other.session_id, other.store, set(other.creatures), list(other.channels.values())),
        ]
        for channel in other.channels.values():
            channel.graph_id = keep.id
            keep.channels[channel.name] = channel
        for creature_id in other.creatures:
            creatures[creature_id].graph_id = keep.id
        keep.creatures |= other.creatures
        del graphs[other.id]
        parents = (keep.session_id, other.session_id)
        keep.session_id = new_id("session")
        keep.parents = parents
        keep.origin = "merge"
        keep.name = keep.name or other.name
        keep.store = None
        if directory is not None:
            store = self._open_store(directory, keep)
            for session_id, old, members, channels in before:
                if old is not None:
                    copy_records(old, store, session_id=session_id)
                    old.close()
                else:  # never persisted: record it as it stands, so a resume rebuilds it
                    for standing in self._standing_records(members, channels, keep.id):
                        store.append(standing)
            keep.store = store
        self.state.touch()
        self.state.publish(
            TopologyChanged(
                kind="merge",
                old_graph_ids=(keep.id, other.id),
                new_graph_ids=(keep.id,),
                affected=tuple(sorted(keep.creatures)),
                reason=reason,
            ),
            (keep.id,),
        )
        self._announce(keep)

    def _standing_records(
        self, members: set[str], channels: list[Channel], graph_id: str
    ) -> list[dict[str, Any]]:
        """A graph that was never persisted, as the records that would have built it.

        Its creatures, channels, edges and output wires, then where each conversation stands
        (``history_replaced``, reason ``joined_persisted_graph``).
        """
        handles = [self.state.creatures[creature_id] for creature_id in sorted(members)]
        events: list[Any] = [
            CreatureAdded(
                creature=h.id,
                graph_id=graph_id,
                privileged=h.privileged,
                parent=h.parent,
                source=h.source,
            )
            for h in handles
        ]
        for channel in channels:
            events.append(
                ChannelCreated(
                    channel=channel.name,
                    kind=channel.kind,
                    description=channel.description,
                    graph_id=graph_id,
                )
            )
            edges = [("listen", c) for c in channel.listeners] + [
                ("send", c) for c in sorted(channel.senders)
            ]
            events += [
                ChannelEdgeChanged(
                    creature=c, channel=channel.name, direction=direction, graph_id=graph_id
                )
                for direction, c in edges
                if c in members
            ]
        for h in handles:
            events += [
                OutputWireAdded(
                    creature=h.id,
                    edge_id=wire.edge_id,
                    target=wire.target,
                    with_content=wire.with_content,
                    max_hops=wire.max_hops,
                )
                for wire in h.wires
            ]
            events.append(
                HistoryReplaced(
                    creature=h.id,
                    turn_index=h.body.turn_index,
                    messages=tuple(h.body.history),
                    reason="joined_persisted_graph",
                )
            )
        return [record(event, graph_id) for event in events]

    # -- Splitting -----------------------------------------------------------------------------

    def split_if_needed(self, graph_id: str, *, reason: str) -> list[str]:
        """Split *graph_id* into its connected components; return the resulting ids.

        The part that keeps the id, and where channels go: :func:`kt_terrarium.topology.plan_split`.
        A graph that stays whole publishes a ``topology_changed`` of kind ``nothing``.
        """
        graph = self.state.graphs.get(graph_id)
        if graph is None:
            return []
        creatures = self.state.creatures
        members = {name: channel.members() for name, channel in graph.channels.items()}
        parts = topology.components(
            sorted(graph.creatures),
            topology.links(
                channels=members,
                wires={cid: [w.target for w in creatures[cid].wires] for cid in graph.creatures},
                parents={cid: creatures[cid].parent for cid in graph.creatures},
            ),
        )
        if len(parts) <= 1:
            self.state.publish(
                TopologyChanged(
                    kind="nothing",
                    old_graph_ids=(graph.id,),
                    new_graph_ids=(graph.id,),
                    affected=tuple(sorted(graph.creatures)),
                    reason=reason,
                ),
                (graph.id,),
            )
            return [graph.id]
        plan = topology.plan_split(
            parts,
            privileged={cid for cid in graph.creatures if creatures[cid].privileged},
            channels=members,
        )
        directory = self._store_dir(graph)
        old_store, parent_session = graph.store, graph.session_id
        records = list(old_store.records()) if old_store is not None else []
        if old_store is not None:
            old_store.close()
        results = [graph]
        for part, channel_names in zip(plan.parts[1:], plan.channels[1:], strict=True):
            piece = Graph(id=new_id("graph"), session_id="", name=graph.name, creatures=set(part))
            for name in channel_names:
                channel = graph.channels.pop(name)
                channel.graph_id = piece.id
                piece.channels[name] = channel
            for creature_id in part:
                creatures[creature_id].graph_id = piece.id
            graph.creatures -= part
            self.state.graphs[piece.id] = piece
            results.append(piece)
        for piece in results:  # a creature's subscription ends when it leaves the channel's graph
            for channel in piece.channels.values():
                for tap in list(channel.taps):
                    if tap.owner is not None and tap.owner not in piece.creatures:
                        channel.close_taps(tap.owner)
        for piece in results:
            piece.session_id = new_id("session")
            piece.parents = (parent_session,)
            piece.origin = "split"
            piece.store = None
            if directory is not None:
                # Each part gets its own creatures' records and the graph's; the part that
                # keeps the id also gets those of creatures that left (a removed bridge).
                piece.store = self._open_store(directory, piece)
                for old in records:
                    creature = old.get("creature", "")
                    if (
                        not creature
                        or creature in piece.creatures
                        or (piece is graph and creature not in creatures)
                    ):
                        piece.store.append(
                            {**old, "copied_from": old.get("copied_from", parent_session)}
                        )
        self.state.touch()
        new_ids = tuple(piece.id for piece in results)
        self.state.publish(
            TopologyChanged(
                kind="split",
                old_graph_ids=(graph.id,),
                new_graph_ids=new_ids,
                affected=tuple(sorted(set().union(*plan.parts))),
                reason=reason,
            ),
            new_ids,
        )
        for piece in results:
            self._announce(piece)
        return list(new_ids)

    # -- Stores --------------------------------------------------------------------------------

    def _open_store(self, directory: Path, graph: Graph) -> GraphStore:
        meta = session_meta(
            session_id=graph.session_id,
            graph_id=graph.id,
            parents=graph.parents,
            origin=graph.origin,
            name=graph.name,
        )
        return self._store_factory()(directory, meta)

    def _store_dir(self, *graphs: Graph) -> Path | None:
        """Where successors of *graphs* are persisted: ``None`` when none of them was."""
        stores = [g.store for g in graphs if g.store is not None]
        if not stores:
            return None
        if self.session_dir is not None:
            return self.session_dir
        for store in stores:
            if store.path is not None:
                return Path(store.path).parent
            if getattr(store, "directory", None) is not None:  # gathered: not written yet
                return Path(store.directory)
        return None

    def _announce(self, graph: Graph) -> None:
        """Publish the start of *graph*'s current session."""
        self.state.publish(
            GraphSessionStarted(
                graph_id=graph.id,
                session_id=graph.session_id,
                parent_session_ids=graph.parents,
                origin=graph.origin,
                path=str(graph.store.path) if graph.store and graph.store.path else None,
            ),
            (graph.id,),
        )


def _edge_id(wire: Wire) -> str:
    return wire.edge_id
