"""``notebook_read`` and ``notebook_edit``: Jupyter notebooks as cells, not as raw JSON.

Cells are addressed by their ``id`` (nbformat 4.5 and later) or, for notebooks without ids,
by a synthetic ``cell-<index>``. Edits follow the same three policies as ``multi_edit``
(strict, partial, best effort) and the same file safety rules as the other file tools.
"""

from __future__ import annotations

import difflib
import json
import secrets
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

import attrs

import kt
from kt_tools.common import (
    FileOptions,
    check_manual,
    check_read_before_write,
    configurable,
    fail,
    in_thread,
    record_read,
    resolve_path,
)
from kt_tools.nofollow import open_file, read_file_bytes

DIFF_LINES = 200


class NotebookError(Exception):
    """The notebook cannot be used, or an edit cannot be applied; the message is for the model."""


def load_notebook(path: Path) -> dict[str, Any]:
    """Read and check a notebook's structure.

    Raises:
        NotebookError: not JSON, or not shaped like a notebook.
    """
    try:
        data = json.loads(read_file_bytes(path).decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError(f"{path} is not a notebook: expected an object with a cells list")
    for index, cell in enumerate(data["cells"]):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise NotebookError(f"{path}: cell {index} has no cell_type")
        if not isinstance(cell.get("source"), str | list):
            raise NotebookError(f"{path}: cell {index} has no source")
    return data


def source_text(cell: dict[str, Any]) -> str:
    """A cell's source as one string (notebooks store it as a string or a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def cell_id(cell: dict[str, Any], index: int) -> tuple[str, bool]:
    """A cell's id, and whether it is synthetic (``cell-<index>``) because the cell has none."""
    real = cell.get("id")
    return (real, False) if isinstance(real, str) and real else (f"cell-{index}", True)


def find_cell(cells: list[dict[str, Any]], wanted: str) -> int:
    """The index of the cell with id (or synthetic id) *wanted*.

    Raises:
        NotebookError: no such cell; the message lists the ids.
    """
    for index, cell in enumerate(cells):
        if cell_id(cell, index)[0] == wanted:
            return index
    ids = ", ".join(cell_id(c, i)[0] for i, c in enumerate(cells)) or "none"
    raise NotebookError(f"no cell with id '{wanted}'; cells: {ids}")


# -- notebook_read ------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    if limit and len(text) > limit:
        return f"{text[:limit]}\n... (truncated, {len(text)} chars total)"
    return text


def _output_lines(output: dict[str, Any], max_chars: int) -> list[str]:
    kind = output.get("output_type", "?")
    if kind == "stream":
        text = output.get("text", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        return [f"[stream:{output.get('name', 'stdout')}]", _clip(text.rstrip("\n"), max_chars)]
    if kind == "error":
        trace = "\n".join(output.get("traceback", []))
        lines = [f"[error] {output.get('ename', '')}: {output.get('evalue', '')}"]
        return lines + ([_clip(trace, max_chars)] if trace else [])
    lines = [f"[{kind}]"]
    data = output.get("data", {}) if isinstance(output.get("data"), dict) else {}
    for mime, value in data.items():
        value = "".join(value) if isinstance(value, list) else str(value)
        if mime == "text/plain":
            lines.append(_clip(value.rstrip("\n"), max_chars))
        else:
            lines.append(f"{mime} output omitted: {len(value)} chars")
    return lines


def render_notebook(
    path: Path,
    data: dict[str, Any],
    *,
    wanted: str | None,
    offset: int,
    limit: int,
    include_outputs: str,
    include_metadata: bool,
    max_source_chars: int,
    max_output_chars: int,
) -> str:
    """The text ``notebook_read`` shows."""
    meta = data.get("metadata", {}) if isinstance(data.get("metadata"), dict) else {}
    language = (meta.get("language_info") or {}).get("name") or (meta.get("kernelspec") or {}).get(
        "language"
    )
    cells = data["cells"]
    lines = [
        f"Notebook: {path}",
        f"Language: {language or 'python'}",
        f"nbformat: {data.get('nbformat', '?')}.{data.get('nbformat_minor', '?')}",
        f"Cells: {len(cells)}",
    ]
    indices = list(range(len(cells)))
    if wanted is not None:
        indices = [find_cell(cells, wanted)]
    else:
        indices = indices[offset : offset + limit] if limit else indices[offset:]
    for index in indices:
        cell = cells[index]
        ident, synthetic = cell_id(cell, index)
        header = f"[{ident}] index={index} type={cell['cell_type']}"
        if synthetic:
            header += " synthetic_id=true"
        if cell["cell_type"] == "code":
            header += f" execution_count={cell.get('execution_count')}"
        lines += ["", header, _clip(source_text(cell), max_source_chars)]
        if include_metadata and cell.get("metadata"):
            lines.append(f"metadata: {json.dumps(cell['metadata'], ensure_ascii=False)}")
        outputs = cell.get("outputs") or []
        if include_outputs != "none" and outputs:
            shown = outputs if include_outputs == "all" else outputs[:3]
            for output in shown:
                lines += _output_lines(output, max_output_chars)
            if len(shown) < len(outputs):
                lines.append(f"({len(outputs) - len(shown)} more outputs omitted)")
    return "\n".join(lines)


def _notebook_read(options: FileOptions) -> kt.ToolSpec:
    @kt.tool(name="notebook_read")
    async def notebook_read(
        path: str,
        cell_id: str | None = None,
        offset: int = 0,
        limit: int = 0,
        include_outputs: Literal["none", "summary", "all"] = "summary",
        include_metadata: bool = False,
        max_source_chars: int = 8000,
        max_output_chars: int = 4000,
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Read a Jupyter notebook (.ipynb) cell by cell, with ids, sources and outputs.

        Args:
            path: The .ipynb file.
            cell_id: Show only this cell (its id, or "cell-<index>" for cells without one).
            offset: Cells to skip.
            limit: Cells to show (0 = all).
            include_outputs: none, summary (first 3 outputs per cell) or all.
            include_metadata: Show each cell's metadata.
            max_source_chars: Characters of each cell's source to show.
            max_output_chars: Characters of each output to show.
            ctx: Injected by the kernel.
        """
        if min(offset, limit, max_source_chars, max_output_chars) < 0:
            return fail("offset, limit and the max_* limits must be 0 or more")
        resolved = resolve_path(ctx, path, options)
        if isinstance(resolved, kt.ToolResult):
            return resolved
        if resolved.suffix.lower() != ".ipynb":
            return fail(f"{resolved} is not a notebook (.ipynb); use read for other files")
        if not resolved.is_file():
            return fail(f"File not found: {resolved}")
        try:
            data = await in_thread(load_notebook, resolved)
            text = render_notebook(
                resolved,
                data,
                wanted=cell_id,
                offset=offset,
                limit=limit,
                include_outputs=include_outputs,
                include_metadata=include_metadata,
                max_source_chars=max_source_chars,
                max_output_chars=max_output_chars,
            )
        except NotebookError as exc:
            return fail(str(exc))
        except OSError as exc:
            return fail(f"cannot read {resolved}: {exc.strerror or exc}")
        record_read(ctx, resolved)  # always a full read: edits address cells, not lines
        return kt.ToolResult(output=text, metadata={"cells": len(data["cells"])})

    return notebook_read


# -- notebook_edit ------------------------------------------------------------------------------


class NotebookEdit(TypedDict):
    """One change of a ``notebook_edit`` call.

    Attributes:
        edit_mode: replace (default), insert or delete.
        cell_id: The cell to replace or delete; for insert, the anchor.
        new_source: The new source (replace and insert).
        cell_type: code, markdown or raw: required for insert; converts on replace.
        insert_location: after (default), before, beginning or end.
        clear_outputs: Empty a code cell's outputs and execution count (default true).
    """

    edit_mode: NotRequired[Literal["replace", "insert", "delete"]]
    cell_id: NotRequired[str]
    new_source: NotRequired[str]
    cell_type: NotRequired[Literal["code", "markdown", "raw"]]
    insert_location: NotRequired[Literal["after", "before", "beginning", "end"]]
    clear_outputs: NotRequired[bool]


def _uses_ids(data: dict[str, Any]) -> bool:
    version = (data.get("nbformat", 0), data.get("nbformat_minor", 0))
    return version >= (4, 5) or any("id" in c for c in data["cells"])


def _new_cell(cell_type: str, source: str, data: dict[str, Any]) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": cell_type}
    if _uses_ids(data):
        cell["id"] = secrets.token_hex(4)
    cell["metadata"] = {}
    cell["source"] = source.splitlines(keepends=True)
    if cell_type == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def apply_notebook_edit(data: dict[str, Any], edit: NotebookEdit) -> str:
    """Apply one edit to *data* in place; return its status text.

    Raises:
        NotebookError: the edit is incomplete or names no existing cell.
    """
    cells = data["cells"]
    mode = edit.get("edit_mode", "replace")
    if mode == "insert":
        if "new_source" not in edit or "cell_type" not in edit:
            raise NotebookError("insert needs new_source and cell_type")
        location = edit.get("insert_location", "after")
        anchor = edit.get("cell_id")
        if location == "beginning":
            at = 0
        elif location == "end" or anchor is None:
            at = len(cells)
        else:
            at = find_cell(cells, anchor) + (1 if location == "after" else 0)
        cell = _new_cell(edit["cell_type"], edit["new_source"], data)
        cells.insert(at, cell)
        return f"inserted {cell['cell_type']} cell {cell_id(cell, at)[0]} at index {at}"
    if "cell_id" not in edit:
        raise NotebookError(f"{mode} needs cell_id")
    index = find_cell(cells, edit["cell_id"])
    cell = cells[index]
    if mode == "delete":
        del cells[index]
        return f"deleted cell {edit['cell_id']}"
    if "new_source" not in edit:
        raise NotebookError("replace needs new_source")
    before = json.dumps(cell, sort_keys=True)
    new_type = edit.get("cell_type", cell["cell_type"])
    cell["cell_type"] = new_type
    cell["source"] = edit["new_source"].splitlines(keepends=True)
    if new_type == "code":
        cell.setdefault("outputs", [])
        cell.setdefault("execution_count", None)
        if edit.get("clear_outputs", True):
            cell["outputs"], cell["execution_count"] = [], None
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
    if json.dumps(cell, sort_keys=True) == before:
        return f"no change to cell {edit['cell_id']}"
    if source_text(json.loads(before)) == edit["new_source"]:
        return f"refreshed cell {edit['cell_id']}"
    return f"replaced cell {edit['cell_id']}"


def _cells_as_text(data: dict[str, Any]) -> list[str]:
    lines = []
    for index, cell in enumerate(data["cells"]):
        lines.append(f"# [{cell_id(cell, index)[0]}] {cell['cell_type']}")
        lines += source_text(cell).splitlines()
    return lines


@attrs.frozen
class _EditPlan:
    edits: list[NotebookEdit]
    mode: str


def _edit_notebook(path: Path, plan: _EditPlan) -> kt.ToolResult:
    data = load_notebook(path)
    before_text = _cells_as_text(data)
    working = json.loads(json.dumps(data))
    statuses, applied, failed, stopped = [], 0, 0, False
    for index, edit in enumerate(plan.edits):
        if stopped:
            statuses.append(f"edit[{index}]: skipped")
            continue
        try:
            status = apply_notebook_edit(working, edit)
        except NotebookError as exc:
            statuses.append(f"edit[{index}]: error: {exc}")
            failed += 1
            stopped = plan.mode in ("strict", "partial")
            continue
        statuses.append(f"edit[{index}]: ok: {status}")
        applied += 1
    skipped = len(plan.edits) - applied - failed
    changed = working != data
    write = changed and not (plan.mode == "strict" and failed)
    if write:
        text = json.dumps(working, indent=1, ensure_ascii=False) + "\n"
        with open_file(path, "wb") as f:
            f.write(text.encode("utf-8"))
    lines = [f"Edited {path}" if write else f"No changes made to {path}", f"mode: {plan.mode}"]
    lines += [f"applied: {applied}", f"failed: {failed}", f"skipped: {skipped}", "", *statuses]
    if write:
        diff = list(
            difflib.unified_diff(
                before_text,
                _cells_as_text(working),
                f"a/{path.name}",
                f"b/{path.name}",
                lineterm="",
            )
        )
        if len(diff) > DIFF_LINES:
            diff = diff[:DIFF_LINES] + [f"... (diff truncated, {len(diff)} lines in all)"]
        lines += ["", *diff]
    meta = {"applied": applied, "failed": failed, "skipped": skipped, "written": write}
    error = None
    if failed and plan.mode == "strict":
        first = next(i for i, s in enumerate(statuses) if ": error:" in s)
        error = f"notebook_edit failed in strict mode at edit[{first}] (file unchanged)"
    elif failed:
        error = f"notebook_edit completed with {failed} failed edit(s)"
    return kt.ToolResult(output="\n".join(lines), error=error, metadata=meta)


def _notebook_edit(options: FileOptions) -> kt.ToolSpec:
    @kt.tool(name="notebook_edit", concurrency_safe=False, body_arg="new_source")
    async def notebook_edit(
        path: str,
        edit_mode: Literal["replace", "insert", "delete"] | None = None,
        cell_id: str | None = None,
        new_source: str | None = None,
        cell_type: Literal["code", "markdown", "raw"] | None = None,
        insert_location: Literal["after", "before", "beginning", "end"] | None = None,
        clear_outputs: bool | None = None,
        edits: list[NotebookEdit] | None = None,
        strict: bool | None = None,
        best_effort: bool = False,
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Change a Jupyter notebook's cells: replace, insert or delete, one or several.

        Give one edit's fields directly, or a list in edits. The notebook must have been read
        with notebook_read (or read) first. Several edits: strict (default) is all or nothing;
        strict=false keeps the edits before a failure; best_effort=true skips failures.

        Args:
            path: The .ipynb file.
            edit_mode: replace (default), insert or delete.
            cell_id: The cell to replace or delete; for insert, the cell to insert next to.
            new_source: The cell's new source (replace, insert).
            cell_type: code, markdown or raw; required for insert, converts on replace.
            insert_location: after (default), before, beginning or end.
            clear_outputs: Empty a code cell's outputs and execution count (default true).
            edits: Several edits, each with the fields above.
            strict: All or nothing (the default unless best_effort is true).
            best_effort: Apply every edit that can be applied.
            ctx: Injected by the kernel.
        """
        gate = check_manual(ctx, options.require_manual)
        if gate is not None:
            return gate
        if strict and best_effort:
            return fail("strict and best_effort cannot both be true; choose one")
        single = {
            "edit_mode": edit_mode,
            "cell_id": cell_id,
            "new_source": new_source,
            "cell_type": cell_type,
            "insert_location": insert_location,
            "clear_outputs": clear_outputs,
        }
        single = {k: v for k, v in single.items() if v is not None}
        if edits and single:
            return fail("give either one edit's fields or edits, not both")
        batch: list[NotebookEdit] = list(edits or []) or ([single] if single else [])  # type: ignore[list-item]
        if not batch:
            return fail("nothing to do: give cell_id and new_source, or edits")
        mode = "best_effort" if best_effort else ("partial" if strict is False else "strict")
        resolved = resolve_path(ctx, path, options)
        if isinstance(resolved, kt.ToolResult):
            return resolved
        if resolved.suffix.lower() != ".ipynb":
            return fail(f"{resolved} is not a notebook (.ipynb); use edit for other files")
        refusal = check_read_before_write(ctx, resolved, options)
        if refusal:
            return fail(refusal)
        if not resolved.is_file():
            return fail(f"File not found: {resolved}; create a notebook with write first")
        try:
            result = await in_thread(_edit_notebook, resolved, _EditPlan(batch, mode))
        except NotebookError as exc:
            return fail(str(exc))
        except OSError as exc:
            return fail(f"cannot edit {resolved}: {exc.strerror or exc}")
        if result.metadata.get("written"):
            record_read(ctx, resolved)
        return result

    return notebook_edit


notebook_read = configurable(_notebook_read, FileOptions(), "notebook_read")
notebook_edit = configurable(_notebook_edit, FileOptions(), "notebook_edit")

__all__ = ["NotebookEdit", "notebook_edit", "notebook_read"]
