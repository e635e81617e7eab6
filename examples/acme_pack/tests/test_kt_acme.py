"""The pack's own tests: run them with `python -m pytest` in the pack's folder."""

import tomllib
from pathlib import Path

import kt
from kt.testing import ScriptedLLM, ToolCall

import kt_acme

PACK = Path(__file__).resolve().parents[1]


async def test_loose_ticket_keys_are_normalised():
    kernel = kt.Kernel(plugins=[kt_acme])  # the module object: no install needed
    llm = ScriptedLLM([ToolCall("lookup_ticket", {"ticket_id": "t1042"}), "It is open."])
    config = {"name": "support", "tools": [{"name": "lookup_ticket"}]}
    async with await kt.Agent.build(config, llm=llm, kernel=kernel) as agent:
        result = await agent.run("What about t1042?")
    (call,) = result.tool_calls
    assert call.args == {"ticket_id": "T-1042"}
    assert call.status == "ok" and "[open]" in call.output
    assert "keys like T-1042" in agent.system_prompt


def write_dist_info(site, pyproject):
    project = tomllib.loads(pyproject.read_text())["project"]
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    group = project["entry-points"]["kt.plugins"]
    lines = ["[kt.plugins]", *(f"{name} = {target}" for name, target in group.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def test_discovered_through_the_entry_point(tmp_path, monkeypatch):
    write_dist_info(tmp_path, PACK / "pyproject.toml")
    monkeypatch.syspath_prepend(str(tmp_path))
    kernel = kt.Kernel(plugins=["kt_acme"])  # by entry-point name, as users select it
    assert kernel.failures == []
    assert kernel.tools.origin("lookup_ticket") == "kt_acme"
