"""`/channels`: a team's channels seen from one of its creatures, and from `kt terrarium run`."""

from __future__ import annotations

from kt_cli_helpers import REPO, kt_env, run_kt

import kt
from kt.testing import ScriptedLLM
from kt_cli.interactive import InteractiveSession

SWE_TEAM = REPO / "examples" / "terrariums" / "swe_team"


async def test_channels_lists_what_a_team_creature_may_send_on_and_listens_to():
    from kt_terrarium import Terrarium

    async with Terrarium(kernel=kt.Kernel(plugins=[]), pwd=REPO) as engine:
        await engine.apply_recipe(SWE_TEAM)
        session = InteractiveSession(engine["reviewer"].agent)
        result = await session.run_command("/channels")
    lines = list(result.lines)
    assert lines[0] == "channels (> you may send on it, < you listen to it):"
    assert "  >  feedback (queue, 0 sent): Reviewer -> swe (revision requests)" in lines
    assert "      listeners swe · senders reviewer" in lines
    assert "  >< team_chat (broadcast, 0 sent): Team coordination and status" in lines
    assert "     tasks (queue, 0 sent): Incoming task assignments" in lines  # root's and swe's


async def test_channels_outside_a_team_says_there_are_none():
    agent = await kt.Agent.build(
        {"name": "solo"}, llm=ScriptedLLM([]), kernel=kt.Kernel(plugins=[])
    )
    async with agent:
        result = await InteractiveSession(agent).run_command("/channels")
    assert result.level == "info"
    assert result.lines == (
        "this creature is not part of a team, so it has no channels (kt terrarium run runs a team)",
    )


def test_kt_terrarium_run_answers_slash_channels_without_a_turn(isolated_kt):
    env = kt_env(isolated_kt, plugins="kt_terrarium")
    done = run_kt(
        ["terrarium", "run", SWE_TEAM, "--mode", "plain"],
        env=env,
        stdin="/channels\nWrite reverse(s) in Python\n/channels\n",
    )
    assert done.returncode == 0, done.stderr
    notices = [line for line in done.stderr.splitlines() if line.startswith("kt: ")]
    assert notices[0] == "kt: channels (> you may send on it, < you listen to it):"
    # root is privileged: it may send on every channel
    assert "kt:   >< results (queue, 0 sent): Final approved results (from the reviewer)" in notices
    assert "kt:       listeners root · senders reviewer" in notices
    # after the turn: the task and the approved result were counted
    assert "kt:   >< results (queue, 1 sent): Final approved results (from the reviewer)" in notices
    assert "kt:   >  tasks (queue, 1 sent): Incoming task assignments" in notices
    assert done.stdout.splitlines()[0] == (
        "I have asked swe to write it; the reviewer will check the draft."
    )
