"""notebook_read and notebook_edit on real .ipynb files."""

from __future__ import annotations

import json

from kt_tools_helpers import drive

NB_TOOLS = ["notebook_read", {"name": "notebook_edit", "require_manual": False}, "read"]


def notebook(path, *, with_ids=True):
    cells = [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": ["# Title\n", "Intro"],
        },
        {
            "cell_type": "code",
            "execution_count": 3,
            "metadata": {"tags": ["x"]},
            "source": "print('hi')",
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["hi\n"]},
                {
                    "output_type": "execute_result",
                    "data": {"text/plain": "42", "image/png": "iVBORw0KGgo="},
                },
                {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []},
                {"output_type": "stream", "name": "stderr", "text": "warn"},
            ],
        },
    ]
    if with_ids:
        cells[0]["id"], cells[1]["id"] = "intro", "code1"
    data = {
        "cells": cells,
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5 if with_ids else 4,
    }
    path.write_text(json.dumps(data))
    return path


async def test_notebook_read_shows_cells_and_summarised_outputs(work):
    notebook(work / "n.ipynb")
    async with drive(work, NB_TOOLS) as t:
        record = await t.call("notebook_read", path="n.ipynb")
        one = await t.call("notebook_read", path="n.ipynb", cell_id="code1", include_outputs="all")
        meta = await t.call("notebook_read", path="n.ipynb", offset=1, include_metadata=True)
    text = record.output
    assert text.splitlines()[:4] == [
        f"Notebook: {work / 'n.ipynb'}",
        "Language: python",
        "nbformat: 4.5",
        "Cells: 2",
    ]
    assert "[intro] index=0 type=markdown" in text and "# Title\nIntro" in text
    assert "[code1] index=1 type=code execution_count=3" in text
    assert "[stream:stdout]\nhi" in text and "42" in text
    assert "image/png output omitted: 12 chars" in text
    assert "[error] ValueError: bad" in text
    assert "(1 more outputs omitted)" in text
    assert "[intro]" not in one.output and "[stream:stderr]" in one.output
    assert "[intro]" not in meta.output and 'metadata: {"tags": ["x"]}' in meta.output


async def test_notebook_read_synthetic_ids_and_errors(work):
    notebook(work / "old.ipynb", with_ids=False)
    (work / "bad.ipynb").write_text("{not json")
    (work / "shape.ipynb").write_text('{"cells": [{"source": "x"}]}')
    (work / "n.txt").write_text("x")
    async with drive(work, NB_TOOLS) as t:
        old = await t.call("notebook_read", path="old.ipynb")
        unknown = await t.call("notebook_read", path="old.ipynb", cell_id="zzz")
        bad = await t.call("notebook_read", path="bad.ipynb")
        shape = await t.call("notebook_read", path="shape.ipynb")
        suffix = await t.call("notebook_read", path="n.txt")
        missing = await t.call("notebook_read", path="none.ipynb")
    assert "[cell-1] index=1 type=code synthetic_id=true" in old.output
    assert "cell-0, cell-1" in unknown.error
    assert "not valid JSON" in bad.error
    assert "no cell_type" in shape.error
    assert "not a notebook" in suffix.error
    assert "File not found" in missing.error


async def test_notebook_edit_replace_insert_delete(work):
    path = notebook(work / "n.ipynb")
    async with drive(work, NB_TOOLS) as t:
        refused = await t.call("notebook_edit", path="n.ipynb", cell_id="code1", new_source="x")
        await t.call("notebook_read", path="n.ipynb")
        replaced = await t.call(
            "notebook_edit", path="n.ipynb", cell_id="code1", new_source="x = 1"
        )
        inserted = await t.call(
            "notebook_edit",
            path="n.ipynb",
            edit_mode="insert",
            cell_id="intro",
            insert_location="after",
            cell_type="markdown",
            new_source="## Setup",
        )
        deleted = await t.call("notebook_edit", path="n.ipynb", edit_mode="delete", cell_id="intro")
    assert "has not been read yet" in refused.error
    assert "edit[0]: ok: replaced cell code1" in replaced.output
    assert inserted.status == "ok" and "inserted markdown cell" in inserted.output
    assert "deleted cell intro" in deleted.output
    data = json.loads(path.read_text())
    assert [c["cell_type"] for c in data["cells"]] == ["markdown", "code"]
    code = data["cells"][1]
    assert code["source"] == ["x = 1"] and code["outputs"] == [] and code["execution_count"] is None
    assert len(data["cells"][0]["id"]) == 8  # nbformat 4.5: new cells get ids
    assert path.read_text().endswith("}\n")


async def test_notebook_edit_policies(work):
    path = notebook(work / "n.ipynb")
    original = path.read_text()
    edits = [
        {"cell_id": "intro", "new_source": "changed"},
        {"cell_id": "missing", "new_source": "x"},
        {
            "edit_mode": "insert",
            "cell_type": "code",
            "new_source": "end()",
            "insert_location": "end",
        },
    ]
    async with drive(work, NB_TOOLS) as t:
        await t.call("read", path="n.ipynb")
        strict = await t.call("notebook_edit", path="n.ipynb", edits=edits)
        assert "strict mode at edit[1]" in strict.error and path.read_text() == original
        best = await t.call("notebook_edit", path="n.ipynb", edits=edits, best_effort=True)
        both = await t.call("notebook_edit", path="n.ipynb", edits=edits, cell_id="intro")
        nothing = await t.call("notebook_edit", path="n.ipynb")
        incomplete = await t.call(
            "notebook_edit", path="n.ipynb", edit_mode="insert", new_source="x"
        )
    assert "applied: 2\nfailed: 1\nskipped: 0" in best.output
    assert "+changed" in best.output
    cells = json.loads(path.read_text())["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code"]
    assert "not both" in both.error
    assert "nothing to do" in nothing.error
    assert "insert needs new_source and cell_type" in incomplete.output


async def test_notebook_edit_is_gated_by_its_manual(work):
    notebook(work / "n.ipynb")
    async with drive(work, ["notebook_read", "notebook_edit", "info"]) as t:
        await t.call("notebook_read", path="n.ipynb")
        gated = await t.call("notebook_edit", path="n.ipynb", cell_id="intro", new_source="x")
        await t.call("info", name="notebook_edit")
        done = await t.call("notebook_edit", path="n.ipynb", cell_id="intro", new_source="x")
    assert "requires reading its documentation" in gated.error
    assert done.status == "ok"


async def test_notebook_read_caps_sources_and_outputs(work):
    path = work / "long.ipynb"
    cell = {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": 1}
    cell |= {
        "source": "x" * 500,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "y" * 300}],
    }
    path.write_text(
        json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    async with drive(work, NB_TOOLS) as t:
        record = await t.call(
            "notebook_read", path="long.ipynb", max_source_chars=100, max_output_chars=50
        )
    assert "x" * 100 + "\n... (truncated, 500 chars total)" in record.output
    assert "y" * 50 + "\n... (truncated, 300 chars total)" in record.output
