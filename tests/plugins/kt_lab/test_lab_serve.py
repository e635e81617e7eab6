"""``kt serve start --mode lab-host``: the API's sessions run on workers, and survive the host.

Real processes throughout: redis-server, a `kt worker` with the tests' scripted backend (the
host has no such backend: a reply proves the worker ran the turn), and the `kt serve` daemon,
driven over HTTP as the dashboard drives it. The host is then killed with SIGKILL (its whole
process group, as a machine that loses power) and started again: it takes its creature back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx
import pytest
import trio
from lab_support import free_port, start

pytest.importorskip("flask", reason="the HTTP API needs the web extra")


def kt(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "kt_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def serve_env(tmp_path):
    env = {**os.environ, "KT_HOME": str(tmp_path / "serve-home")}
    for name in ("KT_AUTH_HOST_TOKEN", "KT_AUTH_ADMIN_TOKEN", "KT_PLUGINS", "KT_LAB_REDIS"):
        env.pop(name, None)
    return env


def start_host(url, port, env):
    started = kt("serve", "start", "--mode", "lab-host", "--redis", url, "--port", port, env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    state = json.loads((env_home(env) / "run" / "serve.json").read_text())
    return f"http://127.0.0.1:{port}", state["pid"]


def wait_exit(pid):
    """Block until *pid* exited (its pidfd becomes readable), whoever its parent is."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        assert select.select([fd], [], [], 30)[0], f"pid {pid} did not exit"
    finally:
        os.close(fd)


def env_home(env):
    from pathlib import Path

    return Path(env["KT_HOME"])


async def test_sessions_of_a_lab_host_run_on_workers_and_come_back_after_a_crash(
    workers, redis_server, tmp_path
):
    await start(workers, "w1")
    creature = tmp_path / "creatures" / "far"
    creature.mkdir(parents=True)
    (creature / "creature.toml").write_text('name = "far"\n')
    env, port = serve_env(tmp_path), str(free_port())

    base, pid = await trio.to_thread.run_sync(start_host, redis_server.url, port, env)
    try:
        ready = httpx.get(f"{base}/readyz").json()
        assert ready == {"status": "ready", "mode": "lab-host"}
        body = {"config_path": str(creature), "llm": "labscript/echo"}
        session = httpx.post(f"{base}/api/sessions/active/creature", json=body, timeout=60)
        assert session.status_code == 201, session.text
        sid = session.json()["session_id"]
        chat = f"{base}/api/sessions/{sid}/creatures/root/chat"
        answer = httpx.post(chat, json={"message": "hello"}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["response"] == "got: hello"  # the worker's scripted backend
        history = httpx.get(f"{base}/api/sessions/{sid}/creatures/root/history", timeout=60)
        assert history.status_code == 200, history.text  # read over the link from the worker
        assert [m["content"] for m in history.json()["messages"]][-2:] == ["hello", "got: hello"]
        (node,) = httpx.get(f"{base}/api/nodes").json()["nodes"]
        assert node["name"] == "w1" and [c["id"] for c in node["creatures"]] == ["far"]

        os.killpg(pid, signal.SIGKILL)  # the host dies; the creature stays on w1
        await trio.to_thread.run_sync(wait_exit, pid)
        base, pid = await trio.to_thread.run_sync(start_host, redis_server.url, port, env)

        (back,) = httpx.get(f"{base}/api/sessions/active").json()["sessions"]
        assert [c["id"] for c in back["creatures"]] == ["far"]
        chat = f"{base}/api/sessions/{back['session_id']}/creatures/root/chat"
        answer = httpx.post(chat, json={"message": "again"}, timeout=60)
        assert answer.json()["response"] == "got: again"
        (view,) = httpx.get(f"{base}/api/sessions/active").json()["sessions"][0]["creatures"]
        assert view["turn_index"] == 2  # its first turn learned from the stream, not run again
        (node,) = httpx.get(f"{base}/api/nodes").json()["nodes"]
        assert len(node["creatures"]) == 1  # taken back, not placed a second time

        # A graceful restart leaves it running on w1 too, and takes it back.
        restarted = await trio.to_thread.run_sync(
            lambda: kt(
                "serve",
                "restart",
                "--mode",
                "lab-host",
                "--redis",
                redis_server.url,
                "--port",
                port,
                env=env,
            )
        )
        assert restarted.returncode == 0, restarted.stderr
        active = httpx.get(f"{base}/api/sessions/active").json()
        assert active["resumable"] == []  # taken back live: nothing to resume a second time
        (back,) = active["sessions"]
        chat = f"{base}/api/sessions/{back['session_id']}/creatures/root/chat"
        assert httpx.post(chat, json={"message": "third"}, timeout=60).json()["response"] == (
            "got: third"
        )
        (view,) = back["creatures"]
        assert view["turn_index"] == 2  # before the third turn: nothing lost, nothing run twice
    finally:
        stopped = kt("serve", "stop", env=env)
        assert stopped.returncode == 0, stopped.stderr


def test_lab_host_without_redis_is_refused_before_anything_starts(tmp_path):
    refused = kt("serve", "start", "--mode", "lab-host", env=serve_env(tmp_path))
    assert refused.returncode != 0 and "needs the Laboratory's Redis" in refused.stderr
    wrong = kt("serve", "start", "--place-on", "gpu-1", env=serve_env(tmp_path))
    assert wrong.returncode != 0 and "--mode lab-host" in wrong.stderr
