"""Installing, resolving, updating and removing packs (PackStore), with real files and git."""

from __future__ import annotations

import subprocess

import pytest
from packs_support import make_pack, write

import kt
import kt_packages
from kt.errors import ConfigNotFoundError
from kt.testing import ScriptedLLM
from kt_packages import (
    PackClashError,
    PackManifestError,
    PackNotFoundError,
    PackSourceError,
)


def test_install_from_a_local_folder_copies_it_under_the_manifest_name(
    store, pack_factory, kt_home
):
    source = pack_factory("acme")
    report = store.install(str(source))
    installed = kt_home / "packages" / "acme"
    assert report.pack.name == "acme" and report.pack.kind == "copy"
    assert report.pack.root == installed and not report.replaced
    assert (installed / "creatures" / "hello" / "creature.toml").is_file()
    assert report.pack.source == str(source.resolve())
    assert [p.name for p in store.installed()] == ["acme"]
    # a copy: later edits of the source do not leak in
    write(source / "creatures" / "hello" / "creature.toml", 'name = "changed"\n')
    assert "changed" not in (installed / "creatures" / "hello" / "creature.toml").read_text()


def test_install_replaces_an_earlier_install_and_honours_name(store, pack_factory):
    source = pack_factory("acme")
    store.install(str(source))
    again = store.install(str(source))
    assert again.replaced
    renamed = store.install(str(source), name="acme-2")
    assert renamed.pack.name == "acme-2"
    assert [p.name for p in store.installed()] == ["acme", "acme-2"]


def test_editable_install_links_the_folder_so_edits_are_live(store, pack_factory, kt_home):
    source = pack_factory("acme")
    report = store.install(str(source), editable=True)
    link = kt_home / "packages" / "acme.link"
    assert link.read_text().strip() == str(source.resolve())
    assert report.pack.kind == "editable" and report.pack.root == source.resolve()
    assert not (kt_home / "packages" / "acme").exists()
    write(source / "creatures" / "new" / "creature.toml", 'name = "new"\n')
    assert store.resolve("@acme/creatures/new") == (source / "creatures" / "new").resolve()
    assert store.update("acme").status == "skipped"


async def test_at_pack_path_resolves_through_kt_resolve_ref_for_agent_build(store, pack_factory):
    store.install(str(pack_factory("acme", creatures=("greeter",))))
    kernel = kt.Kernel(plugins=[kt_packages])
    llm = ScriptedLLM(["Hi from the pack."])
    async with await kt.Agent.build("@acme/creatures/greeter", llm=llm, kernel=kernel) as agent:
        result = await agent.run("hello")
    assert result.status == "completed" and result.text == "Hi from the pack."
    assert agent.name == "greeter"
    assert llm.calls[0].messages[0].content == "You are greeter from acme."


def test_base_config_can_inherit_from_a_pack(store, pack_factory, tmp_path):
    store.install(str(pack_factory("acme")))
    child = write(
        tmp_path / "mine" / "creature.toml",
        'base_config = "@acme/creatures/hello"\ndescription = "mine"\n',
    )
    kernel = kt.Kernel(plugins=[kt_packages])
    config = kt.load_creature_config(child.parent, resolve_ref=kernel.resolve_ref)
    assert config.system_prompt == "You are hello from acme."
    assert config.files == (store.resolve("@acme/creatures/hello/creature.toml"), child.resolve())


def test_resolve_unknown_pack_is_none_and_missing_path_names_the_contents(store, pack_factory):
    store.install(str(pack_factory("acme", creatures=("hello", "helper"))))
    assert store.resolve("@other/creatures/x") is None
    with pytest.raises(ConfigNotFoundError) as error:
        store.resolve("@acme/creatures/helo")
    assert "did you mean 'hello'" in str(error.value) and "hello, helper" in str(error.value)
    with pytest.raises(ConfigNotFoundError, match="leaves pack 'acme'"):
        store.resolve("@acme/../../etc")
    assert store.resolve("@acme") == store.get("acme").root.resolve()


def test_unknown_reference_gives_the_kernel_install_hint(store):
    kernel = kt.Kernel(plugins=[kt_packages])
    with pytest.raises(ConfigNotFoundError, match="kt install nope"):
        kt.load_creature_config("@nope/creatures/x", resolve_ref=kernel.resolve_ref)


def test_broken_editable_link_is_reported(store, pack_factory):
    source = pack_factory("acme")
    store.install(str(source), editable=True)
    kt_packages.sources.remove_tree(source)
    (pack,) = store.installed()
    assert pack.broken
    with pytest.raises(ConfigNotFoundError, match="no longer exists"):
        store.resolve("@acme/creatures/hello")


