"""Fixtures for kt_packages: an isolated kt home, packs written in tmp dirs, fake built-ins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from packs_support import (  # noqa: F401
    BUILTIN_SUBAGENTS,
    BUILTIN_TOOLS,
    KT_BIOME,
    REPO,
    SOURCE_ROOTS,
    STUB,
    FakeBuiltins,
    _tool,
    make_pack,
    write,
)

import kt
import kt_packages


@pytest.fixture(autouse=True)
def kt_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own kt home, so installs never touch ~/.kt."""
    home = tmp_path / "kt-home"
    home.mkdir()
    monkeypatch.setenv("KT_HOME", str(home))
    return home


@pytest.fixture
def store(kt_home) -> kt_packages.PackStore:
    return kt_packages.PackStore()


@pytest.fixture
def pack_factory(tmp_path):
    def make(name: str, **kwargs) -> Path:
        return make_pack(tmp_path / "src" / name, name, **kwargs)

    return make


@pytest.fixture
def kernel() -> kt.Kernel:
    """kt_packages plus stand-ins for the built-in tools and sub-agents."""
    return kt.Kernel(plugins=[kt_packages, FakeBuiltins()])


@pytest.fixture
def plugin_site(tmp_path) -> Path:
    """A folder with a throwaway .dist-info registering kt_packages as an entry point."""
    site = tmp_path / "site"
    info = site / "kt_packages_test-0.1.0.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: kt_packages_test\nVersion: 0.1.0\n")
    write(info / "entry_points.txt", "[kt.plugins]\nkt_packages = kt_packages\n")
    return site


@pytest.fixture
def run_kt(kt_home, plugin_site):
    """Run `python -m kt_cli ARGS` with kt_packages (and kt_cli) loaded, in an isolated home."""

    def run(*args, cwd: Path = REPO, plugins: str = "kt_packages,kt_cli", extra_paths=()):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(map(str, [*extra_paths, plugin_site, *SOURCE_ROOTS]))
        env["KT_HOME"] = str(kt_home)
        env["KT_PLUGINS"] = plugins
        env.pop("COLUMNS", None)
        return subprocess.run(
            [sys.executable, "-m", "kt_cli", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=120,
        )

    return run
