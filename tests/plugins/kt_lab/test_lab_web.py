"""``GET /api/nodes``: kt_lab adds the Laboratory's nodes to the HTTP API (kt_web_routes)."""

from __future__ import annotations

import contextlib

import pytest

import kt

pytest.importorskip("flask", reason="the HTTP API needs the web extra")

from kt_web.app import create_app  # noqa: E402
from kt_web.auth import AuthSettings  # noqa: E402
from kt_web.host import StudioHost  # noqa: E402

AUTH = {"Authorization": "Bearer t"}


class NoSessions:
    """Studio's place: the route only needs the host's loop (and nothing live to list)."""

    class sessions:
        @staticmethod
        def list():
            return []


@contextlib.asynccontextmanager
async def no_studio():
    yield NoSessions()


def client_for(monkeypatch, url: str):
    monkeypatch.setenv("KT_LAB_REDIS", url)
    kernel = kt.Kernel(plugins=["kt_web", "kt_lab"])
    host = StudioHost(no_studio).start()
    app = create_app(host, AuthSettings(host_token="t", loopback_bypass=False), kernel=kernel)
    return app.test_client(), host


def test_nodes_are_listed_behind_the_host_token(redis_server, monkeypatch):
    client, host = client_for(monkeypatch, redis_server.url)
    try:
        assert client.get("/api/nodes").status_code == 401
        answer = client.get("/api/nodes", headers=AUTH)
        assert answer.status_code == 200 and answer.json == {"nodes": []}
    finally:
        host.close()


def test_an_unreachable_redis_is_a_503_naming_the_problem(monkeypatch):
    client, host = client_for(monkeypatch, "redis://127.0.0.1:9")
    try:
        answer = client.get("/api/nodes", headers=AUTH)
        assert answer.status_code == 503
        assert answer.json["error"]["type"].endswith("Error")
    finally:
        host.close()
