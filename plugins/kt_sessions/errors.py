"""Errors of the session plugin; each is a :class:`kt.errors.KTError` naming the fix.

::

    KTError
    └── SessionError                  a session file cannot be used as asked
        ├── SessionNotFoundError      no session matches a name, prefix or path
        ├── SessionAmbiguousError     several sessions match; the message lists them
        ├── SessionBusyError          another live process is writing the session
        ├── SessionFormatError        not a session file, or a newer format than this plugin
        ├── ForkNotStableError        a fork point would split a running tool call
        ├── BranchError               regenerate / edit / select cannot be done now
        └── MemoryIndexError          search cannot run as asked
            ├── EmbeddingMismatchError  the query embedder differs from the index's
            └── EmbeddingModelNotFoundError  the configured embedding model is not on this machine
"""

from __future__ import annotations

from kt.errors import KTError

__all__ = [
    "BranchError",
    "EmbeddingMismatchError",
    "EmbeddingModelNotFoundError",
    "ForkNotStableError",
    "MemoryIndexError",
    "SessionAmbiguousError",
    "SessionBusyError",
    "SessionError",
    "SessionFormatError",
    "SessionNotFoundError",
]


class SessionError(KTError):
    """A session file cannot be used as asked."""


class SessionNotFoundError(SessionError):
    """No session matches the name, prefix or path given."""


class SessionAmbiguousError(SessionError):
    """Several sessions match a query.

    Attributes:
        matches: The matching session files, newest first.
    """

    def __init__(self, message: str, matches: list) -> None:
        super().__init__(message)
        self.matches = matches


class SessionBusyError(SessionError):
    """Another live process is writing the session; two writers would interleave turns."""


class SessionFormatError(SessionError):
    """The file is not a session file, or was written by a newer version of the plugin."""


class ForkNotStableError(SessionError):
    """The fork point falls inside a tool call that was still running at that point."""


class BranchError(SessionError):
    """A regenerate, edit or branch switch cannot be done now (turn running, no such turn)."""


class MemoryIndexError(SessionError):
    """Memory search cannot run as asked (no vector index, unknown embedding provider)."""


class EmbeddingMismatchError(MemoryIndexError):
    """The embedder of a query is not the one the session's vector index was built with."""


class EmbeddingModelNotFoundError(MemoryIndexError):
    """The embedding model a setting names is not on this machine (nothing is downloaded)."""
