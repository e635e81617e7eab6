"""The Python examples of the Studio and web API pages run, or are at least Python."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "docs" / "concepts" / "studio.md", REPO / "docs" / "guides" / "web-api.md"]
FENCE = re.compile(r"^```python( fragment)?\n(.*?)^```$", re.S | re.M)


def blocks(fragment: bool) -> list[tuple[str, str]]:
    return [
        (f"{doc.name}:{doc.read_text()[: m.start()].count(chr(10)) + 1}", m.group(2))
        for doc in DOCS
        for m in FENCE.finditer(doc.read_text(encoding="utf-8"))
        if bool(m.group(1)) == fragment
    ]


@pytest.mark.parametrize(("where", "code"), blocks(False))
def test_a_runnable_example_prints_what_it_says(where, code, tmp_path):
    env = {**os.environ, "KT_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{where}\n{done.stderr}"
    expected = [
        line.split("  # ", 1)[1].strip()
        for line in code.splitlines()
        if line.lstrip().startswith("print(") and "  # " in line
    ]
    for line in expected:
        assert line in done.stdout.splitlines(), f"{where}: {line!r} not in {done.stdout!r}"


@pytest.mark.parametrize(("where", "code"), blocks(True))
def test_a_fragment_is_python(where, code):
    ast.parse(code)
