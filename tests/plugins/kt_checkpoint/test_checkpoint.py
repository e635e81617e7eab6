"""kt_checkpoint: git snapshots before destructive calls, and restoring one, in a real repo."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import kt
import kt_checkpoint
from kt.events import AgentWarning
from kt.testing import EventRecorder, ScriptedLLM, ToolCall

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo, *args) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "app.py").write_text("v1\n")
    git(tmp_path, "add", "app.py")
    git(tmp_path, "commit", "-qm", "first")
    (tmp_path / "staged.txt").write_text("staged\n")
    git(tmp_path, "add", "staged.txt")
    (tmp_path / "notes.txt").write_text("untracked\n")
    return tmp_path


@kt.tool(concurrency_safe=False)
def write(path: str, content: str, ctx: kt.ToolContext) -> str:
    """Write a file."""
    ctx.resolve_path(path).write_text(content)
    return "written"


@kt.tool(concurrency_safe=False)
def bash(command: str, ctx: kt.ToolContext) -> str:
    """Run a command."""
    return subprocess.run(
        command, shell=True, cwd=ctx.working_dir, capture_output=True, text=True
    ).stdout


async def run(repo, calls, plugin, recorder=None):
    llm = ScriptedLLM([*calls, "done"])
    kernel = kt.Kernel(plugins=[recorder] if recorder else [])
    async with await kt.Agent.build(
        {"name": "c"}, llm=llm, kernel=kernel, tools=[write, bash], plugins=[plugin], pwd=repo
    ) as agent:
        return await agent.run("go")


async def test_snapshots_before_destructive_calls_and_restore_undoes_them(repo):
    plugin = kt_checkpoint.Checkpoint()
    status_before = git(repo, "status", "--porcelain")
    await run(
        repo,
        [
            ToolCall("bash", {"command": "ls"}),  # not destructive: no checkpoint
            ToolCall("write", {"path": "app.py", "content": "v2\n"}),
            ToolCall("bash", {"command": "rm notes.txt && echo new > made.txt"}),
        ],
        plugin,
    )
    assert len(plugin.taken) == 2
    assert (repo / "app.py").read_text() == "v2\n" and not (repo / "notes.txt").exists()
    first = plugin.taken[0]
    assert first.message == "before write path=app.py"
    listed = await kt_checkpoint.checkpoints(repo)
    assert {c.id for c in listed} >= {c.id for c in plugin.taken}

    changed = await kt_checkpoint.restore(repo, first.id)
    assert set(changed) == {"app.py", "notes.txt", "made.txt"}
    assert (repo / "app.py").read_text() == "v1\n"
    assert (repo / "notes.txt").read_text() == "untracked\n"
    assert not (repo / "made.txt").exists()
    # Branches, index and stash are as the user left them.
    assert git(repo, "status", "--porcelain") == status_before
    assert git(repo, "log", "--oneline").count("\n") == 1
    assert git(repo, "stash", "list") == ""


async def test_the_model_can_list_and_restore(repo):
    plugin = kt_checkpoint.Checkpoint()
    result = await run(repo, [ToolCall("write", {"path": "app.py", "content": "bad\n"})], plugin)
    checkpoint = plugin.taken[0].id
    llm = ScriptedLLM(
        [
            ToolCall("checkpoints", {}),
            ToolCall("restore_checkpoint", {"checkpoint": checkpoint}),
            "undone",
        ]
    )
    async with await kt.Agent.build(
        {"name": "c"},
        llm=llm,
        kernel=kt.Kernel(plugins=[]),
        plugins=[kt_checkpoint.Checkpoint()],
        pwd=repo,
    ) as agent:
        result = await agent.run("undo")
    listing, restored = result.tool_calls
    assert checkpoint in listing.output and "before write path=app.py" in listing.output
    assert restored.output.startswith(f"Restored {checkpoint}: 1 file(s) changed.")
    assert (repo / "app.py").read_text() == "v1\n"


async def test_outside_a_repository_it_warns_once_and_lets_calls_run(tmp_path):
    recorder = EventRecorder()
    result = await run(
        tmp_path,
        [
            ToolCall("write", {"path": "a", "content": "1"}),
            ToolCall("write", {"path": "b", "content": "2"}),
        ],
        kt_checkpoint.Checkpoint(),
        recorder,
    )
    assert [r.status for r in result.tool_calls] == ["ok", "ok"]
    [warning] = recorder.of_type(AgentWarning)
    assert "not in a git repository" in warning.message


@pytest.mark.parametrize(
    ("command", "destructive"),
    [
        ("rm -rf build", True),
        ("ls && mv a b", True),
        ("echo hi > out.txt", True),
        ("git reset --hard", True),
        ("cat a >> b", False),
        ("ls -la", False),
        ("grep rm x", False),
        ("echo 2>&1", False),
    ],
)
def test_which_bash_commands_are_destructive(command, destructive):
    call = kt.llm.ToolCall("bash", {"command": command}, id="1")
    assert kt_checkpoint.Checkpoint().destructive(call) is destructive
