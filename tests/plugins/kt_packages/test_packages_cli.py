"""The pack commands through the real `kt` process (`python -m kt_cli`), in an isolated home."""

from __future__ import annotations

import pytest
from packs_support import KT_BIOME, REPO, STUB, write

needs_kt_biome = pytest.mark.skipif(not KT_BIOME.is_dir(), reason="no kt-biome fixture")


def test_help_lists_the_pack_commands(run_kt):
    done = run_kt("--help")
    assert done.returncode == 0, done.stderr
    for command in ("install", "uninstall", "update", "list", "info", "marketplace"):
        assert f"  {command} " in done.stdout


def test_install_list_info_uninstall_a_local_pack(run_kt, pack_factory, kt_home, tmp_path):
    source = pack_factory("acme", creatures=("hello", "helper"))
    done = run_kt("install", source)
    assert done.returncode == 0, done.stderr
    assert f"Installed acme 1.0.0 in {kt_home / 'packages' / 'acme'}" in done.stdout
    assert "creatures (2): hello, helper" in done.stdout
    assert "Run one: kt run @acme/creatures/hello" in done.stdout

    listed = run_kt("list", "--path", tmp_path / "src")
    assert listed.returncode == 0, listed.stderr
    assert "acme 1.0.0" in listed.stdout and "creatures: hello, helper" in listed.stdout
    assert "creature   acme/creatures/hello" in listed.stdout

    info = run_kt("info", "@acme/creatures/hello")
    assert info.returncode == 0, info.stderr
    assert "creature hello" in info.stdout and "model: not set" in info.stdout

    assert run_kt("uninstall", "acme").stdout == "Uninstalled acme.\n"
    again = run_kt("uninstall", "acme")
    assert again.returncode == 1
    assert again.stderr.startswith("kt: error: no pack named 'acme' is installed")
    assert "Traceback" not in again.stderr


def test_editable_install_then_update_is_skipped_with_exit_code_0(run_kt, pack_factory, kt_home):
    source = pack_factory("live")
    done = run_kt("install", source, "-e")
    assert done.returncode == 0, done.stderr
    assert "(editable)" in done.stdout
    assert (kt_home / "packages" / "live.link").read_text().strip() == str(source.resolve())
    update = run_kt("update", "live")
    assert update.returncode == 0
    assert update.stdout.startswith("live: skipped (editable")
    summary = run_kt("update", "--all")
    assert "Update summary: 0 updated, 0 unchanged, 1 skipped" in summary.stdout
    assert run_kt("update").returncode == 2  # neither a name nor --all


def test_collision_exits_non_zero_naming_both_packs(run_kt, tmp_path):
    from packs_support import make_pack

    extra = '[[prompts]]\nname = "tone"\n'
    for name in ("alpha", "beta"):
        folder = make_pack(tmp_path / name, name, extra=extra)
        write(folder / "prompts" / "tone.md", "Be kind.\n")
    assert run_kt("install", tmp_path / "alpha").returncode == 0
    done = run_kt("install", tmp_path / "beta")
    assert done.returncode == 1
    assert (
        "prompt 'tone' is declared by both pack 'alpha' (installed) and pack 'beta'" in done.stderr
    )


def test_install_at_kt_biome_and_search_the_marketplace(run_kt):
    done = run_kt("install", "@kt-biome")
    assert done.returncode == 0, done.stderr
    assert f"copied from {STUB}" in done.stdout
    assert "creatures (3): general, swe, researcher" in done.stdout
    found = run_kt("marketplace", "search", "starter", "terrariums")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("kt-biome 0.1.0  (installed)")
    assert "install: kt install @kt-biome" in found.stdout
    assert "No pack in the index matches 'zzz'" in run_kt("marketplace", "search", "zzz").stdout


def test_search_a_given_index_file(run_kt, tmp_path):
    index = write(
        tmp_path / "index.toml",
        '[[packs]]\nname = "acme"\nsource = "https://example.org/acme.git"\n'
        'description = "Ticket tools"\ntags = ["support"]\n',
    )
    done = run_kt("marketplace", "search", "support", "--index", index)
    assert done.stdout.startswith("acme\n  Ticket tools\n")


