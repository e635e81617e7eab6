"""The batch examples (trio and asyncio): sixty creatures, sixty folders, sixty session files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("peewee", reason="the batch examples record sessions (the sessions extra)")


@pytest.mark.parametrize("script", ["batch.py", "aio/batch.py"])
def test_sixty_creatures_each_with_a_session_read_back(script, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KT_PLUGINS"}
    env["KT_HOME"] = str(tmp_path / "home")
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:60] == [f"job-{n:02d} completed: A poem for job-{n:02d}." for n in range(60)]
    root = Path(re.fullmatch(r"60 sessions under (.+)", lines[60]).group(1))
    assert sorted(p.parent.name for p in root.glob("job-*/session.ktsession")) == [
        f"job-{n:02d}" for n in range(60)
    ]
