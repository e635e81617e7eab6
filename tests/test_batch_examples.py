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
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:60] == [f"job-{n:02d} completed: A poem for job-{n:02d}." for n in range(60)]
    root = Path(re.fullmatch(r"60 sessions under (.+)", lines[60]).group(1))
    assert sorted(p.parent.name for p in root.glob("job-*/session.ktsession")) == [
        f"job-{n:02d}" for n in range(60)
    ]


def test_turns_read_back_with_the_seed_frameworks_names(tmp_path):
    import trio

    import kt
    from kt.testing import ScriptedLLM, ToolCall

    @kt.tool
    def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    async def record() -> None:
        llm = ScriptedLLM([ToolCall("shout", {"text": "hi"}), "HI, said loudly."])
        async with await kt.Agent.build(
            {"name": "r"},
            llm=llm,
            tools=[shout],
            session=tmp_path / "r.ktsession",
            kernel=kt.Kernel(plugins=["kt_sessions"]),
        ) as agent:
            await agent.run("shout hi")

    trio.run(record)
    [turn] = kt.SessionReader(
        tmp_path / "r.ktsession", kernel=kt.Kernel(plugins=["kt_sessions"])
    ).turns()
    assert (turn.user_text, turn.assistant_text) == ("shout hi", "HI, said loudly.")
    assert [(c.name, c.output) for c in turn.tool_calls] == [("shout", "HI")]
