"""``glob``, ``grep`` and ``tree``: finding files and text in the working directory.

All three walk with :class:`kt_tools.walk.Walker`: ``.gitignore`` rules apply, caches and
dependency folders (``node_modules``, ``.venv``, ``__pycache__`` ...) and dot-entries are
skipped unless asked for, and results come in a stable order. The walk runs in a worker thread
and stops early when the call is cancelled or has found enough.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import attrs

import kt
from kt_tools.common import (
    BINARY_SUFFIXES,
    FileOptions,
    StopFlag,
    configurable,
    fail,
    in_thread,
    looks_binary,
    resolve_path,
)
from kt_tools.nofollow import open_dir, open_fd
from kt_tools.walk import DIR_OPEN_FLAGS, MAX_DEPTH, Found, Walker, compile_glob, literal_prefix

LINE_CHARS = 2000
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)

# -- glob ---------------------------------------------------------------------------------------


@attrs.frozen
class _GlobResult:
    paths: list[str]
    collected: int
    cap: int
    cap_hit: bool


def _glob(base: Path, pattern: str, limit: int, gitignore: bool, hidden: bool, stop: StopFlag):
    prefix, rest = literal_prefix(pattern)
    regex = compile_glob(pattern)
    depth = None if "**" in rest else rest.count("/")  # levels below the walk's start
    cap = max(10 * limit, 5000) if limit else 50_000
    walker = Walker(
        base,
        start=prefix,
        gitignore=gitignore,
        hidden=hidden or any(part.startswith(".") for part in pattern.split("/")),
        max_depth=depth,
        should_stop=lambda: stop.is_set,
    )
    found: list[tuple[float, str]] = []
    cap_hit = False
    for entry in walker.entries():
        if not regex.match(entry.rel):
            continue
        if len(found) >= cap:
            cap_hit = True
            break
        try:
            mtime = entry.stat().st_mtime
        except OSError:
            continue
        found.append((mtime, entry.rel + ("/" if entry.is_dir else "")))
    found.sort(key=lambda item: (-item[0], item[1]))
    return _GlobResult([rel for _, rel in found], len(found), cap, cap_hit)


def _glob_tool(options: FileOptions) -> kt.ToolSpec:
    @kt.tool(name="glob", body_arg="pattern")
    async def glob(
        pattern: str,
        path: str = ".",
        limit: int = 100,
        gitignore: bool = True,
        hidden: bool = False,
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Find files by name pattern, newest first; e.g. "**/*.py" or "src/**/test_*.py".

        "*" matches within one folder level, "**" across levels, "{a,b}" either. Files ignored
        by .gitignore, dependency and cache folders, and hidden files are left out by default.

        Args:
            pattern: The glob, relative to path.
            path: The folder to search from (default: the working directory).
            limit: Paths to show at most (0 = no limit).
            gitignore: Leave out what .gitignore ignores, and dependency/cache folders.
            hidden: Include files and folders whose names start with a dot.
            ctx: Injected by the kernel.
        """
        if limit < 0:
            return fail("limit must be 0 or more")
        pattern = pattern.strip()
        if not pattern:
            return fail("pattern is empty; give a glob such as **/*.py")
        if os.path.isabs(pattern):
            path, pattern = os.path.dirname(pattern) or "/", os.path.basename(pattern)
        # The pattern's leading folders ("../outside/*", "src/*.py") are part of where the
        # walk starts, so they pass the path guard like any path does.
        prefix, pattern = literal_prefix(pattern)
        base = resolve_path(ctx, os.path.join(path, prefix) if prefix else path, options)
        if isinstance(base, kt.ToolResult):
            return base
        if not base.is_dir():
            return fail(f"Path not found: {base} is not a directory")
        stop = StopFlag()
        found = await in_thread(_glob, base, pattern, limit, gitignore, hidden, stop, stop=stop)
        if not found.paths:
            return kt.ToolResult(output="(no matches)", metadata={"count": 0})
        shown = [f"{prefix}/{p}" if prefix else p for p in found.paths]
        shown = shown[:limit] if limit else shown
        lines = list(shown)
        if found.cap_hit:
            lines.append(
                f"\n(showing {len(shown)} of {found.collected} collected, capped at "
                f"{found.cap}; more may exist — narrow your pattern)"
            )
        elif len(shown) < found.collected:
            lines.append(f"\n({found.collected} total, showing {len(shown)})")
        return kt.ToolResult(
            output="\n".join(lines),
            metadata={"count": found.collected, "capped": found.cap_hit},
        )

    return glob


# -- grep ---------------------------------------------------------------------------------------


@attrs.frozen
class _GrepResult:
    lines: list[str]
    matches: int
    files_matched: int
    files_searched: int
    limit_hit: bool


