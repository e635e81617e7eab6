"""Every creature of the real kt-biome pack (a YAML pack) loads, inherits and validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from kt.config import CreatureConfig, load_creature_config

KT_BIOME = Path(__file__).parents[3] / "shared" / "fixtures" / "kt-biome"
CREATURES = (
    sorted(p.name for p in (KT_BIOME / "creatures").iterdir() if p.is_dir())
    if KT_BIOME.is_dir()
    else []  # the module is skipped below
)

pytestmark = pytest.mark.skipif(
    not KT_BIOME.is_dir(), reason=f"kt-biome fixture not found at {KT_BIOME}"
)


def resolve_kt_biome(ref: str) -> Path | None:
    """Map ``@kt-biome/<path>`` into the fixture folder, like an installed pack would."""
    prefix = "@kt-biome/"
    return KT_BIOME / ref.removeprefix(prefix) if ref.startswith(prefix) else None


def load(name: str, env: dict[str, str] | None = None) -> CreatureConfig:
    return load_creature_config(
        KT_BIOME / "creatures" / name, env=env or {}, resolve_ref=resolve_kt_biome
    )


def test_every_creature_is_found():
    assert len(CREATURES) == 9
    assert "general" in CREATURES


@pytest.mark.parametrize("name", CREATURES)
def test_every_creature_loads_with_the_general_toolset(name):
    config = load(name)
    assert config.name == name
    assert config.tools[0].name == "bash"
    assert len(config.tools) == 23
    assert [s.name for s in config.subagents] == [
        "explore",
        "plan",
        "worker",
        "critic",
        "summarize",
        "research",
    ]
    assert config.controller.tool_format == "native"
    assert config.skills == ("*",)
    assert (
        config.system_prompt_files[0] == KT_BIOME.resolve() / "creatures/general/prompts/system.md"
    )


def test_general():
    config = load("general")
    # The pack's manifest says "24 tools"; its config lists 23, which is what we load.
    assert len(config.tools) == 23
    assert len(config.subagents) == 6
    assert {t.name: t.type for t in config.tools}["add_timer"] == "trigger"
    assert [p.name for p in config.plugins] == ["context_files", "family_guidance", "otel_metrics"]
    context_files = config.plugins[0]
    assert (context_files.module, context_files.class_name) == (
        "kt_biome.plugins.context_files",
        "ContextFilesPlugin",
    )
    assert config.plugins[2].type == "package"  # not written: the default
    assert config.output.type == "stdout" and config.output.controller_direct is True
    assert config.memory["embedding"] == {"provider": "model2vec", "model": "@multilingual-best"}
    assert config.skill_mode == "dynamic"
    assert config.max_iterations == 50
    assert config.files == ((KT_BIOME / "creatures/general/config.yaml").resolve(),)


def test_swe_inherits_general_and_interpolates_reasoning_effort():
    config = load("swe")
    assert [t.name for t in config.tools] == [t.name for t in load("general").tools]
    assert len(config.subagents) == 6
    assert config.controller.reasoning_effort == "high"  # from ${REASONING:high}
    assert load("swe", env={"REASONING": "low"}).controller.reasoning_effort == "low"
    assert [p.parent.parent.name for p in config.system_prompt_files] == ["general", "swe"]
    general_prompt = (KT_BIOME / "creatures/general/prompts/system.md").read_text().strip()
    swe_prompt = (KT_BIOME / "creatures/swe/prompts/system.md").read_text().strip()
    assert config.system_prompt == f"{general_prompt}\n\n{swe_prompt}"
    assert [p.parent.name for p in config.files] == ["general", "swe"]


def test_bounded_general_and_ralph_worker_budgets():
    assert load("bounded_general").max_iterations == 50
    assert load("ralph_worker").max_iterations == 300
    # bounded_general sets no prompt file of its own: only general's prompt.
    assert len(load("bounded_general").system_prompt_files) == 1


def test_reasoning_defaults_per_creature():
    efforts = {name: load(name).controller.reasoning_effort for name in CREATURES}
    assert efforts == {
        "bounded_general": None,
        "diagrammer": "medium",
        "general": None,
        "music": "medium",
        "ralph_initializer": "high",
        "ralph_worker": "medium",
        "researcher": None,
        "swe": "high",
        "video": "medium",
    }
