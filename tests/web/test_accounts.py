"""User accounts on a real server: registration modes, tokens, sessions kept apart."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from kt_web_helpers import Server

from kt_web.accounts import Accounts, InvalidCredentialsError, UserExistsError

ADMIN = "admin-token-for-accounts"


def test_accounts_hash_passwords_and_tokens(tmp_path):
    accounts = Accounts(tmp_path)
    accounts.create_user("ada", "correct horse")
    with pytest.raises(UserExistsError):
        accounts.create_user("ada", "another one")
    with pytest.raises(InvalidCredentialsError):
        accounts.login("ada", "wrong password")
    token = accounts.login("ada", "correct horse")
    assert token.startswith("ktu_") and accounts.user_for_token(token).name == "ada"
    stored = (tmp_path / "users.sqlite").read_bytes()
    assert token.encode() not in stored and b"correct horse" not in stored
    assert b"$argon2id$" in stored
    assert accounts.revoke(token) and accounts.user_for_token(token) is None


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    running = Server(
        tmp_path_factory.mktemp("multi"),
        env={
            "KT_AUTH_MULTI_USER": "required",
            "KT_AUTH_REGISTRATION": "invite-only",
            "KT_AUTH_ADMIN_TOKEN": ADMIN,
        },
    )
    yield running
    running.stop()


def login(server, name, password="long enough"):
    answer = httpx.post(f"{server.url}/api/auth/login", json={"name": name, "password": password})
    assert answer.status_code == 200, answer.text
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {answer.json()['token']}"}
    )


def test_required_accounts_with_invitations(multi, world):
    assert httpx.get(f"{multi.url}/api/sessions/active").status_code == 401
    closed = httpx.post(
        f"{multi.url}/api/auth/register", json={"name": "bob", "password": "long enough"}
    )
    assert closed.status_code == 403
    refused = httpx.post(f"{multi.url}/api/auth/invitations")
    assert refused.status_code == 401  # neither a user nor the admin token
    codes = [
        httpx.post(f"{multi.url}/api/auth/invitations", headers={"X-KT-Admin-Token": ADMIN}).json()[
            "code"
        ]
        for _ in range(2)
    ]
    for name, code in (("bob", codes[0]), ("eve", codes[1])):
        made = httpx.post(
            f"{multi.url}/api/auth/register",
            json={"name": name, "password": "long enough", "invitation": code},
        )
        assert made.status_code == 201, made.text
    reused = httpx.post(
        f"{multi.url}/api/auth/register",
        json={"name": "mallory", "password": "long enough", "invitation": codes[0]},
    )
    assert reused.status_code == 400 and reused.json()["error"]["type"] == "InvitationError"
    wrong = httpx.post(f"{multi.url}/api/auth/login", json={"name": "bob", "password": "nope nope"})
    assert wrong.status_code == 401

    bob, eve = login(multi, "bob"), login(multi, "eve")
    body = {
        "config_path": str(world / "creatures" / "helper"),
        "llm": f"scripted:{world / 'replies.toml'}",
        "name": "bobs",
    }
    sid = bob.post("/api/sessions/active/creature", json=body).json()["session_id"]
    assert (
        bob.post(
            f"/api/sessions/{sid}/creatures/root/chat", json={"message": "private"}
        ).status_code
        == 200
    )
    assert [s["session_id"] for s in bob.get("/api/sessions/active").json()["sessions"]] == [sid]
    assert eve.get("/api/sessions/active").json()["sessions"] == []
    assert eve.get(f"/api/sessions/active/{sid}").status_code == 404
    assert (
        eve.post(f"/api/sessions/{sid}/creatures/root/chat", json={"message": "x"}).status_code
        == 404
    )
    assert bob.get("/api/sessions").json()["total"] == 1
    assert eve.get("/api/sessions").json()["total"] == 0
    assert (multi.home / "users" / "bob" / "sessions").is_dir()
    assert "bobs" in [m["id"] for m in bob.get("/v1/models").json()["data"]]
    assert eve.get("/v1/models").json()["data"] == []

    assert bob.put("/api/auth/me/preferences", json={"theme": "dark"}).status_code == 200
    assert bob.get("/api/auth/me").json()["preferences"] == {"theme": "dark"}
    assert eve.get("/api/auth/me").json()["preferences"] == {}
    assert bob.post("/api/auth/logout").json() == {"revoked": True}
    assert bob.get("/api/sessions/active").status_code == 401


def test_kt_admin_user_commands(tmp_path):
    env = {**os.environ, "KT_HOME": str(tmp_path)}

    def kt(*args, input=None):
        return subprocess.run(
            [sys.executable, "-m", "kt_cli", "admin", *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    made = kt("user", "add", "root-user", "--admin", input="long enough\nlong enough\n")
    assert made.returncode == 0, made.stderr
    assert "root-user  admin" in kt("user", "list").stdout
    token = kt("user", "token", "root-user").stdout.strip()
    assert Accounts(tmp_path).user_for_token(token).is_admin
    assert kt("invite").stdout.strip()
    assert kt("user", "remove", "root-user").returncode == 0
    assert kt("user", "remove", "root-user").returncode == 1
