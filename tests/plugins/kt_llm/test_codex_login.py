"""`kt login codex` end to end against a local fake authorization server, and the Codex backend
against a fake backend: browser flow (PKCE, loopback callback), device code, 0600 storage,
refresh before expiry, tokens never shown."""

from __future__ import annotations

import json
import logging
import stat

import httpx
import pytest
import trio
from click.testing import CliRunner
from fake_auth_server import ACCOUNT, FakeAuthServer
from fake_llm_servers import FakeServer, openai_error, responses_stream

import kt
import kt_llm
import kt_openai
from kt.llm import LLMRequest, Message, TextChunk
from kt_cli.main import cli
from kt_cli.state import CliState
from kt_llm.codex_auth import (
    CodexLoginError,
    Issuer,
    TokenStore,
    browser_login,
    login,
)


@pytest.fixture
def auth():
    with FakeAuthServer() as fake:
        yield fake


BROWSER = httpx.Client(timeout=10, follow_redirects=True)


def user_in_browser(url: str) -> None:
    """What the user's browser does: open the page, sign in, follow the redirect home."""
    reply = BROWSER.get(url)
    assert reply.status_code == 200 and b"Signed in" in reply.content


async def test_the_browser_flow_with_pkce_and_a_loopback_callback(auth, home):
    said = []
    tokens = await browser_login(
        Issuer(url=auth.url), open_browser=user_in_browser, port=0, say=said.append
    )
    assert tokens.access_token == auth.issued[-1] and tokens.account_id == ACCOUNT
    assert auth.grants == ["authorization_code"]
    assert "code_challenge=" in said[0] and "redirect_uri=http%3A%2F%2Flocalhost%3A" in said[0]


async def test_a_callback_with_a_wrong_state_is_ignored(auth):
    def forged_then_real(url: str) -> None:
        query = dict(httpx.URL(url).params)
        forged = BROWSER.get(f"{query['redirect_uri']}?code=evil&state=not-ours")
        assert forged.status_code == 404
        user_in_browser(url)

    tokens = await browser_login(Issuer(url=auth.url), open_browser=forged_then_real, port=0)
    assert tokens.access_token == auth.issued[-1]


async def test_a_taken_port_fails_the_browser_flow_at_once(auth):
    with trio.socket.socket() as taken:
        await taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CodexLoginError, match="device code"):
            await browser_login(Issuer(url=auth.url), open_browser=user_in_browser, port=port)


async def test_the_first_flow_to_finish_wins_and_the_other_stops(auth, home):
    store = TokenStore()
    tokens = await login(
        Issuer(url=auth.url), store, open_browser=user_in_browser, port=0, say=lambda _: None
    )
    assert store.load() == tokens
    polls = auth.device_polls
    await trio.sleep(0.1)
    assert auth.device_polls == polls  # the device flow was cancelled


def test_kt_login_codex_with_a_device_code(auth, home, caplog):
    caplog.set_level(logging.DEBUG)

    auth.approve_after_polls = 3  # the user types the code while kt polls
    kernel = kt.Kernel(plugins=[kt_llm, kt_openai])
    result = CliRunner().invoke(
        cli, ["login", "codex", "--device", "--issuer", auth.url], obj=CliState(kernel=kernel)
    )
    assert result.exit_code == 0, result.output
    assert f"open {auth.url}/codex/device and enter the code ABCD-1234" in result.output
    assert f"signed in with ChatGPT (account {ACCOUNT})" in result.output
    path = home / "codex-auth.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["access_token"] == auth.issued[-1] and saved["account_id"] == ACCOUNT
    for token in (saved["access_token"], saved["refresh_token"], saved["id_token"]):
        assert token not in result.output and token not in caplog.text
    assert saved["refresh_token"] not in repr(TokenStore().load())
    checked = CliRunner().invoke(cli, ["model", "check"], obj=CliState(kernel=kernel)).output
    assert f"OK    provider codex: signed in with ChatGPT (account {ACCOUNT})" in checked
    assert "OK    default model: codex/gpt-5.4 (the first provider with a key)" in checked
    listing = CliRunner().invoke(cli, ["model", "list"], obj=CliState(kernel=kernel)).output
    assert next(line for line in listing.splitlines() if "codex/gpt-5.4 " in line).endswith(
        "signed in"
    )


def test_a_refused_device_code_is_a_typed_error(auth, home):
    kernel = kt.Kernel(plugins=[kt_llm, kt_openai])
    result = CliRunner().invoke(
        cli,
        ["login", "codex", "--device", "--issuer", auth.url + "/nowhere"],
        obj=CliState(kernel=kernel),
    )
    assert result.exit_code != 0
    assert "no device code" in result.output and "Traceback" not in result.output


