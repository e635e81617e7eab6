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

from kt_sessions import db as _db
from kt_sessions.errors import SessionFormatError
from kt_sessions.finder import SUFFIX
from kt_sessions.wire import dumps, row_to_wire

__all__ = ["current_file", "migrated_path", "version_of"]


def migrated_path(path: Path, version: int = _db.SCHEMA_VERSION) -> Path:
    """Where the upgrade of *path* to *version* is written."""
    stem = path.name.removesuffix(SUFFIX)
    return path.with_name(f"{stem}.v{version}{SUFFIX}")


def version_of(path: Path) -> int | None:
    """The schema version, read through a read-only connection (it never writes the file)."""
    import sqlite3

    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if "event" not in tables or "meta" not in tables:
            return None
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 1
    except sqlite3.Error:
        return None
    finally:
        connection.close()


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
    shutil.copyfile(source, target)
    wal = Path(f"{source}-wal")
    if wal.is_file():
        shutil.copyfile(wal, Path(f"{target}-wal"))


def _remove(path: Path) -> None:
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        candidate.unlink(missing_ok=True)


def _upgrade(file: Path, original: Path, version: int) -> None:
    from kt_sessions.store import SessionStore

    db = _db.open_database(file)
    try:
        models = _db.models_for(db)
        _db.create_schema(db, models)
        store = SessionStore(file, db, models)
        with db.atomic():
            for table in _db.DERIVED_TABLES:
                db.execute_sql(f'DELETE FROM "{table}"')
            db.execute_sql(f"INSERT INTO {_db.FTS_TABLE}({_db.FTS_TABLE}) VALUES ('delete-all')")
            cursor = db.execute_sql(
                "SELECT id, type, creature, turn_index, timestamp, data FROM event ORDER BY id"
            )
            for event_id, type_, creature, turn_index, timestamp, data in cursor.fetchall():
                store.derive(row_to_wire(type_, creature, turn_index, timestamp, data), event_id)
            lineage = {
                "from": str(original),
                "from_version": version,
                "to_version": _db.SCHEMA_VERSION,
                "at": time.time(),
            }
            for key, value in (
                ("schema_version", _db.SCHEMA_VERSION),
                ("migrated", lineage),
                ("name", file.name.removeprefix(".").removesuffix(".partial").removesuffix(SUFFIX)),
            ):
                db.execute_sql(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, dumps(value))
                )
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    _remove_sidecars(file)


def _remove_sidecars(file: Path) -> None:
    for sidecar in (Path(f"{file}-wal"), Path(f"{file}-shm")):
        sidecar.unlink(missing_ok=True)
