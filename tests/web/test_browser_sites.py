"""What a web page on another site can make a browser send is refused: DNS rebinding, cross-site
posts and cross-site WebSockets. A request with the right token passes (no page elsewhere has it).

The server runs as users run it: on loopback, the default settings (no token at all), and once
with a host token and the loopback bypass on, the two setups in which a browser on this machine
reaches the API without a token.
"""

from __future__ import annotations

import json

import httpx
import pytest
from kt_web_helpers import Server, connect
from websockets.exceptions import ConnectionClosed

HOST = "host-secret-token"


@pytest.fixture(scope="module", params=["no token", "token with loopback bypass"])
def open_server(request, tmp_path_factory, world):
    env = {} if request.param == "no token" else {"KT_AUTH_HOST_TOKEN": HOST}
    running = Server(tmp_path_factory.mktemp("sites"), env=env)
    yield running
    running.stop()


def test_a_request_addressed_to_a_rebound_name_is_refused(open_server):
    url = f"{open_server.url}/api/sessions/active"
    assert httpx.get(url).status_code == 200  # 127.0.0.1: this machine's own client
    assert httpx.get(url, headers={"Host": "localhost"}).status_code == 200
    refused = httpx.get(url, headers={"Host": "attacker.example:8001"})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["type"] == "Forbidden"
    assert "'attacker.example'" in error["message"] and "allowed_hosts" in error["message"]
    page = httpx.get(f"{open_server.url}/", headers={"Host": "attacker.example"})
    assert page.status_code == 403  # the dashboard's pages too
    assert httpx.get(f"{open_server.url}/healthz", headers={"Host": "x.example"}).status_code == 200


def test_a_cross_site_post_is_refused_and_this_server_s_own_pages_may_post(open_server):
    url = f"{open_server.url}/api/settings/default-model"
    body = {"model": "openai/gpt-4o"}
    refused = httpx.put(url, json=body, headers={"Origin": "https://attacker.example"})
    assert refused.status_code == 403
    assert "https://attacker.example" in refused.json()["error"]["message"]
    assert httpx.put(url, json=body, headers={"Origin": "null"}).status_code == 403
    own = open_server.url  # the dashboard, served by this server
    assert httpx.put(url, json=body, headers={"Origin": own}).status_code == 200
    assert httpx.put(url, json=body, headers={"Origin": "http://localhost:3000"}).status_code == 200


def test_a_cross_site_websocket_is_closed_with_the_reason(open_server):
    ws = connect(f"{open_server.ws_url}/ws/runtime/graph", origin="https://attacker.example")
    frame = json.loads(ws.recv(timeout=10))
    assert "may not call this server" in frame["error"]["message"]
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=10)
    with connect(f"{open_server.ws_url}/ws/runtime/graph", origin=open_server.url) as own:
        assert json.loads(own.recv(timeout=10))["activity_type"] == "attached"


def test_the_right_token_passes_whatever_the_host_and_origin(tmp_path, world):
    running = Server(tmp_path / "home", env={"KT_AUTH_HOST_TOKEN": HOST})
    try:
        headers = {
            "Host": "kt.example.org",
            "Origin": "https://tools.example.org",
            "Authorization": f"Bearer {HOST}",
        }
        assert httpx.get(f"{running.url}/api/sessions/active", headers=headers).status_code == 200
        del headers["Authorization"]
        assert httpx.get(f"{running.url}/api/sessions/active", headers=headers).status_code == 403
    finally:
        running.stop()


def test_a_configured_host_name_is_allowed(tmp_path, world):
    running = Server(tmp_path / "home", env={"KT_AUTH_ALLOWED_HOSTS": "kt.lan, tools.lan"})
    try:
        url = f"{running.url}/api/sessions/active"
        assert httpx.get(url, headers={"Host": "kt.lan:8001"}).status_code == 200
        assert httpx.get(url, headers={"Origin": "http://tools.lan"}).status_code == 200
        assert httpx.get(url, headers={"Host": "other.lan"}).status_code == 403
    finally:
        running.stop()