def test_uninstall_removes_files_record_and_link_and_fails_the_second_time(
    store, pack_factory, kt_home
):
    store.install(str(pack_factory("acme")))
    store.install(str(pack_factory("linked")), editable=True)
    store.uninstall("acme")
    store.uninstall("@linked")
    assert store.installed() == []
    assert not (kt_home / "packages" / ".kt-installs" / "acme.toml").exists()
    with pytest.raises(PackNotFoundError, match="no pack named 'acme'"):
        store.uninstall("acme")


def test_update_copies_again_from_the_source_folder(store, pack_factory):
    source = pack_factory("acme")
    store.install(str(source))
    write(source / "creatures" / "later" / "creature.toml", 'name = "later"\n')
    result = store.update("@acme/creatures/hello")
    assert result.status == "updated"
    assert store.resolve("@acme/creatures/later").is_dir()
    kt_packages.sources.remove_tree(source)
    gone = store.update("acme")
    assert gone.status == "skipped" and "is gone" in gone.reason


def _git(*args, cwd):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_install_and_update_from_a_git_url(store, tmp_path):
    source = make_pack(tmp_path / "repo", "gitpack")
    _git("init", "-q", cwd=source)
    _git("add", ".", cwd=source)
    _git("commit", "-qm", "first", cwd=source)
    report = store.install(f"file://{source}")
    assert report.pack.kind == "git" and report.pack.name == "gitpack"
    assert (report.pack.root / ".git").is_dir()
    assert store.update("gitpack").status == "unchanged"
    write(source / "creatures" / "second" / "creature.toml", 'name = "second"\n')
    _git("add", ".", cwd=source)
    _git("commit", "-qm", "second", cwd=source)
    assert store.update("gitpack").status == "updated"
    assert store.resolve("@gitpack/creatures/second").is_dir()
    with pytest.raises(PackSourceError, match="-e links a local folder"):
        store.install(f"file://{source}", editable=True)


def test_a_failing_clone_reports_git_and_leaves_nothing(store, tmp_path, kt_home):
    with pytest.raises(PackSourceError, match="git failed"):
        store.install(f"file://{tmp_path}/missing.git")
    left = sorted(p.relative_to(kt_home / "packages") for p in (kt_home / "packages").rglob("*"))
    assert [str(p) for p in left] == [".kt-installs", ".kt-installs/.lock"]  # only the lock


def test_unknown_source_is_an_error_naming_the_options(store):
    with pytest.raises(PackSourceError, match="not a folder, not a git URL"):
        store.install("no-such-thing")


def test_name_collisions_name_both_packs_and_change_nothing(store, tmp_path):
    extra = '[[skills]]\nname = "triage"\n[[prompts]]\nname = "tone"\n'
    first = make_pack(tmp_path / "a", "alpha", extra=extra)
    second = make_pack(tmp_path / "b", "beta", extra=extra)
    for source in (first, second):
        write(source / "skills" / "triage" / "SKILL.md", "---\nname: triage\n---\nTriage.\n")
        write(source / "prompts" / "tone.md", "Be kind.\n")
    store.install(str(first))
    with pytest.raises(PackClashError) as error:
        store.install(str(second))
    message = str(error.value)
    assert "skill 'triage' is declared by both pack 'alpha' (installed) and pack 'beta'" in message
    assert "prompt 'tone'" in message and "kt uninstall" in message
    assert [p.name for p in store.installed()] == ["alpha"]
    # reinstalling the same pack is not a clash with itself
    store.install(str(first))


def test_manifest_errors_name_the_file_and_key(store, tmp_path):
    bad = make_pack(tmp_path / "bad", "bad", extra='[[terrariums]]\nname = "team"\n')
    with pytest.raises(PackManifestError) as error:
        store.install(str(bad))
    assert error.value.path == "terrariums[0].path"
    assert error.value.file.endswith("kt-pack.toml")
    write(bad / "kt-pack.toml", '[pack]\nname = "bad"\ncolour = "red"\n')
    with pytest.raises(PackManifestError, match="unknown key 'colour'"):
        store.install(str(bad))
    write(bad / "kt-pack.toml", '[pack]\nname = "has space"\n')
    with pytest.raises(PackManifestError, match="cannot name a pack"):
        store.install(str(bad))
    assert store.installed() == []


def test_a_folder_without_manifest_is_named_after_it_and_found_by_looking(store, tmp_path):
    folder = tmp_path / "loose"
    write(folder / "creatures" / "a" / "creature.toml", 'name = "a"\n')
    report = store.install(str(folder))
    assert report.pack.name == "loose"
    assert [c.name for c in report.manifest.creatures] == ["a"]


def test_marketplace_index_entries_install_by_name(tmp_path, pack_factory):
    source = pack_factory("indexed")
    index = write(
        tmp_path / "index.toml",
        f'[[packs]]\nname = "indexed"\nsource = "{source}"\ndescription = "from the index"\n',
    )
    store = kt_packages.PackStore(index_files=[index])
    assert store.install("@indexed").pack.name == "indexed"
    with pytest.raises(PackNotFoundError, match="not in the marketplace index"):
        store.install("@unknown")
