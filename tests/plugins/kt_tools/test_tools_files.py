"""read, write, edit and multi_edit on real files: formats, guards, errors and caps."""

from __future__ import annotations

import base64
import os

import pytest
from kt_tools_helpers import drive

FILE_TOOLS = ["read", "write", "edit", "multi_edit", "info"]
NO_MANUAL = [
    "read",
    "write",
    {"name": "edit", "require_manual": False},
    {"name": "multi_edit", "require_manual": False},
]


def bump_mtime(path):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


# -- Acceptance scenarios ---------------------------------------------------------------------


async def test_scenario_1_edit_without_read_is_refused_then_works_after_read(work):
    target = work / "a.txt"
    target.write_text("x\n")
    async with drive(work, FILE_TOOLS) as t:
        assert (await t.call("info", name="edit")).status == "ok"
        refused = await t.call("edit", path="a.txt", old="x", new="y")
        assert refused.status == "error" and "not been read" in refused.error
        assert target.read_text() == "x\n"
        assert (await t.call("read", path="a.txt")).status == "ok"
        done = await t.call("edit", path="a.txt", old="x", new="y")
    assert done.status == "ok" and "1 replacement(s)" in done.output
    assert target.read_text() == "y\n"


async def test_scenario_2_a_stale_read_blocks_write_until_read_again(work):
    target = work / "a.txt"
    target.write_text("one\n")
    async with drive(work, FILE_TOOLS) as t:
        await t.call("read", path="a.txt")
        target.write_text("changed elsewhere\n")
        bump_mtime(target)
        stale = await t.call("write", path="a.txt", content="mine\n")
        assert stale.status == "error" and "modified since last read" in stale.error
        assert target.read_text() == "changed elsewhere\n"
        await t.call("read", path="a.txt")
        done = await t.call("write", path="a.txt", content="mine\n")
    assert done.status == "ok" and done.output.startswith("Updated ")
    assert target.read_text() == "mine\n"


async def test_scenario_3_a_new_file_needs_no_read_and_gets_its_folders(work):
    async with drive(work, FILE_TOOLS) as t:
        record = await t.call("write", path="new/dir/b.txt", content="x\ny")
    target = work / "new" / "dir" / "b.txt"
    assert record.status == "ok"
    assert record.output == f"Created {target} (2 lines, 3 bytes)"
    assert target.read_text() == "x\ny"


async def test_scenario_4_manual_gate_until_info_is_read(work):
    (work / "a.txt").write_text("x\n")
    async with drive(work, FILE_TOOLS) as t:
        await t.call("read", path="a.txt")
        gated = await t.call("edit", path="a.txt", old="x", new="y")
        assert gated.status == "error"
        assert "requires reading its documentation" in gated.error
        assert 'info(name="edit")' in gated.error
        manual = await t.call("info", name="edit")
        assert "Search and replace" in manual.output and "Parameters:" in manual.output
        again = await t.call("edit", path="a.txt", old="x", new="y")
    assert again.status == "ok"


async def test_manual_gate_is_off_when_the_creature_has_no_info_tool(work):
    (work / "a.txt").write_text("x\n")
    async with drive(work, ["read", "edit"]) as t:
        await t.call("read", path="a.txt")
        assert (await t.call("edit", path="a.txt", old="x", new="y")).status == "ok"


async def test_scenario_5_ambiguous_replace_then_replace_all(work):
    target = work / "a.txt"
    target.write_text("foo and foo\n")
    async with drive(work, NO_MANUAL) as t:
        await t.call("read", path="a.txt")
        ambiguous = await t.call("edit", path="a.txt", old="foo", new="bar")
        assert ambiguous.status == "error" and "2 times" in ambiguous.error
        done = await t.call("edit", path="a.txt", old="foo", new="bar", replace_all=True)
    assert "2 replacement(s)" in done.output
    assert target.read_text() == "bar and bar\n"