def test_the_codex_cli_file_is_read_when_kt_has_none(tmp_path, home):
    codex_home = tmp_path / "codex"
    codex_home.mkdir()
    (codex_home / "auth.json").write_text(
        json.dumps(
            {
                "OPENAI_API_KEY": None,
                "tokens": {
                    "access_token": "at-from-codex",
                    "refresh_token": "rt-from-codex",
                    "id_token": "x.e30.y",
                    "account_id": "acct_cli",
                },
                "last_refresh": "2026-12-01T00:00:00Z",
            }
        )
    )
    store = TokenStore({"KT_HOME": str(home), "CODEX_HOME": str(codex_home)})
    tokens = store.load()
    assert tokens.access_token == "at-from-codex" and tokens.account_id == "acct_cli"


# -- the Codex backend --------------------------------------------------------------------------


async def signed_in(auth, home, *, lifetime: float) -> TokenStore:
    auth.lifetime = lifetime
    store = TokenStore()
    await login(Issuer(url=auth.url), store, open_browser=user_in_browser, port=0, device=False)
    return store


def codex_backend(server, auth) -> kt.LLM:
    profile = kt.LLMProfile(
        name="codex/gpt-5.4",
        backend="codex",
        model="gpt-5.4",
        base_url=f"{server.url}/backend-api/codex",
        options={"issuer": auth.url, "retry_policy": {"max_retries": 1, "base_delay": 0.01}},
    )
    return kt.Kernel(plugins=[kt_llm, kt_openai]).llm_backends["codex"].factory(profile)


async def test_the_codex_backend_calls_with_the_account_and_refreshes_first(auth, home):
    await signed_in(auth, home, lifetime=30)  # expires within the minute: refresh first
    with FakeServer([responses_stream("Hello from Codex.")]) as server:
        llm = codex_backend(server, auth)
        chunks = [c async for c in llm.stream(LLMRequest(messages=(Message("user", "hi"),)))]
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "Hello from Codex."
    assert auth.grants == ["authorization_code", "refresh_token"]
    (sent,) = server.requests
    assert sent.path == "/backend-api/codex/responses"
    assert sent.headers["authorization"] == f"Bearer {auth.issued[-1]}"
    assert sent.headers["chatgpt-account-id"] == ACCOUNT
    body = sent.body
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]
    assert body["instructions"] and body["reasoning"] == {"effort": "medium"}
    saved = TokenStore().load()
    assert saved.access_token == auth.issued[-1] and saved.account_id == ACCOUNT  # kept
    assert llm.context_window and llm.model_info.prices.input == 0.0  # the subscription pays


async def test_a_fresh_token_is_not_refreshed(auth, home):
    await signed_in(auth, home, lifetime=3600)
    with FakeServer([responses_stream("ok")]) as server:
        llm = codex_backend(server, auth)
        _ = [c async for c in llm.stream(LLMRequest(messages=(Message("user", "hi"),)))]
    assert auth.grants == ["authorization_code"]


async def test_a_refused_refresh_asks_to_log_in_again(auth, home):
    store = await signed_in(auth, home, lifetime=10)
    auth.refresh_tokens.clear()  # used elsewhere
    with FakeServer([responses_stream("never")]) as server:
        llm = codex_backend(server, auth)
        with pytest.raises(kt.LLMAuthError, match="kt login codex"):
            _ = [c async for c in llm.stream(LLMRequest(messages=(Message("user", "hi"),)))]
        assert server.requests == []
    assert store.load() is not None


async def test_an_expired_sign_in_at_the_backend_names_the_fix(auth, home):
    await signed_in(auth, home, lifetime=3600)
    reply = openai_error(401, "Your authentication token has expired.", "invalid_request_error")
    with FakeServer([reply]) as server:
        llm = codex_backend(server, auth)
        with pytest.raises(kt.LLMAuthError, match="kt login codex") as caught:
            _ = [c async for c in llm.stream(LLMRequest(messages=(Message("user", "hi"),)))]
    assert auth.issued[-1] not in str(caught.value)


def test_not_signed_in_is_a_build_error(home):
    profile = kt.LLMProfile(name="codex/gpt-5.4", backend="codex", model="gpt-5.4")
    with pytest.raises(kt.LLMNotConfiguredError, match="kt login codex"):
        kt.Kernel(plugins=[kt_llm, kt_openai]).llm_backends["codex"].factory(profile)


async def test_after_kt_login_codex_a_creature_without_a_model_runs_on_codex(auth, home):
    """The seed's path: install, `kt login codex`, run; no key, no model named anywhere."""
    await signed_in(auth, home, lifetime=3600)
    with FakeServer([responses_stream("Hi, from your subscription.")]) as server:
        kernel = kt.Kernel(plugins=[kt_llm, kt_openai])
        async with await kt.Agent.build({"name": "seed"}, kernel=kernel) as agent:
            assert agent.llm_name == "codex/gpt-5.4"
            agent.llm.base_url = f"{server.url}/backend-api/codex"  # the fake backend
            agent.llm.auth.issuer = Issuer(url=auth.url)
            result = await agent.run("hi")
    assert result.status == "completed" and result.text == "Hi, from your subscription."
