"""The plugin as users meet it: its registry, kt-biome's general creature, options, text formats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kt_tools_helpers import drive

import kt
import kt_tools
from kt.config import load_creature_config
from kt.errors import ConfigValidationError
from kt.testing import ScriptedLLM

KT_BIOME = Path(__file__).parents[4] / "shared" / "fixtures" / "kt-biome"
ALL_NAMES = {
    "bash", "python", "read", "write", "edit", "multi_edit", "glob", "grep", "tree",
    "notebook_read", "notebook_edit", "json_read", "json_write", "scratchpad", "info",
    "ask_user", "send_message", "stop_task", "web_fetch", "web_search", "show_card",
}  # fmt: skip
# Builtin tool names of kt-biome creatures that other plugins provide.
OTHER_PLUGINS = {"search_memory": "kt_sessions"}


def test_the_plugin_offers_every_builtin_tool():
    kernel = kt.Kernel(plugins=[kt_tools])
    assert kernel.failures == []
    assert set(kernel.tools) == ALL_NAMES
    assert {kernel.tools.origin(name) for name in ALL_NAMES} == {"kt_tools"}
    assert {spec.name for spec in kt_tools.TOOLS} == ALL_NAMES


@pytest.mark.skipif(not KT_BIOME.is_dir(), reason="kt-biome fixture not found")
async def test_the_kt_biome_general_creature_tool_list_resolves(tmp_path):
    def resolve(ref):
        prefix = "@kt-biome/"
        return KT_BIOME / ref.removeprefix(prefix) if ref.startswith(prefix) else None

    config = load_creature_config(KT_BIOME / "creatures" / "general", env={}, resolve_ref=resolve)
    builtin = [entry.name for entry in config.tools if entry.type == "builtin"]
    triggers = [entry.name for entry in config.tools if entry.type == "trigger"]
    assert triggers == ["add_timer", "add_schedule"]  # kt_triggers provides these
    ours = [name for name in builtin if name not in OTHER_PLUGINS]
    assert set(builtin) - set(ours) == set(OTHER_PLUGINS)
    kernel = kt.Kernel(plugins=[kt_tools])
    assert [name for name in ours if name not in kernel.tools] == []
    # The creature builds with exactly these entries (kt-biome YAML entry shape included).
    entries = [{"name": name, "type": "builtin"} for name in ours]
    async with await kt.Agent.build(
        {"name": "general", "tools": entries}, llm=ScriptedLLM(["hi"]), kernel=kernel, pwd=tmp_path
    ) as agent:
        assert set(agent.tools) == set(ours)


def test_options_are_checked_when_the_creature_is_built():
    with pytest.raises(ConfigValidationError, match="has no option 'colour'.*path_guard"):
        kt_tools.TOOLS[2].configure({"colour": "red"})  # read
    with pytest.raises(ConfigValidationError, match="should be true or false"):
        kt_tools.TOOLS[3].configure({"require_read": "yes"})  # write
    with pytest.raises(ConfigValidationError, match="warn, block or off"):
        kt_tools.TOOLS[2].configure({"path_guard": "maybe"})
    with pytest.raises(ConfigValidationError, match="should be a list"):
        kt_tools.TOOLS[2].configure({"allowed_paths": "/tmp"})


async def test_config_options_reach_the_tool_and_generic_ones_are_kept(work):
    entry = {"name": "read", "max_output_bytes": 50, "max_output": 4000, "timeout": 9}
    (work / "a.txt").write_text("".join(f"{i}\n" for i in range(100)))
    async with drive(work, [entry]) as t:
        spec = t.agent.tools["read"]
        record = await t.call("read", path="a.txt")
    assert spec.max_output == 4000 and spec.timeout == 9
    assert "output capped at 50 bytes" in record.output


async def test_text_format_string_arguments_are_typed_by_schema(work):
    """With a text format every value is a string; "false" must mean false."""
    pytest.importorskip("kt_formats")
    import kt_formats

    target = work / "a.txt"
    target.write_text("foo\nfoo\n")
    replies = [
        "[/read]a.txt[read/]",
        "[/edit]\n@@path=a.txt\n@@old=foo\n@@new=bar\n@@replace_all=false\n[edit/]",
        "[/edit]\n@@path=a.txt\n@@old=foo\n@@new=bar\n@@replace_all=true\n[edit/]",
        "[/grep]\n@@pattern=bar\n@@limit=1\n[grep/]",
        "done",
    ]
    config = {
        "name": "t",
        "controller": {"tool_format": "bracket"},
        "tools": [{"name": "read"}, {"name": "edit", "require_manual": False}, {"name": "grep"}],
    }
    kernel = kt.Kernel(plugins=[kt_tools, kt_formats])
    async with await kt.Agent.build(
        config, llm=ScriptedLLM(replies), kernel=kernel, pwd=work
    ) as agent:
        result = await agent.run("go")
    read, once, every, grep = result.tool_calls
    assert read.status == "ok"
    assert once.args["replace_all"] is False and "2 times" in once.error
    assert every.status == "ok" and target.read_text() == "bar\nbar\n"
    assert grep.args["limit"] == 1 and "more may exist" in grep.output


def test_loading_the_plugin_imports_no_heavy_library():
    code = "import sys, kt_tools\nprint(sorted({'httpx', 'trio'} & set(sys.modules)))"
    root = Path(__file__).parents[3]
    env = {"PYTHONPATH": f"{root / 'kernel'}:{root / 'plugins'}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "httpx" not in out.stdout


def test_discovered_through_its_entry_point(tmp_path, monkeypatch):
    info = tmp_path / "kt_tools_probe-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kt-tools-probe\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[kt.plugins]\nkt_tools = kt_tools\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kernel = kt.Kernel(plugins=["kt_tools"])
    assert kernel.failures == []
    assert kernel.tools.origin("bash") == "kt_tools"
