"""`kt service install`: hardened systemd units, checked by systemd-analyze when present."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from kt_lab.errors import LabConfigError
from kt_lab.service import Units

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def kt(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from kt_cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_service_install_writes_hardened_units(tmp_path):
    done = kt(
        "service",
        "install",
        "--all",
        "--worker",
        "gpu-1",
        "--output",
        str(tmp_path),
        "--kt",
        "/usr/local/bin/kt",
    )
    assert done.returncode == 0, done.stderr
    host = (tmp_path / "kt-lab-host.service").read_text()
    worker = (tmp_path / "kt-worker-gpu-1.service").read_text()
    for unit in (host, worker):
        for line in (
            "DynamicUser=yes",
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "LoadCredential=redis-password:/etc/kt/redis-password",
            "Environment=KT_LAB_PASSWORD_FILE=%d/redis-password",
        ):
            assert line in unit
        assert "password" not in unit.split("ExecStart=")[1].splitlines()[0]
    assert "ExecStart=/usr/local/bin/kt worker --name gpu-1" in worker
    assert "ExecStart=/usr/local/bin/kt web --mode lab-host --host 127.0.0.1 --port 8765" in host


def test_a_url_with_a_password_is_refused():
    with pytest.raises(LabConfigError, match="put the password"):
        Units(url="redis://lab:secret@redis.internal:6379/0")
    with pytest.raises(LabConfigError, match="needs a Redis URL"):
        Units(url="http://redis.internal")


@pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (apt: systemd)"
)
def test_units_pass_systemd_analyze_verify(tmp_path):
    kt_path = shutil.which("kt") or sys.executable  # verify checks that ExecStart exists
    done = kt(
        "service", "install", "--worker", "w1", "--host", "--output", str(tmp_path), "--kt", kt_path
    )
    assert done.returncode == 0, done.stderr
    for unit in sorted(tmp_path.glob("*.service")):
        check = subprocess.run(
            [SYSTEMD_ANALYZE, "verify", "--man=no", str(unit)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        problems = [
            line
            for line in check.stderr.splitlines()
            if str(unit.name) in line or "Unknown" in line or "Invalid" in line
        ]
        assert check.returncode == 0 and problems == [], check.stderr
