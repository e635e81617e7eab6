"""The session file's schema: peewee models over one SQLite database in WAL mode.

The ``event`` table is the append-only log and the only source of truth. Every other table is
derived from it and can be rebuilt from it (that is how older files are migrated):

======================  ====================================================================
table                   holds
======================  ====================================================================
``meta``                key → JSON: schema version, session id and name, status, owner,
                        lineage, memory index settings
``event``               every event of every creature, ``id`` monotonic (the log)
``creature``            per creature: resolved config, config source, plugins, tools, model
``snapshot``            per creature: a cache of the replayed state, with the last event id
                        it covers
``turn``                per turn: input, status, final text, usage, timing
``usage``               per creature: cumulative token usage
``job``                 background jobs (tool calls run in the background) and their status
``subagent_run``        sub-agent runs (from ``subagent_started`` / ``subagent_completed``)
``scratchpad``          scratchpad values (from ``scratchpad_write``; the older
                        ``scratchpad_set`` / ``scratchpad_delete`` too)
``trigger``             runtime triggers (from ``trigger_added`` / ``trigger_removed``)
``channel_message``     channel messages (events of type ``channel_message``)
``block``, ``block_fts``  memory: one block per message text, and its FTS5 index
``vector``              memory: one embedding per block (see ``meta`` for model and size)
======================  ====================================================================

The models are declared once, here, and bound to no database: whoever holds a connection runs
the query on it (``Event.select(...).execute(db)``, ``.scalar(db)``, :func:`create_schema`).
So any number of session files can be open in one process, and read from any thread. A binding
(a ``DatabaseProxy``, ``Model.bind``, ``bind_ctx``) is one process-wide setting instead, which
two open files, or a reader on another thread, would overwrite under each other.

The few statements the recorder runs for every event are built from these models once per
process and then run with new values (:class:`Prepared`). Building and rendering a peewee query
costs 50 to 90 µs, several times the SQLite statement itself: with a fresh query per
statement, recording a turn of the session benchmark took 2.3 ms instead of 0.8 ms.
"""

# ruff: noqa: D106  (each model's `class Meta` holds peewee options, not API)

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import peewee as pw
from playhouse.sqlite_ext import FTS5Model, JSONField, SearchField

from kt_sessions.wire import dumps

__all__ = [
    "DERIVED",
    "MODELS",
    "SCHEMA_VERSION",
    "Block",
    "BlockFTS",
    "ChannelMessage",
    "Creature",
    "Event",
    "JSONText",
    "Job",
    "Prepared",
    "Scratchpad",
    "SessionMeta",
    "Snapshot",
    "SubAgentRun",
    "Trigger",
    "Turn",
    "Usage",
    "Vector",
    "create_schema",
    "write_empty_session",
    "write_transaction",
    "fts_command",
    "get_meta",
    "open_database",
    "open_untouched",
    "param",
    "private_file",
    "read_meta",
    "schema_version",
    "set_meta",
]

SCHEMA_VERSION = 2
"""Version 2: the log plus derived tables and memory. Version 1 (early development builds)
had only ``meta`` and ``event``; :mod:`kt_sessions.migrate` upgrades such files."""


# -- Connections -------------------------------------------------------------------------------


def private_file(path: str | os.PathLike[str]) -> Path:
    """Create *path* (and a missing folder) readable by its owner only: 0600 in 0700.

    Session files hold tool output and conversations, which may include secrets. SQLite
    creates the WAL and shared-memory sidecars with the database file's own mode, so making
    the file private before the first connection makes all three private. An existing file
    or folder keeps its mode (the user chose it); the mode is set explicitly, so the umask
    cannot widen it.

    Returns:
        The path.
    """
    path = Path(path)
    fd = _create_private(path)
    if fd is not None:
        os.close(fd)
    return path


