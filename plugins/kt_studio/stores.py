"""The engine's graph session files, as Studio needs them: sealed at a stop.

The engine records every graph session through a store (``kt_terrarium.GraphStore``) that
Studio's :class:`StudioStores` opens for it. Taking a creature out of the engine is recorded as
``creature_removed``, so a session whose creatures were all removed would resume as an empty
graph. Stopping a live session (``DELETE /api/sessions/active/ID``) is not an edit of its
graph, it is the end of the run, like a server stopping: Studio first stops the creatures
(their last turns are recorded), then *seals* the stores of the session's graphs (closed,
``paused``, ending as they stood), and only then takes the creatures out. The removals, and any
graph the removals split off, write nothing, so resuming the file brings every creature back.

A resume writes one new, whole file: the engine rebuilds the graph inside
``Terrarium.gather_sessions``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["StudioStores"]


class StudioStores:
    """A ``store_factory`` for the engine, whose stores Studio can seal.

    Args:
        factory: The kernel's graph store factory (``kt_terrarium.graph_store_factory``).
    """

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._stores: dict[str, _Store] = {}  # graph session id -> its open store
        self._sealing: list[set[str]] = []  # the sessions of each stop under way

    def __call__(self, directory: Path, meta: Mapping[str, Any]) -> Any:
        """Open the store of a new graph session (the engine calls this).

        A session continuing a sealed one (a split or merge while a stop takes the graph
        apart) records nothing: it belongs to a run that ended.
        """
        session_id = str(meta.get("session_id", ""))
        for sealed in self._sealing:
            if any(parent in sealed for parent in meta.get("parent_session_ids", ())):
                sealed.add(session_id)
                return _Store(sealed=True)

        def forget() -> None:
            self._stores.pop(session_id, None)

        store = _Store(self._factory(directory, meta), on_close=forget)
        self._stores[session_id] = store
        return store

    @contextlib.contextmanager
    def sealing(self, session_ids: Iterable[str]) -> Iterator[None]:
        """Close the stores of these graph sessions, for good.

        In the block, the sessions that continue them (the splits and merges of taking their
        graphs apart) record nothing. After it, a session may continue them again: a resume
        of the file.
        """
        sealed = set(session_ids)
        for session_id in sealed:
            store = self._stores.pop(session_id, None)
            if store is not None:
                store.seal()
        self._sealing.append(sealed)
        try:
            yield
        finally:
            self._sealing.remove(sealed)


class _Store:
    """A graph store over the real one, that Studio can seal.

    Args:
        store: The real store (``None``: sealed from the start).
        sealed: Drop every record.
        on_close: Called when the engine closes it (its graph ended, merged or split).
    """

    def __init__(
        self,
        store: Any = None,
        *,
        sealed: bool = False,
        on_close: Any = lambda: None,
    ) -> None:
        self._store = store
        self.path: Path | None = getattr(store, "path", None)
        self._sealed = sealed
        self._closed = False
        self._on_close = on_close

    def append(self, record: Mapping[str, Any]) -> None:
        if not self._sealed:
            self._store.append(record)

    def records(self) -> Iterator[dict[str, Any]]:
        if self._sealed:  # closed: a split copying a sealed session's records copies none
            return iter(())
        return self._store.records()

    def seal(self) -> None:
        self._sealed = True
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._store is not None:
            self._store.close()
        self._on_close()
