"""The bundled kt-biome stub pack, `@kt-biome` from the marketplace index, and ensure()."""

from __future__ import annotations

import pytest
from packs_support import BUILTIN_SUBAGENTS, BUILTIN_TOOLS, STUB

import kt
import kt_packages
from kt.config import read_config_file
from kt.errors import ConfigNotFoundError
from kt.testing import ScriptedLLM
from kt_packages.describe import OK, describe_pack
from kt_packages.manifest import read_manifest


def test_the_stub_manifest_declares_what_the_pack_contains():
    manifest = read_manifest(STUB)  # checks every declared path exists
    assert manifest.name == "kt-biome" and manifest.format == "kt-pack.toml"
    assert [c.name for c in manifest.creatures] == ["general", "swe", "researcher"]
    assert [t.name for t in manifest.terrariums] == ["swe_team", "pair_programming"]
    assert [s.name for s in manifest.skills] == ["run-the-tests", "keep-a-plan"]
    assert [p.name for p in manifest.prompts] == ["git-safety"]
    assert manifest.plugins == () and manifest.foreign_modules == ()


def test_at_kt_biome_installs_the_bundled_stub(store, kt_home):
    report = store.install("@kt-biome")
    assert report.pack.name == "kt-biome"
    assert report.pack.source == str(STUB.resolve())
    assert report.unsupported == () and report.pip_commands == ()


def test_general_has_every_builtin_tool_and_subagent_and_the_others_inherit_it(store, kernel):
    store.install("@kt-biome")
    general = kt.load_creature_config("@kt-biome/creatures/general", resolve_ref=kernel.resolve_ref)
    assert sorted(t.name for t in general.tools) == sorted(BUILTIN_TOOLS)
    assert [s.name for s in general.subagents] == BUILTIN_SUBAGENTS
    for name in ("swe", "researcher"):
        config = kt.load_creature_config(
            f"@kt-biome/creatures/{name}", resolve_ref=kernel.resolve_ref
        )
        assert [t.name for t in config.tools] == [t.name for t in general.tools]
        assert config.system_prompt.startswith(general.system_prompt)
        assert len(config.system_prompt) > len(general.system_prompt)


def test_stub_terrariums_name_only_creatures_and_channels_that_exist(store, kernel):
    store.install("@kt-biome")
    report = describe_pack(store.get("kt-biome").root, kernel)
    creatures = {c.name for c in report.manifest.creatures}
    for terrarium in report.terrariums:
        assert terrarium.error is None and terrarium.problems == (), terrarium.problems
        recipe = read_config_file(
            next(store.get("kt-biome").root.glob(f"terrariums/{terrarium.name}/terrarium.toml"))
        )["terrarium"]
        members = [recipe["root"], *recipe["creatures"]]
        for member in members:
            ref = member["base_config"]
            assert ref.startswith("@kt-biome/creatures/") and ref.rsplit("/", 1)[1] in creatures
        for member in terrarium.creatures:
            assert member.error is None, member.error
            assert member.count("tools", OK) == len(BUILTIN_TOOLS)
    assert [t.name for t in report.terrariums] == ["swe_team", "pair_programming"]
    assert [c.name for c in report.terrariums[0].creatures] == ["root", "swe", "reviewer"]


async def test_a_stub_creature_runs_from_its_reference(store, kernel):
    store.install("@kt-biome")
    llm = ScriptedLLM(["I will read the code first."])
    async with await kt.Agent.build("@kt-biome/creatures/swe", llm=llm, kernel=kernel) as agent:
        result = await agent.run("Fix the failing test.")
    assert result.status == "completed"
    assert set(BUILTIN_TOOLS) | set(BUILTIN_SUBAGENTS) <= set(agent.tools)
    assert "Software engineering" in llm.calls[0].messages[0].content


def test_ensure_installs_once_and_is_idempotent(store, kt_home):
    path = store.ensure("@kt-biome/creatures/swe")
    assert path == (kt_home / "packages" / "kt-biome" / "creatures" / "swe").resolve()
    record = kt_home / "packages" / ".kt-installs" / "kt-biome.toml"
    first = (record.stat().st_mtime_ns, (kt_home / "packages" / "kt-biome").stat().st_ino)
    assert store.ensure("@kt-biome") == (kt_home / "packages" / "kt-biome").resolve()
    assert store.ensure("@kt-biome/creatures/swe") == path
    second = (record.stat().st_mtime_ns, (kt_home / "packages" / "kt-biome").stat().st_ino)
    assert first == second  # nothing was copied again
    with pytest.raises(kt_packages.PackNotFoundError, match="not installed and the marketplace"):
        store.ensure("@not-a-pack")


def test_ensure_leaves_an_installed_pack_of_that_name_alone(store, pack_factory):
    store.install(str(pack_factory("custom")), name="kt-biome")
    assert store.ensure("@kt-biome/creatures/hello").is_dir()
    assert store.get("kt-biome").source != str(STUB.resolve())


def test_hook_kt_ensure_package(kt_home):
    kernel = kt.Kernel(plugins=[kt_packages])
    path = kt_packages.ensure("@kt-biome/creatures/general", kernel=kernel)
    assert path == (kt_home / "packages" / "kt-biome" / "creatures" / "general").resolve()
    assert kernel.pm.hook.kt_ensure_package(ref="@kt-biome") == path.parents[1]
    assert kt_packages.resolve("@kt-biome/creatures/general", kernel=kernel) == path


def test_kt_packages_without_a_package_plugin_say_what_to_load():
    bare = kt.Kernel(plugins=[])
    with pytest.raises(ConfigNotFoundError, match="no loaded plugin installs packages"):
        kt_packages.ensure("@kt-biome", kernel=bare)
    with pytest.raises(ConfigNotFoundError, match="kt install kt-biome"):
        kt_packages.resolve("@kt-biome/creatures/swe", kernel=bare)
    with pytest.raises(ValueError, match="not a package reference"):
        kt_packages.resolve("kt-biome", kernel=bare)


def test_the_plugin_has_no_unknown_hooks():
    kernel = kt.Kernel(plugins=[kt_packages, "kt_cli"])
    kernel.pm.check_pending()


@pytest.mark.parametrize("name", ["swe_team", "pair_programming"])
def test_stub_recipes_load_with_the_terrarium_engines_reader(store, name):
    from kt_terrarium import recipes

    store.install("@kt-biome")
    kernel = kt.Kernel(plugins=[kt_packages])
    recipe = recipes.load_recipe(f"@kt-biome/terrariums/{name}", resolve_ref=kernel.resolve_ref)
    members = {"swe_team": ["swe", "reviewer"], "pair_programming": ["driver", "navigator"]}[name]
    assert sorted(c.name for c in recipe.creatures) == sorted([*members, "root"])
    assert recipe.root == "root" and recipe.warnings == ()
