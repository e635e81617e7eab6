"""Writing a session file: the append-only log and the tables derived from it.

One :class:`SessionStore` per open file and process; every creature recorded into the file
shares it. Writes happen on the caller's thread (the creature's trio thread) and are short:
an insert or two and a commit in WAL mode.

Durability rule: :meth:`SessionStore.append` commits before it returns, and the recorder calls
it from ``kt_event``, which the kernel awaits before any reader sees the event, so nothing is
reported done that is not on disk. Streamed text (``text_delta``) is the exception: it is
buffered and written in batches (:data:`DELTA_BATCH` chunks, or :data:`DELTA_SECONDS` seconds
after the first buffered one, or with the next other event, whichever comes first), so a killed
process loses at most the last second of a reply that was still streaming.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kt.events import Event, TextDelta, to_wire
from kt_sessions import db as _db
from kt_sessions.errors import SessionBusyError, SessionFormatError
from kt_sessions.finder import SUFFIX
from kt_sessions.wire import BASE_FIELDS, dumps, event_data

__all__ = [
    "DELTA_BATCH",
    "DELTA_SECONDS",
    "SUFFIX",
    "SessionStore",
    "check_not_busy",
    "owner_alive",
    "wire_text",
]

DELTA_BATCH = 32
DELTA_SECONDS = 1.0
_BLOCK_CHARS = 4000  # longer texts are split into several memory blocks
_TOOL_ARGS_CHARS = 1000
# Memory searches and their results would only find themselves next time.
_NOT_INDEXED_TOOLS = frozenset({"search_memory"})


def owner_alive(owner: Mapping[str, Any] | None) -> bool:
    """Whether the process recorded as *owner* of a session still runs (on this host)."""
    if not owner:
        return False
    if owner.get("host") != socket.gethostname():
        return True  # cannot tell for another machine: assume it is alive
    pid = int(owner.get("pid", 0))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_not_busy(path: Path, status: Any, owner: Mapping[str, Any] | None) -> None:
    """Refuse a session another live process is writing (this process may share it).

    Raises:
        SessionBusyError: naming the process and what to do.
    """
    if status == "running" and owner and owner.get("pid") != os.getpid() and owner_alive(owner):
        raise SessionBusyError(
            f"session {path.name} is being written by process {owner.get('pid')} on "
            f"{owner.get('host')}; stop that run first, or fork the session "
            "(kt_sessions.fork) to continue it separately"
        )


def wire_text(content: Any) -> str:
    """The text of wire-shaped message content (a string, or a list of part dicts)."""
    if isinstance(content, str):
        return content
    return "".join(
        p.get("text", "") if p.get("type") == "text" else "[image]" for p in content or ()
    )


class SessionStore:
    """An open session file, for writing.

    Use :meth:`open`. Every method commits before it returns, except :meth:`append_delta`
    (batched; see the module docs).

    Attributes:
        path: The file.
        db: The peewee database.
        models: Its model classes.
    """

    def __init__(self, path: Path, db: Any, models: Any) -> None:
        self.path = path
        self.db = db
        self.models = models
        self._pending: list[tuple[str, str, int, float, str]] = []
        self.pending_since: float | None = None  # time.monotonic() of the oldest buffered delta
        self.users = 0  # recorders sharing this store; the last one to leave closes it
        self.closed = False
        m = models
        self._insert_event = m.Event.insert(
            creature="", type="", turn_index=0, timestamp=0.0, data=""
        ).sql()[0]
        self._insert_block = m.Block.insert(
            event_id=0, creature="", turn_index=0, kind="", tool_name="", timestamp=0.0, content=""
        ).sql()[0]
        self._insert_fts = f"INSERT INTO {_db.FTS_TABLE} (rowid, content) VALUES (?, ?)"
        self._insert_turn = (
            "INSERT INTO turn (creature, turn_index, source, input, started_at, first_event_id, "
            "last_event_id, status, text, usage, tool_calls) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'running', '', '{}', 0)"
        )

    # -- Opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        durability: str = "normal",
        meta: Mapping[str, Any] | None = None,
    ) -> SessionStore:
        """Open *path* for writing, creating it (and its folder) when it does not exist.

        A file written by an older version of the plugin is first migrated into a new sibling
        file (see :mod:`kt_sessions.migrate`); the original is left untouched, and the store
        writes to the new file.

        Args:
            path: The session file.
            durability: ``normal`` or ``full`` (see :func:`kt_sessions.db.open_database`).
            meta: Meta values for a new file (name, lineage ...).

        Raises:
            SessionFormatError: the file is not a session, or is newer than this plugin.
            SessionBusyError: another live process is writing it.
        """
        path = Path(path)
        if path.exists():
            from kt_sessions.migrate import current_file

            path = current_file(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        db = _db.open_database(path, durability=durability)
        if not new:
            version = _db.schema_version(db)
            if version is None:
                db.close()
                raise SessionFormatError(
                    f"{path} is not a kt session file; pass a *{SUFFIX} file or a new path"
                )
            if version > _db.SCHEMA_VERSION:
                db.close()
                raise SessionFormatError(
                    f"{path} was written by a newer kt_sessions (schema {version}, this one "
                    f"reads up to {_db.SCHEMA_VERSION}); upgrade kt-terrarium"
                )
        models = _db.models_for(db)
        _db.create_schema(db, models)
        store = cls(path, db, models)
        if new:
            now = time.time()
            values = {
                "schema_version": _db.SCHEMA_VERSION,
                "session_id": uuid.uuid4().hex,
                "name": path.name.removesuffix(SUFFIX),
                "created_at": now,
                "last_active": now,
                "status": "paused",
                "owner": None,
                "config_type": "agent",
                "creatures": [],
            }
            values.update(meta or {})
            store.set_meta(**values)
        else:
            try:
                check_not_busy(path, store.get_meta("status"), store.get_meta("owner"))
            except SessionBusyError:
                db.close()
                raise
        return store

    # -- Meta ----------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        """One meta value (JSON-decoded), or *default*."""
        row = self.db.execute_sql("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, **values: Any) -> None:
        """Set meta values (JSON-encoded) in one transaction."""
        with self.db.atomic():
            for key, value in values.items():
                self.db.execute_sql(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, dumps(value))
                )

    def mark_running(self, creature: str) -> None:
        """Record that this process now writes the session, and records *creature*."""
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        recording = self.get_meta("recording", {}) or {}
        recording[creature] = owner
        self.set_meta(status="running", owner=owner, recording=recording, last_active=time.time())

    def release(self, creature: str) -> None:
        """*creature* stopped recording; the last one out marks the session ``paused``."""
        recording = self.get_meta("recording", {}) or {}
        recording.pop(creature, None)
        self.set_meta(recording=recording, last_active=time.time())
        if self.users <= 0:
            self.set_meta(status="paused", owner=None)

    def add_creature(self, name: str) -> None:
        """List *name* among the session's creatures (meta ``creatures``)."""
        creatures = self.get_meta("creatures", [])
        if name not in creatures:
            self.set_meta(creatures=[*creatures, name])

    # -- The log -------------------------------------------------------------------------------

    def append_delta(self, event: TextDelta) -> None:
        """Buffer a streamed text chunk; it is written with the next batch (module docs)."""
        if self.pending_since is None:
            self.pending_since = time.monotonic()
        self._pending.append(
            (event.creature, event.type, event.turn_index, event.timestamp, event_data(event))
        )
        if len(self._pending) >= DELTA_BATCH:
            self.flush()

    def flush(self) -> None:
        """Write and commit the buffered text chunks."""
        if self._pending:
            with self.db.atomic():
                self._write_pending()

    def _write_pending(self) -> None:
        rows, self._pending = self._pending, []
        self.pending_since = None
        self.db.cursor().executemany(self._insert_event, rows)

    def append(self, event: Event) -> int:
        """Write *event* (after any buffered chunks) and what derives from it; commit.

        Returns:
            The event's id in the log.
        """
        wire = to_wire(event)
        data = {k: v for k, v in wire.items() if k not in BASE_FIELDS}
        with self.db.atomic():
            if self._pending:
                self._write_pending()
            cursor = self.db.execute_sql(
                self._insert_event,
                (event.creature, event.type, event.turn_index, event.timestamp, dumps(data)),
            )
            event_id = cursor.lastrowid
            self.derive(wire, event_id)
        return event_id

    def append_wire(self, wire: Mapping[str, Any]) -> int | None:
        """Write an event given in its wire shape (extra keys are kept); commit.

        Streamed text (``text_delta``) is buffered like :meth:`append_delta`, and written
        with the next other event, at the 32nd chunk, or once the oldest is a second old.

        Returns:
            The event's id, or ``None`` for a buffered chunk.
        """
        data = dumps({k: v for k, v in wire.items() if k not in BASE_FIELDS})
        row = (wire["creature"], wire["type"], wire["turn_index"], wire["timestamp"], data)
        if wire["type"] == "text_delta":
            if self.pending_since is None:
                self.pending_since = time.monotonic()
            self._pending.append(row)
            if len(self._pending) >= DELTA_BATCH or (
                time.monotonic() - self.pending_since >= DELTA_SECONDS
            ):
                self.flush()
            return None
        with self.db.atomic():
            if self._pending:
                self._write_pending()
            event_id = self.db.execute_sql(self._insert_event, row).lastrowid
            self.derive(wire, event_id)
        return event_id

    def last_event_id(self, creature: str | None = None) -> int:
        """The highest event id (of *creature*), 0 for none."""
        if creature is None:
            row = self.db.execute_sql("SELECT MAX(id) FROM event").fetchone()
        else:
            row = self.db.execute_sql(
                "SELECT MAX(id) FROM event WHERE creature = ?", (creature,)
            ).fetchone()
        return row[0] or 0

    # -- Derived tables ------------------------------------------------------------------------

    def derive(self, wire: Mapping[str, Any], event_id: int) -> None:
        """Update the derived tables for one event (inside the caller's transaction).

        Works on the wire shape, so a migration can rebuild every table from stored rows
        without knowing the event classes (plugin events included).
        """
        handler = _DERIVATIONS.get(wire["type"])
        if handler is not None:
            handler(self, wire, event_id)

    def _creature_started(self, wire: Mapping[str, Any], event_id: int) -> None:
        m = self.models
        config = wire.get("config", {})
        m.Creature.insert(
            name=wire["creature"],
            config=dumps(config),
            plugins=dumps(wire.get("plugins", [])),
            tools=dumps(wire.get("tools", [])),
            first_event_id=event_id,
            started_at=wire["timestamp"],
        ).on_conflict(
            conflict_target=[m.Creature.name],
            update={
                m.Creature.plugins: dumps(wire.get("plugins", [])),
                m.Creature.tools: dumps(wire.get("tools", [])),
            },
        ).execute()

    def _turn_started(self, wire: Mapping[str, Any], event_id: int) -> None:
        self.db.execute_sql(
            self._insert_turn,
            (
                wire["creature"],
                wire["turn_index"],
                wire.get("source", "user"),
                wire_text(wire.get("input", "")),
                wire["timestamp"],
                event_id,
                event_id,
            ),
        )

    def _turn_completed(self, wire: Mapping[str, Any], event_id: int) -> None:
        result = wire["result"]
        self.db.execute_sql(
            "UPDATE turn SET status = ?, text = ?, usage = ?, tool_calls = ?, ended_at = ?, "
            "last_event_id = ? WHERE creature = ? AND turn_index = ?",
            (
                result["status"],
                result.get("text", ""),
                dumps(result.get("usage", {})),
                len(result.get("tool_calls", ())),
                result.get("ended_at") or wire["timestamp"],
                event_id,
                wire["creature"],
                wire["turn_index"],
            ),
        )
        self.db.execute_sql(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_active', ?)",
            (dumps(wire["timestamp"]),),
        )

    def _llm_call_completed(self, wire: Mapping[str, Any], event_id: int) -> None:
        # Usage is summed per model call, so a call of a turn that never completed (a crash)
        # still counts, as it was billed.
        usage = wire.get("usage") or {}
        if not any(usage.values()):
            return
        row = self.db.execute_sql(
            "SELECT totals FROM usage WHERE creature = ?", (wire["creature"],)
        ).fetchone()
        totals = json.loads(row[0]) if row else {}
        for field, count in usage.items():
            if isinstance(count, int | float):
                totals[field] = totals.get(field, 0) + count
        self.db.execute_sql(
            "INSERT OR REPLACE INTO usage (creature, totals) VALUES (?, ?)",
            (wire["creature"], dumps(totals)),
        )

    def _message_appended(self, wire: Mapping[str, Any], event_id: int) -> None:
        message = wire["message"]
        role = message["role"]
        text = wire_text(message.get("content", ""))
        tool_name = ""
        if role == "user":
            kind = "tool" if text.startswith("[Tool results]") else "user"
        elif role == "tool":
            kind, tool_name = "tool", message.get("name") or ""
            if tool_name in _NOT_INDEXED_TOOLS:
                return
            text = f"[result:{tool_name}] {text}" if text else ""
        elif role == "assistant":
            kind = "summary" if message.get("meta", {}).get("summary") else "assistant"
            calls = [
                f"[tool:{c['name']}] {dumps(c.get('args', {}))[:_TOOL_ARGS_CHARS]}"
                for c in message.get("tool_calls", ())
                if c["name"] not in _NOT_INDEXED_TOOLS
            ]
            text = "\n".join(filter(None, [text, *calls]))
        else:
            kind = role
        self.add_blocks(wire, event_id, kind, tool_name, text)

    def add_blocks(
        self, wire: Mapping[str, Any], event_id: int, kind: str, tool_name: str, text: str
    ) -> None:
        """Index *text* for memory search: one block per :data:`_BLOCK_CHARS` characters."""
        text = text.strip()
        for start in range(0, len(text), _BLOCK_CHARS):
            piece = text[start : start + _BLOCK_CHARS]
            cursor = self.db.execute_sql(
                self._insert_block,
                (
                    event_id,
                    wire["creature"],
                    wire["turn_index"],
                    kind,
                    tool_name,
                    wire["timestamp"],
                    piece,
                ),
            )
            self.db.execute_sql(self._insert_fts, (cursor.lastrowid, piece))

    def _tool_call_completed(self, wire: Mapping[str, Any], event_id: int) -> None:
        if not wire.get("background"):
            return
        m = self.models
        status = wire["status"]
        values = {
            m.Job.status: status,
            m.Job.output: (wire.get("output") or "")[:2000],
            m.Job.error: wire.get("error"),
        }
        if status != "running":
            values[m.Job.ended_at] = wire["timestamp"]
        m.Job.insert(
            creature=wire["creature"],
            job_id=wire["call_id"],
            name=wire["name"],
            kind="tool",
            status=status,
            turn_index=wire["turn_index"],
            output=(wire.get("output") or "")[:2000],
            error=wire.get("error"),
            started_at=wire["timestamp"],
        ).on_conflict(conflict_target=[m.Job.creature, m.Job.job_id], update=values).execute()

    def _subagent_started(self, wire: Mapping[str, Any], event_id: int) -> None:
        m = self.models
        m.SubAgentRun.insert(
            creature=wire["creature"],
            call_id=wire["call_id"],
            name=wire["name"],
            task=wire.get("task", ""),
            started_at=wire["timestamp"],
        ).on_conflict_ignore().execute()

    def _subagent_completed(self, wire: Mapping[str, Any], event_id: int) -> None:
        m = self.models
        values = {
            "status": wire["status"],
            "output": wire.get("output", ""),
            "error": wire.get("error"),
            "turns": wire.get("turns", 0),
            "usage": dumps(wire.get("usage", {})),
            "ended_at": wire["timestamp"],
        }
        m.SubAgentRun.insert(
            creature=wire["creature"], call_id=wire["call_id"], name=wire["name"], **values
        ).on_conflict(
            conflict_target=[m.SubAgentRun.creature, m.SubAgentRun.call_id],
            update={getattr(m.SubAgentRun, k): v for k, v in values.items()},
        ).execute()
        self.add_blocks(wire, event_id, "subagent", wire["name"], wire.get("output", ""))

    def _session_attached(self, wire: Mapping[str, Any], event_id: int) -> None:
        m = self.models
        values = {
            "config": dumps(wire.get("config", {})),
            "source": dumps(wire.get("source")),
            "pwd": wire.get("pwd", ""),
            "model": wire.get("model", ""),
        }
        m.Creature.insert(name=wire["creature"], **values).on_conflict(
            conflict_target=[m.Creature.name],
            update={getattr(m.Creature, k): v for k, v in values.items()},
        ).execute()

    def _compaction_completed(self, wire: Mapping[str, Any], event_id: int) -> None:
        self.add_blocks(wire, event_id, "summary", "", wire.get("summary", ""))

    def _scratchpad(self, wire: Mapping[str, Any], event_id: int) -> None:
        m = self.models
        key = str(wire.get("key", ""))
        if wire["type"] == "scratchpad_delete":
            m.Scratchpad.delete().where(
                (m.Scratchpad.creature == wire["creature"]) & (m.Scratchpad.key == key)
            ).execute()
            return
        value = wire.get("value", "")
        value = value if isinstance(value, str) else dumps(value)
        m.Scratchpad.insert(
            creature=wire["creature"], key=key, value=value, event_id=event_id
        ).on_conflict(
            conflict_target=[m.Scratchpad.creature, m.Scratchpad.key],
            update={m.Scratchpad.value: value, m.Scratchpad.event_id: event_id},
        ).execute()

    def _trigger(self, wire: Mapping[str, Any], event_id: int) -> None:
        m = self.models
        trigger_id = str(wire.get("trigger_id", ""))
        active = wire["type"] == "trigger_added"
        data = dumps(wire.get("data", {}))
        m.Trigger.insert(
            creature=wire["creature"],
            trigger_id=trigger_id,
            type=str(wire.get("trigger_type", wire.get("kind", ""))),
            data=data,
            active=active,
            event_id=event_id,
        ).on_conflict(
            conflict_target=[m.Trigger.creature, m.Trigger.trigger_id],
            update={m.Trigger.active: active, m.Trigger.event_id: event_id}
            | ({m.Trigger.data: data} if active else {}),
        ).execute()

    def _channel_message(self, wire: Mapping[str, Any], event_id: int) -> None:
        content = wire.get("content", "")
        content = content if isinstance(content, str) else wire_text(content)
        self.models.ChannelMessage.insert(
            event_id=event_id,
            channel=str(wire.get("channel", "")),
            sender=str(wire.get("sender", wire["creature"])),
            content=content,
            timestamp=wire["timestamp"],
        ).execute()
        if content:
            self.add_blocks(wire, event_id, "channel", str(wire.get("channel", "")), content)

    # -- Snapshots and creatures ---------------------------------------------------------------

    def save_snapshot(self, creature: str, state: Mapping[str, Any], last_event_id: int) -> None:
        """Store the replayed state of *creature* as covering events up to *last_event_id*."""
        self.flush()
        self.db.execute_sql(
            "INSERT OR REPLACE INTO snapshot (creature, last_event_id, state, created_at) "
            "VALUES (?, ?, ?, ?)",
            (creature, last_event_id, dumps(state), time.time()),
        )

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        self.db.close()


_DERIVATIONS = {
    "creature_started": SessionStore._creature_started,
    "turn_started": SessionStore._turn_started,
    "turn_completed": SessionStore._turn_completed,
    "message_appended": SessionStore._message_appended,
    "llm_call_completed": SessionStore._llm_call_completed,
    "tool_call_completed": SessionStore._tool_call_completed,
    "subagent_started": SessionStore._subagent_started,
    "subagent_completed": SessionStore._subagent_completed,
    "compaction_completed": SessionStore._compaction_completed,
    "session_attached": SessionStore._session_attached,
    "scratchpad_set": SessionStore._scratchpad,
    "scratchpad_delete": SessionStore._scratchpad,
    "trigger_added": SessionStore._trigger,
    "trigger_removed": SessionStore._trigger,
    "channel_message": SessionStore._channel_message,
}
