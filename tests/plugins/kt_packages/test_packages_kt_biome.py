"""Real kt-biome compatibility: the published pack's data files install; its Python does not."""

from __future__ import annotations

import pytest
from packs_support import BUILTIN_SUBAGENTS, KT_BIOME, write

import kt
import kt_packages
from kt.testing import ScriptedLLM
from kt_packages.describe import MISSING, OK, UNSUPPORTED, describe_creature, describe_pack

pytestmark = pytest.mark.skipif(not KT_BIOME.is_dir(), reason=f"no kt-biome fixture at {KT_BIOME}")

KT_BIOME_CREATURES = [
    "general",
    "bounded_general",
    "swe",
    "researcher",
    "music",
    "video",
    "diagrammer",
    "ralph_initializer",
    "ralph_worker",
]


@pytest.fixture
def installed(store):
    return store.install(str(KT_BIOME))


def test_the_fixture_installs_and_its_python_is_reported_unsupported(installed, kt_home):
    assert installed.pack.name == "kt-biome"
    assert installed.pack.root == kt_home / "packages" / "kt-biome"
    manifest = installed.manifest
    assert manifest.format == "kohaku.yaml" and manifest.version == "1.2.0"
    assert [c.name for c in manifest.creatures] == KT_BIOME_CREATURES
    assert [t.name for t in manifest.terrariums] == [
        "swe_team",
        "pair_programming",
        "deep_research",
        "auto_research",
        "ralph_loop",
    ]
    # What first-party plugins provide (kt_module_aliases) is not unsupported; the rest is.
    aliases = kt.Kernel().module_aliases()
    kinds = {}
    for item in installed.unsupported:
        kinds.setdefault((item.file, item.kind), []).append(item.name)
        assert "KohakuTerrarium" in item.reason and "kt_biome" in item.reason
        assert item.module not in aliases
    manifest_plugins = [m for m in manifest.foreign_modules if m.kind == "plugin"]
    assert len(manifest_plugins) == 12
    assert kinds["kohaku.yaml", "plugin"] == [
        m.name for m in manifest_plugins if f"{m.module}:{m.class_name}" not in aliases
    ]
    assert len(kinds["kohaku.yaml", "io"]) == 4
    # general's default plugins (context files, family guidance, telemetry) all run here.
    assert ("creatures/general/config.yaml", "plugin") not in kinds
    assert "kt_biome.plugins.context_files:ContextFilesPlugin" in aliases
    assert installed.pip_commands == ()  # nothing of kt-biome's Python is pip-installed
    assert KT_BIOME.joinpath("kohaku.yaml").is_file()  # the fixture itself is untouched


def test_kt_biome_creatures_resolve_every_builtin_tool_and_subagent(installed, kernel):
    report = describe_pack(installed.pack.root, kernel)
    assert [c.name for c in report.creatures] == KT_BIOME_CREATURES
    for creature in report.creatures:
        assert creature.error is None, creature.error
        assert creature.count("tools") == 23
        assert creature.count("tools", OK) == 23, creature.problems()
        assert [c.name for c in creature.checks["sub-agents"]] == BUILTIN_SUBAGENTS
        assert creature.count("sub-agents", OK) == 6
        plugins = creature.checks["plugins"]
        assert [c.status for c in plugins] == [UNSUPPORTED] * 3
        assert "needs KohakuTerrarium's internals" in plugins[0].detail
    # terrarium members inherit general/swe through @kt-biome references
    for terrarium in report.terrariums:
        assert terrarium.error is None and terrarium.problems == ()
        for member in terrarium.creatures:
            assert member.error is None, member.error
            assert member.count("sub-agents", OK) == 6


def test_without_builtin_plugins_names_are_listed_as_missing_not_fatal(installed):
    bare = kt.Kernel(plugins=[kt_packages])
    report = describe_creature("@kt-biome/creatures/swe", bare)
    assert report.error is None
    assert report.count("tools", MISSING) == 23
    missing = report.checks["tools"][0]
    assert missing.name == "bash" and "no loaded plugin provides the tool 'bash'" in missing.detail


async def test_a_child_without_the_unsupported_plugins_runs(installed, kernel, tmp_path):
    child = write(
        tmp_path / "my-swe" / "creature.toml",
        'base_config = "@kt-biome/creatures/swe"\nno_inherit = ["plugins"]\n',
    )
    llm = ScriptedLLM(["Ready."])
    agent = await kt.Agent.build(child.parent, llm=llm, kernel=kernel, output=None)
    async with agent:
        result = await agent.run("hi")
    assert result.status == "completed"
    assert "bash" in agent.tools and "explore" in agent.tools
    assert "software engineer" in llm.calls[0].messages[0].content.lower()


async def test_building_a_creature_with_unsupported_plugins_fails_with_the_module_name(
    installed, kernel
):
    with pytest.raises(kt.ModuleLoadError, match="kt_biome.plugins.context_files"):
        await kt.Agent.build("@kt-biome/creatures/general", llm=ScriptedLLM(["x"]), kernel=kernel)


def test_a_kohaku_pack_with_reference_imports_is_reported_with_that_reason(store, tmp_path):
    pack = tmp_path / "refpack"
    write(
        pack / "kohaku.yaml",
        """
        name: refpack
        plugins:
          - {name: mine, module: refpack_code.mine, class: Mine}
        """,
    )
    write(pack / "refpack_code" / "mine.py", "from kohakuterrarium.modules.plugin import Base\n")
    write(
        pack / "creatures" / "c" / "config.yaml",
        "name: c\nplugins:\n  - {name: x, module: ./x.py}\n",
    )
    write(pack / "creatures" / "c" / "x.py", "import kohakuterrarium\n")
    report = store.install(str(pack))
    reasons = {item.name: item.reason for item in report.unsupported}
    assert "imports kohakuterrarium" in reasons["mine"]
    assert "imports kohakuterrarium" in reasons["x"]


def test_with_the_real_builtin_plugins_every_name_resolves(store):
    """The first-party plugins that provide the built-ins, when importable, cover every name."""
    modules = []
    for name in ("kt_tools", "kt_subagents", "kt_triggers", "kt_sessions"):
        modules.append(pytest.importorskip(name, reason=f"{name} is not importable here"))
    kernel = kt.Kernel(plugins=[kt_packages, *modules])
    for source in (str(KT_BIOME), "@kt-biome"):  # the published pack, then the bundled stub
        # The stub's version is older than the published pack's: replacing it is deliberate.
        report = describe_pack(store.install(source, allow_downgrade=True).pack.root, kernel)
        for creature in report.creatures:
            unresolved = [
                (kind, check.name)
                for kind, check in creature.problems()
                if kind in ("tools", "sub-agents")
            ]
            assert unresolved == [], (creature.name, unresolved)