def _create_private(path: Path) -> int | None:
    """:func:`private_file`, leaving a new file open for writing: its descriptor, or ``None``."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return None
    try:
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_database(
    path: str | os.PathLike[str], *, readonly: bool = False, durability: str = "normal"
) -> pw.SqliteDatabase:
    """Open (or create) a session database in WAL mode.

    Args:
        path: The file.
        readonly: Refuse writes on this connection (``query_only``): readers and listings
            never touch a file another process is writing.
        durability: ``normal`` (a committed event survives the process being killed at any
            moment; the OS writes it to disk later) or ``full`` (also fsync on every commit, so
            it survives a power cut, at a cost of a few milliseconds per event).

    Returns:
        The connected database.
    """
    pragmas: list[tuple[str, Any]] = [("busy_timeout", 10000)]  # wait, never fail, on a lock
    if readonly:
        pragmas.append(("query_only", 1))  # and leave the journal mode as the writer set it
    else:
        private_file(path)
        pragmas += [
            ("journal_mode", "wal"),
            ("synchronous", "full" if durability == "full" else "normal"),
            ("foreign_keys", 0),
        ]
    db = pw.SqliteDatabase(str(Path(path)), pragmas=pragmas, autoconnect=True)
    db.connect(reuse_if_open=True)
    return db


def open_untouched(path: str | os.PathLike[str]) -> pw.SqliteDatabase:
    """Open *path* on a connection that cannot write it (SQLite's ``mode=ro``).

    Unlike ``open_database(readonly=True)``, which refuses writes on a connection that could
    make them, the file itself is opened read-only, and its journal mode is left alone: for
    looking at a file before deciding what to do with it (its version, its owner), and at files
    that must stay byte for byte as an older kt wrote them. SQLite may still create the
    ``-wal`` and ``-shm`` sidecars of a WAL file.

    Raises:
        peewee.DatabaseError: the file does not exist or cannot be read as SQLite.
    """
    uri = Path(path).absolute().as_uri() + "?mode=ro"  # quoted: names may hold '#', '?', '%'
    db = pw.SqliteDatabase(uri, uri=True, pragmas=[("busy_timeout", 10000)], autoconnect=True)
    db.connect()
    return db


# -- Fields and models -------------------------------------------------------------------------


class JSONText(JSONField):
    """A JSON value kept as compact text in a ``TEXT NOT NULL`` column.

    peewee's ``JSONField`` hands what it writes to SQLite's ``json()`` function, which
    rewrites some values (``NaN``) and rejects others, and older peewee releases declare the
    column ``JSON``, which SQLite gives numeric affinity. Schema 2 stores the text exactly as
    :func:`kt_sessions.wire.dumps` writes it, so this field writes that text as a plain value;
    reading, filtering and ``json_extract`` paths work as with ``JSONField``. ``None`` is
    written as ``null``.
    """

    field_type = "TEXT"

    def db_value(self, value: Any) -> Any:
        """*value* as stored: its compact JSON text (a SQL expression is passed through)."""
        return value if isinstance(value, pw.Node) else dumps(value)


def _null() -> None:
    """Default of a JSON column whose empty value is ``null``."""
    return None


class _Model(pw.Model):
    class Meta:
        database = None  # bound to no file: see the module docs


class SessionMeta(_Model):
    """``meta``: one JSON value per key (see ``docs/reference/sessions.md``, Meta keys)."""

    key = pw.TextField(primary_key=True)
    value = JSONText()

    class Meta:
        table_name = "meta"


class Event(_Model):
    """``event``: the log. ``data`` holds the event's own fields (the rest are columns)."""

    id = pw.AutoField()
    creature = pw.TextField()
    type = pw.TextField()
    turn_index = pw.IntegerField()
    timestamp = pw.FloatField()
    data = JSONText()

    class Meta:
        table_name = "event"
        indexes = ((("creature", "id"), False), (("type", "id"), False))


class Creature(_Model):
    """``creature``: how each creature was built (``creature_started``, ``session_attached``)."""

    name = pw.TextField(primary_key=True)
    config = JSONText(default=dict)  # the resolved CreatureConfig, unstructured
    source = JSONText(default=_null)  # what Agent.build got: a path or a dict
    pwd = pw.TextField(default="")
    model = pw.TextField(default="")
    plugins = JSONText(default=list)
    tools = JSONText(default=list)
    first_event_id = pw.IntegerField(default=0)
    started_at = pw.FloatField(default=0.0)

    class Meta:
        table_name = "creature"


class Snapshot(_Model):
    """``snapshot``: the replayed state of a creature, covering events up to ``last_event_id``."""

    creature = pw.TextField(primary_key=True)
    last_event_id = pw.IntegerField()
    state = JSONText()
    created_at = pw.FloatField()

    class Meta:
        table_name = "snapshot"


class Turn(_Model):
    """``turn``: one row per turn (from ``turn_started`` and ``turn_completed``)."""

    id = pw.AutoField()
    creature = pw.TextField()
    turn_index = pw.IntegerField()
    source = pw.TextField(default="user")
    input = pw.TextField(default="")
    status = pw.TextField(default="running")
    text = pw.TextField(default="")
    usage = JSONText(default=dict)
    tool_calls = pw.IntegerField(default=0)
    started_at = pw.FloatField(default=0.0)
    ended_at = pw.FloatField(null=True)
    first_event_id = pw.IntegerField(default=0)
    last_event_id = pw.IntegerField(default=0)

    class Meta:
        table_name = "turn"
        indexes = ((("creature", "turn_index"), False),)


class Usage(_Model):
    """``usage``: cumulative ``kt.Usage`` fields per creature (from ``llm_call_completed``)."""

    creature = pw.TextField(primary_key=True)
    totals = JSONText(default=dict)

    class Meta:
        table_name = "usage"


class Job(_Model):
    """``job``: background tool calls and their status."""

    id = pw.AutoField()
    creature = pw.TextField()
    job_id = pw.TextField()
    name = pw.TextField(default="")
    kind = pw.TextField(default="tool")
    status = pw.TextField(default="running")
    turn_index = pw.IntegerField(default=0)
    output = pw.TextField(default="")
    error = pw.TextField(null=True)
    started_at = pw.FloatField(default=0.0)
    ended_at = pw.FloatField(null=True)

    class Meta:
        table_name = "job"
        indexes = ((("creature", "job_id"), True),)


class SubAgentRun(_Model):
    """``subagent_run``: sub-agent runs."""

    id = pw.AutoField()
    creature = pw.TextField()
    call_id = pw.TextField()
    name = pw.TextField(default="")
    task = pw.TextField(default="")
    status = pw.TextField(default="running")
    output = pw.TextField(default="")
    error = pw.TextField(null=True)
    turns = pw.IntegerField(default=0)
    usage = JSONText(default=dict)
    started_at = pw.FloatField(default=0.0)
    ended_at = pw.FloatField(null=True)

    class Meta:
        table_name = "subagent_run"
        indexes = ((("creature", "call_id"), True),)


class Scratchpad(_Model):
    """``scratchpad``: the value set last per key (text; other values as their JSON)."""

    id = pw.AutoField()
    creature = pw.TextField()
    key = pw.TextField()
    value = pw.TextField(default="")
    event_id = pw.IntegerField(default=0)

    class Meta:
        table_name = "scratchpad"
        indexes = ((("creature", "key"), True),)


class Trigger(_Model):
    """``trigger``: runtime triggers, active or removed."""

    id = pw.AutoField()
    creature = pw.TextField()
    trigger_id = pw.TextField()
    type = pw.TextField(default="")
    data = JSONText(default=dict)
    active = pw.BooleanField(default=True)
    event_id = pw.IntegerField(default=0)

    class Meta:
        table_name = "trigger"
        indexes = ((("creature", "trigger_id"), True),)


class ChannelMessage(_Model):
    """``channel_message``: messages sent on channels."""

    id = pw.AutoField()
    event_id = pw.IntegerField()
    channel = pw.TextField()
    sender = pw.TextField(default="")
    content = pw.TextField(default="")
    timestamp = pw.FloatField(default=0.0)

    class Meta:
        table_name = "channel_message"
        indexes = ((("channel", "id"), False),)


class Block(_Model):
    """``block``: the texts memory search finds (see :mod:`kt_sessions.memory`)."""

    id = pw.AutoField()
    event_id = pw.IntegerField()
    creature = pw.TextField()
    turn_index = pw.IntegerField()
    kind = pw.TextField()
    tool_name = pw.TextField(default="")
    timestamp = pw.FloatField()
    content = pw.TextField()

    class Meta:
        table_name = "block"
        indexes = ((("creature", "id"), False),)


class BlockFTS(FTS5Model):
    """``block_fts``: the FTS5 index of ``block.content`` (external content, rowid = block id).

    Written by the recorder once per turn for the turn's blocks (:mod:`kt_sessions.store`);
    ``BlockFTS.match(...)`` and ``BlockFTS.bm25()`` query it.
    """

    content = SearchField()

    class Meta:
        database = None
        table_name = "block_fts"
        options = {"content": Block, "content_rowid": Block.id.column_name, "tokenize": "unicode61"}


class Vector(_Model):
    """``vector``: one embedding per block, as packed 32-bit floats."""

    block_id = pw.IntegerField(primary_key=True)
    embedding = pw.BlobField()

    class Meta:
        table_name = "vector"


MODELS: tuple[type[pw.Model], ...] = (
    SessionMeta,
    Event,
    Creature,
    Snapshot,
    Turn,
    Usage,
    Job,
    SubAgentRun,
    Scratchpad,
    Trigger,
    ChannelMessage,
    Block,
    BlockFTS,
    Vector,
)
"""Every table of the file, in creation order."""

DERIVED: tuple[type[pw.Model], ...] = (
    Creature,
    Snapshot,
    Turn,
    Usage,
    Job,
    SubAgentRun,
    Scratchpad,
    Trigger,
    ChannelMessage,
    Block,
    Vector,
)
"""Tables rebuilt from the log by a migration (``meta`` and ``event`` are copied; the FTS
index is emptied with :func:`fts_command` and refilled with the blocks)."""


# -- Schema ------------------------------------------------------------------------------------


def create_schema(db: pw.Database) -> None:
    """Create every table, index and the FTS5 index that do not exist yet, on *db*."""
    with db.atomic():
        for model in MODELS:
            type(model._schema)(model, db).create_all(safe=True)  # this model's DDL, on db


_EMPTY_FILE: bytes | None = None  # an empty session file with every table, made once per process


def write_empty_session(path: str | os.PathLike[str]) -> Path:
    """Create *path* as an empty session file (every table, WAL mode), private like every one.

    Creating the schema statement by statement costs tens of SQLite statements and a commit
    per new file; a file made once per process and copied costs one write. A new file is
    written through the descriptor that created it: reopened with ``O_TRUNC``, ext4 started
    writing it out on ``close`` (``auto_da_alloc``, for files replaced by truncation).

    Returns:
        The path.
    """
    global _EMPTY_FILE
    if _EMPTY_FILE is None:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            template = Path(folder) / "empty.ktsession"
            db = open_database(template)
            create_schema(db)
            db.close()  # the last connection checkpoints and removes the WAL
            _EMPTY_FILE = template.read_bytes()
    path = Path(path)
    fd = _create_private(path)
    if fd is None:  # an empty file is there already: fill it, keeping its mode
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, _EMPTY_FILE)
    finally:
        os.close(fd)
    return path


