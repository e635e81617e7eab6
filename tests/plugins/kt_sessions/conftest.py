"""Fixtures for the session plugin: an isolated kt home, a kernel with kt_sessions, helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kt
import kt_sessions

REPO = Path(__file__).resolve().parents[3]
SOURCE_ROOTS = [REPO / "kernel", REPO / "plugins", REPO / "cli"]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own kt home, so nothing lands in ~/.kt."""
    home = tmp_path / "kt-home"
    home.mkdir()
    monkeypatch.setenv("KT_HOME", str(home))
    monkeypatch.delenv("KT_SESSION_DIR", raising=False)
    return home


@pytest.fixture
def kernel():
    return kt.Kernel(plugins=[kt_sessions])


@pytest.fixture
def session_dir(tmp_path):
    return tmp_path / "sessions"


@pytest.fixture
def site(tmp_path):
    """A folder with a throwaway .dist-info registering kt_sessions as an entry point."""
    folder = tmp_path / "site"
    info = folder / "kt_sessions_test-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kt_sessions_test\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[kt.plugins]\nkt_sessions = kt_sessions\n")
    return folder


@pytest.fixture
def kt_cmd(site, isolated_home, tmp_path):
    """Run `python -m kt_cli ...` in a subprocess with kt_sessions and kt_cli loaded."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [site, *SOURCE_ROOTS])
    env["KT_HOME"] = str(isolated_home)
    env["KT_PLUGINS"] = "kt_sessions,kt_cli"
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("KT_SESSION_DIR", None)

    def run(*args, stdin="", timeout=60, cwd=tmp_path):
        return subprocess.run(
            [sys.executable, "-m", "kt_cli", *map(str, args)],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=timeout,
        )

    def start(*args, cwd=tmp_path):
        return subprocess.Popen(
            [sys.executable, "-m", "kt_cli", *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )

    run.env = env
    run.start = start
    return run