async def test_scenario_6_multi_edit_policies(work):
    target = work / "a.txt"
    original = "alpha\nbeta\ngamma\n"
    target.write_text(original)
    edits = [{"old": "alpha", "new": "ALPHA"}, {"old": "missing", "new": "x"}]
    async with drive(work, NO_MANUAL) as t:
        await t.call("read", path="a.txt")
        strict = await t.call("multi_edit", path="a.txt", edits=edits)
        assert strict.status == "error" and "strict mode at edit[1]" in strict.error
        assert target.read_bytes() == original.encode()

        partial = await t.call("multi_edit", path="a.txt", edits=edits, strict=False)
        assert partial.status == "error" and "1 failed edit" in partial.error
        assert "applied: 1\nfailed: 1\nskipped: 0" in partial.output
        assert "edit[0]: ok: 1 replacement" in partial.output
        assert "edit[1]: error:" in partial.output
        assert target.read_text() == "ALPHA\nbeta\ngamma\n"

        three = [
            {"old": "beta", "new": "BETA"},
            {"old": "nope", "new": "x"},
            {"old": "gamma", "new": "GAMMA"},
        ]
        best = await t.call("multi_edit", path="a.txt", edits=three, best_effort=True)
    assert "applied: 2\nfailed: 1\nskipped: 0" in best.output
    assert "--- a/a.txt" in best.output and "+BETA" in best.output
    assert target.read_text() == "ALPHA\nBETA\nGAMMA\n"


async def test_scenario_7_unified_diff_mismatch_then_success(work):
    target = work / "a.txt"
    target.write_text("one\ntwo\nthree\n")
    async with drive(work, NO_MANUAL) as t:
        await t.call("read", path="a.txt")
        wrong = await t.call("edit", path="a.txt", diff="@@ -2,1 +2,1 @@\n-TWO\n+2\n")
        assert wrong.status == "error" and "Failed to apply diff" in wrong.error
        assert "expected 'TWO'" in wrong.error and "actual 'two'" in wrong.error
        right = await t.call("edit", path="a.txt", diff="--- a\n+++ b\n@@ -2,1 +2,1 @@\n-two\n+2\n")
    assert right.status == "ok" and "1 hunk(s) applied  +1 -1 lines" in right.output
    assert target.read_text() == "one\n2\nthree\n"


async def test_scenario_8_path_guard_warns_then_allows_the_same_path(work, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    async with drive(work, FILE_TOOLS) as t:
        first = await t.call("read", path=str(outside))
        assert first.status == "error"
        assert "outside the working directory" in first.error and "retry" in first.error
        second = await t.call("read", path=str(outside))
    assert second.status == "ok" and "secret" in second.output


async def test_scenario_9_read_formatting_with_offset_and_limit(work):
    (work / "a.txt").write_text("first\nsecond\nthird\n")
    async with drive(work, FILE_TOOLS) as t:
        record = await t.call("read", path="a.txt", offset=1, limit=1)
    lines = record.output.splitlines()
    assert lines[0] == "     2→second"
    assert "showing lines 2-2 of 3" in record.output


# -- read ---------------------------------------------------------------------------------------


async def test_read_errors(work):
    (work / "folder").mkdir()
    (work / "blob.dat").write_bytes(b"\x00\x01\x02binary")
    (work / "three.txt").write_text("a\nb\nc")
    async with drive(work, ["read"]) as t:
        missing = await t.call("read", path="nope.txt")
        folder = await t.call("read", path="folder")
        binary = await t.call("read", path="blob.dat")
        past = await t.call("read", path="three.txt", offset=5)
        negative = await t.call("read", path="three.txt", offset=-1)
    assert missing.error.startswith("File not found:")
    assert "Not a file" in folder.error
    assert "binary" in binary.error and "xxd" in binary.error
    assert "past the end" in past.error and "(3 lines)" in past.error
    assert negative.status == "error"


async def test_read_cuts_long_lines_and_caps_output_bytes(work):
    (work / "long.txt").write_text("y" * 2500 + "\nshort\n")
    (work / "many.txt").write_text("".join(f"line {i}\n" for i in range(1000)))
    async with drive(work, [{"name": "read", "max_output_bytes": 200}]) as t:
        long = await t.call("read", path="long.txt")
        many = await t.call("read", path="many.txt")
    assert "(line truncated, 2500 chars)" in long.output
    assert "output capped at 200 bytes" in many.output
    assert "of 1000" in many.output and len(many.output.encode()) < 400


async def test_read_relative_paths_use_the_creature_working_dir_not_the_process_cwd(
    work, tmp_path, monkeypatch
):
    (work / "here.txt").write_text("creature's file\n")
    monkeypatch.chdir(tmp_path)
    async with drive(work, ["read"]) as t:
        record = await t.call("read", path="here.txt")
    assert "creature's file" in record.output


async def test_read_an_empty_file_and_a_file_without_final_newline(work):
    (work / "empty.txt").write_text("")
    (work / "tail.txt").write_text("a\nb")
    async with drive(work, ["read"]) as t:
        empty = await t.call("read", path="empty.txt")
        tail = await t.call("read", path="tail.txt", limit=1)
    assert empty.status == "ok" and "empty file" in empty.output
    assert "showing lines 1-1 of 2" in tail.output


async def test_read_png_returns_an_image_part(work):
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
    )
    (work / "dot.png").write_bytes(png)
    (work / "fake.png").write_text("not an image")
    (work / "pic.bmp").write_bytes(b"BM....")
    async with drive(work, ["read"]) as t:
        image = await t.call("read", path="dot.png")
        fake = await t.call("read", path="fake.png")
        bmp = await t.call("read", path="pic.bmp")
    assert image.status == "ok" and "Image:" in image.output and "image/png" in image.output
    assert image.metadata["mime"] == "image/png"
    assert "not a valid" in fake.error
    assert "unsupported image format" in bmp.error


