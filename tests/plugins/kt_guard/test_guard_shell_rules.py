"""Deny rules and the sandbox read a command line the way the shell does, every simple command.

The commands really run (bash in a temporary folder), so a rule that is got around shows as a
file that is gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_guard_sandbox import bash as real_bash  # really runs bash in the working dir

import kt
import kt_guard
from kt.errors import PluginBlockError
from kt.testing import ScriptedLLM, ToolCall
from kt_guard import simple_commands
from kt_guard.permissions import Rule, match_rule
from kt_guard.shellparse import ShellParseError, rough_commands

# Ways to delete ../outside/x while `bash(rm -rf *)` is denied. Each must be refused.
DENY_VARIANTS = [
    "cd .. && rm -rf outside/x",
    "rm -rf ../outside/x",
    "rm -r -f ../outside/x",
    "rm -fr ../outside/x",
    "rm ../outside/x -rf",
    "rm -R --force ../outside/x",
    "rm --recursive --force ../outside/x",
    "/bin/rm -rf ../outside/x",
    "\\rm -rf ../outside/x",
    '"rm" -rf ../outside/x',
    "r''m -rf ../outside/x",
    "rm  -rf   ../outside/x 2>/dev/null",
    "true; rm -rf ../outside/x",
    "true\nrm -rf ../outside/x",
    "rm -rf ../outside/x &",
    "echo $(rm -rf ../outside/x)",
    "echo `rm -rf ../outside/x`",
    "X=$(rm -rf ../outside/x)",
    "cat <(rm -rf ../outside/x)",
    'bash -c "rm -rf ../outside/x"',
    "sh -c 'cd ..; rm -rf outside/x'",
    'eval "rm -rf ../outside/x"',
    "env FOO=1 rm -rf ../outside/x",
    "command rm -rf ../outside/x",
    "nohup rm -rf ../outside/x",
    "timeout 5 rm -rf ../outside/x",
    "nice -n 5 rm -rf ../outside/x",
    "echo ../outside/x | xargs rm -rf",
    "find ../outside -name x -exec rm -rf {} +",
    "for f in ../outside/x; do rm -rf $f; done",
    "if true; then rm -rf ../outside/x; fi",
    "(cd ..; rm -rf outside/x)",
    "{ rm -rf ../outside/x; }",
    "f() { rm -rf ../outside/x; }; f",
    "CMD=rm; $CMD -rf ../outside/x",
    "[[ -e ../outside/x ]] && rm -rf ../outside/x",
    "echo $((1+1)) && rm -rf ../outside/x",
]


async def run_deny_variants(root: Path, guard: object, variants: list[str]) -> list[str]:
    """Run each variant under *guard*; return those that deleted the file they aimed at."""
    work, outside = root / "work", root / "outside"
    work.mkdir(parents=True, exist_ok=True)
    got_through = []
    for command in variants:
        (outside / "x").mkdir(parents=True, exist_ok=True)
        (outside / "x" / "keep.txt").write_text("keep")
        llm = ScriptedLLM([ToolCall("bash", {"command": command}), "done"])
        config = {
            "name": "t",
            "plugins": [
                {"name": "kt_guard", "permissions": {"ask": [], "deny": ["bash(rm -rf *)"]}}
            ],
        }
        kernel = kt.Kernel(plugins=[guard])
        async with await kt.Agent.build(
            config, llm=llm, tools=[real_bash], kernel=kernel, pwd=work
        ) as agent:
            await agent.run("go")
        if not (outside / "x").exists():
            got_through.append(command)
    return got_through


async def test_every_way_round_a_deny_rule_is_refused(tmp_path, capsys):
    got_through = await run_deny_variants(tmp_path, kt_guard.plugin, DENY_VARIANTS)
    with capsys.disabled():
        print(f"\ndeny variants: {len(DENY_VARIANTS)}, got through: {len(got_through)}")
    assert got_through == []


async def test_commands_that_only_mention_a_denied_one_still_run(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("a")
    config = {
        "name": "t",
        "plugins": [{"name": "kt_guard", "permissions": {"ask": [], "deny": ["bash(rm -rf *)"]}}],
    }
    llm = ScriptedLLM(
        [
            ToolCall("bash", {"command": 'echo "rm -rf *" && rm a.txt && echo gone'}),
            "done",
        ]
    )
    kernel = kt.Kernel(plugins=[kt_guard.plugin])
    async with await kt.Agent.build(
        config, llm=llm, tools=[real_bash], kernel=kernel, pwd=work
    ) as agent:
        result = await agent.run("go")
    (record,) = result.tool_calls
    assert record.status == "ok" and record.output == "rm -rf *\ngone\n"
    assert not (work / "a.txt").exists()


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("git status", True),
        ("git status && git diff --stat", True),
        ("git", True),
        ("git status; rm -rf x", False),
        ("git log $(rm -rf x)", False),
        ("$GIT status", False),
        ("[[ -d .git ]] && git status", False),  # cannot be parsed exactly: never allowed
        ('bash -c "git status"', False),  # the outer bash is not allowed
    ],
)
def test_allow_rules_must_cover_every_command(command, allowed):
    rules = [Rule("bash(git *)", "bash", "git *")]
    assert (match_rule(rules, "bash", command, kind="allow") is not None) is allowed


def test_simple_commands_see_through_wrappers_and_substitutions():
    texts = [c.text for c in simple_commands('sudo -u bob env A=1 timeout 9 rm -f "a b" > log')]
    assert texts == [
        "sudo -u bob env A=1 timeout 9 rm -f a b > log",
        "env A=1 timeout 9 rm -f a b > log",
        "timeout 9 rm -f a b > log",
        "rm -f a b > log",
    ]
    nested = [c.text for c in simple_commands('echo "$(cat $(ls x) | wc)"')]
    assert nested == ["echo $(cat $(ls x) | wc)", "cat $(ls x)", "ls x", "wc"]


# -- The sandbox reads commands the same way ----------------------------------------------------


async def sandboxed(work: Path, sandbox: dict, commands: list[str]) -> list[kt.ToolCallRecord]:
    llm = ScriptedLLM([*(ToolCall("bash", {"command": c}) for c in commands), "done"])
    config = {"name": "t", "plugins": [{"name": "kt_guard", "sandbox": sandbox}]}
    kernel = kt.Kernel(plugins=[kt_guard.plugin])
    async with await kt.Agent.build(
        config, llm=llm, tools=[real_bash], kernel=kernel, pwd=work
    ) as agent:
        result = await agent.run("go")
    return list(result.tool_calls)


async def test_sandbox_checks_redirections_paths_and_cd(tmp_path):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("s")
    records = await sandboxed(
        work,
        {"shell": ["cat *", "echo *", "cd *", "rm *"], "read_paths": ["."]},
        [
            "cat /etc/passwd",
            "echo pwned > ../outside/new",
            "echo pwned >> ~/.bashrc",
            "cd .. && cat outside/secret",
            "cd .. && rm outside/secret",
            "echo fine > here.txt && cat here.txt",
        ],
    )
    assert [r.status for r in records] == ["blocked"] * 5 + ["ok"]
    assert "protected location" in records[0].error
    assert "may not write" in records[1].error
    assert "protected location" in records[2].error
    assert "may not read" in records[3].error  # `cd ..` leaves the read paths
    assert "may not read" in records[4].error
    assert records[5].output == "fine\n"
    assert not (outside / "new").exists() and (outside / "secret").exists()


_CONTEXTS = [
    "{}",
    "true; {}",
    "true && {}",
    "false || {}",
    "echo a | {}",
    "{} &",
    "echo $({})",
    "echo `{}`",
    "( {} )",
    "{{ {}; }}",
    "if true; then {}; fi",
    "for i in 1; do {}; done",
    "while false; do :; done; {}",
    "sudo {}",
    "env A=1 {}",
    "timeout 9 {}",
    "nohup {}",
    "command {}",
    "A=1 {}",
]
_DENIED = ["rm -rf x", "rm -fr x", "rm -r -f x", "/bin/rm -rf x", "rm x -rf", "'rm' -Rf x"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_DENIED),
    st.lists(st.sampled_from(_CONTEXTS), min_size=1, max_size=4),
)
def test_a_denied_command_is_found_wherever_it_stands(denied, contexts):
    """Property: nested in any mix of shell contexts, the denied command is refused."""
    assume(contexts.count("echo `{}`") <= 1)  # unescaped backticks do not nest in bash either
    command = denied
    for context in contexts:
        command = context.format(command)
    rules = [Rule("bash(rm -rf *)", "bash", "rm -rf *")]
    try:
        found = match_rule(rules, "bash", command, kind="deny")
    except PluginBlockError:
        found = rules[0]  # refused as uncheckable: refused all the same
    assert found is not None, command


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_reading_any_text_never_crashes(text):
    """Property: any line either parses into commands or raises ShellParseError."""
    try:
        commands = simple_commands(text)
    except ShellParseError:
        commands = rough_commands(text)
    assert all(isinstance(c.text, str) for c in commands)
