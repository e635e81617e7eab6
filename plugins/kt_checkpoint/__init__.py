"""Checkpoints: a git snapshot of the working dir before each destructive tool call.

:class:`Checkpoint` is a creature plugin. Before a call that can destroy work (``write``,
``edit``, ``multi_edit``, ``notebook_edit``, and ``bash`` commands that delete, move, truncate,
reset or overwrite), it records the working dir's files as a git commit under
``refs/kt/checkpoints/`` of the repository the working dir is in. Nothing in the working tree,
the index, the branches or the stash changes: the snapshot is built in a private index file,
and untracked files are included (ignored ones are not). A working dir outside a git
repository is left alone, with one warning.

:func:`restore` puts the files back as they were at a checkpoint; :func:`checkpoints` lists
them, newest first. The plugin also offers the model a ``checkpoints`` tool (list) and a
``restore_checkpoint`` tool, so "undo that" works in a conversation.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import attrs
import trio

import kt
from kt.errors import KTError
from kt.llm import ToolCall

__all__ = ["CheckpointError", "Checkpoint", "CheckpointInfo", "checkpoints", "restore", "snapshot"]

REF_PREFIX = "refs/kt/checkpoints/"
DEFAULT_TOOLS = ("write", "edit", "multi_edit", "notebook_edit")
DESTRUCTIVE_BASH = re.compile(
    r"(^|[;&|(`]\s*|\b(sudo|xargs|exec)\s+)"
    r"(rm|rmdir|mv|truncate|shred|dd|unlink|find\b[^;&|]*-delete|"
    r"git\s+(reset|checkout|clean|restore|stash|rebase|switch))\b"
    r"|(^|[^<>&2])>(?!>|&)\s*[^\s&|]",
    re.MULTILINE,
)


class CheckpointError(KTError):
    """A snapshot or restore failed (git missing, not a repository, unknown checkpoint)."""


@attrs.frozen
class CheckpointInfo:
    """One checkpoint.

    Attributes:
        id: Its short id (what :func:`restore` takes).
        commit: The snapshot commit.
        message: What it was taken before (``before write path=app.py``).
        created: Unix time.
    """

    id: str
    commit: str
    message: str
    created: int


async def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    try:
        done = await trio.run_process(
            ["git", *args],
            cwd=cwd,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env={**os.environ, **(env or {})},
        )
    except FileNotFoundError as exc:
        raise CheckpointError("git is not installed; checkpoints need git on PATH") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise CheckpointError(f"git {args[0]} failed in {cwd}: {message}")
    return done.stdout.decode(errors="replace").strip()


async def _repository(working_dir: Path) -> Path:
    try:
        return Path(await _git(working_dir, "rev-parse", "--show-toplevel"))
    except CheckpointError as exc:
        raise CheckpointError(
            f"{working_dir} is not in a git repository; run `git init` there to use checkpoints"
        ) from exc


async def snapshot(working_dir: Path, message: str) -> CheckpointInfo:
    """Record the working dir's repository files as a checkpoint commit.

    Raises:
        CheckpointError: git is missing or the working dir is not in a repository.
    """
    root = await _repository(working_dir)
    with tempfile.TemporaryDirectory(prefix="kt-checkpoint-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        if await _has_head(root):
            await _git(root, "read-tree", "HEAD", env=env)
        await _git(root, "add", "--all", "--", ".", env=env)
        tree = await _git(root, "write-tree", env=env)
    identity = {
        "GIT_AUTHOR_NAME": "kt checkpoint",
        "GIT_AUTHOR_EMAIL": "checkpoint@kt.invalid",
        "GIT_COMMITTER_NAME": "kt checkpoint",
        "GIT_COMMITTER_EMAIL": "checkpoint@kt.invalid",
    }
    commit = await _git(root, "commit-tree", tree, "-m", message, env=identity)
    short = commit[:12]
    await _git(root, "update-ref", f"{REF_PREFIX}{short}", commit)
    created = int(await _git(root, "show", "-s", "--format=%ct", commit))
    return CheckpointInfo(short, commit, message, created)


async def _has_head(root: Path) -> bool:
    try:
        await _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    except CheckpointError:
        return False
    return True


async def checkpoints(working_dir: Path) -> list[CheckpointInfo]:
    """The checkpoints of the working dir's repository, newest first."""
    root = await _repository(working_dir)
    out = await _git(
        root,
        "for-each-ref",
        "--sort=-committerdate",
        "--format=%(refname)%09%(objectname)%09%(committerdate:unix)%09%(contents:subject)",
        REF_PREFIX,
    )
    found = []
    for line in filter(None, out.splitlines()):
        ref, commit, created, message = line.split("\t", 3)
        found.append(CheckpointInfo(ref.removeprefix(REF_PREFIX), commit, message, int(created)))
    return found


