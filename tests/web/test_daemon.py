"""``kt serve start|status|stop`` as a user runs them, in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
from kt_web_helpers import free_port


def kt(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "kt_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_serve_start_status_stop(tmp_path):
    env = {**os.environ, "KT_HOME": str(tmp_path / "home")}
    for name in ("KT_AUTH_HOST_TOKEN", "KT_AUTH_ADMIN_TOKEN", "KT_PLUGINS"):
        env.pop(name, None)
    port = free_port()
    started = kt("serve", "start", "--port", str(port), env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"serving on http://127.0.0.1:{port}" in started.stdout
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["status"] == "ready"
        status = kt("serve", "status", env=env)
        assert status.returncode == 0 and f"http://127.0.0.1:{port}" in status.stdout
        again = kt("serve", "start", "--port", str(port), env=env)
        assert again.returncode != 0 and "running already" in again.stderr
    finally:
        stopped = kt("serve", "stop", env=env)
    assert stopped.returncode == 0 and "stopped pid" in stopped.stdout
    assert kt("serve", "status", env=env).returncode == 3
    assert "serving on" in kt("serve", "logs", env=env).stdout


def test_a_stale_state_file_is_cleaned(tmp_path):
    env = {**os.environ, "KT_HOME": str(tmp_path / "home")}
    run = tmp_path / "home" / "run"
    run.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = {"pid": dead.pid, "url": "http://127.0.0.1:1", "started_at": 0.0, "log": "x"}
    (run / "serve.json").write_text(json.dumps(state))
    status = kt("serve", "status", env=env)
    assert status.returncode == 3 and "stale" in status.stdout
    assert not (run / "serve.json").exists()


def test_a_child_that_dies_is_reported(tmp_path):
    env = {**os.environ, "KT_HOME": str(tmp_path / "home")}
    started = kt("serve", "start", "--host", "0.0.0.0", "--port", str(free_port()), env=env)
    assert started.returncode != 0
    assert "did not start" in started.stderr and "refusing to serve" in started.stderr


def test_a_busy_port_is_skipped():
    import socket

    from kt_web.server import free_port as first_free

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        chosen = first_free("127.0.0.1", port)
    assert chosen > port


def test_kt_web_serves_in_the_foreground_and_prints_its_url(tmp_path):
    env = {**os.environ, "KT_HOME": str(tmp_path / "home")}
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "kt_cli", "web", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        line = server.stdout.readline()  # blocks until the server says where it is
        assert line.strip() == f"KT Terrarium Studio serving on http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
    finally:
        server.terminate()
        server.wait(timeout=30)
