"""``studio.persistence``: saved session files, read off the engine's loop.

Everything here reads or writes SQLite session files through ``kt_sessions`` and never touches
the engine, so the web layer calls it directly from its request threads: a slow listing never
blocks a creature. Resuming is the exception; it rebuilds creatures in the engine and is
``async``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kt_studio.errors import SessionNotFoundError, StudioConflictError, StudioInputError
from kt_studio.values import Page, SavedSession

__all__ = ["EXPORT_FORMATS", "SavedSessions"]

EXPORT_FORMATS = {"md": "text/markdown", "html": "text/html", "jsonl": "application/x-ndjson"}
MAX_PAGE = 500  # the largest page a listing returns


class SavedSessions:
    """Saved sessions of one folder (``studio.persistence``).

    Args:
        session_dir: The folder of ``*.ktsession`` files.
        live_paths: Returns the session files live sessions are writing now.
    """

    def __init__(self, session_dir: Path, live_paths: Callable[[], set[Path]]) -> None:
        self.session_dir = session_dir
        self._live_paths = live_paths

    def list(self, *, search: str = "", limit: int = 50, offset: int = 0) -> Page:
        """Saved sessions, newest first, filtered by *search* and cut to one page.

        Args:
            search: Case-insensitive text matched against the name, the creatures and the
                first input ("" matches everything).
            limit: Page size, 1 to 500.
            offset: How many matches to skip.

        Raises:
            StudioInputError: *limit* or *offset* out of range.
        """
        import kt_sessions

        if not 1 <= limit <= MAX_PAGE:
            raise StudioInputError(f"between 1 and {MAX_PAGE}", field="limit")
        if offset < 0:
            raise StudioInputError("0 or more", field="offset")
        needle = search.lower().strip()
        live = self._live_paths()
        found = []
        for info in kt_sessions.list_sessions(self.session_dir):
            haystack = " ".join([info.name, *info.creatures, info.preview]).lower()
            if needle and needle not in haystack:
                continue
            found.append(_saved(info, live))
        return Page(
            total=len(found),
            offset=offset,
            limit=limit,
            items=tuple(found[offset : offset + limit]),
        )

    def path(self, name: str) -> Path:
        """The file of the saved session *name* (a name, a unique prefix, or a file name).

        Raises:
            SessionNotFoundError: none matches.
        """
        import kt_sessions

        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise StudioInputError("give a session name from GET /api/sessions", field="name")
        try:  # only names inside the folder: a name is never a path
            return Path(kt_sessions.find_session(name, session_dir=self.session_dir))
        except kt_sessions.SessionNotFoundError:
            raise SessionNotFoundError(
                f"no saved session '{name}' in {self.session_dir}; list them with GET /api/sessions"
            ) from None

    def get(self, name: str) -> SavedSession:
        """One saved session."""
        import kt_sessions

        with kt_sessions.SessionReader(self.path(name)) as reader:
            return _saved(reader.info(), self._live_paths())

    def delete(self, name: str) -> Path:
        """Delete a saved session file (with its WAL and SHM files).

        Raises:
            StudioConflictError: a live session is writing it.
        """
        path = self.path(name)
        if path.resolve() in self._live_paths():
            raise StudioConflictError(
                f"session '{name}' is live; stop it (DELETE /api/sessions/active/ID) first"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return path

    def fork(
        self, name: str, *, at_event_id: int | None = None, label: str | None = None
    ) -> SavedSession:
        """Copy a session up to an event into a new file (see ``kt_sessions.fork``)."""
        import kt_sessions

        target = kt_sessions.fork(self.path(name), at_event_id, name=label)
        with kt_sessions.SessionReader(target) as reader:
            return _saved(reader.info(), self._live_paths())

    def export(self, name: str, fmt: str) -> Iterator[str]:
        """The session as Markdown, HTML or JSON Lines, in pieces.

        Raises:
            StudioInputError: *fmt* is not ``md``, ``html`` or ``jsonl``.
        """
        import kt_sessions
        from kt_sessions import export

        if fmt not in EXPORT_FORMATS:
            raise StudioInputError(f"one of {', '.join(EXPORT_FORMATS)}", field="format")
        with kt_sessions.SessionReader(self.path(name)) as reader:
            if fmt == "jsonl":
                lines = [f"{line}\n" for line in export.to_jsonl(reader)]
            elif fmt == "md":
                lines = [export.to_markdown(reader)]
            else:
                lines = [_html(reader)]
        return iter(lines)

    def turns(self, name: str, *, creature: str | None = None) -> list[Any]:
        """Every recorded turn (``kt_sessions.TurnRecord`` values), of one creature or all."""
        import kt_sessions

        with kt_sessions.SessionReader(self.path(name)) as reader:
            if creature is not None and creature not in reader.creatures:
                known = ", ".join(reader.creatures) or "none"
                raise StudioInputError(
                    f"no creature '{creature}'; recorded: {known}", field="creature"
                )
            return reader.turns(creature)

    def events(
        self,
        name: str,
        *,
        after: int = 0,
        until: int | None = None,
        limit: int = 200,
        creature: str | None = None,
    ) -> list[dict[str, Any]]:
        """Logged events with ids above *after* (and up to *until*), at most *limit*.

        To page, or follow a file; *until* bounds the read to a range already known (a turn's).

        Each is ``{id, type, creature, turn_index, timestamp, event}``.

        Raises:
            StudioInputError: *limit* out of range.
        """
        import itertools

        import kt_sessions

        if not 1 <= limit <= MAX_PAGE * 10:
            raise StudioInputError(f"between 1 and {MAX_PAGE * 10}", field="limit")
        with kt_sessions.SessionReader(self.path(name)) as reader:
            logged = reader.events(creature=creature, after=after, until=until)
            return [
                {
                    "id": e.id,
                    "type": e.type,
                    "creature": e.creature,
                    "turn_index": e.turn_index,
                    "timestamp": e.timestamp,
                    "event": e.wire,
                }
                for e in itertools.islice(logged, limit)
            ]

    def memory_search(self, name: str, query: str, *, k: int = 10) -> list[dict[str, Any]]:
        """Search a session's memory (full text, and vectors when indexed).

        Raises:
            StudioInputError: *query* is empty.
        """
        import kt_sessions
        from kt_studio.convert import unstructure

        if not query.strip():
            raise StudioInputError("give the text to search for", field="q")
        with kt_sessions.SessionReader(self.path(name)) as reader:
            return [unstructure(hit) for hit in reader.search(query, k=k)]


def _saved(info: Any, live: set[Path]) -> SavedSession:
    return SavedSession(
        name=info.name,
        path=str(info.path),
        status=info.status,
        creatures=tuple(info.creatures),
        created_at=info.created_at,
        last_active=info.last_active,
        turns=info.turns,
        preview=info.preview,
        size=info.size,
        parent=info.parent,
        error=info.error,
        live=Path(info.path).resolve() in live,
    )


def _html(reader: Any) -> str:
    """A standalone HTML transcript: per creature, each turn's input, tools and reply."""
    info = reader.info()
    out = [
        "<!doctype html>",
        '<html><head><meta charset="utf-8">',
        f"<title>Session {html.escape(info.name)}</title></head><body>",
        f"<h1>Session {html.escape(info.name)}</h1>",
        f"<p>status: {html.escape(info.status)}</p>",
    ]
    for creature in reader.creatures:
        out.append(f"<h2>{html.escape(creature)}</h2>")
        for turn in reader.turns(creature):
            out.append(
                f'<section class="turn"><h3>Turn {turn.index} ({html.escape(turn.status)})</h3>'
            )
            out.append(f'<div class="user"><pre>{html.escape(turn.input)}</pre></div>')
            for call in turn.tool_calls:
                out.append(
                    f'<div class="tool">tool <code>{html.escape(call.name)}</code> → '
                    f"{html.escape(call.status)}</div>"
                )
            reply = turn.text or turn.output
            out.append(f'<div class="assistant"><pre>{html.escape(reply)}</pre></div></section>')
    out.append("</body></html>\n")
    return os.linesep.join(out)