def schema_version(db: pw.Database) -> int | None:
    """The file's schema version: ``None`` when it is not a session file, or has no readable one."""
    tables = set(db.get_tables())
    if "event" not in tables or "meta" not in tables:
        return None
    row = (
        SessionMeta.select(SessionMeta.value)
        .where(SessionMeta.key == "schema_version")
        .tuples()
        .first(db)
    )
    if row is None:
        return 1  # version 1 did not record its version
    try:
        return int(row[0])
    except (TypeError, ValueError):
        return None


def fts_command(db: pw.Database, command: str) -> None:
    """Run an FTS5 command on ``block_fts`` (``delete-all``, ``rebuild``, ``optimize`` ...).

    FTS5 takes commands as an insert into the column named after the table;
    ``FTS5Model.rebuild()`` and its siblings do the same on the model's bound database.
    """
    name = BlockFTS._meta.table_name
    pw.Table(name, (name,)).insert(**{name: command}).execute(db)


# -- Meta --------------------------------------------------------------------------------------


def read_meta(db: pw.Database) -> dict[str, Any]:
    """Every meta value, JSON-decoded."""
    query = SessionMeta.select(SessionMeta.key, SessionMeta.value).tuples()
    return dict(query.execute(db))


def get_meta(db: pw.Database, key: str, default: Any = None) -> Any:
    """One meta value (JSON-decoded), or *default* when the key is not set."""
    row = SessionMeta.select(SessionMeta.value).where(SessionMeta.key == key).tuples().first(db)
    return default if row is None else row[0]


