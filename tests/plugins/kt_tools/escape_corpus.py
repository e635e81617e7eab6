"""A corpus of attempts to leave the working directory, against every file tool and guard mode.

Each attempt runs one tool call on a new creature (so the ``warn`` mode's memory of a refused
path never carries over) whose working directory ``work`` sits next to a folder ``outside``.
Every file in ``outside`` holds :data:`CONTENT`, and one of them, deep down, has a name no
attempt ever gives (:data:`HIDDEN_NAME`). An attempt *escaped* when, in one call:

* its output or error shows :data:`CONTENT` (a file outside was read), or
* its output lists :data:`HIDDEN_NAME` (a folder outside was walked), or
* a file in ``outside`` was created, changed or removed.

In ``block`` and ``warn`` modes every path that resolves outside must be refused on its first
use. In ``off`` mode naming an outside path is allowed, so only walks of the working
directory itself are tried: a walk never follows a link out of the folder it walks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
from kt_tools_helpers import drive

CONTENT = "CONTENT-7f3a"
HIDDEN_NAME = "deep-name-5d1e"
NOTEBOOK = {
    "cells": [{"cell_type": "code", "id": "c1", "source": f"print('{CONTENT}')", "outputs": []}],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}
FILE_TOOLS = (
    "read",
    "write",
    "edit",
    "multi_edit",
    "glob",
    "grep",
    "tree",
    "notebook_read",
    "notebook_edit",
    "json_read",
    "json_write",
)


@attrs.frozen
class Attempt:
    """One tool call that tries to get out."""

    kind: str  # what it tries: "dotdot", "absolute", "symlink", ...
    tool: str
    args: dict[str, Any]


@attrs.define
class Tally:
    """What the corpus found."""

    attempts: int = 0
    escapes: list[str] = attrs.Factory(list)
    by_kind: dict[str, int] = attrs.Factory(dict)


def lay_out(root: Path) -> tuple[Path, Path]:
    """Make ``root/work`` (with links out) and ``root/outside``; return both."""
    work, outside = root / "work", root / "outside"
    (outside / "sub").mkdir(parents=True, exist_ok=True)
    work.mkdir(exist_ok=True)
    write_outside(outside)
    (work / "inside.txt").write_text("inside\n")
    (work / "real").mkdir(exist_ok=True)
    links = {
        "link_dir": outside,
        "link_file": outside / "secret.txt",
        "link_json": outside / "secret.json",
        "link_nb": outside / "secret.ipynb",
        "chain": Path("link_dir"),  # a relative link to a link
        "real/up": Path("../../outside"),  # a link in a subfolder, relative, two levels up
    }
    for name, target in links.items():
        link = work / name
        if not link.is_symlink():
            link.symlink_to(target)
    return work, outside


def write_outside(outside: Path) -> None:
    """(Re)write the files outside, so every attempt starts from the same state."""
    for child in list(outside.rglob("*"))[::-1]:
        if child.is_file() or child.is_symlink():
            child.unlink()
    (outside / "sub").mkdir(exist_ok=True)
    (outside / "secret.txt").write_text(f"{CONTENT}\n")
    (outside / "secret.json").write_text(json.dumps({"k": CONTENT}))
    (outside / "secret.ipynb").write_text(json.dumps(NOTEBOOK))
    (outside / "sub" / f"{HIDDEN_NAME}.txt").write_text(f"{CONTENT}\n")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below *folder* with its content."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def file_paths(outside: Path, name: str) -> Iterator[tuple[str, str]]:
    """``(kind, path)``: ways to name the file *name* of ``outside`` from ``work``."""
    link = {"secret.txt": "link_file", "secret.json": "link_json", "secret.ipynb": "link_nb"}
    yield "dotdot", f"../outside/{name}"
    yield "dotdot-deep", f"real/../../outside/{name}"
    yield "absolute", str(outside / name)
    yield "proc-root", f"/proc/self/root{outside / name}"
    yield "symlink", link[name]
    yield "symlinked-parent", f"link_dir/{name}"
    yield "link-chain", f"chain/{name}"
    yield "relative-link-up", f"real/up/{name}"
    yield "nul", f"{name}\0../../outside/{name}"
    yield "long-name", "x" * 300 + f"/../../outside/{name}"
    yield "long-path", "/".join(["d" * 200] * 25) + f"/../outside/{name}"


def folder_paths(outside: Path) -> Iterator[tuple[str, str]]:
    """``(kind, path)``: ways to name the ``outside`` folder from ``work``."""
    yield "dotdot", "../outside"
    yield "absolute", str(outside)
    yield "symlinked-parent", "link_dir"
    yield "link-chain", "chain"
    yield "relative-link-up", "real/up"
    yield "parent", ".."


def attempts(outside: Path, mode: str) -> Iterator[Attempt]:
    """The corpus for guard *mode*."""
    walks = [
        Attempt("walk-links", "grep", {"pattern": CONTENT, "path": "."}),
        Attempt("walk-links", "grep", {"pattern": CONTENT, "path": ".", "hidden": True}),
        Attempt("walk-links", "glob", {"pattern": "**/*"}),
        Attempt("walk-links", "glob", {"pattern": "**/*.txt", "gitignore": False}),
        Attempt("walk-links", "tree", {"path": ".", "depth": 6}),
    ]
    yield from walks
    if mode == "off":
        return
    for kind, path in file_paths(outside, "secret.txt"):
        yield Attempt(kind, "read", {"path": path})
        yield Attempt(kind, "write", {"path": path, "content": "PWNED"})
        yield Attempt(kind, "edit", {"path": path, "old": CONTENT, "new": "PWNED"})
        yield Attempt(
            kind, "multi_edit", {"path": path, "edits": [{"old": CONTENT, "new": "PWNED"}]}
        )
        yield Attempt(kind, "grep", {"pattern": CONTENT, "path": path})
    for kind, path in file_paths(outside, "secret.json"):
        yield Attempt(kind, "json_read", {"path": path})
        yield Attempt(kind, "json_write", {"path": path, "query": ".k", "value": "PWNED"})
    for kind, path in file_paths(outside, "secret.ipynb"):
        yield Attempt(kind, "notebook_read", {"path": path})
        yield Attempt(kind, "notebook_edit", {"path": path, "cell_id": "c1", "new_source": "PWNED"})
    for kind, path in folder_paths(outside):
        yield Attempt(kind, "grep", {"pattern": CONTENT, "path": path})
        yield Attempt(kind, "tree", {"path": path, "depth": 4})
        yield Attempt(kind, "glob", {"pattern": "**/*", "path": path})
        yield Attempt(kind, "glob", {"pattern": f"{path}/**/*"})
        yield Attempt(kind, "write", {"path": f"{path}/new.txt", "content": "PWNED"})
        yield Attempt(kind, "json_write", {"path": f"{path}/new.json", "value": "1"})


def _text(record: Any) -> str:
    output = record.output
    if not isinstance(output, str):
        output = " ".join(getattr(part, "text", "") for part in output)
    return f"{output}\n{record.error or ''}"


async def run_corpus(root: Path, modes: tuple[str, ...] = ("block", "warn", "off")) -> Tally:
    """Run every attempt of every mode; return the tally (escapes described one per line)."""
    work, outside = lay_out(root)
    tally = Tally()
    for mode in modes:
        tools = [
            {"name": name, "options": {"path_guard": mode, "require_read": False}}
            for name in FILE_TOOLS
        ]
        for attempt in attempts(outside, mode):
            write_outside(outside)
            before = snapshot(outside)
            async with drive(work, tools) as driver:
                record = await driver.call(attempt.tool, **attempt.args)
            text = _text(record)
            leaked = CONTENT in text or HIDDEN_NAME in text
            changed = snapshot(outside) != before
            tally.attempts += 1
            tally.by_kind[attempt.kind] = tally.by_kind.get(attempt.kind, 0) + 1
            if leaked or changed:
                what = "read" if leaked else "changed"
                shown = {k: (v[:40] + "..." if len(v) > 40 else v) for k, v in _shown(attempt)}
                tally.escapes.append(f"{mode} {attempt.kind} {attempt.tool} {shown}: {what}")
    for leftover in work.rglob("new.*"):
        os.unlink(leftover)
    return tally


def _shown(attempt: Attempt) -> Iterator[tuple[str, str]]:
    for key, value in attempt.args.items():
        yield key, value if isinstance(value, str) else json.dumps(value)