async def test_read_pdf_without_pymupdf_says_how_to_install(work):
    pytest.importorskip("kt_tools")
    try:
        import pymupdf  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("PyMuPDF is installed")
    (work / "doc.pdf").write_bytes(b"%PDF-1.4\n")
    async with drive(work, ["read"]) as t:
        record = await t.call("read", path="doc.pdf")
    assert "pip install pymupdf" in record.error


# -- path guard ---------------------------------------------------------------------------------


async def test_path_guard_block_mode_always_refuses(work, tmp_path):
    (tmp_path / "outside.txt").write_text("x")
    async with drive(work, [{"name": "read", "path_guard": "block"}]) as t:
        first = await t.call("read", path="../outside.txt")
        second = await t.call("read", path="../outside.txt")
    assert "outside the working directory" in first.error
    assert second.status == "error"


async def test_path_guard_allowed_paths_and_off(work, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "s.txt").write_text("shared\n")
    allowed = {"name": "read", "path_guard": "block", "allowed_paths": ["../shared"]}
    async with drive(work, [allowed]) as t:
        assert (await t.call("read", path="../shared/s.txt")).status == "ok"
    async with drive(work, [{"name": "read", "path_guard": "off"}]) as t:
        assert (await t.call("read", path=str(shared / "s.txt"))).status == "ok"


