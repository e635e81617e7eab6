"""Sessions through the ``kt_session_stores`` registry: attach, resume and read recorded runs.

The kernel keeps no session format of its own. A store plugin (``kt_sessions``: peewee +
SQLite) contributes a :class:`kt.SessionStoreSpec`; the kernel only finds it and hands over:

* ``Agent.build(..., session=...)`` calls the spec's ``factory`` and registers the object it
  returns as one of that creature's plugins, so the store sees every event through
  ``kt_event`` before any reader does;
* ``Agent.resume(path)`` calls the spec's ``resume``;
* ``kt.SessionReader(path)`` calls the spec's ``reader``.

With several stores loaded, the first one registered is used.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kt.plugins.kernel import Kernel

__all__ = ["SessionReader", "open_session"]


def open_session(kernel: Kernel, session: Any, *, key: str | None = None, **options: Any) -> Any:
    """Open a store for one creature: ``session`` is ``True``, a path, or a store object.

    Creatures built with one kernel and ``session=True`` whose configs name the same
    ``session_key`` share one session: the first opens it, the others join it (the store's
    factory takes the first one's object, as it does for ``session=<store object>``).

    Args:
        kernel: The plugin set that provides the store.
        session: ``True`` for a new session file, a path for that file, or an object the
            store knows (to share one file between creatures).
        key: The creature's ``session_key`` (``None``: its own session).
        **options: Passed to the store's factory (``name``, ``session_dir``, ``source``).

    Returns:
        The object to register as the creature's plugin.
    """
    spec = kernel.session_store()
    if session is True and key is not None:
        session = kernel.shared_sessions.get(key, True)
    store = spec.factory(None if session is True else session, **options)
    if key is not None:
        kernel.shared_sessions.setdefault(key, store)
    return store


def SessionReader(  # noqa: N802 (reads like the class it returns)
    path: str | os.PathLike[str], *, kernel: Kernel | None = None
) -> Any:
    """Open a recorded session for reading, through the loaded session store.

    ``kt.SessionReader(path)`` returns the store's reader (for ``kt_sessions``,
    ``kt_sessions.SessionReader``): ``turns()``, ``events()`` and the rest. It works on
    finished runs, on runs still being written, and on a crashed run's file.

    Args:
        path: The session file (or what the store accepts, such as a session name).
        kernel: The plugin set that provides the store (default: ``kt.Kernel.default()``).

    Raises:
        UnknownNameError: no loaded plugin provides a session store.
    """
    if kernel is None:
        from kt.plugins.kernel import Kernel

        kernel = Kernel.default()  # only its registries are read
    return kernel.session_store(needs="reader").reader(path)