def read_bytes(open_file: Callable[[], int]) -> bytes | None:
    """A file's bytes through the raw system calls (much cheaper per file than ``open``).

    Args:
        open_file: Opens the file and returns its descriptor (without following links).
    """
    try:
        fd = open_file()
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)  # one read for a regular file; the +1 sees growth
        if len(data) <= size:
            return data
        chunks = [data]
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _file_matches(open_file: Callable[[], int], regex: re.Pattern[str], whole_file: bool):
    """Yield ``(line number, line)`` for the lines of a text file that match."""
    data = read_bytes(open_file)
    if data is None:
        return
    if looks_binary(data[:8192]):
        return
    text = data.decode("utf-8", errors="replace")
    if whole_file and regex.search(text) is None:  # most files: one C-level scan, no lines
        return
    for number, line in enumerate(text.splitlines(), 1):
        if regex.search(line):
            yield number, line


def _grep(
    base: Path,
    regex: re.Pattern[str],
    name_glob: str,
    limit: int,
    gitignore: bool,
    hidden: bool,
    stop: StopFlag,
) -> _GrepResult:
    # A whole-file search finds every file with a matching line (MULTILINE makes ^ and $ work
    # per line), except for patterns anchored to the text's ends.
    whole_file = not re.search(r"\\[AZz]", regex.pattern)
    if base.is_file():
        files = iter([(base.name, lambda: open_fd(base, _READ_FLAGS))])
    else:
        walker = Walker(base, gitignore=gitignore, hidden=hidden, should_stop=lambda: stop.is_set)
        match_all = name_glob in ("", "*", "**", "**/*")
        by_name = "/" not in name_glob
        file_glob = compile_glob(name_glob)

        def wanted():
            for found in walker.files():
                if not match_all:
                    target = found.name if by_name else found.rel
                    if not file_glob.match(target):
                        continue
                dot = found.name.rfind(".")
                if dot > 0 and found.name[dot:].lower() in BINARY_SUFFIXES:
                    continue
                yield found.rel, found.open

        files = wanted()
    lines: list[str] = []
    matches = files_matched = searched = 0
    for rel, opener in files:
        if stop.is_set:
            break
        searched += 1
        hit = False
        for number, line in _file_matches(opener, regex, whole_file):
            if limit and matches >= limit:
                return _GrepResult(lines, matches, files_matched, searched, True)
            if len(line) > LINE_CHARS:
                line = f"{line[:LINE_CHARS]}… (line truncated, {len(line)} chars)"
            lines.append(f"{rel}:{number}: {line.rstrip()}")
            matches += 1
            if not hit:
                hit, files_matched = True, files_matched + 1
    return _GrepResult(lines, matches, files_matched, searched, False)


