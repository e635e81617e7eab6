"""skill_manage: the model creates, views and patches skills that the skill tool then loads."""

from __future__ import annotations

import kt
import kt_skills
from kt.testing import ScriptedLLM, ToolCall


async def run(tmp_path, calls):
    config = {"name": "s", "tools": [{"name": "skill"}, {"name": "skill_manage"}]}
    llm = ScriptedLLM([*calls, "done"])
    async with await kt.Agent.build(
        config, llm=llm, kernel=kt.Kernel(plugins=[kt_skills]), pwd=tmp_path
    ) as agent:
        result = await agent.run("go")
    return result.tool_calls


async def test_create_then_load_view_patch_and_list(tmp_path, monkeypatch):
    monkeypatch.setenv("KT_HOME", str(tmp_path / "home"))
    records = await run(
        tmp_path,
        [
            ToolCall(
                "skill_manage",
                {
                    "action": "create",
                    "name": "release-notes",
                    "description": 'Write "release notes" from git log.',
                    "body": "1. Run git log.\n2. Group by type.",
                },
            ),
            ToolCall("skill", {"name": "release-notes"}),
            ToolCall(
                "skill_manage",
                {
                    "action": "patch",
                    "name": "release-notes",
                    "old": "Group by type.",
                    "new": "Group by scope.",
                },
            ),
            ToolCall("skill_manage", {"action": "view", "name": "release-notes"}),
            ToolCall("skill_manage", {"action": "list"}),
        ],
    )
    created, loaded, patched, viewed, listed = records
    path = tmp_path / ".kt" / "skills" / "release-notes" / "SKILL.md"
    assert created.status == "ok" and str(path) in created.output
    assert "Group by type." in loaded.output
    assert patched.status == "ok"
    assert (
        "Group by scope." in viewed.output
        and 'description: "Write \\"release notes\\"' in viewed.output
    )
    assert 'release-notes (project): Write "release notes" from git log.' in listed.output
    skill = kt_skills.load_skill(path, origin="project")
    assert skill.name == "release-notes" and skill.description.startswith("Write")


async def test_bad_names_duplicates_and_ambiguous_patches_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KT_HOME", str(tmp_path / "home"))
    create = {"action": "create", "name": "x", "description": "d", "body": "b b b"}
    records = await run(
        tmp_path,
        [
            ToolCall("skill_manage", {**create, "name": "Bad Name"}),
            ToolCall("skill_manage", create),
            ToolCall("skill_manage", create),
            ToolCall("skill_manage", {"action": "patch", "name": "x", "old": "b", "new": "c"}),
        ],
    )
    assert "not a skill name" in records[0].error
    assert records[1].status == "ok"
    assert "exists already" in records[2].error
    assert "occurs 3 times" in records[3].error


async def test_the_nudge_asks_after_n_user_turns_without_a_saved_skill(tmp_path, monkeypatch):
    monkeypatch.setenv("KT_HOME", str(tmp_path / "home"))
    from kt.events import TurnStarted
    from kt.testing import EventRecorder

    recorder = EventRecorder()
    config = {
        "name": "n",
        "tools": [{"name": "skill_manage"}],
        "triggers": [{"type": "skill_nudge", "every_turns": 2}],
    }
    create = {"action": "create", "name": "s", "description": "d", "body": "b"}
    llm = ScriptedLLM(
        ["one", ToolCall("skill_manage", create), "saved", "three", "four", "nothing to save"]
    )
    async with await kt.Agent.build(
        config, llm=llm, kernel=kt.Kernel(plugins=[kt_skills, recorder]), pwd=tmp_path
    ) as agent:
        with agent.subscribe() as events:
            for text in ("a", "b", "c", "d"):  # b saves a skill: the count starts again
                await agent.run(text)
            nudged = False
            async for event in events:  # wait for the nudge's turn to end
                nudged = nudged or (isinstance(event, TurnStarted) and event.source != "user")
                if nudged and event.type == "turn_completed":
                    break
    sources = [e.source for e in recorder.of_type(TurnStarted)]
    assert sources == ["user", "user", "user", "user", "skill_nudge"]
