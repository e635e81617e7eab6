"""The Laboratory's docs: runnable examples run and print what they say; fragments are Python."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCS = [
    REPO / "docs" / "guides" / "laboratory.md",
    REPO / "docs" / "concepts" / "laboratory.md",
    REPO / "docs" / "reference" / "laboratory.md",
]
FENCE = re.compile(r"^```python( fragment)?\n(.*?)^```$", re.S | re.M)


def blocks(fragment: bool) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if bool(match.group(1)) == fragment:
                found.append(
                    (f"{doc.name}:{text[: match.start()].count(chr(10)) + 1}", match.group(2))
                )
    return found


@pytest.mark.parametrize(("where", "code"), blocks(fragment=False))
def test_a_runnable_example_prints_what_it_says(where, code, tmp_path):
    env = {**os.environ, "KT_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{where}\n{done.stderr}"
    printed = done.stdout.splitlines()
    lines = code.splitlines()
    for number, line in enumerate(lines):  # `print(...)  # TEXT`, or TEXT alone on the next line
        if not line.startswith("print("):
            continue
        if "  # " in line:
            assert line.split("  # ", 1)[1] in printed, where
        elif number + 1 < len(lines) and lines[number + 1].startswith("# "):
            assert lines[number + 1][2:] in printed, where


@pytest.mark.parametrize(("where", "code"), blocks(fragment=True))
def test_a_fragment_is_python(where, code):
    compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
