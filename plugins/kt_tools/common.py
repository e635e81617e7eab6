"""What every built-in tool shares: options, per-creature state, the file guards, worker threads.

State lives on the creature's stash under private keys, so two creatures (or a creature and its
sub-agents) never see each other's read records, path-guard memory or unlocked manuals.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import trio

import kt
from kt.errors import ConfigValidationError
from kt_tools.nofollow import PathChanged, open_file

T = TypeVar("T")

# -- Options ------------------------------------------------------------------------------------


def merge_options(tool: str, current: Any, options: Mapping[str, Any]) -> Any:
    """Return a copy of the attrs options object *current* with *options* applied.

    Values are checked against the field's default type (ints are accepted for floats, and a
    list for a tuple), so a typo or a wrong type fails when the creature is built.

    Raises:
        ConfigValidationError: an unknown option or a value of the wrong type.
    """
    fields = {f.name: f for f in attrs.fields(type(current))}
    changes: dict[str, Any] = {}
    for key, value in options.items():
        field = fields.get(key)
        if field is None:
            accepted = ", ".join(sorted(fields)) or "none"
            raise ConfigValidationError(
                f"tool '{tool}' has no option '{key}'; its options are: {accepted} "
                "(and timeout, max_output, concurrency_safe, background for every tool)",
                path=f"options.{key}",
            )
        changes[key] = _checked(tool, key, getattr(current, key), value)
    return attrs.evolve(current, **changes)


def _checked(tool: str, key: str, default: Any, value: Any) -> Any:
    def bad(kind: str) -> ConfigValidationError:
        return ConfigValidationError(
            f"tool '{tool}': option '{key}' should be {kind}, got {value!r}", path=f"options.{key}"
        )

    if value is None or default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        if value < 0:
            raise bad("a number of at least 0")
        return type(default)(value) if isinstance(default, float) else value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if isinstance(default, tuple):
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise bad("a list")
        return tuple(value)
    if isinstance(default, Mapping):
        if not isinstance(value, Mapping):
            raise bad("a table of keys and values")
        return dict(value)
    return value


def configurable(build: Callable[[Any], kt.ToolSpec], options: Any, name: str) -> kt.ToolSpec:
    """Build a spec from *options* whose ``configure`` builds a fresh one from merged options."""
    spec = build(options)
    return attrs.evolve(
        spec, configure=lambda new: configurable(build, merge_options(name, options, new), name)
    )


@attrs.frozen
class FileOptions:
    """Options every file tool takes.

    Attributes:
        path_guard: ``warn`` (default): the first use of a path outside the working directory
            is refused with a warning, and the same call repeated goes through; ``block``:
            always refused; ``off``: no check.
        allowed_paths: Extra directories (absolute, or relative to the working directory) that
            count as inside.
        require_read: Refuse to change an existing file that was not read first, or that
            changed since it was read (for the tools that change files).
        require_manual: The tool must be unlocked by reading its manual with ``info`` first
            (for the tools that have this gate; only when the creature has ``info``).
    """

    path_guard: str = "warn"
    allowed_paths: tuple[str, ...] = ()
    require_read: bool = True
    require_manual: bool = True

    def __attrs_post_init__(self) -> None:
        if self.path_guard not in ("warn", "block", "off"):
            raise ConfigValidationError(
                f"option 'path_guard' must be warn, block or off, not {self.path_guard!r}",
                path="options.path_guard",
            )


def fail(message: str, **metadata: Any) -> kt.ToolResult:
    """An error result (a failure the model sees and can act on)."""
    return kt.ToolResult(error=message, metadata=metadata)


# -- Per-creature state -------------------------------------------------------------------------


@attrs.frozen
class ReadRecord:
    """What the creature saw of a file: its modification time then, and whether all of it."""

    mtime_ns: int
    partial: bool


_READS = kt.StashKey[dict[Path, ReadRecord]]()
_OUTSIDE_WARNED = kt.StashKey[set[Path]]()
_MANUALS_READ = kt.StashKey[set[str]]()


def record_read(ctx: kt.ToolContext, path: Path, *, partial: bool = False) -> None:
    """Remember that *path* was read (or written) now, at its current modification time."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return
    ctx.stash.setdefault(_READS, {})[path] = ReadRecord(mtime, partial)


def check_read_before_write(ctx: kt.ToolContext, path: Path, options: FileOptions) -> str | None:
    """Why changing *path* is refused, or ``None``.

    A file that does not exist may be created. An existing file must have been read (a partial
    read counts) and must not have changed since: its modification time is compared in
    nanoseconds. Writes by the creature's own tools refresh the record, so edits can chain.
    """
    if not options.require_read:
        return None
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot check {path}: {exc.strerror}"
    record = ctx.stash.get(_READS, {}).get(path)
    if record is None:
        return (
            f"{path} has not been read yet; read it with the read tool first, then make the "
            "change (this keeps you from overwriting content you have not seen)"
        )
    if record.mtime_ns != mtime:
        return (
            f"{path} was modified since last read (by someone else or another program); "
            "read it again to see its current content, then make the change"
        )
    return None


def is_inside(path: Path, roots: Iterable[Path]) -> bool:
    """Whether the resolved *path* is one of *roots* or below one."""
    return any(path == root or path.is_relative_to(root) for root in roots)


_NAME_MAX = 255
_PATH_MAX = 4095


