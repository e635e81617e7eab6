"""The Python examples of the terrarium docs run as written, and print what their comments say.

A block fenced ```` ```python ```` runs in a fresh interpreter from the repository's root; a
block fenced ```` ```python fragment ```` is part of a larger program and is only checked to
be Python. A ``print(...)`` or ``trio.run(...)`` line ending in ``# TEXT`` expects ``TEXT`` as
a line of output.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCS = [REPO / "docs" / "reference" / "terrarium.md", REPO / "docs" / "concepts" / "terrariums.md"]
FENCE = re.compile(r"^```python( fragment)?\n(.*?)^```$", re.S | re.M)


def blocks(kind: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for match in FENCE.finditer(doc.read_text(encoding="utf-8")):
            if bool(match.group(1)) == (kind == "fragment"):
                line = doc.read_text(encoding="utf-8")[: match.start()].count("\n") + 1
                found.append((f"{doc.name}:{line}", match.group(2)))
    return found


def expected_lines(code: str) -> list[str]:
    return [
        line.split("  # ", 1)[1].strip()
        for line in code.splitlines()
        if "  # " in line and line.lstrip().startswith(("print(", "trio.run("))
    ]


@pytest.mark.parametrize(("where", "code"), blocks("run"), ids=lambda v: v if ":" in v else "")
def test_a_runnable_example_runs_and_prints_what_it_says(where, code, tmp_path):
    env = {**os.environ, "KT_HOME": str(tmp_path / "home")}
    env.pop("KT_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{where}\n{done.stderr}"
    printed = done.stdout.splitlines()
    for line in expected_lines(code):
        assert line in printed, f"{where}: expected {line!r}, printed {printed}"


@pytest.mark.parametrize(("where", "code"), blocks("fragment"), ids=lambda v: v if ":" in v else "")
def test_a_fragment_is_python(where, code):
    wrapped = "async def _():\n" + "".join(f"    {line}\n" for line in code.splitlines())
    ast.parse(wrapped, filename=where)


def test_the_docs_have_runnable_examples():
    assert len(blocks("run")) >= 3
