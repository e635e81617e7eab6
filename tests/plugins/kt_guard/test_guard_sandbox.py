"""The sandbox policy, with real files, symlinks and subprocesses in temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

import kt
import kt_guard
from kt.testing import ScriptedLLM, ToolCall
from kt_guard import simple_commands
from kt_guard.sandbox import SandboxOptions, SandboxPolicy


@kt.tool(concurrency_safe=False)
async def write(path: str, content: str, ctx: kt.ToolContext) -> str:
    """Write a file.

    Args:
        path: Where.
        content: What.
    """
    target = ctx.resolve_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    return f"wrote {target}"


@kt.tool
async def read(path: str, ctx: kt.ToolContext) -> str:
    """Read a file.

    Args:
        path: Which.
    """
    return ctx.resolve_path(path).read_text()


@kt.tool
async def glob(pattern: str, ctx: kt.ToolContext) -> str:
    """Find files.

    Args:
        pattern: A glob pattern.
    """
    return "\n".join(sorted(str(p) for p in ctx.working_dir.glob(pattern)))


@kt.tool(concurrency_safe=False)
async def bash(command: str, ctx: kt.ToolContext) -> str:
    """Run a shell command.

    Args:
        command: The command.
    """
    done = await trio.run_process(
        ["bash", "-c", command], cwd=ctx.working_dir, capture_stdout=True, check=False
    )
    return done.stdout.decode()


@kt.tool
async def python(code: str) -> str:
    """Run Python code.

    Args:
        code: The code.
    """
    return "ran"


@kt.tool
async def web_fetch(url: str) -> str:
    """Fetch a page.

    Args:
        url: The address.
    """
    return f"page {url}"


@kt.tool
async def web_search(query: str) -> str:
    """Search the web.

    Args:
        query: What.
    """
    return "results"


TOOLS = [write, read, glob, bash, python, web_fetch, web_search]


@pytest.fixture
def places(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("SECRET")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KT_HOME", str(home / ".kt"))
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_text("outside notes")
    return work, outside, home


async def run_calls(work, sandbox, calls):
    config = {"name": "t", "plugins": [{"name": "kt_guard", "sandbox": sandbox}]}
    llm = ScriptedLLM([list(calls), "done"])
    kernel = kt.Kernel(plugins=[kt_guard.plugin])
    async with await kt.Agent.build(config, llm=llm, tools=TOOLS, kernel=kernel, pwd=work) as agent:
        result = await agent.run("go")
    assert result.status == "completed"
    return result.tool_calls, agent


async def test_writes_stay_under_the_write_paths(places):
    work, outside, _ = places
    records, agent = await run_calls(
        work,
        {},
        [
            ToolCall("write", {"path": "notes/a.txt", "content": "in"}),
            ToolCall("write", {"path": str(outside / "b.txt"), "content": "out"}),
            ToolCall("write", {"path": "../outside/c.txt", "content": "out"}),
        ],
    )
    assert [r.status for r in records] == ["ok", "blocked", "blocked"]
    assert (work / "notes" / "a.txt").read_text() == "in"
    assert not (outside / "b.txt").exists() and not (outside / "c.txt").exists()
    error = records[1].error
    assert error.startswith("Sandbox denied [fs_write]: write may not write")
    assert "outside the allowed write paths" in error and str(work) in error
    assert "## Sandbox" in agent.system_prompt
    assert f"written under: {work}" in agent.system_prompt


async def test_a_symlink_cannot_smuggle_a_write_out(places):
    work, outside, _ = places
    (work / "link").symlink_to(outside)
    records, _ = await run_calls(
        work, {}, [ToolCall("write", {"path": "link/evil.txt", "content": "x"})]
    )
    assert records[0].status == "blocked"
    assert not (outside / "evil.txt").exists()


async def test_reads_follow_read_paths_and_protected_locations(places):
    work, outside, home = places
    (work / "mine.txt").write_text("mine")
    calls = [
        ToolCall("read", {"path": "mine.txt"}),
        ToolCall("read", {"path": str(outside / "notes.txt")}),
        ToolCall("read", {"path": "~/.ssh/id_rsa"}),
    ]
    anywhere, _ = await run_calls(work, {}, calls)
    assert [r.status for r in anywhere] == ["ok", "ok", "blocked"]
    assert "SECRET" not in anywhere[2].output
    assert anywhere[2].error.startswith(f"Sandbox denied [fs_read]: {home / '.ssh' / 'id_rsa'}")
    assert "protected location" in anywhere[2].error
    only_work, _ = await run_calls(work, {"read_paths": ["."]}, calls[:2])
    assert [r.status for r in only_work] == ["ok", "blocked"]
    assert "outside the allowed read paths" in only_work[1].error


async def test_extra_deny_paths_and_glob_prefixes(places):
    work, outside, _ = places
    (work / "secrets").mkdir()
    (work / "secrets" / "k").write_text("k")
    records, _ = await run_calls(
        work,
        {"deny_paths": ["secrets"], "read_paths": ["."]},
        [
            ToolCall("read", {"path": "secrets/k"}),
            ToolCall("glob", {"pattern": "../outside/*.txt"}),
            ToolCall("glob", {"pattern": "**/*.txt"}),
        ],
    )
    assert [r.status for r in records] == ["blocked", "blocked", "ok"]
    assert "protected location" in records[0].error
    assert str(outside) in records[1].error


async def test_network_off_or_limited_to_hosts(places):
    work, _, _ = places
    fetch = [
        ToolCall("web_fetch", {"url": "https://docs.python.org/3/"}),
        ToolCall("web_fetch", {"url": "https://evil.example.com/x"}),
        ToolCall("web_search", {"query": "trio"}),
    ]
    off, _ = await run_calls(work, {"network": False}, fetch)
    assert [r.status for r in off] == ["blocked"] * 3
    assert off[0].error == (
        "Sandbox denied [network]: web_fetch may not reach docs.python.org "
        "(network access is off for this creature)."
    )
    listed, agent = await run_calls(work, {"network": ["*.python.org", "search"]}, fetch)
    assert [r.status for r in listed] == ["ok", "blocked", "ok"]
    assert "allowed hosts: *.python.org, search" in listed[1].error
    assert "Network: only *.python.org, search" in agent.system_prompt


async def test_shell_allow_list_with_real_commands(places):
    work, _, _ = places
    (work / "f.txt").write_text("hello")
    records, agent = await run_calls(
        work,
        {"shell": ["cat *", "echo *", "wc *"]},
        [
            ToolCall("bash", {"command": "cat f.txt | wc -c"}),
            ToolCall("bash", {"command": 'echo "a; rm -rf x" && cat f.txt'}),
            ToolCall("bash", {"command": "echo hi; rm f.txt"}),
            ToolCall("bash", {"command": "echo $(rm f.txt)"}),
            ToolCall("python", {"code": "print(1)"}),
        ],
    )
    assert [r.status for r in records] == ["ok", "ok", "blocked", "blocked", "blocked"]
    assert records[0].output.strip() == "5"
    assert records[1].output == "a; rm -rf x\nhello"
    assert records[2].error == (
        "Sandbox denied [shell]: 'rm f.txt' is not an allowed command. Allowed: cat *, echo *, wc *."
    )
    assert "'rm f.txt' is not an allowed command" in records[3].error  # found inside $(...)
    assert "the python tool runs arbitrary code" in records[4].error
    assert (work / "f.txt").exists()
    assert "Shell commands allowed: cat *, echo *, wc *" in agent.system_prompt


async def test_shell_network_use_is_checked_when_the_network_is_limited(places):
    work, _, _ = places
    records, _ = await run_calls(
        work,
        {"network": ["pypi.org"], "allow_python": True},
        [
            ToolCall("bash", {"command": "curl -s https://evil.example.com/x"}),
            ToolCall("bash", {"command": "git clone git@host:repo.git"}),
            ToolCall("bash", {"command": "echo https://pypi.org/simple"}),
            ToolCall("bash", {"command": "FOO=1 wget http://evil.example.com/x || true"}),
            ToolCall("bash", {"command": "echo offline"}),
            ToolCall("python", {"code": "1"}),
        ],
    )
    assert [r.status for r in records] == ["blocked", "blocked", "ok", "blocked", "ok", "ok"]
    assert "may not reach evil.example.com" in records[0].error
    assert "may not reach the network through 'git'" in records[1].error
    assert "may not reach evil.example.com" in records[3].error


def test_simple_commands_respect_quotes_and_operators():
    texts = [c.text for c in simple_commands("a && b || c | d; e & f\ng")]
    assert texts == ["a", "b", "c", "d", "e", "f", "g"]
    (only,) = simple_commands("echo 'x; y' \"a && b\" c\\;d")
    assert only.words == ("echo", "x; y", "a && b", "c;d")
    assert simple_commands("  ") == []


def test_options_resolve_against_the_working_dir(tmp_path):
    policy = SandboxPolicy(
        SandboxOptions(write_paths=(".", "~/shared")),
        working_dir=tmp_path,
        home=Path("/home/u"),
        kt_home=Path("/home/u/.kt"),
    )
    assert policy.write_roots == [tmp_path.resolve(), Path("/home/u/shared")]
    policy.check("write", {"path": str(tmp_path / "x")}, writes=True)
    with pytest.raises(kt.PluginBlockError, match=r"fs_write"):
        policy.check("write", {"path": "/home/u/other"}, writes=True)
    with pytest.raises(kt.PluginBlockError, match="protected location"):
        policy.check("json_read", {"path": "/home/u/.kt/keys.toml"}, writes=False)
