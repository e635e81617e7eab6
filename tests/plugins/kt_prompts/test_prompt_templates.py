"""kt_prompts: a creature's system prompt is a sandboxed Jinja template."""

from __future__ import annotations

from pathlib import Path

import pytest

import kt
import kt_prompts
from kt.events import AgentWarning
from kt.testing import EventRecorder, ScriptedLLM

pytest.importorskip("jinja2")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


async def system_prompt(folder: Path, *, plugins=(kt_prompts,), tools=(), **build) -> str:
    llm = ScriptedLLM(["ok"])
    kernel = kt.Kernel(plugins=list(plugins))
    async with await kt.Agent.build(
        folder, llm=llm, kernel=kernel, tools=list(tools), **build
    ) as agent:
        await agent.run("hi")
    return llm.calls[0].messages[0].content


async def test_variables_render_and_unknown_ones_render_empty(tmp_path):
    write(tmp_path / "c" / "creature.toml", 'name = "scout"\nsystem_prompt_file = "p.md"\n')
    write(
        tmp_path / "c" / "p.md",
        "# {{ agent_name }}\nYou are {{ creature_name }} in {{ pwd }}.[{{ nothing }}]"
        "[{{ nothing.deeper }}]",
    )
    prompt = await system_prompt(tmp_path / "c", pwd=tmp_path)
    assert prompt.startswith(f"# scout\nYou are scout in {tmp_path.resolve()}.[][]")


async def test_without_the_plugin_the_template_is_sent_as_written(tmp_path):
    write(
        tmp_path / "c" / "creature.toml", 'name = "scout"\nsystem_prompt = "# {{ agent_name }}"\n'
    )
    assert (await system_prompt(tmp_path / "c", plugins=())).startswith("# {{ agent_name }}")


async def test_prompt_context_files_are_variables(tmp_path):
    write(
        tmp_path / "c" / "creature.toml",
        'name = "c"\nsystem_prompt = "Rules: {{ rules }}"\n'
        '[prompt_context_files]\nrules = "rules.md"\n',
    )
    write(tmp_path / "c" / "rules.md", "be kind")
    assert (await system_prompt(tmp_path / "c")).startswith("Rules: be kind")


async def test_includes_come_from_the_creature_its_base_and_its_pack(tmp_path):
    pack = tmp_path / "pack"
    write(pack / "kt-pack.toml", 'name = "pack"\nversion = "1.0"\n')
    write(pack / "prompts" / "safety.md", "Never force-push.")
    write(pack / "creatures" / "base" / "creature.toml", 'name = "base"\n')
    write(pack / "creatures" / "base" / "prompts" / "style.md", "Be terse.")
    write(
        pack / "creatures" / "child" / "creature.toml",
        'name = "child"\nbase_config = "../base"\n'
        'system_prompt = """{% include "style" %} {% include "safety" %}"""\n',
    )
    prompt = await system_prompt(pack / "creatures" / "child")
    assert prompt.startswith("Be terse. Never force-push.")


async def test_tools_placed_by_the_template_are_not_added_twice(tmp_path):
    @kt.tool(guidance="Count before you answer.")
    def count(text: str) -> str:
        """Count words."""
        return str(len(text.split()))

    write(
        tmp_path / "a" / "creature.toml",
        'name = "a"\nsystem_prompt = "Intro\\n{{ tools }}\\nEnd"\n',
    )
    placed = await system_prompt(tmp_path / "a", tools=[count])
    assert placed.count("Count before you answer.") == 1
    assert placed.index("Intro") < placed.index("Count before") < placed.index("End")

    write(
        tmp_path / "b" / "creature.toml", 'name = "b"\nsystem_prompt = "Intro {{ agent_name }}"\n'
    )
    appended = await system_prompt(tmp_path / "b", tools=[count])
    assert appended.startswith("Intro b\n\nCount before you answer.")


async def test_a_broken_template_falls_back_and_names_file_and_line(tmp_path):
    write(
        tmp_path / "c" / "creature.toml",
        'name = "c"\nsystem_prompt_file = "p.md"\nsystem_prompt = "inline {{ agent_name }}"\n',
    )
    write(tmp_path / "c" / "p.md", "line one\nline two {% if %}\n")
    recorder = EventRecorder()
    prompt = await system_prompt(tmp_path / "c", plugins=(kt_prompts, recorder))
    assert prompt.startswith("line one\nline two {% if %}")  # the raw text
    [warning] = recorder.of_type(AgentWarning)
    assert f"at {tmp_path / 'c' / 'p.md'} line 2" in warning.message


def test_the_sandbox_keeps_templates_away_from_python():
    import jinja2

    with pytest.raises(jinja2.exceptions.SecurityError):
        kt_prompts.render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})


def test_fragment_folders_search_child_then_base_then_packs(tmp_path):
    write(tmp_path / "pack" / "kohaku.yaml", "name: p\n")
    base = write(tmp_path / "pack" / "creatures" / "base" / "config.yaml", "name: base\n")
    child = write(tmp_path / "elsewhere" / "child" / "config.yaml", "name: child\n")
    assert kt_prompts.fragment_folders([base, child]) == [
        child.parent / "prompts",
        base.parent / "prompts",
        tmp_path / "pack" / "prompts",
    ]
