"""Entries remember the config that wrote them: errors name it, and its code is found beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

import kt
from kt.errors import ModuleLoadError
from kt.events import AgentWarning
from kt.testing import EventRecorder, ScriptedLLM


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
    from kt.testing import ToolCall

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