def resolve_path(ctx: kt.ToolContext, raw: str, options: FileOptions) -> Path | kt.ToolResult:
    """Resolve *raw* against the working directory and apply the path guard.

    Returns the absolute, symlink-resolved path, or an error result when the guard refuses it.
    In ``warn`` mode the first refusal is remembered per resolved path, so repeating the same
    call goes through: the model has to mean it.

    The path returned is free of links, and the tools open it with :mod:`kt_tools.nofollow`,
    which follows none: a link swapped in after this check makes the open fail instead of
    leading elsewhere. Never pass it to plain ``open()``.
    """
    if not raw or not str(raw).strip():
        return fail("a path is required")
    if "\0" in str(raw):
        return fail("the path contains a NUL character, which no file name can hold")
    path = Path(os.path.realpath(ctx.resolve_path(str(raw).strip())))
    if len(os.fsencode(path)) > _PATH_MAX or any(
        len(os.fsencode(part)) > _NAME_MAX for part in path.parts
    ):
        return fail(
            f"the path is too long ({len(str(path))} characters; at most {_NAME_MAX} bytes a "
            f"name and {_PATH_MAX} in all); give a shorter path"
        )
    if options.path_guard == "off":
        return path
    working = Path(os.path.realpath(ctx.working_dir))
    roots = [working, *(Path(os.path.realpath(working / p)) for p in options.allowed_paths)]
    if is_inside(path, roots):
        return path
    if options.path_guard == "block":
        return fail(
            f"{path} is outside the working directory ({working}); this creature only works "
            "inside it. Use a path under the working directory.",
            path_guard="block",
        )
    warned = ctx.stash.setdefault(_OUTSIDE_WARNED, set())
    if path in warned:
        return path
    warned.add(path)
    return fail(
        f"{path} is outside the working directory ({working}). If you really mean this path, "
        "retry the same operation to proceed.",
        path_guard="warn",
    )


# -- Manuals ------------------------------------------------------------------------------------


def mark_manual_read(ctx: kt.ToolContext, name: str) -> None:
    """Unlock *name*'s manual gate for this creature."""
    ctx.stash.setdefault(_MANUALS_READ, set()).add(name)


def check_manual(ctx: kt.ToolContext, enabled: bool) -> kt.ToolResult | None:
    """The gate of tools that must have their manual read first; ``None`` when open.

    Only applies when the creature has the ``info`` tool, so the model can always unlock it.
    """
    name = ctx.call.name
    if not enabled or ctx.agent is None or "info" not in ctx.agent.tools:
        return None
    if name in ctx.stash.get(_MANUALS_READ, set()):
        return None
    return fail(
        f"the {name} tool requires reading its documentation first: call "
        f'info(name="{name}"), then call {name} again. This is about the tool\'s manual, not '
        "about a file.",
        manual_required=name,
    )


# -- Binary files -------------------------------------------------------------------------------

BINARY_SUFFIXES = frozenset(
    """
    .png .jpg .jpeg .gif .webp .bmp .tiff .tif .ico .heic .heif .avif .psd
    .pdf .doc .docx .xls .xlsx .ppt .pptx .odt .ods .odp
    .zip .tar .gz .tgz .bz2 .xz .7z .rar .zst .lz4
    .exe .dll .so .dylib .a .o .obj .lib .bin .class .jar .pyc .pyo .whl .egg
    .sqlite .sqlite3 .db .ktsession .parquet .feather .npy .npz .pkl .pickle
    .ttf .otf .woff .woff2 .eot
    .mp3 .wav .flac .ogg .m4a .aac .mp4 .mkv .avi .mov .webm .wmv
    """.split()
)
# Bytes that are normal in text: printable and high bytes, tab, newlines, form feed, escape.
_TEXT_BYTES = bytes([9, 10, 12, 13, 27, *range(32, 256)])


def looks_binary(head: bytes) -> bool:
    """Whether the first bytes of a file look binary: a NUL, or over 10 % control bytes."""
    if not head:
        return False
    if b"\0" in head:
        return True
    control = len(head.translate(None, _TEXT_BYTES))  # the control bytes left after deleting text
    return control / len(head) > 0.10


def is_binary_file(path: Path) -> bool:
    """Binary by suffix, or by sniffing the first 8 KiB; unreadable files count as text."""
    if path.suffix.lower() in BINARY_SUFFIXES:
        return True
    try:
        with open_file(path, "rb") as f:
            return looks_binary(f.read(8192))
    except PathChanged:
        raise
    except OSError:
        return False


def binary_refusal(path: Path) -> kt.ToolResult:
    """The error for a binary file a text tool cannot handle."""
    return fail(
        f"{path} is a binary file; this tool reads text only. Inspect it with bash instead "
        f"(for example `file {path.name}` or `xxd {path.name} | head`)."
    )


# -- Worker threads -----------------------------------------------------------------------------


class StopFlag:
    """Set when the call that started a worker thread is cancelled; long loops check it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Ask the worker to stop."""
        self._event.set()

    @property
    def is_set(self) -> bool:
        """Whether the worker should stop."""
        return self._event.is_set()


async def in_thread(fn: Callable[..., T], *args: Any, stop: StopFlag | None = None) -> T:
    """Run blocking *fn* in a worker thread without blocking the creature.

    On cancellation (interrupt, timeout, stop) the call returns at once and *stop* is set, so a
    worker that checks it ends soon instead of running on unobserved.
    """
    try:
        return await trio.to_thread.run_sync(lambda: fn(*args), abandon_on_cancel=True)
    except trio.Cancelled:
        if stop is not None:
            stop.set()
        raise
