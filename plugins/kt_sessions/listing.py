"""Listing the sessions in a folder, newest first, without disturbing any of them."""

from __future__ import annotations

import os
from typing import Any

from kt_sessions.finder import session_files

__all__ = ["list_sessions"]


def list_sessions(
    session_dir: str | os.PathLike[str] | None = None, *, limit: int | None = None
) -> list[Any]:
    """:class:`~kt_sessions.reader.SessionInfo` for each session file, newest first.

    Files are opened read-only. A file that cannot be read is listed with status
    ``unreadable`` and the reason, never skipped silently.

    Args:
        session_dir: The folder (default ``~/.kt/sessions``, or ``$KT_SESSION_DIR``).
        limit: At most this many.
    """
    from kt_sessions.reader import SessionInfo, SessionReader, file_size

    infos = []
    for path in session_files(session_dir)[:limit]:
        try:
            with SessionReader(path) as reader:
                infos.append(reader.info())
        except Exception as exc:  # one bad file must not hide the others
            infos.append(
                SessionInfo(
                    path=path,
                    name=path.name.removesuffix(".ktsession"),
                    status="unreadable",
                    size=file_size(path),
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
    return infos
