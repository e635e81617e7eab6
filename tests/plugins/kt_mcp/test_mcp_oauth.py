"""OAuth for remote servers, against a local authorization server written for the test.

The flow is the real one: the server's 401, discovery, dynamic registration, the browser
(here an HTTP client that follows the authorization page's redirect to kt's loopback
callback), the code exchange with PKCE, stored tokens, and a refresh in a later "process".
"""

from __future__ import annotations

import json
import stat

import httpx2
import pytest
import trio
from kt_mcp_helpers import creature
from oauth_server import TestAuthority, serve_protected

import kt
from kt.events import to_wire
from kt.testing import EventRecorder, ScriptedLLM, ToolCall
from kt_mcp import MCPServerFailed
from kt_mcp.oauth import login, token_file
from kt_mcp.settings import settings_from_table


async def browser(url: str) -> None:
    """A user who clicks "Allow": the authorization page redirects to kt's callback."""
    async with httpx2.AsyncClient() as http:
        page = await http.get(url)
        assert page.status_code in (302, 303, 307), page.text
        back = await http.get(page.headers["location"])
        assert back.status_code == 200 and "logged in" in back.text


@pytest.fixture
async def protected(nursery):
    authority = TestAuthority()
    url = await nursery.start(serve_protected, authority)
    return authority, url


def entry(url: str) -> dict:
    return {"name": "cloud", "url": url, "auth": "oauth"}


async def run_whoami(kernel, url, recorder=None):
    llm = ScriptedLLM([ToolCall("cloud__whoami", {}), "ok"], exhausted="raise")
    plugins = [recorder] if recorder is not None else []
    async with await kt.Agent.build(
        creature(entry(url)), llm=llm, kernel=kernel, plugins=plugins
    ) as agent:
        return await agent.run("who am I?")


async def test_login_stores_tokens_privately_and_creatures_use_and_refresh_them(
    kernel, protected, kt_home
):
    authority, url = protected
    settings = settings_from_table("cloud", {"url": url, "auth": "oauth"})

    # Before a login, the creature says what to do, and never opens a browser itself.
    recorder = EventRecorder()
    before = await run_whoami(kernel, url, recorder)
    (failed,) = recorder.of_type(MCPServerFailed)
    assert "needs you to log in (OAuth): run `kt mcp login cloud`" in failed.error
    assert before.tool_calls[0].status == "error"
    assert authority.authorizations == 0

    ok, told = await login(settings, open_url=browser)
    assert ok, told
    assert told == "logged in to 'cloud'; 1 tools"
    assert (authority.registrations, authority.authorizations) == (1, 1)

    stored = token_file("cloud")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    data = json.loads(stored.read_text())
    access = data["tokens"]["access_token"]
    assert data["server_url"] == url and data["tokens"]["refresh_token"]

    recorder = EventRecorder()
    result = await run_whoami(kernel, url, recorder)
    assert result.tool_calls[0].output == "an authorized kt"
    # The token is in no event, no session record and no log.
    wire = json.dumps([to_wire(event) for event in recorder.events])
    assert access not in wire and data["tokens"]["refresh_token"] not in wire
    for log in (kt_home / "logs").rglob("*") if (kt_home / "logs").exists() else ():
        if log.is_file():
            assert access not in log.read_text(errors="replace")

    # Later, the access token has run out: the next creature refreshes it without a login.
    authority.expire_access_tokens()
    data["expires_at"] = 0
    stored.write_text(json.dumps(data))
    again = await run_whoami(kernel, url)
    assert again.tool_calls[0].output == "an authorized kt"
    assert (authority.refreshes, authority.authorizations) == (1, 1)
    renewed = json.loads(stored.read_text())
    assert renewed["tokens"]["access_token"] != access
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    # Tokens the server no longer accepts: log in again, the creature says.
    authority.revoke_everything()
    renewed["expires_at"] = 0
    stored.write_text(json.dumps(renewed))
    recorder = EventRecorder()
    await run_whoami(kernel, url, recorder)
    (refused,) = recorder.of_type(MCPServerFailed)
    assert "run `kt mcp login cloud` again" in refused.error
    assert authority.authorizations == 1


async def test_a_401_without_oauth_says_how_to_give_credentials(kernel, protected):
    _, url = protected
    recorder = EventRecorder()
    config = creature({"name": "cloud", "url": url})
    async with await kt.Agent.build(
        config, llm=ScriptedLLM(["hi"]), kernel=kernel, plugins=[recorder]
    ):
        pass
    (failed,) = recorder.of_type(MCPServerFailed)
    assert "refused kt: HTTP 401 (unauthorized)" in failed.error
    assert 'auth = "oauth" and `kt mcp login cloud`' in failed.error


async def test_kt_mcp_logout_forgets_the_tokens(kt_cmd, protected):
    _, url = protected
    kt_cmd("mcp", "add", "cloud", "--url", url, "--auth", "oauth")
    await login(settings_from_table("cloud", {"url": url, "auth": "oauth"}), open_url=browser)
    assert token_file("cloud").exists()
    done = await trio.to_thread.run_sync(kt_cmd, "mcp", "logout", "cloud")
    assert done.exit_code == 0 and not token_file("cloud").exists()
