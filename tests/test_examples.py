"""The runnable examples work as documented.

Python examples run as subprocesses from the repository root, the way a reader runs them, and
their output is checked. The example pack ``examples/acme_pack`` is checked both as a plugin
object and through its entry point, with a throwaway ``.dist-info`` generated from its
``pyproject.toml``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import kt
from kt.testing import ScriptedLLM, ToolCall

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ACME = EXAMPLES / "acme_pack"
SOURCE_ROOTS = os.pathsep.join(str(ROOT / d) for d in ("kernel", "plugins", "cli"))


def run_example(script: str, home: Path) -> list[str]:
    """Run ``examples/<script>`` from the repository root; return its output lines."""
    env = {k: v for k, v in os.environ.items() if k != "KT_PLUGINS"}
    env["PYTHONPATH"] = SOURCE_ROOTS
    env["KT_HOME"] = str(home)  # the reader's ~/.kt must not choose the plugin set here
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout.splitlines()


def is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(any(item == w for item in remaining) for w in wanted)


# -- examples/quickstart.py ---------------------------------------------------------------------


def test_quickstart_runs_the_tool_then_streams_a_turn(tmp_path):
    first, *events = run_example("quickstart.py", tmp_path)

    assert first.startswith("completed There are 3 words. Usage(prompt_tokens=")
    assert (
        "ToolCallRecord(id='call_1_0', name='count_words', args={'text': 'a b c'}, "
        "status='ok', output='3'"
    ) in first

    names = [line.split("(", 1)[0] for line in events]
    assert names[0] == "TurnStarted" and names[-1] == "TurnCompleted"
    assert is_subsequence(["TurnStarted", "LLMCallStarted", "TextDelta", "LLMCallCompleted"], names)
    assert "input='again'" in events[0]
    assert "text='There are 3 words.'" in events[names.index("TextDelta")]
    assert "status='completed'" in events[-1] and "turn_index=2" in events[-1]


# -- examples/streaming.py ----------------------------------------------------------------------


def test_streaming_example_shows_streaming_interrupt_and_early_exit(tmp_path):
    lines = run_example("streaming.py", tmp_path)

    scene_1 = lines[lines.index("== 1. streaming ==") + 1 : lines.index("== 2. interrupt ==")]
    assert scene_1 == [
        "Let me look that up. ",
        "[calling city_population {'city': 'Oslo'}]",
        "[city_population -> ok: 709000]",
        "Oslo has about 709,000 people.",
        "-> completed after 2 model calls",
    ]

    scene_2 = lines[lines.index("== 2. interrupt ==") + 1 : lines.index("== 3. leaving early ==")]
    assert scene_2[0] == "-> interrupted"
    assert scene_2[1] == "kept in history: assistant, interrupted=True"
    partial = scene_2[2].removeprefix("partial reply: ")
    assert partial.startswith("'Bergen is known") and len(partial) < 60  # cut short, not whole

    scene_3 = lines[lines.index("== 3. leaving early ==") + 1 :]
    assert scene_3 == [
        "-> the abandoned turn ended cancelled",
        "-> next turn: completed: Short answer: yes.",
    ]


# -- examples/acme_pack -------------------------------------------------------------------------


@pytest.fixture
def kt_acme(monkeypatch):
    monkeypatch.syspath_prepend(str(ACME))
    import kt_acme

    return kt_acme


def write_dist_info(site: Path) -> dict:
    """Install the pack's metadata into *site* as pip would; return its ``[project]`` table."""
    project = tomllib.loads((ACME / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    entry_points = project["entry-points"]["kt.plugins"]
    lines = ["[kt.plugins]", *(f"{ep} = {target}" for ep, target in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return project


async def ask_about_ticket(kernel: kt.Kernel, key: str) -> tuple[kt.Agent, kt.TurnResult]:
    """One turn of a creature that names ``lookup_ticket`` in its config."""
    llm = ScriptedLLM([ToolCall("lookup_ticket", {"ticket_id": key}), "Answered."])
    config = {"name": "support", "tools": [{"name": "lookup_ticket"}]}
    async with await kt.Agent.build(config, llm=llm, kernel=kernel) as agent:
        result = await agent.run(f"What is the state of {key}?")
    return agent, result


async def test_acme_pack_registered_as_an_object(kt_acme):
    kernel = kt.Kernel(plugins=[kt_acme])
    assert kernel.tools.origin("lookup_ticket") == "kt_acme"
    assert kernel.tools["lookup_ticket"].timeout == 15

    agent, result = await ask_about_ticket(kernel, "t1042")

    (call,) = result.tool_calls
    assert call.args == {"ticket_id": "T-1042"}  # rewritten by kt_pre_tool_call
    assert call.status == "ok"
    assert call.output.startswith("T-1042: Printer on floor 3 jams")
    assert result.status == "completed" and result.text == "Answered."
    assert "keys like T-1042" in agent.system_prompt  # from kt_prompt_sections


async def test_acme_pack_unknown_ticket_is_an_error_result(kt_acme):
    _, result = await ask_about_ticket(kt.Kernel(plugins=[kt_acme]), "X-9")
    (call,) = result.tool_calls
    assert call.status == "error"
    assert "no ticket 'X-9'" in call.error and "T-1042" in call.error
    assert result.status == "completed"


async def test_acme_pack_prompt_section_only_for_creatures_with_the_tool(kt_acme):
    kernel = kt.Kernel(plugins=[kt_acme])
    async with await kt.Agent.build({"name": "other"}, llm=ScriptedLLM(["hi"]), kernel=kernel) as a:
        assert "T-1042" not in a.system_prompt
        assert "lookup_ticket" not in a.tools  # contributed tools are offered only when named


async def test_acme_pack_is_discovered_through_its_entry_point(kt_acme, tmp_path, monkeypatch):
    project = write_dist_info(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    kernel = kt.Kernel(plugins=["kt_acme"])

    assert kernel.failures == []
    assert kernel.plugin_names == ["kt_acme"]
    (info,) = [i for i in kernel.plugin_infos() if i.name == "kt_acme"]
    assert info.version == project["version"]
    assert info.hooks == ("kt_pre_tool_call", "kt_prompt_sections", "kt_tools")
    assert kernel.tools.origin("lookup_ticket") == "kt_acme"

    _, result = await ask_about_ticket(kernel, "T-1043")
    (call,) = result.tool_calls
    assert call.status == "ok" and "[closed]" in call.output


def test_acme_pack_is_in_the_default_plugin_set_once_installed(kt_acme, tmp_path, monkeypatch):
    write_dist_info(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    home = tmp_path / "home"  # no user config: every installed plugin loads

    assert "kt_acme" in kt.Kernel(env={"KT_HOME": str(home)}).plugin_names
    assert "lookup_ticket" in kt.Kernel(env={"KT_PLUGINS": "kt_acme"}).tools
    assert "lookup_ticket" not in kt.Kernel(env={"KT_PLUGINS": ""}).tools


def test_acme_pack_s_own_tests_pass_in_a_copy_of_its_folder(tmp_path):
    """The pack's tests as its author runs them: `python -m pytest` in its folder, not ours."""
    import shutil

    pack = tmp_path / "acme_pack"
    shutil.copytree(ACME, pack, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=pack,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
