"""Opening a checked path without a gap between the check and the open.

The path guard decides on a path's *real* location (every symbolic link resolved). A plain
``open()`` afterwards resolves the path again, so whatever changed in between wins: a folder
swapped for a link to ``/etc`` a moment after the check sends the read (or the write) there.

So the file tools never hand a checked path back to the operating system as a whole. They open
it one component at a time, each relative to the directory opened before it (``openat``), with
``O_NOFOLLOW``: no link is followed, at any step. The guard's path is already free of links, so
a link met on the way can only be one made after the check; the open then fails with
:class:`PathChanged` instead of going where the link points. What is opened is exactly what was
checked, or nothing.

Where the system lacks ``openat`` (``os.open`` without ``dir_fd`` support, as on Windows), the
functions fall back to plain opens; the guard's check still applies, the race is not closed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "PathChanged",
    "open_dir",
    "open_fd",
    "open_file",
    "opened_dir",
    "read_file_bytes",
    "stat_nofollow",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_SUPPORTED = bool(_NOFOLLOW) and os.open in os.supports_dir_fd
_DIR_FLAGS = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
_MODES = {
    "rb": os.O_RDONLY,
    "r": os.O_RDONLY,
    "wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
}


class PathChanged(OSError):
    """A component of a checked path became a symbolic link (or stopped being a folder)."""

    def __init__(self, path: Path, component: str) -> None:
        super().__init__(
            errno.ELOOP,
            f"{path} changed while it was being opened ({component!r} is now a link or not a "
            "folder); it was not opened. Check the path and try again",
        )
        self.path = path


def _components(path: Path) -> list[str]:
    if not path.is_absolute():
        raise ValueError(f"an absolute, resolved path is needed, not {path}")
    return [part for part in path.parts[1:] if part]


def _step(dir_fd: int, name: str, path: Path, flags: int, mode: int = 0o777) -> int:
    """``openat(dir_fd, name, flags | O_NOFOLLOW)``, turning a link met into PathChanged."""
    try:
        return os.open(name, flags | _NOFOLLOW | _CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) or (
            exc.errno == errno.ENXIO and flags & _DIRECTORY
        ):
            raise PathChanged(path, name) from None
        raise


def open_dir(path: Path, *, make: bool = False) -> int:
    """Open the folder at the real, absolute *path*, following no link on the way.

    Args:
        path: The folder, absolute and free of links (as :func:`os.path.realpath` gives it).
        make: Create missing folders on the way (mode 0777 less the umask).

    Returns:
        A file descriptor; the caller closes it.

    Raises:
        PathChanged: a component is a link, or not a folder.
        OSError: a component is missing (without *make*), or cannot be opened.
    """
    if not _SUPPORTED:
        if make:
            os.makedirs(path, exist_ok=True)
        return os.open(path, os.O_RDONLY | _DIRECTORY)
    fd = os.open("/", _DIR_FLAGS)
    try:
        for name in _components(path):
            try:
                next_fd = _step(fd, name, path, _DIR_FLAGS)
            except FileNotFoundError:
                if not make:
                    raise
                with contextlib.suppress(FileExistsError):  # made meanwhile: open it below
                    os.mkdir(name, dir_fd=fd)
                next_fd = _step(fd, name, path, _DIR_FLAGS)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def opened_dir(path: Path) -> Iterator[int]:
    """:func:`open_dir` as a context manager that closes the descriptor."""
    fd = open_dir(path)
    try:
        yield fd
    finally:
        os.close(fd)


def open_fd(path: Path, flags: int, *, mode: int = 0o666, make_parents: bool = False) -> int:
    """Open the file at the real, absolute *path* with *flags*, following no link.

    Args:
        path: The file, absolute and free of links.
        flags: ``os.O_*`` flags (``O_NOFOLLOW`` is added).
        mode: Permission bits for a file created.
        make_parents: Create missing parent folders.

    Raises:
        PathChanged: a component, or the file itself, is a link.
        OSError: the file cannot be opened.
    """
    if not _SUPPORTED:
        if make_parents:
            os.makedirs(path.parent, exist_ok=True)
        return os.open(path, flags, mode)
    parent = open_dir(path.parent, make=make_parents)
    try:
        return _step(parent, path.name, path, flags, mode)
    finally:
        os.close(parent)


def open_file(
    path: Path,
    mode: str = "rb",
    *,
    make_parents: bool = False,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
) -> IO[Any]:
    """Like :func:`open` for modes ``r``, ``rb``, ``w`` and ``wb``, following no link.

    Raises:
        PathChanged: a component, or the file itself, is a link.
        OSError: the file cannot be opened (a folder opened for reading is ``IsADirectoryError``).
    """
    fd = open_fd(path, _MODES[mode], make_parents=make_parents)
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if "b" in mode:
            return os.fdopen(fd, mode)
        return os.fdopen(fd, mode, encoding=encoding or "utf-8", errors=errors, newline=newline)
    except BaseException:
        os.close(fd)
        raise


def read_file_bytes(path: Path) -> bytes:
    """The whole content of the file at *path*, opened without following links."""
    with open_file(path, "rb") as f:
        return f.read()


def stat_nofollow(path: Path) -> os.stat_result:
    """``lstat`` of *path* reached through its folder, opened without following links.

    Raises:
        PathChanged: a folder on the way is a link.
        OSError: the entry does not exist.
    """
    if not _SUPPORTED:
        return os.lstat(path)
    if path == Path(path.anchor):
        return os.lstat(path)
    with opened_dir(path.parent) as parent:
        return os.stat(path.name, dir_fd=parent, follow_symlinks=False)