def _grep_tool(options: FileOptions) -> kt.ToolSpec:
    @kt.tool(name="grep", body_arg="pattern")
    async def grep(
        pattern: str,
        path: str = ".",
        glob: str = "**/*",
        limit: int = 50,
        ignore_case: bool = False,
        gitignore: bool = True,
        hidden: bool = False,
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Search file contents with a regular expression; shows "path:line: text" per match.

        Binary files, what .gitignore ignores, dependency and cache folders, and hidden files
        are skipped by default.

        Args:
            pattern: A Python regular expression, matched per line.
            path: A folder to search recursively, or one file (default: working directory).
            glob: Only files matching this; without a "/" it matches file names at any depth,
                e.g. "*.py".
            limit: Stop after this many matching lines (0 = no limit).
            ignore_case: Match regardless of letter case.
            gitignore: Leave out what .gitignore ignores, and dependency/cache folders.
            hidden: Include files and folders whose names start with a dot.
            ctx: Injected by the kernel.
        """
        if limit < 0:
            return fail("limit must be 0 or more")
        try:
            regex = re.compile(pattern, re.MULTILINE | (re.IGNORECASE if ignore_case else 0))
        except re.error as exc:
            return fail(f"Invalid regex: {exc}. Escape special characters such as ( [ . * +")
        base = resolve_path(ctx, path, options)
        if isinstance(base, kt.ToolResult):
            return base
        if not base.exists():
            return fail(f"Path not found: {base}")
        stop = StopFlag()
        found = await in_thread(
            _grep, base, regex, glob.strip(), limit, gitignore, hidden, stop, stop=stop
        )
        lines = list(found.lines)
        if found.limit_hit:
            lines.append(
                f"\n(Showing {found.matches} matches from {found.files_matched} files; more "
                "may exist. Narrow the pattern, path or glob, or raise limit.)"
            )
        elif found.matches:
            lines.append(
                f"\n({found.matches} matches in {found.files_matched} files; "
                f"{found.files_searched} files searched)"
            )
        else:
            lines.append(f"(no matches; {found.files_searched} files searched)")
        return kt.ToolResult(
            output="\n".join(lines).lstrip("\n"),
            metadata={
                "matches": found.matches,
                "files": found.files_matched,
                "searched": found.files_searched,
                "limited": found.limit_hit,
            },
        )

    return grep


# -- tree ---------------------------------------------------------------------------------------

_FRONT_MATTER_KEY = re.compile(r"^(summary|title|description|protected)\s*:\s*(.*?)\s*$")


def markdown_summary(open_file: Callable[[], int]) -> tuple[str, bool]:
    """A Markdown file's front-matter summary (else title, else description) and protected flag.

    Args:
        open_file: Opens the file and returns its descriptor (without following links).
    """
    try:
        with os.fdopen(open_file(), encoding="utf-8", errors="replace") as f:
            if f.readline().strip() != "---":
                return "", False
            found: dict[str, str] = {}
            for _ in range(50):
                line = f.readline()
                if not line or line.strip() == "---":
                    break
                match = _FRONT_MATTER_KEY.match(line)
                if match:
                    found.setdefault(match.group(1), match.group(2).strip("'\""))
    except OSError:
        return "", False
    summary = found.get("summary") or found.get("title") or found.get("description") or ""
    return summary, found.get("protected", "").lower() == "true"


@attrs.frozen
class _TreeResult:
    lines: list[str]
    limit_hit: bool
    ignored: list[str]
    ignored_count: int


def _tree(base: Path, depth: int, limit: int, hidden: bool, gitignore: bool, stop: StopFlag):
    walker = Walker(base, gitignore=gitignore, hidden=hidden)
    lines = [f"{base.name or base}/"]
    limit_hit = False

    def visit(dir_fd: int, rel: str, rules, prefix: str, level: int) -> None:
        nonlocal limit_hit
        if stop.is_set:
            return
        real_dir = walker.real_root / rel if rel else walker.real_root
        kept = []
        for entry in walker.listing(dir_fd):
            kind = walker.classify(entry, real_dir)
            if kind is None:
                continue
            is_dir, target = kind
            child = f"{rel}/{entry.name}" if rel else entry.name
            if not walker.skip(rules, child, entry.name, is_dir):
                kept.append(Found(child, entry, is_dir, dir_fd, target))
        kept.sort(key=lambda found: (not found.is_dir, found.name.lower(), found.name))
        for index, found in enumerate(kept):
            if limit and len(lines) > limit:
                limit_hit = True
                return
            last = index == len(kept) - 1
            connector = "└── " if last else "├── "
            label = found.name + ("/" if found.is_dir else "")
            if not found.is_dir and found.name.lower().endswith(".md"):
                summary, protected = markdown_summary(found.open)
                label += f" - {summary}" if summary else ""
                label += " [protected]" if protected else ""
            lines.append(prefix + connector + label)
            if found.is_dir and level < min(depth, MAX_DEPTH):
                try:
                    sub_fd = os.open(found.name, DIR_OPEN_FLAGS, dir_fd=dir_fd)
                except OSError:  # gone, or swapped for a link since the listing
                    continue
                try:
                    sub_rules = walker.rules_for(found.rel, rules, sub_fd)
                    indent = prefix + ("    " if last else "│   ")
                    visit(sub_fd, found.rel, sub_rules, indent, level + 1)
                finally:
                    os.close(sub_fd)

    try:
        root_fd = open_dir(walker.real_root)
    except OSError:
        return _TreeResult(lines, False, [], 0)
    try:
        visit(root_fd, "", walker.rules_for("", [], root_fd), "", 1)
    finally:
        os.close(root_fd)
    return _TreeResult(lines, limit_hit, walker.ignored, walker.ignored_count)


def _tree_tool(options: FileOptions) -> kt.ToolSpec:
    @kt.tool(name="tree", body_arg="path")
    async def tree(
        path: str = ".",
        depth: int = 3,
        limit: int = 100,
        hidden: bool = False,
        gitignore: bool = True,
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Show a folder as a tree: folders first, then files; Markdown files with a summary.

        Args:
            path: The folder (default: the working directory).
            depth: Folder levels to show (1 = only the folder's own entries).
            limit: Lines to show at most (0 = no limit).
            hidden: Include entries whose names start with a dot.
            gitignore: Leave out what .gitignore ignores, and dependency/cache folders.
            ctx: Injected by the kernel.
        """
        if depth < 1 or limit < 0:
            return fail("depth must be 1 or more and limit 0 or more")
        base = resolve_path(ctx, path, options)
        if isinstance(base, kt.ToolResult):
            return base
        if not base.is_dir():
            return fail(f"Not a directory: {base}")
        stop = StopFlag()
        found = await in_thread(_tree, base, depth, limit, hidden, gitignore, stop, stop=stop)
        lines = list(found.lines)
        if found.limit_hit:
            lines.append(
                f"\n(stopped at {limit} lines; pass a larger limit, a smaller depth or a subfolder)"
            )
        if found.ignored_count:
            dirs = [p for p in found.ignored if p.endswith("/")][:5]
            example = f", e.g. {', '.join(dirs)}" if dirs else ""
            lines.append(
                f"({found.ignored_count} entries hidden by .gitignore{example}; pass "
                "gitignore=false to show them)"
            )
        return kt.ToolResult(output="\n".join(lines), metadata={"truncated": found.limit_hit})

    return tree


glob = configurable(_glob_tool, FileOptions(), "glob")
grep = configurable(_grep_tool, FileOptions(), "grep")
tree = configurable(_tree_tool, FileOptions(), "tree")

__all__ = ["glob", "grep", "markdown_summary", "tree"]
