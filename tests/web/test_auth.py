"""The auth layers: host token, admin token, loopback bypass, and the exposure check."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from kt_web_helpers import Server, connect
from websockets.exceptions import ConnectionClosed

HOST = "host-secret-token"
ADMIN = "admin-secret-token"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, world):
    token_file = tmp_path_factory.mktemp("secrets") / "admin"
    token_file.write_text(ADMIN + "\n")
    running = Server(
        tmp_path_factory.mktemp("guarded"),
        env={
            "KT_AUTH_HOST_TOKEN": HOST,
            "KT_AUTH_ADMIN_TOKEN_FILE": str(token_file),
            "KT_AUTH_LOOPBACK_BYPASS": "0",
        },
    )
    yield running
    running.stop()


def test_the_host_token_guards_api_routes(guarded):
    refused = httpx.get(f"{guarded.url}/api/sessions/active")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.json()["error"]["type"] == "Unauthorized"
    wrong = httpx.get(f"{guarded.url}/api/sessions/active", headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401
    for headers, params in (
        ({"Authorization": f"Bearer {HOST}"}, {}),
        ({"X-KT-Host-Token": HOST}, {}),
        ({}, {"token": HOST}),
    ):
        ok = httpx.get(f"{guarded.url}/api/sessions/active", headers=headers, params=params)
        assert ok.status_code == 200
    assert httpx.post(f"{guarded.url}/v1/chat/completions", json={}).status_code == 401


def test_health_and_capabilities_are_exempt(guarded):
    assert httpx.get(f"{guarded.url}/healthz").status_code == 200
    assert httpx.get(f"{guarded.url}/readyz").status_code == 200
    capabilities = httpx.get(f"{guarded.url}/api/auth/capabilities").json()
    assert capabilities["host_token_required"] and capabilities["admin_token_required"]
    assert HOST not in json.dumps(capabilities)


def test_websockets_close_with_4401_without_the_token(guarded):
    ws = connect(f"{guarded.ws_url}/ws/runtime/graph")
    frame = json.loads(ws.recv(timeout=10))
    assert frame["error"]["type"] == "Unauthorized"
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd.code == 4401
    with connect(f"{guarded.ws_url}/ws/runtime/graph?token={HOST}") as allowed:
        assert json.loads(allowed.recv(timeout=10))["activity_type"] == "attached"
    browser_style = connect(  # a browser offers the token as a subprotocol
        f"{guarded.ws_url}/ws/runtime/graph", subprotocols=[f"kt-token.{HOST}"]
    )
    with browser_style:
        assert browser_style.subprotocol == f"kt-token.{HOST}"
        assert json.loads(browser_style.recv(timeout=10))["activity_type"] == "attached"


def test_the_admin_token_guards_configuration_changes(guarded):
    host = {"Authorization": f"Bearer {HOST}"}
    body = {"model": "openai/gpt-4o"}
    refused = httpx.put(f"{guarded.url}/api/settings/default-model", json=body, headers=host)
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "Forbidden"
    allowed = httpx.put(
        f"{guarded.url}/api/settings/default-model",
        json=body,
        headers={**host, "X-KT-Admin-Token": ADMIN},
    )
    assert allowed.status_code == 200
    assert httpx.get(f"{guarded.url}/api/settings/keys", headers=host).status_code == 200


def test_loopback_peers_bypass_the_host_token_when_allowed(tmp_path):
    running = Server(tmp_path / "home", env={"KT_AUTH_HOST_TOKEN": HOST})
    try:
        assert httpx.get(f"{running.url}/api/sessions/active").status_code == 200
        forged = httpx.get(  # a forwarded header never counts: the socket's peer does
            f"{running.url}/api/sessions/active", headers={"X-Forwarded-For": "203.0.113.9"}
        )
        assert forged.status_code == 200
    finally:
        running.stop()


def test_no_auth_on_a_public_address_is_refused(tmp_path):
    env = {"KT_HOME": str(tmp_path), "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "kt_web.server", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 with no auth" in result.stderr
    assert "--insecure-no-auth" in result.stderr