async def restore(working_dir: Path, checkpoint_id: str) -> list[str]:
    """Put the repository's files back as they were at *checkpoint_id*.

    Files the checkpoint holds are written back; files that were created since (and are not
    ignored) are removed. Branches, the index and the stash are not touched.

    Returns:
        The paths (relative to the repository) that changed.

    Raises:
        CheckpointError: an unknown checkpoint, or git failed.
    """
    root = await _repository(working_dir)
    known = {c.id: c for c in await checkpoints(root)}
    if checkpoint_id not in known:
        listed = ", ".join(known) or "none"
        raise CheckpointError(f"no checkpoint '{checkpoint_id}' (checkpoints: {listed})")
    target = known[checkpoint_id].commit
    now = await snapshot(root, f"before restoring {checkpoint_id}")  # restoring is undoable too
    changed = await _git(root, "diff", "--name-status", "--no-renames", now.commit, target)
    for line in filter(None, changed.splitlines()):
        status, path = line.split("\t", 1)
        if status == "D":  # created since the checkpoint
            (root / path).unlink(missing_ok=True)
    if changed:  # write the checkpoint's files through a private index: the real one is kept
        with tempfile.TemporaryDirectory(prefix="kt-checkpoint-") as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            await _git(root, "read-tree", target, env=env)
            await _git(root, "checkout-index", "--all", "--force", env=env)
    return [line.split("\t", 1)[1] for line in filter(None, changed.splitlines())]


class Checkpoint:
    """A creature plugin snapshotting the working dir before destructive tool calls.

    Args:
        tools: Tools that always take a checkpoint first.
        bash_tools: Shell tools whose destructive commands (``rm``, ``mv``, ``>`` ...) do.
        offer_tools: Offer the model the ``checkpoints`` and ``restore_checkpoint`` tools.
    """

    def __init__(
        self,
        tools: Iterable[str] = DEFAULT_TOOLS,
        bash_tools: Iterable[str] = ("bash",),
        offer_tools: bool = True,
    ) -> None:
        self.tools = frozenset(tools)
        self.bash_tools = frozenset(bash_tools)
        self.offer_tools = offer_tools
        self.taken: list[CheckpointInfo] = []
        self._warned = False

    def destructive(self, call: ToolCall) -> bool:
        """Whether *call* takes a checkpoint first."""
        if call.name in self.tools:
            return True
        command = call.args.get("command") if isinstance(call.args, dict) else None
        return call.name in self.bash_tools and bool(
            isinstance(command, str) and DESTRUCTIVE_BASH.search(command)
        )

    @kt.hookimpl
    async def kt_creature_started(self, creature: kt.Agent) -> None:
        """Offer the model the checkpoint tools."""
        if self.offer_tools:
            # imported here: making a tool parses its docstring, which loading the plugin
            # (every process with the default plugin set) need not pay
            from kt_checkpoint.tools import list_checkpoints, restore_checkpoint

            await creature.add_tools([list_checkpoints, restore_checkpoint])

    @kt.hookimpl
    async def kt_pre_tool_call(self, call: ToolCall, ctx: kt.TurnContext) -> None:
        """Take a checkpoint before a destructive call (where none can be taken: warn once)."""
        if not self.destructive(call):
            return
        described = " ".join(f"{k}={v}" for k, v in call.args.items() if k in ("path", "command"))
        try:
            self.taken.append(
                await snapshot(ctx.creature.working_dir, f"before {call.name} {described}"[:200])
            )
        except CheckpointError as exc:
            if not self._warned:
                self._warned = True
                await ctx.creature.emit(
                    kt.events.AgentWarning(
                        message=f"no checkpoints are taken: {exc}", source="kt_checkpoint"
                    )
                )


@kt.hookimpl
def kt_module_aliases() -> dict[str, str]:
    return {"kt_biome.plugins.checkpoint:CheckpointPlugin": "kt_checkpoint:Checkpoint"}
