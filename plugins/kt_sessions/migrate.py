"""Upgrading session files written by older versions of the plugin.

The log is the only source of truth, so an upgrade is: copy the file, add the tables the new
schema has, and rebuild every derived table by running each stored event through
:meth:`kt_sessions.store.SessionStore.derive`. The copy is written beside the original as
``<name>.v<N>.ktsession`` and the original is never opened for writing (it is copied as bytes,
its WAL sidecar included), so an older kt can still read it. Upgrading again finds the copy and
reuses it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import peewee as pw

from kt_sessions import db as _db
from kt_sessions.db import Event
from kt_sessions.errors import SessionFormatError
from kt_sessions.finder import SUFFIX
from kt_sessions.wire import row_to_wire

__all__ = ["current_file", "migrated_path", "version_of"]


def migrated_path(path: Path, version: int = _db.SCHEMA_VERSION) -> Path:
    """Where the upgrade of *path* to *version* is written."""
    stem = path.name.removesuffix(SUFFIX)
    return path.with_name(f"{stem}.v{version}{SUFFIX}")


def version_of(path: Path) -> int | None:
    """The schema version (:func:`kt_sessions.db.schema_version`); it never writes the file.

    Returns:
        The version, or ``None`` when *path* is not a session file (or not SQLite at all).
    """
    try:
        db = _db.open_untouched(path)
    except pw.DatabaseError:
        return None
    try:
        return _db.schema_version(db)
    except pw.DatabaseError:
        return None
    finally:
        db.close()


def current_file(path: Path) -> Path:
    """*path* itself when it has the current schema, else its upgraded copy (made if needed).

    Raises:
        SessionFormatError: *path* is not a session file, or the upgrade failed (the partial
            copy is removed; the message names the file).
    """
    target = migrated_path(path)
    if target.is_file():
        return target
    version = version_of(path)
    if version is None or version >= _db.SCHEMA_VERSION:
        return path
    partial = target.with_name(f".{target.name}.partial")
    try:
        _copy(path, partial)
        _upgrade(partial, path, version)
        partial.rename(target)
    except Exception as exc:
        _remove(partial)
        raise SessionFormatError(
            f"upgrading {path} to schema {_db.SCHEMA_VERSION} failed: {exc}"
        ) from exc
    return target


def _copy(source: Path, target: Path) -> None:
    for name_from, name_to in ((source, target), (Path(f"{source}-wal"), Path(f"{target}-wal"))):
        if name_from.is_file():
            _db.private_file(name_to)  # the copy is as private as a new session file
            shutil.copyfile(name_from, name_to)


def _remove(path: Path) -> None:
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        candidate.unlink(missing_ok=True)


def _upgrade(file: Path, original: Path, version: int) -> None:
    from kt_sessions.store import SessionStore

    db = _db.open_database(file)
    try:
        _db.create_schema(db)
        store = SessionStore(file, db)
        with db.atomic():
            for model in _db.DERIVED:
                model.delete().execute(db)
            _db.fts_command(db, "delete-all")
            events = Event.select(
                Event.id, Event.type, Event.creature, Event.turn_index, Event.timestamp, Event.data
            ).order_by(Event.id)
            for event_id, type_, creature, turn_index, timestamp, data in list(
                events.tuples().iterator(db)
            ):
                store.derive(row_to_wire(type_, creature, turn_index, timestamp, data), event_id)
            lineage = {
                "from": str(original),
                "from_version": version,
                "to_version": _db.SCHEMA_VERSION,
                "at": time.time(),
            }
            name = file.name.removeprefix(".").removesuffix(".partial").removesuffix(SUFFIX)
            _db.set_meta(
                db, {"schema_version": _db.SCHEMA_VERSION, "migrated": lineage, "name": name}
            )
        db.pragma("wal_checkpoint", "TRUNCATE")
    finally:
        db.close()
    _remove_sidecars(file)


def _remove_sidecars(file: Path) -> None:
    for sidecar in (Path(f"{file}-wal"), Path(f"{file}-shm")):
        sidecar.unlink(missing_ok=True)
