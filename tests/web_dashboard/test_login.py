"""Logging in to the dashboard in a real browser, when user accounts are required."""

from __future__ import annotations

import pytest
from browsing import (
    by_label,
    find,
    find_all,
    finished_reply,
    open_chat,
    screenshot,
    send,
    wait_for,
)
from kt_web_helpers import Server


@pytest.fixture
def accounts_server(tmp_path):
    running = Server(
        tmp_path / "home",
        env={"KT_AUTH_MULTI_USER": "required", "KT_AUTH_REGISTRATION": "open"},
    )
    yield running
    running.stop()


def log_in(browser, name: str, password: str, action: str = "Log in") -> None:
    for label, value in (("Name", name), ("Password", password)):
        by_label(browser, label).clear()
        by_label(browser, label).send_keys(value)
    by_label(browser, action).click()


def test_log_in_see_only_your_own_sessions_and_log_out(browser, accounts_server, world, tmp_path):
    server = accounts_server
    bob = server.client.post("/api/auth/register", json={"name": "bob", "password": "bob-secret-1"})
    assert bob.status_code == 201, bob.text
    token = server.client.post(
        "/api/auth/login", json={"name": "bob", "password": "bob-secret-1"}
    ).json()["token"]
    started = server.client.post(
        "/api/sessions/active/creature",
        json={
            "config_path": str(world / "creatures" / "helper"),
            "name": "bobs-helper",
            "llm": f"scripted:{world / 'markdown.toml'}",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert started.status_code == 201, started.text
    try:
        browser.get(server.url + "/settings")  # no user yet: the login page, to come back
        wait_for(browser, lambda b: "/login" in b.current_url, "not sent to log in")
        assert "next=/settings" in browser.current_url
        screenshot(browser, tmp_path, "login")

        log_in(browser, "alice", "alice-secret-1", "Create account")
        wait_for(browser, lambda b: b.current_url.endswith("/settings"), "not back at settings")
        assert find(browser, "#user-name").text == "alice"
        browser.get(server.url + "/")
        assert "bobs-helper" not in find(browser, "main").text  # bob's session is not hers
        browser.get(f"{server.url}/chat/{started.json()['session_id']}/root")
        assert "no live session" in find(browser, "main").text  # nor is his chat page

        by_label(browser, "Log out").click()
        wait_for(browser, lambda b: "/login" in b.current_url, "not logged out")
        browser.get(server.url + "/")
        wait_for(browser, lambda b: "/login" in b.current_url, "home open without a user")

        log_in(browser, "bob", "wrong password")
        error = wait_for(browser, lambda b: find_all(b, "#login-error"))[0]
        assert "password" in error.text.lower() or "invalid" in error.text.lower()
        assert by_label(browser, "Name").get_attribute("value") == "bob"
        log_in(browser, "bob", "bob-secret-1")
        wait_for(browser, lambda b: find_all(b, "#user-name"), "bob is not logged in")
        assert "bobs-helper" in find(browser, "#live-sessions").text  # his own session
        open_chat(browser, server, started.json())  # the page's socket carries his token
        send(browser, "hello as bob")
        assert finished_reply(browser).get_attribute("data-status") == "completed"
        by_label(browser, "Log out").click()
        wait_for(browser, lambda b: "/login" in b.current_url, "not logged out")
    finally:
        browser.delete_all_cookies()  # the shared browser goes on without a user
