"""Where a graph's session is recorded: graph stores, found through the kernel's session stores.

The engine keeps no file format of its own. When a graph is persisted, it asks the kernel's
session-store registry (``kt_session_stores``) for a store whose
:class:`kt.SessionStoreSpec` has a ``graph_store`` member, and calls it once per graph session:
``graph_store(directory, meta)`` returns a :class:`GraphStore`. ``kt_sessions`` provides one that
writes a ``.ktsession`` file, so a terrarium's session opens with ``kt.SessionReader(path)``
like a creature's.

A **record** is an event in its wire shape (:func:`kt.events.to_wire`) plus ``graph_id``;
records copied from a parent session also carry ``copied_from`` (that session's id).

A graph built in steps (creature by creature, then edges that merge their graphs) opens a
session per step. :class:`GatheredStores` keeps those in memory and writes only the ones still
open at the end, so the graph is recorded as one session (``Terrarium.gather_sessions``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kt.errors import UnknownNameError
from kt.events import Event, to_wire
from kt_terrarium.errors import SessionStoreMissingError

if TYPE_CHECKING:
    from kt import Kernel

__all__ = [
    "INSTALL_HINT",
    "GatheredStores",
    "GraphStore",
    "StoreFactory",
    "copy_records",
    "graph_store_factory",
    "record",
    "session_meta",
]

INSTALL_HINT = "pip install 'kt-terrarium[sessions]'"
"""What to install for graph persistence (the extra that brings ``kt_sessions``' peewee)."""


@runtime_checkable
class GraphStore(Protocol):
    """Where one graph session's records go; one store per session, written by one graph only.

    Attributes:
        path: The file it writes, when it writes one.
    """

    path: Path | None

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record (durably, before returning, for a store that promises it)."""

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record so far, oldest first."""

    def close(self) -> None:
        """Stop writing; further appends are errors. Idempotent."""


StoreFactory = Callable[[Path, Mapping[str, Any]], GraphStore]
"""``factory(directory, meta) -> GraphStore``: opens a new store for one graph session in
*directory*; ``meta`` is :func:`session_meta`."""


def graph_store_factory(kernel: Kernel) -> StoreFactory:
    """The ``graph_store`` of the kernel's first session store that has one.

    Raises:
        SessionStoreMissingError: no loaded session store records graphs; the message names
            the extra to install.
    """
    try:
        spec = kernel.session_store(needs="graph_store")
    except UnknownNameError:
        loaded = sorted(kernel.session_stores)
        found = (
            f"session stores loaded: {', '.join(loaded)}, none of which records graphs"
            if loaded
            else "no session store is loaded"
        )
        raise SessionStoreMissingError(
            f"persisting a terrarium's graphs needs a session store that records them ({found}); "
            f"install the sessions extra ({INSTALL_HINT}) and load the kt_sessions plugin, or "
            "pass session_dir=None (and no session=) to persist nothing"
        ) from None
    return spec.graph_store


def session_meta(
    *, session_id: str, graph_id: str, parents: tuple[str, ...], origin: str, name: str
) -> dict[str, Any]:
    """The metadata a store is opened with.

    Returns:
        ``session_id``, ``graph_id``, ``parent_session_ids``, ``origin``, ``name`` and
        ``created_at`` (``time.time()``).
    """
    return {
        "session_id": session_id,
        "graph_id": graph_id,
        "parent_session_ids": list(parents),
        "origin": origin,
        "name": name,
        "created_at": time.time(),
    }


def record(event: Event, graph_id: str) -> dict[str, Any]:
    """*event* as a record of graph *graph_id*."""
    return {**to_wire(event), "graph_id": graph_id}


def copy_records(source: GraphStore, target: GraphStore, *, session_id: str) -> None:
    """Copy every record of *source* (the store of session *session_id*) into *target*."""
    for old in source.records():
        target.append({**old, "copied_from": old.get("copied_from", session_id)})


class GatheredStores:
    """A store factory whose stores start in memory; :meth:`write_out` writes the open ones.

    Args:
        factory: Gives the real factory (called only when a store is written out, so nothing
            is asked of the session store when nothing is written).
    """

    def __init__(self, factory: Callable[[], StoreFactory]) -> None:
        self._factory = factory
        self._stores: list[_GatheredStore] = []

    def __call__(self, directory: Path, meta: Mapping[str, Any]) -> GraphStore:
        """Open a graph session's store, in memory (the engine calls this)."""
        store = _GatheredStore(directory, dict(meta))
        self._stores.append(store)
        return store

    def write_out(
        self,
        earlier: Iterable[Mapping[str, Any]] = (),
        parents: Iterable[str] = (),
        origin: str = "new",
    ) -> dict[str, tuple[str, ...]]:
        """Write each store not closed meanwhile: *earlier*, then its own records.

        A written session's parents that were gathered too were never written: it continues
        *parents* instead (a resume's: the resumed session), and its origin is *origin*.

        Args:
            earlier: Records every written store starts with (a resumed session's, as copies).
            parents: The sessions the written ones continue.
            origin: How the written sessions came about (``new``, ``resume``).

        Returns:
            The written sessions' parents, by session id.
        """
        earlier, parents = list(earlier), tuple(parents)
        gathered = {store.meta["session_id"] for store in self._stores}
        written = {}
        for store in self._stores:
            if store.closed:
                continue  # merged or split away: its successor holds its records
            kept = [p for p in store.meta.get("parent_session_ids", ()) if p not in gathered]
            store.meta["parent_session_ids"] = list(dict.fromkeys([*kept, *parents]))
            store.meta["origin"] = origin
            store.write_out(self._factory(), earlier)
            written[store.meta["session_id"]] = tuple(store.meta["parent_session_ids"])
        self._stores = []
        return written


class _GatheredStore:
    """A graph store that keeps its records in memory until it is written out.

    ``directory`` is where it will write: the folder of a graph's successors (a merge or a
    split) while its ``path`` is still unknown.
    """

    def __init__(self, directory: Path, meta: dict[str, Any]) -> None:
        self.directory = directory
        self.meta = meta
        self._real: GraphStore | None = None
        self._kept: list[dict[str, Any]] = []
        self.closed = False
        self.path: Path | None = None

    def append(self, record: Mapping[str, Any]) -> None:
        if self.closed:
            raise ValueError("this graph store is closed")
        if self._real is not None:
            self._real.append(record)
        else:
            self._kept.append(dict(record))

    def records(self) -> Iterator[dict[str, Any]]:
        return self._real.records() if self._real is not None else iter(list(self._kept))

    def write_out(self, factory: StoreFactory, earlier: list[Mapping[str, Any]]) -> None:
        self._real = factory(self.directory, self.meta)
        self.path = self._real.path
        for record in [*earlier, *self._kept]:
            self._real.append(record)
        self._kept = []

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._real is not None:
                self._real.close()
