"""Helpers for the kt_packages tests (plain module: conftest names clash across test folders): an isolated kt home, packs written in tmp dirs, fake built-ins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import attrs

import kt

REPO = Path(__file__).resolve().parents[3]


STUB = REPO / "kt_biome_stub"


KT_BIOME = REPO.parent / "shared" / "fixtures" / "kt-biome"


SOURCE_ROOTS = [REPO / "kernel", REPO / "plugins", REPO / "cli"]


# The names kt-biome's `general` uses, plus show_card (kt_tools) that the stub's general adds.
BUILTIN_TOOLS = [
    "bash", "python", "read", "write", "edit", "multi_edit", "glob", "grep", "tree",
    "notebook_read", "notebook_edit", "json_read", "json_write", "scratchpad", "info",
    "ask_user", "send_message", "stop_task", "web_fetch", "web_search", "show_card",
    "add_timer", "add_schedule", "search_memory",
]  # fmt: skip


BUILTIN_SUBAGENTS = ["explore", "plan", "worker", "critic", "summarize", "research"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def make_pack(folder: Path, name: str, *, creatures=("hello",), extra: str = "") -> Path:
    """Write a small kt-pack.toml pack with scripted-free creatures and a skill."""
    manifest = f'[pack]\nname = "{name}"\nversion = "1.0.0"\ndescription = "Pack {name}"\n'
    for creature in creatures:
        manifest += f'\n[[creatures]]\nname = "{creature}"\n'
        write(
            folder / "creatures" / creature / "creature.toml",
            f'name = "{creature}"\nsystem_prompt = "You are {creature} from {name}."\n',
        )
    write(folder / "kt-pack.toml", manifest + textwrap.dedent(extra))
    return folder


def _tool(name: str) -> kt.ToolSpec:
    @kt.tool
    async def builtin(text: str = "") -> str:
        """A stand-in for a built-in tool."""
        return f"{name} ran"

    return attrs.evolve(builtin, name=name)


class FakeBuiltins:
    """Provides every built-in tool and sub-agent name, as kt_tools & co. will."""

    kt_plugin_name = "fake_builtins"

    @kt.hookimpl
    def kt_tools(self):
        return [_tool(name) for name in BUILTIN_TOOLS]

    @kt.hookimpl
    def kt_subagents(self):
        return [
            kt.SubAgentSpec(name, lambda entry, agent: _tool(entry.name))
            for name in BUILTIN_SUBAGENTS
        ]
