"""``read``, ``write``, ``edit`` and ``multi_edit``: the file tools.

Every path is resolved against the creature's working directory and passes the path guard.
The tools that change files refuse an existing file the creature has not read, or that changed
since it read it (``_common.check_read_before_write``); their own writes refresh that record,
so a read followed by several edits needs no re-read. File work runs in worker threads, so a
large file never stalls the creature.
"""

from __future__ import annotations

import difflib
import io
import os
import re
from pathlib import Path
from typing import NotRequired, TypedDict

import attrs

import kt
from kt.llm import image_type
from kt_tools.common import (
    FileOptions,
    binary_refusal,
    check_manual,
    check_read_before_write,
    configurable,
    fail,
    in_thread,
    is_binary_file,
    record_read,
    resolve_path,
)
from kt_tools.nofollow import open_file, read_file_bytes

# -- read ---------------------------------------------------------------------------------------

LINE_CHARS = 2000
_CHUNK = 1 << 20
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
UNSUPPORTED_IMAGES = {".bmp", ".tiff", ".tif", ".ico", ".heif", ".heic", ".avif"}
MAX_IMAGE_BYTES = 20 * 1024 * 1024


@attrs.frozen
class ReadOptions(FileOptions):
    """Options of ``read`` (plus the file options).

    Attributes:
        max_output_bytes: Bytes of numbered text one call returns at most.
        pdf_page_warn: A PDF with more pages needs ``offset``/``limit``.
    """

    max_output_bytes: int = 200_000
    pdf_page_warn: int = 20


@attrs.frozen
class _Page:
    lines: list[str]
    first: int  # 1-based number of the first line shown
    total: int  # lines in the file
    capped: bool  # stopped by the byte budget


def _skip_lines(f: io.BufferedReader, count: int) -> int:
    """Move *f* past *count* lines without reading them into lines; return how many it passed."""
    passed = 0
    pos = 0
    last = b""
    while passed < count:
        chunk = f.read(_CHUNK)
        if not chunk:  # the end: a last line without a newline was passed too
            return passed + (1 if last and last != b"\n" else 0)
        last = chunk[-1:]
        found = chunk.count(b"\n")
        if passed + found < count:
            passed += found
            pos += len(chunk)
            continue
        at = -1
        for _ in range(count - passed):
            at = chunk.index(b"\n", at + 1)
        f.seek(pos + at + 1)
        return count
    return passed


def _count_lines(f: io.BufferedReader) -> int:
    """Lines from the current position to the end (a last line without newline counts)."""
    count, last = 0, b""
    while chunk := f.read(_CHUNK):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    return count + (1 if last and last != b"\n" else 0)


def _read_page(path: Path, offset: int, limit: int, budget: int) -> _Page:
    lines: list[str] = []
    size = 0
    with open_file(path, "rb") as f:
        skipped = _skip_lines(f, offset)
        consumed_extra = 0  # a line read but not shown
        capped = False
        for raw in f:
            if limit and len(lines) >= limit:
                consumed_extra = 1
                break
            text = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
            if len(text) > LINE_CHARS:
                text = f"{text[:LINE_CHARS]}… (line truncated, {len(text)} chars)"
            shown = f"{offset + len(lines) + 1:>6}→{text}"
            size += len(shown.encode("utf-8")) + 1
            if size > budget and lines:
                consumed_extra, capped = 1, True
                break
            lines.append(shown)
        else:
            return _Page(lines, offset + 1, skipped + len(lines), False)
        total = skipped + len(lines) + consumed_extra + _count_lines(f)
    return _Page(lines, offset + 1, total, capped)


