"""No file tool leaves the working directory: the escape corpus, links in walks, and races."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
import trio
from escape_corpus import CONTENT, run_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kt_tools_helpers import drive

from kt_tools.nofollow import PathChanged, open_file, read_file_bytes

FILE_TOOLS_BLOCKED = [
    {"name": n, "options": {"path_guard": "block", "require_read": False}}
    for n in ("read", "write", "grep", "glob", "tree")
]


async def test_the_escape_corpus_finds_no_way_out(tmp_path, capsys):
    tally = await run_corpus(tmp_path)
    with capsys.disabled():
        print(f"\nescape corpus: {tally.attempts} attempts, {len(tally.escapes)} escapes")
    assert tally.attempts > 200
    assert tally.escapes == []


async def test_a_walk_shows_nothing_behind_a_link_to_etc(work):
    """The report's case: grep '^root:' with a link etc_link -> /etc in the working dir."""
    (work / "etc_link").symlink_to("/etc")
    (work / "notes.txt").write_text("root: the top\n")
    async with drive(work, FILE_TOOLS_BLOCKED) as tools:
        grep = await tools.call("grep", pattern="^root:", path=".")
        glob = await tools.call("glob", pattern="../*")
        tree = await tools.call("tree", path=".")
        direct = await tools.call("grep", pattern="^root:", path="etc_link")
    assert grep.output.splitlines()[0] == "notes.txt:1: root: the top"
    assert "passwd" not in grep.output and "shadow" not in grep.output
    assert glob.status == "error" and "outside the working directory" in glob.error
    assert "passwd" not in tree.output
    assert direct.status == "error" and "outside the working directory" in direct.error


async def test_links_that_stay_inside_are_still_followed_to_files(work):
    (work / "docs").mkdir()
    (work / "docs" / "a.md").write_text("needle\n")
    (work / "shortcut.md").symlink_to("docs/a.md")
    (work / "docs_again").symlink_to("docs")  # a link to a folder: not walked into
    async with drive(work, FILE_TOOLS_BLOCKED) as tools:
        grep = await tools.call("grep", pattern="needle")
        read = await tools.call("read", path="shortcut.md")
    assert "docs/a.md:1: needle" in grep.output and "shortcut.md:1: needle" in grep.output
    assert "docs_again" not in grep.output
    assert "needle" in read.output


def _swap_forever(
    work: Path, outside: Path, stop: threading.Event, swapped: threading.Event, swaps: list[int]
) -> None:
    """Swap work/sub between a real folder and a link to *outside*, as fast as possible."""
    sub, held = work / "sub", work / ".held"
    while not stop.is_set():
        os.rename(sub, held)
        while True:
            try:
                os.symlink(outside, sub)
                break
            except FileExistsError:  # a write made the missing folder: remove it
                shutil.rmtree(sub, ignore_errors=True)
        os.unlink(sub)
        while True:
            try:
                os.rename(held, sub)
                break
            except OSError:  # a write made the missing folder meanwhile: put the real one back
                shutil.rmtree(sub, ignore_errors=True)
        swaps[0] += 1
        swapped.set()


