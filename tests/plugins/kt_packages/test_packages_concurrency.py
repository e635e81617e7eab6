"""Installs are atomic and serialised, and never silently go back to an older version.

Six processes calling ``kt_packages.ensure("@kt-biome")`` at once used to fail 1 to 4 times:
the pack was visible half-copied. Readers racing a reinstall must only ever see a whole pack.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from packs_support import SOURCE_ROOTS, make_pack

import kt_packages
from kt_packages.errors import PackDowngradeError

ENSURE = """
import sys
import kt_packages
from kt_packages.store import PackStore
path = PackStore().ensure("@kt-biome/creatures/swe")
assert (path / "creature.toml").is_file() or (path / "config.yaml").is_file(), path
print("ok", path)
"""


def test_six_processes_ensure_the_same_pack_at_once(kt_home):
    env = dict(os.environ, KT_HOME=str(kt_home))
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in SOURCE_ROOTS)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", ENSURE],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outcomes = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    failures = [err for code, _, err in outcomes if code != 0]
    assert failures == []
    assert len({out for _, out, _ in outcomes}) == 1  # all resolved the same folder
    leftovers = [p.name for p in (kt_home / "packages").iterdir() if p.name.startswith(".kt-st")]
    assert leftovers == []


def test_a_pack_being_reinstalled_always_resolves(store, tmp_path):
    """A reader resolving ``@pack/path`` while another store reinstalls it never fails."""
    source = make_pack(tmp_path / "src" / "big", "big", creatures=[f"c{i}" for i in range(40)])
    store.install(str(source))
    problems: list[str] = []
    lookups = 0
    done = threading.Event()

    def read():
        nonlocal lookups
        reader = kt_packages.PackStore(store.root)
        while not done.is_set():
            lookups += 1
            try:
                found = reader.resolve("@big/creatures/c39")
            except Exception as exc:  # the old symptom: "pack 'big' has no 'creatures/c39'"
                problems.append(f"{type(exc).__name__}: {exc}")
                continue
            if found is None:
                problems.append("pack 'big' not installed")

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for _ in range(15):
            store.install(str(source))
    finally:
        done.set()
        thread.join()
    assert problems == [] and lookups > 0


def test_installing_an_older_version_over_a_newer_one_is_refused(store, tmp_path):
    newer = make_pack(tmp_path / "v2" / "tools", "tools")
    (newer / "kt-pack.toml").write_text(
        (newer / "kt-pack.toml").read_text().replace('version = "1.0.0"', 'version = "2.1.0"')
    )
    older = make_pack(tmp_path / "v1" / "tools", "tools")
    store.install(str(newer))
    with pytest.raises(PackDowngradeError, match=r"2\.1\.0 is installed .* older version 1\.0\.0"):
        store.install(str(older))
    assert store.require("tools").manifest().version == "2.1.0"  # nothing changed
    store.install(str(older), allow_downgrade=True)
    assert store.require("tools").manifest().version == "1.0.0"
    store.install(str(newer))  # going forward needs no flag
    assert store.require("tools").manifest().version == "2.1.0"


def test_kt_install_says_how_to_downgrade(kt_home, tmp_path):
    newer = make_pack(tmp_path / "v2" / "p", "p")
    (newer / "kt-pack.toml").write_text(
        (newer / "kt-pack.toml").read_text().replace('version = "1.0.0"', 'version = "3"')
    )
    older = make_pack(tmp_path / "v1" / "p", "p")
    env = dict(os.environ, KT_HOME=str(kt_home), KT_PLUGINS="kt_packages,kt_cli")
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in SOURCE_ROOTS)

    def kt(*args):
        return subprocess.run(
            [sys.executable, "-m", "kt_cli", *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert kt("install", newer).returncode == 0
    refused = kt("install", older)
    assert refused.returncode != 0 and "--allow-downgrade" in refused.stderr
    assert kt("install", older, "--allow-downgrade").returncode == 0
