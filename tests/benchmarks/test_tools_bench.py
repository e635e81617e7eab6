"""Built-in tool performance (kt_tools): search, large-file reads, shell overhead.

Run with ``python -m pytest tests/benchmarks -m benchmark -s -k tools``. Each test prints its
numbers and checks a budget from the built-in tools issue:

* ``grep`` and ``glob`` over a tree of 50,000 files, through a real agent, against GNU
  ``grep -rn`` and ``find`` doing the same search (best of 3 each; ratios printed);
* ``read`` of a 50 MB file at an offset in the middle: fast, and without loading the file
  (peak traced memory far below the file size);
* ``bash`` round trip (model call → tool → result) over a bare ``subprocess.run`` of the same
  command.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
import tracemalloc
from pathlib import Path

import pytest

import kt
from kt.testing import ScriptedLLM, ToolCall

kt_tools = pytest.importorskip("kt_tools")

pytestmark = pytest.mark.benchmark

FILES = 50_000
NEEDLE = "NEEDLE_TOKEN"


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """50,000 small source-like files in 1,000 folders; every 997th file holds the needle."""
    root = tmp_path_factory.mktemp("tree")
    rng = random.Random(7)
    words = "alpha beta gamma delta import return class def self value items total".split()
    lines = [" ".join(rng.choices(words, k=8)) for _ in range(200)]
    for i in range(FILES):
        folder = root / f"pkg{i % 50}" / f"mod{(i // 50) % 20}"
        if i < 1000:
            folder.mkdir(parents=True, exist_ok=True)
        body = lines[i % 170 : i % 170 + 30]
        if i % 997 == 0:
            body = [*body[:5], body[5] + " " + NEEDLE, *body[6:]]
        (folder / f"f{i}{'.txt' if i % 3 == 0 else '.py'}").write_text("\n".join(body) + "\n")
    return root


def best_of(n, fn):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return min(times), value


async def timed_calls(working_dir: Path, calls: list[ToolCall]):
    """Run each call as one turn of a real agent; return (seconds per turn, records)."""
    queue = list(calls)

    def reply(request):
        return "done" if request.messages[-1].role == "tool" else queue.pop(0)

    kernel = kt.Kernel(plugins=[kt_tools])
    config = {
        "name": "bench",
        "tools": [{"name": c.name} for c in {c.name: c for c in calls}.values()],
    }
    times, records = [], []
    async with await kt.Agent.build(
        config, llm=ScriptedLLM([reply]), kernel=kernel, pwd=working_dir
    ) as agent:
        for _ in calls:
            t0 = time.perf_counter()
            result = await agent.run("go")
            times.append(time.perf_counter() - t0)
            records.append(result.tool_calls[0])
    return times, records


@pytest.mark.skipif(shutil.which("grep") is None, reason="GNU grep not installed")
async def test_grep_over_50k_files_vs_gnu_grep(tree):
    gnu, out = best_of(
        3, lambda: subprocess.run(["grep", "-rn", NEEDLE, "."], cwd=tree, capture_output=True)
    )
    calls = [ToolCall("grep", {"pattern": NEEDLE, "limit": 0}) for _ in range(3)]
    times, records = await timed_calls(tree, calls)
    ours = min(times)
    expected = len(out.stdout.splitlines())
    assert records[0].metadata["matches"] == expected and records[0].metadata["searched"] == FILES
    print(
        f"\ngrep {FILES} files: kt grep tool {ours * 1000:.0f} ms, GNU grep -rn "
        f"{gnu * 1000:.0f} ms, ratio {ours / gnu:.1f}x ({expected} matches)"
    )
    assert ours / gnu < 10


@pytest.mark.skipif(shutil.which("find") is None, reason="find not installed")
async def test_glob_over_50k_files_vs_find(tree):
    find, out = best_of(
        3, lambda: subprocess.run(["find", ".", "-name", "*.py"], cwd=tree, capture_output=True)
    )
    find_sorted, _ = best_of(
        3,
        lambda: subprocess.run(
            "find . -name '*.py' -printf '%T@ %p\\n' | sort -rn",
            shell=True,
            cwd=tree,
            capture_output=True,
        ),
    )
    calls = [ToolCall("glob", {"pattern": "**/*.py", "limit": 0}) for _ in range(3)]
    times, records = await timed_calls(tree, calls)
    ours = min(times)
    expected = len(out.stdout.splitlines())
    assert records[0].metadata["count"] == expected
    print(
        f"\nglob {FILES} files ({expected} matches, sorted newest first): kt glob tool "
        f"{ours * 1000:.0f} ms; find -name {find * 1000:.0f} ms (ratio {ours / find:.1f}x); "
        f"find -printf mtime | sort {find_sorted * 1000:.0f} ms (ratio {ours / find_sorted:.1f}x)"
    )
    assert ours / find < 20


async def test_read_of_a_50mb_file_at_an_offset(tmp_path):
    big = tmp_path / "big.log"
    line = "x" * 90 + "\n"
    with open(big, "w") as f:
        for i in range(50_000_000 // 100):
            f.write(f"{i:08d} {line}")
    size = big.stat().st_size
    tracemalloc.start()
    try:
        times, records = await timed_calls(
            tmp_path, [ToolCall("read", {"path": "big.log", "offset": 250_000, "limit": 100})] * 3
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    record = records[0]
    assert record.output.startswith("250001→00250000")
    assert record.metadata["lines"] == 500_000
    print(
        f"\nread {size / 1e6:.0f} MB file, 100 lines at line 250,000: {min(times) * 1000:.0f} ms "
        f"(counting every line for the footer); peak traced memory {peak / 1e6:.1f} MB"
    )
    assert peak < size / 10  # never loaded whole
    assert min(times) < 2.0


async def test_bash_round_trip_overhead_over_a_bare_subprocess(tmp_path):
    runs = 20
    bare, _ = best_of(
        runs, lambda: subprocess.run(["bash", "-c", "true"], capture_output=True, cwd=tmp_path)
    )
    times, records = await timed_calls(tmp_path, [ToolCall("bash", {"command": "true"})] * runs)
    assert {r.status for r in records} == {"ok"}
    ours = sorted(times)[len(times) // 2]
    fastest = min(times)
    print(
        f"\nbash round trip (model call, tool, result, model call): median {ours * 1000:.1f} ms, "
        f"best {fastest * 1000:.1f} ms; bare subprocess.run {bare * 1000:.1f} ms; overhead "
        f"{(fastest - bare) * 1000:.1f} ms (best vs best)"
    )
    assert fastest - bare < 0.015
