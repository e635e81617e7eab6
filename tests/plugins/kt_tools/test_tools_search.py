"""glob, grep and tree over real trees: ignore rules, limits, footers and errors."""

from __future__ import annotations

import os

import pytest
from kt_tools_helpers import drive

from kt_tools.walk import Walker, compile_glob, is_ignored, parse_gitignore

SEARCH = ["glob", "grep", "tree"]


def make(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


async def test_scenario_12_glob_and_grep(work):
    make(
        work,
        {
            "node_modules/x.py": "TODO",
            ".gitignore": "build/\n",
            "src/a.py": "# TODO one\n# TODO two\n",
            "build/b.py": "# TODO three\n",
        },
    )
    async with drive(work, SEARCH) as t:
        globbed = await t.call("glob", pattern="**/*.py")
        grepped = await t.call("grep", pattern="TODO", limit=1)
    assert globbed.output == "src/a.py"
    first, *rest = grepped.output.splitlines()
    assert first == "src/a.py:1: # TODO one"
    assert "more may exist" in grepped.output


async def test_glob_orders_newest_first_and_reports_limits(work):
    make(work, {f"f{i}.txt": "" for i in range(5)})
    for i in range(5):
        os.utime(work / f"f{i}.txt", (1000 + i, 1000 + i))
    async with drive(work, SEARCH) as t:
        everything = await t.call("glob", pattern="*.txt")
        limited = await t.call("glob", pattern="*.txt", limit=2)
        none = await t.call("glob", pattern="*.md")
        missing = await t.call("glob", pattern="*", path="nope")
        negative = await t.call("glob", pattern="*", limit=-1)
    assert everything.output.splitlines() == [f"f{i}.txt" for i in (4, 3, 2, 1, 0)]
    assert limited.output.splitlines()[:2] == ["f4.txt", "f3.txt"]
    assert "(5 total, showing 2)" in limited.output
    assert none.output == "(no matches)"
    assert "Path not found" in missing.error
    assert negative.status == "error"


async def test_glob_patterns_prefixes_braces_hidden_and_depth(work):
    make(
        work,
        {
            "src/pkg/a.py": "",
            "src/b.md": "",
            "docs/c.md": "",
            ".hidden/d.py": "",
            "top.py": "",
            "deep/er/still/e.py": "",
        },
    )
    async with drive(work, SEARCH) as t:
        prefixed = await t.call("glob", pattern="src/**/*.py")
        braces = await t.call("glob", pattern="**/*.{md,py}")
        top_only = await t.call("glob", pattern="*.py")
        hidden = await t.call("glob", pattern="**/*.py", hidden=True)
        explicit_dot = await t.call("glob", pattern=".hidden/*.py")
        one_level = await t.call("glob", pattern="*/*.md")
    assert prefixed.output.splitlines() == ["src/pkg/a.py"]
    assert sorted(braces.output.splitlines()) == [
        "deep/er/still/e.py",
        "docs/c.md",
        "src/b.md",
        "src/pkg/a.py",
        "top.py",
    ]
    assert top_only.output.splitlines() == ["top.py"]
    assert ".hidden/d.py" in hidden.output.splitlines()
    assert explicit_dot.output.splitlines() == [".hidden/d.py"]
    assert sorted(one_level.output.splitlines()) == ["docs/c.md", "src/b.md"]


async def test_gitignore_rules_nested_anchored_and_negated(work):
    make(
        work,
        {
            ".gitignore": "*.log\n/out\n!keep.log\n",
            "a.log": "",
            "keep.log": "",
            "out/x.txt": "",
            "sub/out/y.txt": "",
            "sub/.gitignore": "secret.txt\n",
            "sub/secret.txt": "",
            "sub/public.txt": "",
            "other/secret.txt": "",
        },
    )
    async with drive(work, SEARCH) as t:
        record = await t.call("glob", pattern="**/*")
        unfiltered = await t.call("glob", pattern="**/*.log", gitignore=False)
    found = {line.rstrip("/") for line in record.output.splitlines()}
    assert "keep.log" in found and "a.log" not in found
    assert "out" not in found and "sub/out/y.txt" in found  # /out is anchored to the root
    assert "sub/secret.txt" not in found and "other/secret.txt" in found
    assert "sub/public.txt" in found
    assert sorted(unfiltered.output.splitlines()) == ["a.log", "keep.log"]


def test_glob_regex_translation():
    assert compile_glob("**/*.py").match("a/b/c.py")
    assert compile_glob("**/*.py").match("c.py")
    assert not compile_glob("*.py").match("a/c.py")
    assert compile_glob("a/**").match("a/b/c")
    assert compile_glob("f?.[ch]").match("f1.c")
    assert not compile_glob("f[!0-9].c").match("f1.c")


def test_gitignore_parsing_directory_only_rules():
    rules = parse_gitignore("build/\n# comment\n\n", "")
    assert is_ignored(rules, "build", "build", True)
    assert not is_ignored(rules, "build", "build", False)


def test_walker_can_stop_early(tmp_path):
    make(tmp_path, {f"d{i}/f.txt": "" for i in range(20)})
    seen = []
    walker = Walker(tmp_path, should_stop=lambda: len(seen) >= 3)
    for found in walker.files():
        seen.append(found.rel)
    assert len(seen) < 20


async def test_grep_options_and_errors(work):
    make(
        work,
        {
            "a.py": "Hello\nhello\nworld\n",
            "b.txt": "hello text\n",
            "sub/c.py": "say hello\n",
            "image.png": "hello",
        },
    )
    (work / "raw.bin").write_bytes(b"hello\x00\x01")
    async with drive(work, SEARCH) as t:
        plain = await t.call("grep", pattern="hello")
        folded = await t.call("grep", pattern="^hello$", ignore_case=True, glob="*.py")
        by_path = await t.call("grep", pattern="hello", glob="sub/*.py")
        one_file = await t.call("grep", pattern="world", path="a.py")
        nothing = await t.call("grep", pattern="absent")
        bad = await t.call("grep", pattern="(unclosed")
        missing = await t.call("grep", pattern="x", path="nope")
    assert plain.output.splitlines()[:3] == [
        "a.py:2: hello",
        "b.txt:1: hello text",
        "sub/c.py:1: say hello",
    ]
    assert "raw.bin" not in plain.output and "image.png" not in plain.output
    assert "(3 matches in 3 files" in plain.output
    assert folded.output.splitlines()[:2] == ["a.py:1: Hello", "a.py:2: hello"]
    assert by_path.output.splitlines()[0] == "sub/c.py:1: say hello"
    assert one_file.output.splitlines()[0] == "a.py:3: world"
    assert nothing.status == "ok" and nothing.output.startswith("(no matches;")
    assert bad.status == "error" and bad.error.startswith("Invalid regex:")
    assert "Path not found" in missing.error


async def test_grep_skips_ignored_and_noise_folders_unless_asked(work):
    make(work, {"node_modules/lib.js": "needle\n", "src/app.js": "needle\n", ".env": "needle\n"})
    async with drive(work, SEARCH) as t:
        default = await t.call("grep", pattern="needle")
        everything = await t.call("grep", pattern="needle", gitignore=False, hidden=True)
    assert default.output.splitlines()[0] == "src/app.js:1: needle"
    assert "(1 matches" in default.output
    assert {line.split(":")[0] for line in everything.output.splitlines() if ":" in line} >= {
        "node_modules/lib.js",
        "src/app.js",
        ".env",
    }


async def test_grep_cuts_long_lines(work):
    make(work, {"long.txt": "needle " + "z" * 3000 + "\n"})
    async with drive(work, SEARCH) as t:
        record = await t.call("grep", pattern="needle")
    assert "(line truncated, 3007 chars)" in record.output


async def test_tree_layout_summaries_limits_and_ignored(work):
    make(
        work,
        {
            ".gitignore": "dist/\n",
            "dist/out.js": "",
            "B.txt": "",
            "a.txt": "",
            "docs/guide.md": "---\ntitle: The guide\nprotected: true\n---\nbody\n",
            "docs/notes.md": "no front matter\n",
            "docs/deeper/deepest/x.txt": "",
        },
    )
    async with drive(work, SEARCH) as t:
        full = await t.call("tree")
        shallow = await t.call("tree", depth=1)
        limited = await t.call("tree", limit=2)
        not_dir = await t.call("tree", path="a.txt")
    assert full.output.splitlines() == [
        "work/",
        "├── docs/",
        "│   ├── deeper/",
        "│   │   └── deepest/",  # depth 3: x.txt inside is not shown
        "│   ├── guide.md - The guide [protected]",
        "│   └── notes.md",
        "├── a.txt",
        "└── B.txt",
        "(1 entries hidden by .gitignore, e.g. dist/; pass gitignore=false to show them)",
    ]
    assert "deeper" not in shallow.output and "docs/" in shallow.output
    assert "stopped at 2 lines" in limited.output
    assert "Not a directory" in not_dir.error


@pytest.mark.parametrize("tool", ["glob", "grep", "tree"])
async def test_search_tools_respect_the_path_guard(work, tmp_path, tool):
    (tmp_path / "elsewhere").mkdir()
    args = {"pattern": "x"} if tool != "tree" else {}
    async with drive(work, [{"name": tool, "path_guard": "block"}]) as t:
        record = await t.call(tool, path=str(tmp_path / "elsewhere"), **args)
    assert "outside the working directory" in record.error
