"""Helpers for the web tests: a real API server on a loopback port, WebSocket clients.

The server runs as a child process, exactly as ``kt serve start`` runs it, with its own kt
home; tests talk to it over HTTP and WebSockets. It says it is ready on a pipe, so no test
waits by sleeping.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
from pathlib import Path

import httpx


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_helper_and_team(root: Path) -> None:
    """The creature ``helper`` (with a scratchpad) and the recipe ``team`` built on it.

    ``team``: ``helper`` as the root and a ``worker`` listening on the queue channel ``tasks``.
    """
    write(
        root / "creatures" / "helper" / "creature.toml",
        'name = "helper"\nsystem_prompt = "You help."\n[[tools]]\nname = "scratchpad"\n',
    )
    write(
        root / "team" / "terrarium.toml",
        f"""name = "team"

[root]
base_config = "{root}/creatures/helper"

[[creatures]]
name = "worker"
base_config = "{root}/creatures/helper"
channels = {{ listen = ["tasks"] }}

[channels]
tasks = {{ kind = "queue", description = "work to do" }}
""",
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One server process; ``url``, ``client`` (httpx), ``home`` and ``stop()``."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, args: list[str] = ()):
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "KT_HOME": str(home), **(env or {})}
        for name in ("KT_AUTH_HOST_TOKEN", "KT_AUTH_ADMIN_TOKEN", "KT_SESSION_DIR"):
            if env is None or name not in env:
                self.env.pop(name, None)
        read_end, write_end = os.pipe()
        self.log = home / "server.log"
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "kt_web.server",
            "--port",
            str(port),
            "--threads",
            "80",
            "--ready-fd",
            str(write_end),
            *args,
        ]
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(write_end,),
                env=self.env,
            )
        os.close(write_end)
        readable, _, _ = select.select([read_end], [], [], 60)
        line = os.read(read_end, 200).decode() if readable else ""
        os.close(read_end)
        if not line.startswith("ready "):
            self.stop()
            raise RuntimeError(f"server did not start:\n{self.log.read_text()}")
        self.url = line.split()[1]
        self.ws_url = self.url.replace("http://", "ws://")
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def stop(self) -> None:
        if hasattr(self, "client"):
            self.client.close()  # an open keep-alive connection would hold up the shutdown
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def connect(url: str, **options):
    """An open WebSocket client connection (the ``websockets`` library's synchronous one).

    Close it with ``close()`` or use it in a ``with`` block.
    """
    from websockets.sync.client import connect as open_socket

    return open_socket(url, open_timeout=10, **options).__enter__()


def frames_until(ws, kind: str, limit: int = 500) -> list[dict]:
    """Frames up to and including the first of type *kind* (20 s at most per frame)."""
    seen = []
    for _ in range(limit):
        data = json.loads(ws.recv(timeout=20))
        seen.append(data)
        if data["type"] == kind:
            return seen
    raise AssertionError(f"no {kind} frame in {[f['type'] for f in seen]}")


def start_creature(server: Server, world: Path, script: str = "replies.toml", **extra) -> dict:
    body = {
        "config_path": str(world / "creatures" / "helper"),
        "llm": f"scripted:{world / script}",
        **extra,
    }
    response = server.client.post("/api/sessions/active/creature", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def start_team(server: Server, world: Path, name: str, script: str = "replies.toml") -> dict:
    """Start the ``team`` recipe (:func:`write_helper_and_team`) as a live session named *name*."""
    body = {"config_path": str(world / "team"), "llm": f"scripted:{world / script}", "name": name}
    response = server.client.post("/api/sessions/active/terrarium", json=body)
    assert response.status_code == 201, response.text
    return response.json()
