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
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

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


@attrs.define
class Walker:
    """A configured walk from one root directory.

    Attributes:
        root: The directory relative paths are relative to.
        start: A subdirectory of *root* (POSIX, relative) to walk instead of all of it; the
            ignore files between *root* and it still apply.
        gitignore: Apply ``.gitignore`` files and skip cache/dependency directories.
        hidden: Include entries whose name starts with a dot.
        max_depth: Deepest directory level to enter (0 = only the root's entries); ``None``:
            no limit.
        should_stop: Checked between directories; returning true ends the walk early.
        ignored: Filled with the relative paths of directories and files skipped by ignore
            rules (not hidden or noise ones), up to a few hundred, for reporting.
    """

    root: Path
    start: str = ""
    gitignore: bool = True
    hidden: bool = False
    max_depth: int | None = None
    should_stop: Callable[[], bool] | None = None
    ignored: list[str] = attrs.Factory(list)
    ignored_count: int = 0

    def rules_for(self, directory: str, inherited: list[_Rule], path: str) -> list[_Rule]:
        """The rules in force in *directory* (relative; at *path*): *inherited* plus its own."""
        if not self.gitignore:
            return inherited
        try:
            with open(os.path.join(path, ".gitignore"), encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return inherited
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

    def entries(self) -> Iterator[tuple[str, os.DirEntry[str], bool]]:
        """Yield ``(relative path, entry, is_dir)`` for every kept entry, depth first, sorted.

        Directories are yielded before their contents.
        """
        path, rel, rules = str(self.root), "", self.rules_for("", [], str(self.root))
        for part in filter(None, self.start.split("/")):
            path, rel = os.path.join(path, part), f"{rel}/{part}" if rel else part
            rules = self.rules_for(rel, rules, path)
        stack: list[tuple[str, str, list[_Rule], int]] = [(path, rel, rules, 0)]
        while stack:
            if self.should_stop is not None and self.should_stop():
                return
            path, rel_dir, rules, depth = stack.pop()
            try:
                with os.scandir(path) as it:
                    listing = sorted(it, key=lambda e: e.name)
            except OSError:
                continue
            subdirs = []
            for entry in listing:
                name = entry.name
                rel = f"{rel_dir}/{name}" if rel_dir else name
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if self.skip(rules, rel, name, is_dir):
                    continue
                yield rel, entry, is_dir
                if is_dir and (self.max_depth is None or depth < self.max_depth):
                    subdirs.append((entry.path, rel))
            for sub_path, sub_rel in reversed(subdirs):
                sub_rules = self.rules_for(sub_rel, rules, sub_path)
                stack.append((sub_path, sub_rel, sub_rules, depth + 1))

    def files(self) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """Yield ``(relative path, entry)`` for every kept file."""
        for rel, entry, is_dir in self.entries():
            if not is_dir:
                yield rel, entry


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
