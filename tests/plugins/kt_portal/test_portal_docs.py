"""The Python blocks of the synchronous-callers guide run as written and print what they say.

Same rules as the terrarium docs: a ```` ```python ```` block runs in a fresh interpreter from
the repository root (fragments are parsed by ``tests/docs``); a ``print(...)`` line ending
in ``# TEXT`` expects ``TEXT`` as a line of output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
GUIDE = REPO / "docs" / "guides" / "sync-callers.md"
FENCE = re.compile(r"^```python( fragment)?\n(.*?)^```$", re.S | re.M)


def blocks(fragment: bool) -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return [m.group(2) for m in FENCE.finditer(text) if bool(m.group(1)) == fragment]


@pytest.mark.parametrize("code", blocks(fragment=False))
def test_each_block_runs_and_prints_what_it_says(code, tmp_path):
    if "from flask" in code:
        pytest.importorskip("flask")
    env = {k: v for k, v in os.environ.items() if k != "KT_PLUGINS"}
    env["KT_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    expected = [
        line.split("  # ", 1)[1].strip()
        for line in code.splitlines()
        if "  # " in line and line.lstrip().startswith("print(")
    ]
    for line in expected:
        assert line in done.stdout.splitlines(), (line, done.stdout)
