"""Skills: discovery and precedence, the prompt index, the skill tool, /name, paths hints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kt
import kt_skills
from kt.events import AgentWarning, HistoryReplaced
from kt.plugins import new_plugin_manager
from kt.testing import EventRecorder, ScriptedLLM, ToolCall


def write_skill(
    root: Path, name: str, description: str = "", body: str = "", *, flat=False, **meta
):
    """Write ``root/name/SKILL.md`` (or ``root/name.md``) with front matter."""
    front = {"description": description, **{k.replace("_", "-"): v for k, v in meta.items()}}
    lines = ["---"] + [f"{k}: {json.dumps(v)}" for k, v in front.items() if v != ""] + ["---"]
    text = "\n".join(lines) + "\n" + (body or f"Instructions of {name}.") + "\n"
    path = root / f"{name}.md" if flat else root / name / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def places(tmp_path, monkeypatch):
    home = tmp_path / "kt-home"
    monkeypatch.setenv("KT_HOME", str(home))
    creature = tmp_path / "creature"
    creature.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    return home, creature, project


def creature_file(folder: Path, *, tools=("skill",), skills=(), budget=None) -> Path:
    lines = [
        'name = "helper"',
        f"tools = {json.dumps(list(tools))}",
        f"skills = {json.dumps(list(skills))}",
    ]
    if budget is not None:
        lines.append(f"skill_index_budget_bytes = {budget}")
    path = folder / "creature.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def build(config, project, llm, *, recorder=None):
    plugins = [kt_skills] + ([recorder] if recorder else [])
    return await kt.Agent.build(config, llm=llm, pwd=project, kernel=kt.Kernel(plugins=plugins))


def install_pack(home: Path, name: str, manifest: str | None = None) -> Path:
    pack = home / "packages" / name
    pack.mkdir(parents=True)
    if manifest is not None:
        (pack / "kt-pack.toml").write_text(manifest)
    return pack


def test_hooks_match_the_kernel_specs():
    pm = new_plugin_manager()
    pm.register(kt_skills, name="kt_skills")
    pm.check_pending()
    assert kt.Kernel(plugins=[kt_skills]).tools.origin("skill") == "kt_skills"


async def test_precedence_pack_creature_user_project(places):
    home, creature, project = places
    pack = install_pack(home, "tools-pack")
    for root, origin in [
        (pack / "skills", "pack"),
        (creature / "skills", "creature"),
        (home / "skills", "user"),
        (project / ".kt" / "skills", "project"),
    ]:
        write_skill(root, "shared", f"from the {origin}")
        write_skill(root, f"only-{origin}", f"{origin} skill")
    agent = await build(creature_file(creature, skills=["*"]), project, ScriptedLLM(["x"]))
    skills = kt_skills.skills_of(agent)
    assert list(skills) == [
        "only-creature",
        "only-pack",
        "only-project",
        "only-user",
        "shared",
    ]
    assert skills["shared"].description == "from the project"
    assert skills["shared"].origin == "project"
    assert skills["only-pack"].origin == "pack:tools-pack"


async def test_a_bundle_shadows_a_flat_file_and_broken_files_are_skipped(places):
    home, creature, project = places
    root = creature / "skills"
    write_skill(root, "lint", "flat one", flat=True)
    write_skill(root, "lint", "bundle one")
    (root / "broken.md").write_text("---\nname: [oops\n---\nbody")
    recorder = EventRecorder()
    async with await build(
        creature_file(creature), project, ScriptedLLM(["x"]), recorder=recorder
    ) as agent:
        pass
    assert kt_skills.skills_of(agent)["lint"].description == "bundle one"
    assert "broken" not in kt_skills.skills_of(agent)
    (warning,) = recorder.of_type(AgentWarning)
    assert warning.source == "kt_skills"
    assert "broken.md" in warning.message and "skill skipped" in warning.message


async def test_pack_skills_start_disabled_unless_the_creature_names_them(places):
    home, creature, project = places
    pack = install_pack(
        home,
        "acme",
        '[pack]\nname = "acme"\n[[skills]]\nname = "triage"\ndescription = "Sort tickets."\n'
        '[[skills]]\nname = "notes"\npath = "docs/notes.md"\n',
    )
    write_skill(pack / "skills", "triage", body="Triage steps.")  # no description: manifest's
    (pack / "docs").mkdir()
    (pack / "docs" / "notes.md").write_text("Notes body.")
    write_skill(home / "skills", "mine", "user skill")
    plain = await build(creature_file(creature), project, ScriptedLLM(["x"]))
    assert kt_skills.enabled_skills(plain) == ["mine"]
    assert set(kt_skills.skills_of(plain)) == {"mine", "notes", "triage"}
    assert kt_skills.skills_of(plain)["triage"].description == "Sort tickets."
    assert kt_skills.skills_of(plain)["notes"].body == "Notes body."
    named = await build(creature_file(creature, skills=["triage"]), project, ScriptedLLM(["x"]))
    assert kt_skills.enabled_skills(named) == ["mine", "triage"]


async def test_an_editable_pack_link_is_followed(places, tmp_path):
    home, creature, project = places
    source = tmp_path / "acme-src"
    write_skill(source / "skills", "linked", "from a link")
    (home / "packages").mkdir(parents=True)
    (home / "packages" / "acme.link").write_text(f"{source}\n")
    agent = await build(creature_file(creature, skills=["*"]), project, ScriptedLLM(["x"]))
    assert kt_skills.skills_of(agent)["linked"].origin == "pack:acme"


async def test_the_prompt_index_is_sorted_and_hides_model_invisible_skills(places):
    home, creature, project = places
    root = creature / "skills"
    write_skill(root, "zeta", "Last one.\nSecond line is not shown.")
    write_skill(root, "alpha", "First one.")
    write_skill(root, "secret", "Only for users.", disable_model_invocation=True)
    async with await build(creature_file(creature), project, ScriptedLLM(["x"])) as agent:
        prompt = agent.system_prompt
    index = prompt[prompt.index("## Skills") :]
    assert index.splitlines()[1:] == [
        "Skills are instructions for particular tasks. When one fits your task, call the "
        "`skill` tool with its name (and any arguments) before you begin, then follow what it says.",
        "- `alpha` — First one.",
        "- `zeta` — Last one.",
    ]
    async with await build(creature_file(creature), project, ScriptedLLM(["x"])) as again:
        assert again.system_prompt == prompt  # byte-identical on every build


async def test_the_index_keeps_to_its_budget_and_counts_the_rest(places):
    home, creature, project = places
    for i in range(30):
        write_skill(creature / "skills", f"skill-{i:02}", "x" * 60)
    async with await build(creature_file(creature, budget=600), project, ScriptedLLM(["x"])) as a:
        index = a.system_prompt[a.system_prompt.index("## Skills") :]
    listed = [line for line in index.splitlines() if line.startswith("- `")]
    assert 1 < len(listed) < 30
    assert len("\n".join(index.splitlines()[:-1]).encode()) <= 600
    assert (
        index.splitlines()[-1]
        == f"({30 - len(listed)} more skill(s) not listed for lack of space.)"
    )
    async with await build(creature_file(creature, budget=10), project, ScriptedLLM(["x"])) as b:
        assert "- `skill-00`" in b.system_prompt  # at least one entry, always
    async with await build(creature_file(creature, budget=0), project, ScriptedLLM(["x"])) as c:
        assert "## Skills" not in c.system_prompt


async def test_no_index_without_the_skill_tool(places):
    home, creature, project = places
    write_skill(creature / "skills", "alpha", "First one.")
    async with await build(creature_file(creature, tools=()), project, ScriptedLLM(["x"])) as agent:
        assert "## Skills" not in agent.system_prompt


async def test_the_skill_tool(places):
    home, creature, project = places
    write_skill(creature / "skills", "deploy", "Ship it.", body="1. Build.\n2. Ship.")
    write_skill(creature / "skills", "hidden", "Users only.", disable_model_invocation=True)
    install_pack(home, "p")
    write_skill(home / "packages" / "p" / "skills", "packed", "Off by default.")
    llm = ScriptedLLM(
        [
            [
                ToolCall("skill", {"name": "deploy", "arguments": "to staging"}),
                ToolCall("skill", {"name": "hidden"}),
                ToolCall("skill", {"name": "nope"}),
                ToolCall("skill", {"name": "packed"}),
            ],
            "done",
        ]
    )
    async with await build(creature_file(creature), project, llm) as agent:
        result = await agent.run("ship")
    deploy, hidden, nope, packed = result.tool_calls
    folder = creature / "skills" / "deploy"
    assert deploy.output == (
        "## Skill: deploy\nShip it.\nArguments: to staging\n"
        f"Skill folder (scripts, references): {folder}\n\n1. Build.\n2. Ship."
    )
    assert hidden.status == "ok"  # not in the index, but loadable
    assert nope.error == "unknown skill 'nope'; available skills: deploy, hidden"
    assert packed.error.startswith("skill 'packed' is disabled for this creature; enable it with")
    assert 'skills = ["packed"]' in packed.error


async def test_the_skill_tool_without_any_skill(places):
    home, creature, project = places
    llm = ScriptedLLM([ToolCall("skill", {"name": "x"}), "ok"])
    async with await build(creature_file(creature), project, llm) as agent:
        result = await agent.run("go")
    assert "no skills are installed" in result.tool_calls[0].error


async def test_slash_name_runs_a_skill_from_user_input(places):
    home, creature, project = places
    write_skill(home / "skills", "release", "Write release notes.", body="Read git log.")
    recorder = EventRecorder()
    llm = ScriptedLLM(["Notes written.", "ok"])
    async with await build(
        creature_file(creature, tools=()), project, llm, recorder=recorder
    ) as agent:
        result = await agent.run("/release v2.1 and v2.2")
        await agent.run("thanks")
    sent = llm.calls[0].messages[-1]
    assert sent.content.startswith("Follow the skill `release` below for this request.\n")
    assert "Arguments the user provided: v2.1 and v2.2" in sent.content
    assert sent.content.endswith(
        "## Skill: release\nWrite release notes.\nSkill folder (scripts, "
        f"references): {home / 'skills' / 'release'}\n\nRead git log."
    )
    assert sent.meta["skill_input"] == "/release v2.1 and v2.2"
    # The history holds the expansion, so the next turn (and a resumed session) sees it too.
    assert agent.history[0] == sent
    assert llm.calls[1].messages[1] == sent
    assert result.messages[0] == sent
    (replaced,) = [e for e in recorder.of_type(HistoryReplaced) if e.reason == "skill_invocation"]
    assert replaced.messages[0] == sent


async def test_slash_lines_that_are_not_skills_are_left_alone(places):
    home, creature, project = places
    write_skill(home / "skills", "release", "Write release notes.")
    llm = ScriptedLLM(["a", "b", "c"])
    async with await build(creature_file(creature), project, llm) as agent:
        await agent.run("/help me")
        await agent.run("please /release")
        await agent.run("/release-notes")
    assert [c.messages[-1].content for c in llm.calls] == [
        "/help me",
        "please /release",
        "/release-notes",
    ]


async def test_slash_on_a_disabled_skill_is_an_error_with_the_fix(places):
    home, creature, project = places
    install_pack(home, "p")
    write_skill(home / "packages" / "p" / "skills", "packed", "Off by default.")
    llm = ScriptedLLM(["never"])
    async with await build(creature_file(creature), project, llm) as agent:
        result = await agent.run("/packed now")
    assert result.status == "error" and llm.call_count == 0
    assert 'enable it with skills = ["packed"]' in str(result.error)


async def test_enable_and_disable_from_python(places):
    home, creature, project = places
    install_pack(home, "p")
    write_skill(home / "packages" / "p" / "skills", "packed", "Off by default.")
    llm = ScriptedLLM(["ok"])
    agent = await build(creature_file(creature), project, llm)
    kt_skills.enable_skill(agent, "packed")
    async with agent:
        assert "- `packed` — Off by default." in agent.system_prompt
        kt_skills.disable_skill(agent, "packed")
        result = await agent.run("/packed")
    assert result.status == "error"
    with pytest.raises(
        kt_skills.UnknownSkillError, match="unknown skill 'ghost'; available skills: packed"
    ):
        kt_skills.enable_skill(agent, "ghost")


async def test_matching_files_suggest_a_skill_once(places):
    home, creature, project = places
    write_skill(creature / "skills", "python-style", "Style rules.", paths=["**/*.py"])
    write_skill(creature / "skills", "docs", "Docs rules.", paths="docs/*.md, README.md")
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("print(1)")
    (project / "node_modules" / "x").mkdir(parents=True)
    (project / "node_modules" / "x" / "README.md").write_text("ignored")
    llm = ScriptedLLM(["a", "b", "c"])
    async with await build(creature_file(creature), project, llm) as agent:
        await agent.run("fix the bug")
        await agent.run("and again")
        (project / "README.md").write_text("# hi")
        await agent.run("now the readme")
    first, second, third = (c.messages[-1].content for c in llm.calls)
    assert first == (
        "fix the bug\n\n[Skill context] Files in the working folder match these skills: "
        "`python-style` (**/*.py). If one fits the task, load it with the `skill` tool first."
    )
    assert second == "and again"  # announced once
    assert "`docs` (docs/*.md, README.md)" in third and "python-style" not in third
    assert [m.content for m in agent.history if m.role == "user"] == [
        "fix the bug",
        "and again",
        "now the readme",
    ]


def test_discovered_through_its_entry_point(tmp_path, monkeypatch):
    info = tmp_path / "kt_skills_probe-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kt-skills-probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[kt.plugins]\nkt_skills = kt_skills\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kernel = kt.Kernel(plugins=["kt_skills"])
    assert kernel.failures == []
    assert kernel.tools.origin("skill") == "kt_skills"


async def test_slash_expansion_keeps_notes_other_plugins_add(places):
    import kt_guard

    home, creature, project = places
    write_skill(home / "skills", "release", "Write release notes.", body="Read git log.")
    config = {"name": "t", "plugins": [{"name": "kt_guard", "budgets": {"turns": [1, 5]}}]}
    for plugins in (
        [kt_skills, kt_guard.plugin],
        [kt_guard.plugin, kt_skills],
    ):  # either hook order
        llm = ScriptedLLM(["ok"])
        kernel = kt.Kernel(plugins=plugins)
        async with await kt.Agent.build(config, llm=llm, pwd=project, kernel=kernel) as agent:
            await agent.run("/release v2")
        sent = llm.calls[0].messages[-1].content
        assert sent.startswith("Follow the skill `release` below")
        assert sent.endswith(
            "[budget soft] turns is at 1/5. Wrap up: finish the current step and avoid starting new work."
        )
        assert "[budget" not in agent.history[0].content
