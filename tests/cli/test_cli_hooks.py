"""``kt hooks``: every hook the plugin set declares; docs/reference/hooks.md is its Markdown."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import kt
from kt_cli.commands.hooks import render_markdown

ROOT = Path(__file__).resolve().parents[2]


def first_party_kernel() -> kt.Kernel:
    """Every plugin this repository ships, as the reference documents them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return kt.Kernel(plugins=list(project["entry-points"]["kt.plugins"]))


def test_the_hooks_reference_is_kt_hooks_markdown():
    current = (ROOT / "docs" / "reference" / "hooks.md").read_text(encoding="utf-8")
    assert current == render_markdown(first_party_kernel()), (
        "docs/reference/hooks.md is out of date: run kt hooks --markdown > docs/reference/hooks.md"
    )


def test_the_reference_has_the_kernel_s_hooks_and_those_plugins_declare_in_markdown():
    text = render_markdown(first_party_kernel())
    for hook in ("kt_tools", "kt_pre_tool_call", "kt_session_restore", "kt_cli_commands",
                 "kt_doctor_checks", "kt_embedding_providers", "kt_web_routes"):  # fmt: skip
        assert f"`{hook}(" in text
    assert "### Declared by `kt_cli`" in text
    assert "``" not in text and ":class:" not in text  # docstring markup became Markdown


def test_kt_hooks_lists_each_hook_with_who_declares_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "kt_cli", "--plugins", "kt_cli,kt_sessions", "hooks"],
        capture_output=True,
        text=True,
        env={"KT_HOME": str(tmp_path), "PATH": ""},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("kt_cli_commands  (kt_cli)") for line in lines)
    assert any(line.startswith("kt_embedding_providers  (kt_sessions)") for line in lines)
    assert any(line.startswith("kt_resolve_ref [firstresult]  (kt)") for line in lines)
