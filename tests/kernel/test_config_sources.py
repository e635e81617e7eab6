"""Entries remember the config that wrote them: errors name it, and its code is found beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

import kt
from kt.errors import ModuleLoadError
from kt.events import AgentWarning
from kt.testing import EventRecorder, ScriptedLLM, ToolCall


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def family(tmp_path):
    """A base that names a plugin that is not installed and a tool file of its own; a child."""
    base = write(
        tmp_path / "base" / "creature.toml",
        'name = "base"\n'
        '[[plugins]]\nname = "gone"\nmodule = "not_installed_anywhere.plugins"\nclass = "Gone"\n'
        '[[tools]]\nname = "shout"\nmodule = "./mytools.py"\n',
    )
    write(
        tmp_path / "base" / "mytools.py",
        "import kt\n\n@kt.tool\ndef shout(text: str) -> str:\n"
        '    """Shout."""\n    return text.upper()\n',
    )
    write(tmp_path / "child" / "creature.toml", 'name = "child"\nbase_config = "../base"\n')
    return base


async def test_a_missing_plugin_names_the_config_that_declared_it_and_the_way_out(family, tmp_path):
    with pytest.raises(ModuleLoadError) as caught:
        await kt.Agent.build(
            tmp_path / "child", llm=ScriptedLLM(["x"]), kernel=kt.Kernel(plugins=[])
        )
    message = str(caught.value)
    assert message.startswith(f"{family}: at 'plugins[0]'")  # the base, not the child
    assert "--skip-unavailable" in message and "skip_unavailable_plugins = true" in message


async def test_skip_unavailable_plugins_runs_without_it_and_says_so(family, tmp_path):
    child = tmp_path / "child" / "creature.toml"
    child.write_text(child.read_text() + "skip_unavailable_plugins = true\n")
    recorder = EventRecorder()
    llm = ScriptedLLM([ToolCall("shout", {"text": "hi"}), "done"])
    async with await kt.Agent.build(
        tmp_path / "child", llm=llm, kernel=kt.Kernel(plugins=[recorder])
    ) as agent:
        result = await agent.run("go")
    # The base's tool file was found beside the base, though the child was built.
    assert result.tool_calls[0].output == "HI"
    [warning] = recorder.of_type(AgentWarning)
    assert "running without a plugin" in warning.message
    assert "not_installed_anywhere" in warning.message


def test_relative_module_paths_resolve_against_the_config_that_wrote_them(family, tmp_path):
    config = kt.config.load_creature_config(tmp_path / "child")
    [tool] = config.tools
    assert tool.module == str(tmp_path / "base" / "mytools.py")
    assert tool.declared_in == str(family)


def test_a_scripted_model_inherited_from_a_base_plays_the_base_s_reply_file(family, tmp_path):
    write(
        tmp_path / "base" / "creature.toml",
        family.read_text() + '[controller]\nllm = "scripted:replies.toml"\n',
    )
    config = kt.config.load_creature_config(tmp_path / "child")
    assert config.controller.llm == f"scripted:{tmp_path / 'base' / 'replies.toml'}"
    write(
        tmp_path / "other" / "creature.toml", '[controller]\nllm = "scripted:/abs/replies.toml"\n'
    )
    assert (
        kt.config.load_creature_config(tmp_path / "other").controller.llm
        == "scripted:/abs/replies.toml"
    )


async def test_a_recipe_member_built_on_a_creature_folder_finds_its_code_and_replies(tmp_path):
    """The newcomer's path: ``mybot`` with its own tool file and replies, reused by a recipe."""
    from kt_terrarium import Terrarium

    write(
        tmp_path / "mybot" / "creature.toml",
        'name = "mybot"\n[controller]\nllm = "scripted:replies.toml"\n'
        '[[tools]]\nname = "shout"\nmodule = "./mytools.py"\n',
    )
    write(
        tmp_path / "mybot" / "mytools.py",
        "import kt\n\n@kt.tool\ndef shout(text: str) -> str:\n"
        '    """Shout."""\n    return text.upper()\n',
    )
    write(
        tmp_path / "mybot" / "replies.toml",
        '[[replies]]\ntool_calls = [{ name = "shout", args = { text = "hi" } }]\n'
        '[[replies]]\ntext = "done"\n',
    )
    write(
        tmp_path / "duo" / "terrarium.toml",
        'name = "duo"\n[[creatures]]\nname = "a"\nbase_config = "../mybot"\n',
    )
    async with Terrarium() as terrarium:
        await terrarium.apply_recipe(tmp_path / "duo")
        result = await terrarium["a"].run("go")
    assert result.tool_calls[0].output == "HI"
    assert result.text == "done"


async def test_two_creature_folders_of_one_name_load_their_own_tool_files(tmp_path):
    outputs = []
    for pack, word in (("pack_a", "from a"), ("pack_b", "from b")):
        folder = tmp_path / pack / "swe"
        write(folder / "creature.toml", '[[tools]]\nname = "say"\nmodule = "./tools.py"\n')
        write(
            folder / "tools.py",
            f'import kt\n\n@kt.tool\ndef say() -> str:\n    """Say."""\n    return {word!r}\n',
        )
        llm = ScriptedLLM([ToolCall("say", {}), "ok"])
        async with await kt.Agent.build(folder, llm=llm) as agent:
            outputs.append((await agent.run("go")).tool_calls[0].output)
    assert outputs == ["from a", "from b"]
