"""Walking a directory tree the way a developer would: skipping what ``.gitignore`` skips.

Used by glob, grep and tree. The walk uses ``os.scandir`` (one system call per directory, file
types from the directory entry, no ``stat`` per file), visits entries in name order so results
are stable, and prunes ignored directories instead of filtering their contents afterwards.

Ignore rules follow git's: one ``.gitignore`` per directory, applying to everything below it;
a pattern without a slash matches a name at any depth, a pattern with a slash is anchored to
its file's directory, a trailing slash matches directories only, ``**`` spans directories, and
``!pattern`` re-includes (the last matching rule wins). A re-include cannot reach into an
excluded directory, as in git.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from kt_tools.nofollow import open_dir, open_fd

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
DIR_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC

# Folder levels a walk enters at most (each level holds one open descriptor and one frame).
MAX_DEPTH = 256
# Never worth walking into, whatever the ignore files say.
ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn"})
# Caches, dependencies and virtual environments: skipped when ignore rules apply.
NOISE_DIRS = frozenset(
    {
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        "node_modules",
        ".tox",
        ".nox",
        ".eggs",
        ".venv",
        "venv",
        ".cache",
    }
)


@attrs.frozen
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    anchored: bool  # matches the path relative to the rule's directory, not just the name
    base: str  # the rule's directory, relative to the walk root ("" = the root), with "/"


def glob_to_regex(pattern: str) -> str:
    """Translate a path glob to a regex body.

    ``*`` and ``?`` stay within a path segment, ``**`` spans segments, ``[...]`` is a class and
    ``{a,b}`` an alternative.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "{":
            end = pattern.find("}", i)
            if end == -1:
                out.append(re.escape(c))
            else:
                choices = pattern[i + 1 : end].split(",")
                out.append("(?:" + "|".join(glob_to_regex(x) for x in choices) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A compiled regex matching whole relative POSIX paths against *pattern*."""
    return re.compile(glob_to_regex(pattern) + r"\Z", re.DOTALL)


def parse_gitignore(text: str, base: str) -> list[_Rule]:
    """The rules of one ``.gitignore`` whose directory is *base* (relative to the walk root)."""
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        if line.startswith("\\"):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        regex = re.compile(glob_to_regex(line) + r"\Z", re.DOTALL)
        rules.append(_Rule(regex, negate, dir_only, anchored, base))
    return rules


def is_ignored(rules: list[_Rule], rel: str, name: str, is_dir: bool) -> bool:
    """Whether *rel* (relative to the walk root) is ignored; the last matching rule wins."""
    ignored = False
    for rule in rules:
        if rule.dir_only and not is_dir:
            continue
        if rule.anchored:
            if rule.base:
                if not rel.startswith(rule.base + "/"):
                    continue
                target = rel[len(rule.base) + 1 :]
            else:
                target = rel
        else:
            target = name
        if rule.regex.match(target):
            ignored = not rule.negate
    return ignored


@attrs.frozen
class Found:
    """One entry a walk kept.

    Attributes:
        rel: Its path relative to the walk's root, with ``/``.
        entry: The directory entry (from a listing by descriptor: ``entry.path`` is only its
            name; open it with :meth:`open` or through :attr:`dir_fd`).
        is_dir: A folder (never a link: links to folders are not walked into).
        dir_fd: The open descriptor of its folder, valid while the walk is at this entry.
        target: For a link to a file inside the root, the file's real path; else ``None``.
    """

    rel: str
    entry: os.DirEntry[str]
    is_dir: bool
    dir_fd: int
    target: Path | None = None

    @property
    def name(self) -> str:
        """The entry's name."""
        return self.entry.name

    def open(self) -> int:
        """Open the file for reading without following links; the caller closes the fd.

        A link inside the root is opened at its real path (checked to stay inside).

        Raises:
            OSError: it cannot be opened (:class:`~kt_tools.nofollow.PathChanged` when it
                turned into a link meanwhile).
        """
        if self.target is not None:
            return open_fd(self.target, os.O_RDONLY)
        return os.open(self.entry.name, _READ_FLAGS | _NOFOLLOW, dir_fd=self.dir_fd)

    def stat(self) -> os.stat_result:
        """The entry's ``lstat`` (a link's target's for a link inside the root)."""
        if self.target is not None:
            return os.stat(self.target)
        return self.entry.stat(follow_symlinks=False)


@attrs.define
class Walker:
    """A configured walk from one root directory.

    The walk never leaves its root: folders are opened one by one through descriptors without
    following links (:mod:`kt_tools.nofollow`), links to folders are not walked into, and a
    link to a file is kept only when the file's real path lies inside the root (and is read
    there). So a link such as ``etc -> /etc`` in the working directory shows nothing of
    ``/etc``, and a folder swapped for a link mid-walk is skipped, not followed.

    Attributes:
        root: The directory relative paths are relative to (real and absolute, or made so).
        start: A subdirectory of *root* (POSIX, relative) to walk instead of all of it; the
            ignore files between *root* and it still apply. ``..`` is refused.
        gitignore: Apply ``.gitignore`` files and skip cache/dependency directories.
        hidden: Include entries whose name starts with a dot.
        max_depth: Deepest directory level to enter (0 = only the root's entries); ``None``:
            no limit.
        should_stop: Checked between directories; returning true ends the walk early.
        ignored: Filled with the relative paths of directories and files skipped by ignore
            rules (not hidden or noise ones), up to a few hundred, for reporting.
        links_skipped: Links left out because they lead to a folder or out of the root.
    """

    root: Path
    start: str = ""
    gitignore: bool = True
    hidden: bool = False
    max_depth: int | None = None
    should_stop: Callable[[], bool] | None = None
    ignored: list[str] = attrs.Factory(list)
    ignored_count: int = 0
    links_skipped: int = 0
    real_root: Path = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.real_root = Path(os.path.realpath(self.root))

    def rules_for(self, directory: str, inherited: list[_Rule], dir_fd: int) -> list[_Rule]:
        """The rules in force in *directory* (relative; open as *dir_fd*): inherited + own."""
        if not self.gitignore:
            return inherited
        try:
            fd = os.open(".gitignore", _READ_FLAGS | _NOFOLLOW, dir_fd=dir_fd)
        except OSError:
            return inherited
        with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as f:
            text = f.read()
        return [*inherited, *parse_gitignore(text, directory)]

    def skip(self, rules: list[_Rule], rel: str, name: str, is_dir: bool) -> bool:
        """Whether to leave out an entry: hidden, always skipped, noise, or ignored by rules."""
        if name.startswith(".") and not self.hidden:
            return True
        if is_dir and (name in ALWAYS_SKIPPED or (self.gitignore and _is_noise(name))):
            return True
        if rules and is_ignored(rules, rel, name, is_dir):
            self.ignored_count += 1
            if len(self.ignored) < 500:
                self.ignored.append(rel + ("/" if is_dir else ""))
            return True
        return False

    def classify(self, entry: os.DirEntry[str], real_dir: Path) -> tuple[bool, Path | None] | None:
        """``(is_dir, link target)`` for an entry of the folder at *real_dir*; ``None``: skip.

        A link is kept only when it leads to a regular file inside the root.
        """
        try:
            if not entry.is_symlink():
                return entry.is_dir(follow_symlinks=False), None
            target = Path(os.path.realpath(real_dir / entry.name))
            inside = target == self.real_root or target.is_relative_to(self.real_root)
            if inside and stat.S_ISREG(os.stat(target).st_mode):
                return False, target
        except (OSError, ValueError):
            pass
        self.links_skipped += 1
        return None

    def listing(self, dir_fd: int) -> list[os.DirEntry[str]]:
        """The entries of the open folder *dir_fd*, in name order (none when unreadable)."""
        try:
            with os.scandir(os.dup(dir_fd)) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError:
            return []

    def entries(self) -> Iterator[Found]:
        """Yield every kept entry, depth first, in name order; folders before their contents.

        Each folder is listed whole before the walk enters its subfolders, so at most one
        descriptor per level is open.
        """
        parts = [part for part in self.start.split("/") if part and part != "."]
        if ".." in parts:
            raise ValueError(f"a walk's start may not leave its root: {self.start!r}")
        try:
            fd = open_dir(self.real_root)
        except OSError:
            return
        rel = ""
        try:
            rules = self.rules_for("", [], fd)
            for part in parts:
                try:
                    next_fd = os.open(part, DIR_OPEN_FLAGS, dir_fd=fd)
                except OSError:
                    return
                os.close(fd)
                fd = next_fd
                rel = f"{rel}/{part}" if rel else part
                rules = self.rules_for(rel, rules, fd)
            yield from self._walk(fd, rel, rules, 0)
        finally:
            os.close(fd)

    def _walk(self, dir_fd: int, rel_dir: str, rules: list[_Rule], depth: int) -> Iterator[Found]:
        if self.should_stop is not None and self.should_stop():
            return
        real_dir = self.real_root / rel_dir if rel_dir else self.real_root
        subdirs = []
        for entry in self.listing(dir_fd):
            name = entry.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            kind = self.classify(entry, real_dir)
            if kind is None:
                continue
            is_dir, target = kind
            if self.skip(rules, rel, name, is_dir):
                continue
            yield Found(rel, entry, is_dir, dir_fd, target)
            deeper = depth < (MAX_DEPTH if self.max_depth is None else self.max_depth)
            if is_dir and deeper:
                subdirs.append((name, rel))
        for name, rel in subdirs:
            if self.should_stop is not None and self.should_stop():
                return
            try:
                sub_fd = os.open(name, DIR_OPEN_FLAGS, dir_fd=dir_fd)
            except OSError:  # gone, unreadable, or swapped for a link since the listing
                continue
            try:
                yield from self._walk(sub_fd, rel, self.rules_for(rel, rules, sub_fd), depth + 1)
            finally:
                os.close(sub_fd)

    def files(self) -> Iterator[Found]:
        """Yield every kept file (links to files inside the root included)."""
        for found in self.entries():
            if not found.is_dir:
                yield found


def _is_noise(name: str) -> bool:
    return name in NOISE_DIRS or name.endswith(".egg-info")


def literal_prefix(pattern: str) -> tuple[str, str]:
    """Split a glob into its leading literal directories and the rest.

    ``src/**/*.py`` gives ``("src", "**/*.py")``, so a walk can start at ``src``.
    """
    parts = pattern.split("/")
    prefix = []
    while len(parts) > 1 and parts[0] and not any(c in parts[0] for c in "*?[{"):
        prefix.append(parts.pop(0))
    return "/".join(prefix), "/".join(parts)
