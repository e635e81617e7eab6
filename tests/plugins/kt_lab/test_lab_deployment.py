"""examples/deployment: the commands the compose files run exist, the probes are proxied."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOYMENT = Path(__file__).resolve().parents[3] / "examples" / "deployment"


def compose_files():
    yaml = pytest.importorskip("yaml")
    return {
        path.name: yaml.safe_load(path.read_text()) for path in DEPLOYMENT.glob("compose.*.yaml")
    }


def worker_help(command: str = "worker") -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from kt_cli.main import main; main()", command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_worker_command_in_the_compose_files_is_a_valid_kt_worker_command():
    help_text = worker_help()
    commands = [
        service["command"]
        for compose in compose_files().values()
        for service in (compose.get("services") or {}).values()
        if service.get("command", [None])[0] == "worker"
    ]
    assert len(commands) >= 2
    for command in commands:
        for option in [part for part in command if part.startswith("--")]:
            assert option in help_text, f"{option} is not an option of kt worker"
        assert "--password" not in " ".join(command)  # secrets come from files


def test_the_host_runs_kt_web_in_lab_host_mode_in_the_foreground():
    help_text = worker_help("web")
    dockerfile = (DEPLOYMENT / "Dockerfile").read_text()
    default = dockerfile.split("CMD ", 1)[1].splitlines()[0]
    commands = [json.loads(default)] + [  # the exec form: a JSON list
        service["command"]
        for compose in compose_files().values()
        for service in (compose.get("services") or {}).values()
        if service.get("command", [None])[0] in ("web", "serve")
    ]
    assert len(commands) >= 2
    for command in commands:
        assert command[:3] == ["web", "--mode", "lab-host"]  # not `serve start`: it detaches
        for option in [part for part in command if part.startswith("--")]:
            assert option in help_text, f"{option} is not an option of kt web"
    for compose in compose_files().values():
        for service in (compose.get("services") or {}).values():
            if "--host" in service.get("command", []) and "0.0.0.0" in service["command"]:
                assert service["environment"]["KT_AUTH_HOST_TOKEN_FILE"].startswith("/run/")


def test_services_read_the_redis_password_from_a_secret_file():
    for compose in compose_files().values():
        for name, service in (compose.get("services") or {}).items():
            if service.get("command", [""])[0] in ("worker", "serve"):
                assert service["environment"]["KT_LAB_PASSWORD_FILE"].startswith("/run/secrets/")
                assert "redis-password" in service["secrets"], name


def test_the_proxy_passes_the_health_checks_and_websockets():
    site = (DEPLOYMENT / "nginx" / "kt.conf").read_text()
    assert "location = /healthz" in site and "location = /readyz" in site
    assert "listen 443 ssl" in site and "Upgrade $http_upgrade" in site
    redis_conf = (DEPLOYMENT / "redis.conf").read_text()
    assert "appendonly yes" in redis_conf