def set_meta(db: pw.Database, values: Mapping[str, Any]) -> None:
    """Set meta values (JSON-encoded), in the caller's transaction or one of their own."""
    if values:
        rows = [{SessionMeta.key: key, SessionMeta.value: value} for key, value in values.items()]
        SessionMeta.replace_many(rows).execute(db)


# -- Prepared statements -----------------------------------------------------------------------


def param(field: pw.Field) -> pw.SQL:
    """The named parameter standing for *field*'s value in a :class:`Prepared` query."""
    return pw.SQL(f":{field.name}")


class Prepared:
    """A peewee query rendered to SQL once, run many times with new values, on any database.

    The query is built as usual from the models, with :func:`param` where a value goes.
    :meth:`run` and :meth:`run_many` pass each value through its field's own ``db_value``
    where the field defines one (:class:`JSONText` columns take Python values, as in any
    peewee query), and execute the rendered statement on the database they are given. The SQL
    does not depend on the file, so a statement is rendered once per process and shared by
    every open store. It is for the statements recording runs for every event, and the few it
    runs to open a file; anywhere else, build the query.

    Args:
        query: The query, with :func:`param` for values and no other parameters.
        fields: The fields that have a :func:`param`.

    Raises:
        ValueError: *query* has parameters that are not :func:`param` ones.
    """

    def __init__(self, query: pw.Query, fields: Iterable[pw.Field]) -> None:
        self.sql, params = _RENDERER.get_sql_context().sql(query).query()
        if params:
            raise ValueError(f"a prepared query takes values as param(field) only: {self.sql}")
        fields = list(fields)
        self._names = frozenset(field.name for field in fields)
        # Only fields that change a value's representation convert it; the others only check
        # its type (str(), int()), which SQLite's driver does too.
        self._convert = {f.name: f.db_value for f in fields if _converts(f)}
        self._defaults: dict[str, Any] = {}

    @classmethod
    def insert(cls, model: type[pw.Model], *, replace: bool = False) -> Prepared:
        """One-row ``INSERT`` (``INSERT OR REPLACE`` with *replace*) of every column of *model*.

        As with ``model.insert(...)``, a column given no value takes its field's default
        (``NULL`` without one), and an ``AutoField`` is left to SQLite.

        Args:
            model: The model.
            replace: Replace a row with the same primary key or unique index.
        """
        fields = _value_fields(model)
        build = model.replace if replace else model.insert
        prepared = cls(build({field: param(field) for field in fields}), fields)
        prepared._take_defaults(fields)
        return prepared

    @classmethod
    def upsert(
        cls, model: type[pw.Model], key: Iterable[pw.Field], update: Iterable[pw.Field]
    ) -> Prepared:
        """One-row ``INSERT`` of every column of *model* that updates *update* on a *key* clash.

        A row that is new takes the defaults of the columns given no value (as
        :meth:`insert`); a row that exists keeps every column but *update*, which take the
        values given (a column of *update* given no value gets its default there too).

        Args:
            model: The model.
            key: The primary key or unique index that decides whether the row exists.
            update: The columns an existing row takes from the new values.
        """
        fields = _value_fields(model)
        query = model.insert({field: param(field) for field in fields}).on_conflict(
            conflict_target=list(key), update={field: param(field) for field in update}
        )
        prepared = cls(query, fields)
        prepared._take_defaults(fields)
        return prepared

    def _take_defaults(self, fields: Iterable[pw.Field]) -> None:
        for field in fields:
            default = field.default() if callable(field.default) else field.default
            self._defaults[field.name] = field.db_value(default)  # a str or number: shared

    def _values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        if not self._names.issuperset(values):
            unknown = ", ".join(sorted(set(values) - self._names))
            raise ValueError(f"{unknown}: not a value of {self.sql}")
        row = {**self._defaults, **values} if len(values) < len(self._names) else dict(values)
        for name, convert in self._convert.items():
            if name in values:
                row[name] = convert(values[name])
        return row

    def run(self, db: pw.Database, /, **values: Any) -> sqlite3.Cursor:
        """Execute on *db* with *values* (by field name); returns the cursor (``lastrowid``).

        The statement goes to *db*'s SQLite connection directly: peewee's own way adds a
        third to a short insert. So an error is SQLite's (``sqlite3.Error``), not peewee's.

        Raises:
            ValueError: a value for a field the statement does not have.
        """
        return db.connection().execute(self.sql, self._values(values))

    def run_many(self, db: pw.Database, rows: Iterable[Mapping[str, Any]]) -> None:
        """Execute on *db* once per row of values (``executemany``), in the caller's transaction.

        Raises:
            ValueError: a value for a field the statement does not have.
        """
        db.connection().executemany(self.sql, [self._values(row) for row in rows])


@contextlib.contextmanager
def write_transaction(db: pw.Database) -> Iterator[None]:
    """Commit what the block writes on *db* as one transaction (rolled back on an exception).

    What ``db.atomic()`` does, at a third of its cost for the short transactions recording
    makes for every event: ``BEGIN`` and ``COMMIT`` on the SQLite connection itself. Inside a
    transaction already open (an ``atomic()`` block), it is ``atomic()``: a savepoint.
    """
    connection = db.connection()
    if connection.in_transaction:
        with db.atomic():
            yield
        return
    connection.execute("BEGIN")
    try:
        yield
        connection.execute("COMMIT")
    finally:
        if connection.in_transaction:  # the block, or the commit itself, failed
            connection.execute("ROLLBACK")


_RENDERER = pw.SqliteDatabase(None)  # renders SQL for SQLite; never connected


def _value_fields(model: type[pw.Model]) -> list[pw.Field]:
    """The columns of *model* an insert gives values for (every one but an ``AutoField``)."""
    return [f for f in model._meta.sorted_fields if not isinstance(f, pw.AutoField)]


def _converts(field: pw.Field) -> bool:
    """Whether *field* stores a value in another form than it is given (JSON, blobs)."""
    return type(field).db_value is not pw.Field.db_value