async def run_race(root: Path, rounds: int) -> dict[str, int]:
    """Read and write through a folder that is swapped for a link to outside meanwhile."""
    work, outside = root / "work", root / "outside"
    (work / "sub").mkdir(parents=True)
    outside.mkdir()
    (work / "sub" / "file.txt").write_text("inside\n")
    (outside / "file.txt").write_text(f"{CONTENT}\n")
    tools = [
        {"name": "read", "options": {"path_guard": "block"}},
        {"name": "write", "options": {"path_guard": "block", "require_read": False}},
    ]
    counts = {"reads": 0, "writes": 0, "reads_outside": 0, "writes_outside": 0, "refused": 0}
    stop, swapped = threading.Event(), threading.Event()
    swaps = [0]
    swapper = threading.Thread(
        target=_swap_forever, args=(work, outside, stop, swapped, swaps), daemon=True
    )
    async with drive(work, tools) as driver:
        swapper.start()
        try:
            for i in range(rounds):
                # At least one swap between rounds, however the scheduler shares the GIL.
                await trio.to_thread.run_sync(swapped.wait)
                swapped.clear()
                read = await driver.call("read", path="sub/file.txt")
                write = await driver.call("write", path=f"sub/new{i}.txt", content="x")
                counts["reads"] += 1
                counts["writes"] += 1
                counts["reads_outside"] += CONTENT in (read.output or "")
                counts["refused"] += (read.status == "error") + (write.status == "error")
        finally:
            stop.set()
            swapper.join()
    counts["writes_outside"] = len(list(outside.glob("new*.txt")))
    counts["swaps"] = swaps[0]
    assert swapper.is_alive() is False and swaps[0] >= rounds  # the race really ran
    return counts


async def test_a_folder_swapped_for_a_link_mid_call_leads_nowhere(tmp_path, capsys):
    """The check-then-open race: every open goes through descriptors, following no link."""
    counts = await run_race(tmp_path, rounds=60)
    with capsys.disabled():
        print(f"\nrace: {counts}")
    assert counts["reads_outside"] == 0
    assert counts["writes_outside"] == 0


@pytest.mark.benchmark
async def test_race_at_scale(tmp_path, capsys):
    counts = await run_race(tmp_path, rounds=400)
    with capsys.disabled():
        print(f"\nrace (400 rounds): {counts}")
    assert counts["reads_outside"] == 0 and counts["writes_outside"] == 0


def test_open_file_refuses_a_link_anywhere_on_the_path(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.txt").write_text("ok")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "flink").symlink_to(tmp_path / "real" / "f.txt")
    assert read_file_bytes(tmp_path / "real" / "f.txt") == b"ok"
    with pytest.raises(PathChanged):
        read_file_bytes(tmp_path / "link" / "f.txt")
    with pytest.raises(PathChanged):
        read_file_bytes(tmp_path / "flink")
    with pytest.raises(PathChanged):  # creating through a dangling link is refused too
        (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
        open_file(tmp_path / "dangling", "wb")
    assert not (tmp_path / "nowhere").exists()
    with open_file(tmp_path / "new" / "deeper" / "g.txt", "wb", make_parents=True) as f:
        f.write(b"made")
    assert (tmp_path / "new" / "deeper" / "g.txt").read_bytes() == b"made"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(["..", ".", "a", "link", "sub", "outside", "", "x" * 130, "\0"]),
        min_size=1,
        max_size=8,
    ),
    st.booleans(),
)
def test_any_path_the_guard_admits_lies_inside(tmp_path_factory, parts, absolute):
    """Property: in block mode, whatever path a model writes, what is read lies inside."""
    import trio

    root = tmp_path_factory.mktemp("prop")
    work, outside = root / "work", root / "outside"
    (work / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "a").write_text(CONTENT)
    (work / "a").write_text("inside")
    (work / "link").symlink_to(outside)
    raw = "/".join(parts)
    if absolute:
        raw = f"{work}/{raw}"

    async def main():
        tools = [{"name": "read", "options": {"path_guard": "block"}}]
        async with drive(work, tools) as driver:
            return await driver.call("read", path=raw or ".")

    record = trio.run(main)
    assert CONTENT not in (record.output or "") + (record.error or "")


async def test_info_looks_names_up_never_paths(tmp_path):
    work, outside = tmp_path / "work", tmp_path / "outside"
    (work / "prompts" / "tools").mkdir(parents=True)
    outside.mkdir()
    (outside / "notes.md").write_text(CONTENT)
    async with drive(work, ["info", "read"]) as tools:
        record = await tools.call("info", name="../../../outside/notes")
    assert record.status == "error" and CONTENT not in record.error
