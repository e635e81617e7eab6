"""Servers that fail at creature start are reported everywhere, and ``kt doctor`` checks them.

Three ways a server is broken before it runs a tool: a command that does not exist, a typo'd
key, and a name the registry does not know. Each must reach the event stream, a warning every
front end prints, ``kt run``'s stderr, and the model's system prompt.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kt_mcp_helpers import TOY, creature, toy

import kt
from kt.events import AgentWarning
from kt.testing import EventRecorder, ScriptedLLM
from kt_mcp import MCPServerFailed
from kt_mcp.checks import registry_checks, server_checks

ROOT = Path(__file__).resolve().parents[3]

BROKEN = [
    {"name": "ghost", "command": "no-such-mcp-server-xyz"},
    {"name": "typo", "command": "echo", "comand_timeout": 3},
    {"name": "unregistered"},
]


async def test_unavailable_servers_are_an_event_a_warning_and_told_to_the_model(kernel):
    recorder = EventRecorder()
    llm = ScriptedLLM(["hello"])
    config = creature(toy(), *BROKEN)
    async with await kt.Agent.build(config, llm=llm, kernel=kernel, plugins=[recorder]) as agent:
        await agent.run("hi")

    failed = {e.server: e for e in recorder.of_type(MCPServerFailed)}
    assert set(failed) == {"ghost", "typo", "unregistered"}
    assert failed["typo"].stage == "config" and failed["ghost"].stage == "connect"
    (warning,) = [w for w in recorder.of_type(AgentWarning) if w.source == "kt_mcp"]
    assert warning.message.startswith("3 of 4 MCP servers are unavailable:")
    assert "did you mean 'call_timeout'?" in warning.message
    assert "command 'no-such-mcp-server-xyz' not found" in warning.message
    assert "'unregistered' has no command or url, and the registry" in warning.message
    system = llm.calls[0].messages[0].content
    assert "These MCP servers of this creature are unavailable" in system
    for name in ("ghost", "typo", "unregistered"):
        assert f"- {name}: " in system
    assert "- toy: " not in system.split("are unavailable")[1]


async def test_the_prompt_stops_listing_a_server_once_it_comes_back(kernel, tmp_path):
    # A server whose command appears after the creature started: the first call reconnects it.
    script = tmp_path / "late-server"
    entry = {"name": "late", "command": str(script)}
    from kt.testing import ToolCall

    llm = ScriptedLLM([ToolCall("mcp_connect", {"server": "late"}), "ok"], exhausted="raise")
    config = creature(dict(entry, mode="meta"))
    async with await kt.Agent.build(config, llm=llm, kernel=kernel) as agent:
        assert "- late: " in agent.system_prompt
        script.write_text(f"#!/bin/sh\nexec {sys.executable} {TOY}\n")
        script.chmod(0o755)
        result = await agent.run("connect it")
        assert result.tool_calls[0].status == "ok"
        assert "are unavailable" not in agent.system_prompt


def test_kt_run_prints_which_servers_are_unavailable(tmp_path, kt_home):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "creature.toml").write_text(
        'name = "bad"\nsystem_prompt = "You help."\n'
        '[[mcp_servers]]\nname = "ghost"\ncommand = "no-such-mcp-server-xyz"\n'
    )
    (folder / "replies.toml").write_text('[[replies]]\ntext = "hello"\n')
    env = {
        "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("plugins", "cli", "kernel")),
        "KT_PLUGINS": "kt_mcp",
        "KT_HOME": str(kt_home),
        "PATH": os.environ.get("PATH", ""),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kt_cli",
            "run",
            str(folder),
            "--llm",
            f"scripted:{folder / 'replies.toml'}",
        ],
        input="hi\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "hello" in done.stdout
    assert "kt: warning: 1 of 1 MCP servers are unavailable:" in done.stderr
    assert "ghost: cannot start MCP server 'ghost': command 'no-such-mcp-server-xyz'" in done.stderr


def test_doctor_checks_commands_settings_and_registry_names(tmp_path):
    from kt.config import MCPServerEntry

    entries = [
        MCPServerEntry(name="toy", command=sys.executable, args=(str(TOY),)),
        MCPServerEntry(name="ghost", command="no-such-mcp-server-xyz"),
        MCPServerEntry(name="typo", command="echo", options={"comand_timeout": 3}),
        MCPServerEntry(name="unregistered"),
        MCPServerEntry(name="web", url="ftp://example.com/mcp", transport="http"),
    ]
    checks = {c.subject: c for c in server_checks(entries, online=False, registry={})}
    assert checks["mcp server toy"].status == "OK"
    assert checks["mcp server ghost"].status == "FAIL"
    assert "command 'no-such-mcp-server-xyz' not found" in checks["mcp server ghost"].detail
    assert "uvx or pipx" in checks["mcp server ghost"].fix
    assert "did you mean 'call_timeout'" in checks["mcp server typo"].detail
    assert "registry" in checks["mcp server unregistered"].detail
    assert "not an http(s) URL" in checks["mcp server web"].detail


def test_doctor_online_starts_each_registry_server(kt_cmd):
    kt_cmd("mcp", "add", "toy", "--", sys.executable, str(TOY))
    kt_cmd("mcp", "add", "crashy", "--", sys.executable, str(TOY), "crash")
    checks = {c.subject: c for c in registry_checks(online=True)}
    assert checks["mcp server toy"].status == "OK"
    assert checks["mcp server toy"].detail.endswith("; 7 tools")
    assert checks["mcp server crashy"].status == "FAIL"
    assert "cannot open database" in checks["mcp server crashy"].detail


def test_kt_doctor_shows_the_registry_servers(kt_cmd):
    kt_cmd("mcp", "add", "ghost", "--", "no-such-mcp-server-xyz")
    doctor = kt_cmd("doctor")
    assert "FAIL  mcp server ghost: command 'no-such-mcp-server-xyz' not found" in doctor.output


def test_kt_mcp_check_checks_a_creatures_servers(kt_cmd, tmp_path):
    folder = tmp_path / "bot"
    folder.mkdir()
    (folder / "creature.toml").write_text(
        'name = "bot"\n'
        f'[[mcp_servers]]\nname = "toy"\ncommand = "{sys.executable}"\nargs = ["{TOY}"]\n'
        '[[mcp_servers]]\nname = "ghost"\ncommand = "no-such-mcp-server-xyz"\n'
    )
    offline = kt_cmd("mcp", "check", str(folder))
    assert offline.exit_code == 1
    assert "OK    mcp server toy: stdio:" in offline.output
    assert "FAIL  mcp server ghost: command 'no-such-mcp-server-xyz' not found" in offline.output
    online = kt_cmd("mcp", "check", str(folder), "--online")
    assert "OK    mcp server toy: stdio:" in online.output and "; 7 tools" in online.output


def test_kt_doctor_target_checks_the_creatures_own_servers(kt_cmd, tmp_path):
    folder = tmp_path / "bot"
    folder.mkdir()
    (folder / "creature.toml").write_text(
        'name = "bot"\n[[mcp_servers]]\nname = "ghost"\ncommand = "no-such-mcp-server-xyz"\n'
    )
    doctor = kt_cmd("doctor", str(folder))
    assert doctor.exit_code == 1
    assert "FAIL  mcp server ghost: command 'no-such-mcp-server-xyz' not found" in doctor.output
