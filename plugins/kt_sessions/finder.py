"""Finding session files: by path, name, prefix or substring; the newest; all of them.

Names are ``<creature>_<YYYYmmdd-HHMMSS>_<id>``, so ``kt resume swe`` finds the sessions of
creature ``swe``. Recency is the newest modification time of the file and its ``-wal``
sidecar (a live session's main file lags behind its WAL).
"""

from __future__ import annotations

import os
from pathlib import Path

from kt_sessions.errors import SessionAmbiguousError, SessionNotFoundError

__all__ = ["SUFFIX", "find_session", "last_session", "session_files", "sessions_dir"]

SUFFIX = ".ktsession"
"""The session file extension."""


def sessions_dir(session_dir: str | os.PathLike[str] | None = None) -> Path:
    """*session_dir*, else ``$KT_SESSION_DIR``, else ``<kt home>/sessions`` (``~/.kt``)."""
    if session_dir is not None:
        return Path(session_dir).expanduser()
    if os.environ.get("KT_SESSION_DIR"):
        return Path(os.environ["KT_SESSION_DIR"]).expanduser()
    from kt.config.home import kt_home

    return kt_home() / "sessions"


def _mtime(path: Path) -> float:
    times = []
    for candidate in (path, Path(f"{path}-wal")):
        try:
            times.append(candidate.stat().st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


def _has_upgrade(path: Path, names: set[str]) -> bool:
    from kt_sessions.db import SCHEMA_VERSION

    stem = path.name.removesuffix(SUFFIX)
    return f"{stem}.v{SCHEMA_VERSION}{SUFFIX}" in names


def session_files(session_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Every session file in the folder, newest first."""
    folder = sessions_dir(session_dir)
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file()]
    names = {p.name for p in files}
    # A file upgraded to a newer schema is listed once: by its upgraded copy.
    files = [p for p in files if not _has_upgrade(p, names)]
    return sorted(files, key=lambda p: (_mtime(p), p.name), reverse=True)


def last_session(session_dir: str | os.PathLike[str] | None = None) -> Path:
    """The most recently written session.

    Raises:
        SessionNotFoundError: the folder holds no session.
    """
    files = session_files(session_dir)
    if not files:
        raise SessionNotFoundError(
            f"no session in {sessions_dir(session_dir)}; run a creature first (kt run ...)"
        )
    return files[0]


def find_session(query: str, *, session_dir: str | os.PathLike[str] | None = None) -> Path:
    """The session *query* names: a path, a file name, a name, a name prefix or a substring.

    Raises:
        SessionNotFoundError: nothing matches.
        SessionAmbiguousError: several sessions match (``matches`` lists them, newest first).
    """
    direct = Path(query).expanduser()
    if direct.is_file():
        return direct
    name = Path(query).name.removesuffix(SUFFIX)
    files = session_files(session_dir)
    stems = [(p, p.name.removesuffix(SUFFIX)) for p in files]
    for matches in (
        [p for p, stem in stems if stem == name],
        [p for p, stem in stems if stem.startswith(name)],
        [p for p, stem in stems if name in stem],
    ):
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = ", ".join(p.name.removesuffix(SUFFIX) for p in matches[:10])
            raise SessionAmbiguousError(
                f"{len(matches)} sessions match '{query}': {listed}; give more of the name",
                matches,
            )
    raise SessionNotFoundError(
        f"No session found matching: {query} (in {sessions_dir(session_dir)}); "
        "`kt sessions list` shows the sessions there"
    )