async def test_path_guard_follows_symlinks_out_of_the_working_dir(work, tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    (work / "link.txt").symlink_to(tmp_path / "secret.txt")
    async with drive(work, [{"name": "read", "path_guard": "block"}]) as t:
        record = await t.call("read", path="link.txt")
    assert "outside the working directory" in record.error


async def test_write_is_guarded_too(work, tmp_path):
    async with drive(work, [{"name": "write", "path_guard": "block"}]) as t:
        record = await t.call("write", path=str(tmp_path / "escape.txt"), content="x")
    assert record.status == "error" and not (tmp_path / "escape.txt").exists()


# -- write and edit -----------------------------------------------------------------------------


async def test_write_to_an_unread_existing_file_is_refused(work):
    target = work / "a.txt"
    target.write_text("keep\n")
    async with drive(work, ["write"]) as t:
        record = await t.call("write", path="a.txt", content="lost\n")
    assert "has not been read yet" in record.error and target.read_text() == "keep\n"


async def test_require_read_can_be_switched_off(work):
    target = work / "a.txt"
    target.write_text("old\n")
    async with drive(work, [{"name": "write", "require_read": False}]) as t:
        record = await t.call("write", path="a.txt", content="new\n")
    assert record.status == "ok" and target.read_text() == "new\n"


async def test_a_partial_read_counts_and_own_writes_refresh_the_record(work):
    target = work / "a.txt"
    target.write_text("a\nb\nc\n")
    async with drive(work, NO_MANUAL) as t:
        await t.call("read", path="a.txt", limit=1)
        assert (await t.call("edit", path="a.txt", old="a\n", new="A\n")).status == "ok"
        assert (await t.call("edit", path="a.txt", old="b\n", new="B\n")).status == "ok"
        assert (await t.call("write", path="a.txt", content="done\n")).status == "ok"
    assert target.read_text() == "done\n"


async def test_edit_errors(work):
    (work / "a.txt").write_text("text\n")
    (work / "bin.dat").write_bytes(b"\x00\x01")
    async with drive(work, NO_MANUAL) as t:
        await t.call("read", path="a.txt")
        neither = await t.call("edit", path="a.txt")
        not_found = await t.call("edit", path="a.txt", old="zzz", new="y")
        empty_old = await t.call("edit", path="a.txt", old="", new="y")
        no_file = await t.call("edit", path="none.txt", old="a", new="b")
        same = await t.call("edit", path="a.txt", old="text", new="text")
        bad_diff = await t.call("edit", path="a.txt", diff="just words")
    assert "either old" in neither.error
    assert "not found" in not_found.error and "whitespace" in not_found.error
    assert "must not be empty" in empty_old.error
    assert "File not found" in no_file.error
    assert same.status == "ok" and "No changes made" in same.output
    assert "Invalid diff format" in bad_diff.error


async def test_edit_accepts_old_text_new_text_and_keeps_crlf(work):
    target = work / "w.txt"
    target.write_bytes(b"one\r\ntwo\r\n")
    async with drive(work, NO_MANUAL) as t:
        await t.call("read", path="w.txt")
        record = await t.call("edit", path="w.txt", old_text="one\ntwo", new_text="1\n2")
    assert record.status == "ok"
    assert target.read_bytes() == b"1\r\n2\r\n"


async def test_edit_diff_with_several_hunks_applies_bottom_up(work):
    target = work / "a.txt"
    target.write_text("a\nb\nc\nd\ne\n")
    diff = "@@ -1,2 +1,2 @@\n a\n-b\n+B\n@@ -4,2 +4,3 @@\n d\n-e\n+E\n+f\n"
    async with drive(work, NO_MANUAL) as t:
        await t.call("read", path="a.txt")
        record = await t.call("edit", path="a.txt", diff=diff)
    assert "2 hunk(s) applied  +3 -2 lines" in record.output
    assert target.read_text() == "a\nB\nc\nd\nE\nf\n"


async def test_multi_edit_validation(work):
    (work / "a.txt").write_text("x\n")
    async with drive(work, NO_MANUAL) as t:
        await t.call("read", path="a.txt")
        both = await t.call(
            "multi_edit",
            path="a.txt",
            edits=[{"old": "x", "new": "y"}],
            strict=True,
            best_effort=True,
        )
        empty = await t.call("multi_edit", path="a.txt", edits=[])
        no_old = await t.call("multi_edit", path="a.txt", edits=[{"old": "", "new": "y"}])
        missing_field = await t.call("multi_edit", path="a.txt", edits=[{"new": "y"}])
    assert "cannot both be true" in both.error
    assert "edits is empty" in empty.error
    assert "edit[0]" in no_old.error
    assert missing_field.status == "error" and "edits[0]" in missing_field.error


async def test_multi_edit_sequential_edits_see_each_other(work):
    target = work / "a.txt"
    target.write_text("v1\n")
    edits = [{"old": "v1", "new": "v2"}, {"old": "v2", "new": "v3"}]
    async with drive(work, NO_MANUAL) as t:
        await t.call("read", path="a.txt")
        record = await t.call("multi_edit", path="a.txt", edits=edits)
    assert record.status == "ok" and target.read_text() == "v3\n"