def test_bad_sources_and_manifests_are_one_line_errors(run_kt, tmp_path):
    done = run_kt("install", "nowhere")
    assert done.returncode == 1
    assert done.stderr.startswith("kt: error: cannot install from 'nowhere'")
    write(tmp_path / "bad" / "kt-pack.toml", "[pack]\nname = 3\n")
    bad = run_kt("install", tmp_path / "bad")
    assert bad.returncode == 2  # a manifest problem is a config error
    assert "at 'pack.name': expected a string" in bad.stderr
    assert "Traceback" not in bad.stderr
    verbose = run_kt("install", tmp_path / "bad", "--verbose")
    assert "Traceback" in verbose.stderr


@needs_kt_biome
def test_kt_biome_fixture_installs_and_info_lists_its_creatures(run_kt, kt_home):
    done = run_kt("install", KT_BIOME)
    assert done.returncode == 0, done.stderr
    assert "creatures (9): general, bounded_general, swe" in done.stdout
    assert "Not supported (26), left out: they need KohakuTerrarium's internals" in done.stdout
    assert "kohaku.yaml plugins (12): cost_tracker, event_logger" in done.stdout
    assert "creatures/general/config.yaml plugins (3): context_files" in done.stdout
    assert "Check one before running it: kt info @kt-biome/" in done.stdout
    assert "Run one:" not in done.stdout

    info = run_kt("info", "@kt-biome")
    assert info.returncode == 0, info.stderr
    assert info.stdout.startswith(f"pack kt-biome 1.2.0  ({kt_home / 'packages' / 'kt-biome'})")
    assert "creatures (9):" in info.stdout and "terrariums (5):" in info.stdout
    # without the built-in plugins loaded, the names are listed, clearly, as missing
    assert "MISSING tools (23): bash, python, read" in info.stdout
    assert "UNSUPPORTED plugins (3): context_files, family_guidance, otel_metrics" in info.stdout

    creature = run_kt("info", "@kt-biome/creatures/swe")
    assert creature.returncode == 0, creature.stderr
    assert "tools (23, 0 resolved):" in creature.stdout
    assert "context_files    UNSUPPORTED  kt_biome.plugins.context_files:ContextFilesPlugin" in (
        creature.stdout
    )


@needs_kt_biome
def test_info_resolves_builtins_from_whatever_plugins_are_installed(run_kt, tmp_path):
    """A stand-in for kt_tools & co., installed as an entry point, resolves every name."""
    from packs_support import BUILTIN_SUBAGENTS, BUILTIN_TOOLS

    site = tmp_path / "builtins-site"
    write(
        site / "kt_fake_builtins.py",
        f"""
        import attrs
        import kt

        def _tool(name):
            @kt.tool
            def builtin(text: str = "") -> str:
                '''A stand-in.'''
                return name
            return attrs.evolve(builtin, name=name)

        @kt.hookimpl
        def kt_tools():
            return [_tool(n) for n in {BUILTIN_TOOLS!r}]

        @kt.hookimpl
        def kt_subagents():
            return [kt.SubAgentSpec(n, lambda e, a: _tool(e.name)) for n in {BUILTIN_SUBAGENTS!r}]
        """,
    )
    info = site / "kt_fake_builtins-1.0.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: kt_fake_builtins\nVersion: 1.0\n")
    write(info / "entry_points.txt", "[kt.plugins]\nkt_fake_builtins = kt_fake_builtins\n")
    assert run_kt("install", KT_BIOME).returncode == 0
    done = run_kt(
        "info",
        "@kt-biome/creatures/general",
        plugins="kt_packages,kt_cli,kt_fake_builtins",
        extra_paths=[site],
    )
    assert done.returncode == 0, done.stderr
    assert "tools (23, 23 resolved):" in done.stdout
    assert "sub-agents (6, 6 resolved):" in done.stdout
    assert "bash           ok           kt_fake_builtins" in done.stdout


def test_repo_examples_are_found_by_list(run_kt):
    done = run_kt("list", "--path", REPO / "examples")
    assert done.returncode == 0, done.stderr
    assert "No packs in" in done.stdout
    assert "creature   demo" in done.stdout
