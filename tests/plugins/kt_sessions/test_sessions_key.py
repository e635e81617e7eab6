"""``session_key``: creatures built with one kernel and the same key share one session file."""

from __future__ import annotations

import kt
from kt.testing import ScriptedLLM


async def test_creatures_with_one_session_key_record_into_one_file(tmp_path):
    kernel = kt.Kernel(plugins=["kt_sessions"])

    async def build(name):
        config = {"name": name, "session_key": "team"}
        return await kt.Agent.build(
            config,
            llm=ScriptedLLM([f"{name} here"]),
            kernel=kernel,
            session=True,
            session_dir=tmp_path,
        )

    writer, reviewer = await build("writer"), await build("reviewer")
    async with writer, reviewer:
        await writer.run("draft")
        await reviewer.run("review")
    assert writer.session.path == reviewer.session.path
    assert list(tmp_path.glob("*.ktsession")) == [writer.session.path]
    reader = kt.SessionReader(writer.session.path, kernel=kernel)
    assert {turn.creature for turn in reader.turns()} == {"writer", "reviewer"}


async def test_without_a_key_each_creature_has_its_own_file(tmp_path):
    kernel = kt.Kernel(plugins=["kt_sessions"])
    agents = [
        await kt.Agent.build(
            {"name": name},
            llm=ScriptedLLM(["ok"]),
            kernel=kernel,
            session=True,
            session_dir=tmp_path,
        )
        for name in ("a", "b")
    ]
    for agent in agents:
        async with agent:
            await agent.run("hi")
    assert len(list(tmp_path.glob("*.ktsession"))) == 2