def _image(path: Path) -> kt.ToolResult:
    suffix = path.suffix.lower()
    if suffix in UNSUPPORTED_IMAGES:
        return fail(f"unsupported image format {suffix}; supported: png, jpeg, gif, webp")
    with open_file(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_IMAGE_BYTES:
            return fail(f"{path} is {size // 1024 // 1024} MB; images over 20 MB cannot be read")
        data = f.read()
    mime = image_type(data)
    if mime is None:
        return fail(f"{path} is not a valid png, jpeg, gif or webp image")
    header = f"Image: {path} ({size / 1024:.1f}KB, {mime})"
    return kt.ToolResult(  # the model sees the image itself; records and UIs see the header
        output=(kt.ContentPart("text", text=header), kt.ContentPart.image(data, media_type=mime)),
        metadata={"mime": mime, "bytes": size},
    )


def _pdf(path: Path, offset: int, limit: int, options: ReadOptions) -> kt.ToolResult:
    try:
        import pymupdf  # optional: only PDFs need it
    except ImportError:
        return fail("reading PDF files needs PyMuPDF: install it with `pip install pymupdf`")
    with pymupdf.open(stream=read_file_bytes(path), filetype="pdf") as doc:
        pages = doc.page_count
        if pages > options.pdf_page_warn and not offset and not limit:
            return fail(
                f"{path} has {pages} pages; read it in parts with offset (first page, from 0) "
                "and limit (number of pages)"
            )
        last = min(pages, offset + limit) if limit else pages
        parts = [f"PDF: {path} ({pages} pages, showing pages {offset + 1}-{last})"]
        for number in range(offset, last):
            parts.append(f"\n--- page {number + 1} ---\n{doc[number].get_text().strip()}")
    return kt.ToolResult(output="\n".join(parts), metadata={"pages": pages})


def _read(options: ReadOptions) -> kt.ToolSpec:
    @kt.tool(name="read", body_arg="path")
    async def read(
        path: str, offset: int = 0, limit: int = 0, ctx: kt.ToolContext = None
    ) -> kt.ToolResult:
        """Read a text file, with line numbers; also images (png, jpeg, gif, webp) and PDFs.

        Lines are shown as "number→text", numbered from 1. Read a large file in parts with
        offset and limit. Reading a file is required before changing it with write or edit.

        Args:
            path: The file, relative to the working directory or absolute.
            offset: Lines to skip from the start (0-based); pages for a PDF.
            limit: Lines to show (0 = all that fit); pages for a PDF.
            ctx: Injected by the kernel.
        """
        if offset < 0 or limit < 0:
            return fail("offset and limit must be 0 or more")
        resolved = resolve_path(ctx, path, options)
        if isinstance(resolved, kt.ToolResult):
            return resolved
        if not resolved.exists():
            return fail(f"File not found: {resolved}")
        if not resolved.is_file():
            return fail(f"Not a file: {resolved} is a directory; list it with tree or glob")
        suffix = resolved.suffix.lower()
        try:
            if suffix in IMAGE_TYPES or suffix in UNSUPPORTED_IMAGES:
                return await in_thread(_image, resolved)
            if suffix == ".pdf":
                return await in_thread(_pdf, resolved, offset, limit, options)
            if await in_thread(is_binary_file, resolved):
                return binary_refusal(resolved)
            page = await in_thread(_read_page, resolved, offset, limit, options.max_output_bytes)
        except PermissionError:
            return fail(f"Permission denied: {resolved}")
        except OSError as exc:
            return fail(f"cannot read {resolved}: {exc.strerror or exc}")
        if not page.lines:
            record_read(ctx, resolved, partial=offset > 0)
            if page.total == 0:
                return kt.ToolResult(output=f"(empty file: {resolved})", metadata={"lines": 0})
            return fail(f"offset {offset} is past the end of {resolved} ({page.total} lines)")
        last = page.first + len(page.lines) - 1
        text = "\n".join(page.lines)
        if page.capped:
            text += (
                f"\n\n(output capped at {options.max_output_bytes} bytes: showing lines "
                f"{page.first}-{last} of {page.total}; use offset={last} and limit to read on)"
            )
        elif last < page.total:
            text += f"\n\n(showing lines {page.first}-{last} of {page.total}; next: offset={last})"
        partial = page.first > 1 or last < page.total
        record_read(ctx, resolved, partial=partial)
        return kt.ToolResult(
            output=text, metadata={"lines": page.total, "first": page.first, "last": last}
        )

    return read


# -- write --------------------------------------------------------------------------------------


def _write_file(path: Path, content: str) -> bool:
    existed = path.exists()
    with open_file(path, "wb", make_parents=True) as f:
        f.write(content.encode("utf-8"))
    return existed


def _write(options: FileOptions) -> kt.ToolSpec:
    @kt.tool(
        name="write",
        concurrency_safe=False,
        body_arg="content",
        guidance=(
            "Before changing an existing file with write, edit or multi_edit, read it with "
            "read; a file changed since you read it must be read again."
        ),
    )
    async def write(path: str, content: str, ctx: kt.ToolContext = None) -> kt.ToolResult:
        """Write a whole file: create it (with missing parent directories) or replace it.

        An existing file must have been read first. For small changes prefer edit.

        Args:
            path: The file, relative to the working directory or absolute.
            content: The complete new content.
            ctx: Injected by the kernel.
        """
        resolved = resolve_path(ctx, path, options)
        if isinstance(resolved, kt.ToolResult):
            return resolved
        if resolved.is_dir():
            return fail(f"{resolved} is a directory; give a file path")
        refusal = check_read_before_write(ctx, resolved, options)
        if refusal:
            return fail(refusal)
        try:
            existed = await in_thread(_write_file, resolved, content)
        except OSError as exc:
            return fail(f"cannot write {resolved}: {exc.strerror or exc}")
        record_read(ctx, resolved)
        lines = content.count("\n") + 1 if content else 0
        size = len(content.encode("utf-8"))
        verb = "Updated" if existed else "Created"
        return kt.ToolResult(
            output=f"{verb} {resolved} ({lines} lines, {size} bytes)",
            metadata={"path": str(resolved), "created": not existed},
        )

    return write


# -- edit ---------------------------------------------------------------------------------------


class _EditFailed(Exception):
    """An edit that cannot be applied; the message is for the model."""


def _load_for_edit(path: Path) -> str:
    if is_binary_file(path):
        raise _EditFailed(f"{path} is a binary file; it cannot be edited as text")
    with open_file(path, "r", encoding="utf-8", errors="surrogateescape", newline="") as f:
        return f.read()


def _save(path: Path, text: str) -> None:
    with open_file(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
        f.write(text)


def _adapt_newlines(text: str, old: str, new: str) -> tuple[str, str]:
    """Use the file's CRLF line ends for *old*/*new* written with LF, when that is what fits."""
    if "\r\n" in text and "\n" in old and "\r\n" not in old and old not in text:
        return old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
    return old, new


def replace_text(text: str, old: str, new: str, replace_all: bool) -> tuple[str, int]:
    """Replace *old* by *new* in *text*; return the new text and the number of replacements.

    Raises:
        _EditFailed: *old* is empty, not found, or found several times without *replace_all*.
    """
    if not old:
        raise _EditFailed("old must not be empty; give the exact text to replace")
    old, new = _adapt_newlines(text, old, new)
    count = text.count(old)
    if count == 0:
        raise _EditFailed(
            "old text not found; it must match the file exactly, including whitespace and "
            "indentation (read the file again to copy it)"
        )
    if count > 1 and not replace_all:
        raise _EditFailed(
            f"old text found {count} times; add surrounding lines to make it unique, or pass "
            "replace_all=true to replace every occurrence"
        )
    return text.replace(old, new) if replace_all else text.replace(old, new, 1), count


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
DIFF_PRIMER = (
    "A diff needs hunks like:\n@@ -3,2 +3,2 @@\n context line\n-old line\n+new line\n"
    "(line numbers are 1-based; context and removed lines must match the file exactly)"
)


@attrs.frozen
class _Hunk:
    old_start: int
    old: list[str]
    new: list[str]
    added: int
    removed: int


def parse_diff(diff: str) -> list[_Hunk]:
    """The hunks of a unified diff (``---``/``+++`` headers and "no newline" notes are skipped)."""
    hunks: list[_Hunk] = []
    lines = diff.splitlines()
    i = 0
    while i < len(lines):
        match = _HUNK.match(lines[i])
        i += 1
        if not match:
            continue
        old_count = int(match.group(2)) if match.group(2) is not None else 1
        new_count = int(match.group(4)) if match.group(4) is not None else 1
        old: list[str] = []
        new: list[str] = []
        added = removed = 0
        while i < len(lines) and not _HUNK.match(lines[i]):
            line = lines[i]
            i += 1
            if line.startswith("\\"):
                continue
            if line == "":  # a context line whose space was trimmed, while the hunk is short
                if len(old) < old_count or len(new) < new_count:
                    old.append("")
                    new.append("")
                continue
            tag, body = line[0], line[1:]
            if tag == " ":
                old.append(body)
                new.append(body)
            elif tag == "-":
                old.append(body)
                removed += 1
            elif tag == "+":
                new.append(body)
                added += 1
            elif line.startswith(("---", "+++", "diff ", "index ")):
                continue
        hunks.append(_Hunk(int(match.group(1)), old, new, added, removed))
    return hunks


def apply_diff(text: str, hunks: list[_Hunk]) -> str:
    """Apply *hunks* to *text*, bottom-up, each at exactly its stated line.

    Raises:
        _EditFailed: a hunk's context or removed lines do not match the file.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    ends_with_newline = text.endswith(("\n", "\r\n"))
    lines = text.splitlines()
    for number, hunk in sorted(enumerate(hunks), key=lambda h: -h[1].old_start):
        start = max(hunk.old_start - 1, 0) if hunk.old else hunk.old_start
        if start + len(hunk.old) > len(lines):
            raise _EditFailed(
                f"Failed to apply diff: hunk {number + 1} starts at line {hunk.old_start} and "
                f"needs {len(hunk.old)} lines, but the file has {len(lines)}. Read the file "
                "first and use its current line numbers."
            )
        for offset, expected in enumerate(hunk.old):
            actual = lines[start + offset]
            if actual != expected:
                raise _EditFailed(
                    f"Failed to apply diff: hunk {number + 1}, line {start + offset + 1}: "
                    f"expected {expected!r}, actual {actual!r}. Tip: read the file first; "
                    "context and removed lines must match it exactly."
                )
        lines[start : start + len(hunk.old)] = hunk.new
    result = newline.join(lines)
    return result + newline if ends_with_newline and lines else result


def _edit_target(ctx: kt.ToolContext, path: str, options: FileOptions) -> Path | kt.ToolResult:
    """Resolve and check a file to change: guard, read-before-write, exists, is a file."""
    resolved = resolve_path(ctx, path, options)
    if isinstance(resolved, kt.ToolResult):
        return resolved
    refusal = check_read_before_write(ctx, resolved, options)
    if refusal:
        return fail(refusal)
    if not resolved.exists():
        return fail(f"File not found: {resolved}; create it with write")
    if not resolved.is_file():
        return fail(f"Not a file: {resolved}")
    return resolved


def _edit_file(
    path: Path,
    old: str | None,
    new: str,
    replace_all: bool,
    diff: str | None,
) -> tuple[str, dict]:
    text = _load_for_edit(path)
    if old is not None:
        updated, count = replace_text(text, old, new, replace_all)
        if updated == text:
            return f"No changes made (old equals new) to {path}", {"replacements": 0}
        _save(path, updated)
        return f"Edited {path}\n  {count if replace_all else 1} replacement(s) made", {
            "replacements": count if replace_all else 1
        }
    hunks = parse_diff(diff or "")
    if not hunks:
        raise _EditFailed(f"Invalid diff format: no @@ hunk headers found.\n{DIFF_PRIMER}")
    updated = apply_diff(text, hunks)
    _save(path, updated)
    added = sum(h.added for h in hunks)
    removed = sum(h.removed for h in hunks)
    return (
        f"Edited {path}\n  {len(hunks)} hunk(s) applied  +{added} -{removed} lines",
        {"hunks": len(hunks), "added": added, "removed": removed},
    )


def _edit(options: FileOptions) -> kt.ToolSpec:
    @kt.tool(name="edit", concurrency_safe=False, body_arg="diff")
    async def edit(
        path: str,
        old: str | None = None,
        new: str | None = None,
        replace_all: bool = False,
        diff: str | None = None,
        old_text: str | None = None,
        new_text: str | None = None,
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Change part of a file: replace exact text (old/new), or apply a unified diff.

        Search and replace: old must match the file exactly and only once, unless
        replace_all is true. Diff: hunks "@@ -a,b +c,d @@" whose context and removed lines
        match the file exactly at those 1-based lines. The file must have been read first.

        Args:
            path: The file to change.
            old: Exact text to find (selects search and replace).
            new: Replacement text (default: empty, which deletes old).
            replace_all: Replace every occurrence of old instead of exactly one.
            diff: A unified diff to apply (used when old is not given).
            old_text: Same as old.
            new_text: Same as new.
            ctx: Injected by the kernel.
        """
        gate = check_manual(ctx, options.require_manual)
        if gate is not None:
            return gate
        old = old if old is not None else old_text
        new = new if new is not None else (new_text or "")
        if old is None and not diff:
            return fail(
                "edit needs either old (and new) for search and replace, or diff for a "
                "unified diff; see info(name='edit')"
            )
        target = _edit_target(ctx, path, options)
        if isinstance(target, kt.ToolResult):
            return target
        try:
            output, meta = await in_thread(_edit_file, target, old, new, replace_all, diff)
        except _EditFailed as exc:
            return fail(str(exc))
        except OSError as exc:
            return fail(f"cannot edit {target}: {exc.strerror or exc}")
        record_read(ctx, target)
        return kt.ToolResult(output=output, metadata=meta)

    return edit


# -- multi_edit ---------------------------------------------------------------------------------

DIFF_LINES = 200


class EditItem(TypedDict):
    """One replacement of a ``multi_edit`` call.

    Attributes:
        old: Exact text to find.
        new: Replacement text.
        replace_all: Replace every occurrence instead of exactly one.
    """

    old: str
    new: str
    replace_all: NotRequired[bool]


def unified_diff(path: Path, before: str, after: str) -> str:
    """A unified diff of a change, capped at 200 lines."""
    name = path.name
    lines = list(
        difflib.unified_diff(
            before.splitlines(), after.splitlines(), f"a/{name}", f"b/{name}", lineterm=""
        )
    )
    if len(lines) > DIFF_LINES:
        lines = lines[:DIFF_LINES] + [f"... (diff truncated, {len(lines)} lines in all)"]
    return "\n".join(lines)


def run_edits(text: str, edits: list[EditItem], mode: str) -> tuple[str, list[str], int, int]:
    """Apply *edits* in order to *text* under *mode* (strict, partial, best_effort).

    Returns:
        The resulting text, one status line per edit, and the applied and failed counts.
    """
    statuses: list[str] = []
    applied = failed = 0
    stopped = False
    for index, item in enumerate(edits):
        if stopped:
            statuses.append(f"edit[{index}]: skipped")
            continue
        try:
            updated, count = replace_text(
                text, item["old"], item["new"], bool(item.get("replace_all", False))
            )
        except _EditFailed as exc:
            message = str(exc).replace("not found", "not found (after prior edits)", 1)
            statuses.append(f"edit[{index}]: error: {message}")
            failed += 1
            stopped = mode in ("strict", "partial")
            continue
        applied += 1
        if updated == text:
            statuses.append(f"edit[{index}]: ok: no change (old equals new)")
        else:
            n = count if item.get("replace_all") else 1
            statuses.append(f"edit[{index}]: ok: {n} replacement{'s' if n != 1 else ''}")
        text = updated
    return text, statuses, applied, failed


def _multi_edit_file(path: Path, edits: list[EditItem], mode: str) -> kt.ToolResult:
    before = _load_for_edit(path)
    after, statuses, applied, failed = run_edits(before, edits, mode)
    skipped = len(edits) - applied - failed
    write = after != before and not (mode == "strict" and failed)
    if write:
        _save(path, after)
    header = f"Edited {path}" if write else f"No changes made to {path}"
    lines = [header, f"mode: {mode}", f"applied: {applied}", f"failed: {failed}"]
    lines += [f"skipped: {skipped}", "", *statuses]
    if write:
        lines += ["", unified_diff(path, before, after)]
    output = "\n".join(lines)
    meta = {"applied": applied, "failed": failed, "skipped": skipped, "written": write}
    if failed and mode == "strict":
        index = next(i for i, s in enumerate(statuses) if ": error:" in s)
        error = f"multi_edit failed in strict mode at edit[{index}] (file unchanged)"
        return kt.ToolResult(output=output, error=error, metadata=meta)
    if failed:
        error = f"multi_edit completed with {failed} failed edit(s)"
        return kt.ToolResult(output=output, error=error, metadata=meta)
    return kt.ToolResult(output=output, metadata=meta)


def _multi_edit(options: FileOptions) -> kt.ToolSpec:
    @kt.tool(name="multi_edit", concurrency_safe=False, body_arg="edits")
    async def multi_edit(
        path: str,
        edits: list[EditItem],
        strict: bool | None = None,
        best_effort: bool = False,
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Make several exact replacements in one file, in order, each seeing the previous.

        strict (default): all or nothing, the file is unchanged if any edit fails.
        strict=false: edits before the first failure are kept, the rest skipped.
        best_effort=true: failing edits are skipped, all others applied.

        Args:
            path: The file to change (it must have been read first).
            edits: The replacements: objects with old, new and optional replace_all.
            strict: All or nothing (the default unless best_effort is true).
            best_effort: Apply every edit that can be applied.
            ctx: Injected by the kernel.
        """
        gate = check_manual(ctx, options.require_manual)
        if gate is not None:
            return gate
        if strict and best_effort:
            return fail("strict and best_effort cannot both be true; choose one")
        if not edits:
            return fail("edits is empty; give at least one {old, new} replacement")
        for index, item in enumerate(edits):
            if not item["old"]:
                return fail(f"edit[{index}]: old must not be empty")
        mode = "best_effort" if best_effort else ("partial" if strict is False else "strict")
        target = _edit_target(ctx, path, options)
        if isinstance(target, kt.ToolResult):
            return target
        try:
            result = await in_thread(_multi_edit_file, target, edits, mode)
        except _EditFailed as exc:
            return fail(str(exc))
        except OSError as exc:
            return fail(f"cannot edit {target}: {exc.strerror or exc}")
        if result.metadata.get("written"):
            record_read(ctx, target)
        return result

    return multi_edit


read = configurable(_read, ReadOptions(), "read")
write = configurable(_write, FileOptions(), "write")
edit = configurable(_edit, FileOptions(), "edit")
multi_edit = configurable(_multi_edit, FileOptions(), "multi_edit")

__all__ = ["EditItem", "edit", "multi_edit", "read", "write"]
