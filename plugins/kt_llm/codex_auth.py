"""Signing in with a ChatGPT subscription: the OAuth flow of the Codex CLI, and its tokens.

``kt login codex`` runs two flows at once and keeps the first that succeeds:

* **browser**: OAuth 2 authorization code with PKCE (S256). A one-shot HTTP server on
  ``localhost:1455`` receives the redirect at ``/auth/callback``; the browser is opened on the
  authorize URL (which is printed too). When the port is taken this flow gives up at once.
* **device code**, for machines without a browser: kt asks the issuer for a user code, shows
  it with the page to type it on, and polls until the user approved; the issuer then hands
  over an authorization code and its verifier, exchanged like the browser's.

Tokens go to ``~/.kt/codex-auth.json`` (mode 0600, like ``keys.toml``) and are never
printed or logged. :class:`CodexAuth` gives a backend a fresh access token, refreshing it
(refresh-token grant) when it expires within a minute; without kt's own file it reads the
Codex CLI's ``~/.codex/auth.json``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import secrets
import time
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from kt.config.home import kt_home
from kt.errors import KTError, LLMAuthError, LLMNotConfiguredError

__all__ = [
    "CodexAuth",
    "CodexLoginError",
    "CodexTokens",
    "Issuer",
    "TokenStore",
    "browser_login",
    "device_login",
    "login",
    "pkce_pair",
]

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"  # the Codex CLI's public client
DEFAULT_ISSUER = "https://auth.openai.com"
CALLBACK_PORT = 1455
SCOPE = "openid profile email offline_access"
REFRESH_MARGIN = 60.0  # seconds: refresh a token this close to its expiry
LOGIN_TIMEOUT = 300.0


class CodexLoginError(KTError):
    """Signing in with ChatGPT failed; the message says why and what to try."""


@attrs.frozen(kw_only=True)
class Issuer:
    """The authorization server and the client kt signs in as.

    Attributes:
        url: The issuer (``https://auth.openai.com``; tests use a local one).
        client_id: The public OAuth client.
    """

    url: str = DEFAULT_ISSUER
    client_id: str = CLIENT_ID

    @property
    def token_url(self) -> str:
        """Where codes and refresh tokens are exchanged."""
        return f"{self.url}/oauth/token"

    def authorize_url(self, *, redirect_uri: str, challenge: str, state: str) -> str:
        """The page the browser opens to sign in."""
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": SCOPE,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "id_token_add_organizations": "true",
                "codex_cli_simplified_flow": "true",
                "state": state,
            }
        )
        return f"{self.url}/oauth/authorize?{query}"


@attrs.frozen(kw_only=True)
class CodexTokens:
    """A signed-in ChatGPT account's tokens (never shown: ``repr`` hides them).

    Attributes:
        access_token: Sent as the bearer token.
        refresh_token: Buys a new access token.
        id_token: The OpenID token (the account id is read from it).
        expires_at: When the access token expires (seconds since the epoch).
        account_id: The ChatGPT account (sent as ``chatgpt-account-id``).
    """

    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    id_token: str = attrs.field(default="", repr=False)
    expires_at: float = 0.0
    account_id: str = ""

    def expiring(self, now: float | None = None) -> bool:
        """Whether the access token expires within :data:`REFRESH_MARGIN` seconds."""
        return self.expires_at - (time.time() if now is None else now) < REFRESH_MARGIN


def pkce_pair() -> tuple[str, str]:
    """A PKCE ``(verifier, S256 challenge)`` pair."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (only to read our own token's expiry and account)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def tokens_from(reply: Mapping[str, Any], previous: CodexTokens | None = None) -> CodexTokens:
    """Tokens from a token endpoint's answer; what it left out is kept from *previous*."""
    access = str(reply.get("access_token") or "")
    if not access:
        raise CodexLoginError("the sign-in answer has no access token; run `kt login codex` again")
    id_token = str(reply.get("id_token") or (previous.id_token if previous else ""))
    refresh = str(reply.get("refresh_token") or (previous.refresh_token if previous else ""))
    expires_in = reply.get("expires_in")
    if isinstance(expires_in, int | float):
        expires_at = time.time() + float(expires_in)
    else:
        expires_at = float(jwt_claims(access).get("exp") or time.time() + 3600)
    auth = jwt_claims(id_token).get("https://api.openai.com/auth") or {}
    account = str(auth.get("chatgpt_account_id") or (previous.account_id if previous else ""))
    return CodexTokens(
        access_token=access,
        refresh_token=refresh,
        id_token=id_token,
        expires_at=expires_at,
        account_id=account,
    )


class TokenStore:
    """``codex-auth.json`` in the kt home (mode 0600), falling back to the Codex CLI's file.

    Args:
        env: The environment (``KT_HOME``, ``CODEX_HOME``); default ``os.environ``.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.path = kt_home(env) / "codex-auth.json"
        codex_home = env.get("CODEX_HOME")
        self.codex_cli_path = (
            Path(codex_home) if codex_home else Path(env.get("HOME", "~")).expanduser() / ".codex"
        ) / "auth.json"

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def load(self) -> CodexTokens | None:
        """The stored tokens: kt's file, else the Codex CLI's, else ``None``."""
        for path in (self.path, self.codex_cli_path):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data.get("tokens"), Mapping):  # the Codex CLI's nested shape
                data = dict(data["tokens"])
            if not isinstance(data, Mapping) or not data.get("access_token"):
                continue
            tokens = tokens_from(data)
            if data.get("expires_at"):
                tokens = attrs.evolve(tokens, expires_at=float(data["expires_at"]))
            if data.get("account_id"):
                tokens = attrs.evolve(tokens, account_id=str(data["account_id"]))
            return tokens
        return None

    def save(self, tokens: CodexTokens) -> None:
        """Write the tokens, readable by the user alone (created 0600, then renamed over)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(attrs.asdict(tokens), file)
        os.chmod(partial, 0o600)
        os.replace(partial, self.path)

    def remove(self) -> bool:
        """Forget kt's tokens (the Codex CLI's file is left alone); whether there were any."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


# -- the token endpoint -------------------------------------------------------------------------


@functools.cache
def _tls() -> Any:
    """One TLS context per process: building one reads the CA bundle, which takes a while."""
    import httpx

    return httpx.create_ssl_context()


async def _post(url: str, *, form: Mapping[str, str] | None = None, json_body: Any = None) -> Any:
    """POST and return ``(status, parsed JSON or None)``; transport errors become login errors."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=30, verify=_tls()) as client:
            reply = await client.post(url, data=form, json=json_body)
    except httpx.HTTPError as exc:
        raise CodexLoginError(
            f"cannot reach the sign-in server ({type(exc).__name__}); check the network"
        ) from None
    try:
        return reply.status_code, reply.json()
    except ValueError:
        return reply.status_code, None


def _error_text(payload: Any) -> str:
    if isinstance(payload, Mapping):
        error = payload.get("error")
        if isinstance(error, Mapping):
            return str(error.get("message") or error.get("code") or error)
        return str(payload.get("error_description") or error or "")
    return ""


async def exchange_code(
    issuer: Issuer, *, code: str, verifier: str, redirect_uri: str
) -> CodexTokens:
    """Trade an authorization code (and its PKCE verifier) for tokens."""
    status, payload = await _post(
        issuer.token_url,
        form={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": issuer.client_id,
            "code_verifier": verifier,
        },
    )
    if status != 200 or not isinstance(payload, Mapping):
        raise CodexLoginError(
            f"the sign-in server refused the code (HTTP {status}: {_error_text(payload)}); "
            "run `kt login codex` again"
        )
    return tokens_from(payload)


async def refresh(issuer: Issuer, tokens: CodexTokens) -> CodexTokens:
    """New tokens for old ones (refresh-token grant); missing fields keep their old values.

    Raises:
        LLMAuthError: the refresh token was refused (signed out, or used elsewhere).
    """
    status, payload = await _post(
        issuer.token_url,
        json_body={
            "client_id": issuer.client_id,
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "scope": "openid profile email",
        },
    )
    if status != 200 or not isinstance(payload, Mapping):
        raise LLMAuthError(
            f"codex: the ChatGPT sign-in could not be refreshed (HTTP {status}: "
            f"{_error_text(payload) or 'no details'}). Run `kt login codex` again"
        )
    return tokens_from(payload, previous=tokens)


# -- the browser flow ---------------------------------------------------------------------------

_DONE_PAGE = (
    b"<!doctype html><title>kt</title><p>Signed in. You can close this window and go back to "
    b"the terminal.</p>"
)


async def _one_callback(listener: trio.SocketListener, state: str) -> str:
    """Serve the loopback redirect until one carries our state; return its code."""
    while True:
        stream = await listener.accept()
        async with stream:
            request = b""
            with trio.move_on_after(10):
                while b"\r\n\r\n" not in request and len(request) < 16384:
                    chunk = await stream.receive_some(4096)
                    if not chunk:
                        break
                    request += chunk
            target = request.split(b" ", 2)[1].decode("latin-1") if request.count(b" ") >= 2 else ""
            parsed = urllib.parse.urlsplit(target)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            if parsed.path != "/auth/callback" or query.get("state") != state:
                await stream.send_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                )
                continue
            if "code" not in query:
                await stream.send_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                )
                why = query.get("error_description") or query.get("error") or "no code"
                raise CodexLoginError(f"sign-in was not completed ({why}); run `kt login codex`")
            await stream.send_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_DONE_PAGE), _DONE_PAGE)
            )
            return query["code"]


async def browser_login(
    issuer: Issuer,
    *,
    open_browser: Callable[[str], Any],
    port: int = CALLBACK_PORT,
    say: Callable[[str], None] = print,
) -> CodexTokens:
    """Sign in through the browser; returns the tokens.

    Args:
        issuer: The authorization server.
        open_browser: Opens a URL (``webbrowser.open``); called in a thread.
        port: The loopback port of the redirect (the client allows 1455; 0 picks a free one).
        say: Where messages for the user go.

    Raises:
        CodexLoginError: the port is taken, or the sign-in failed.
    """
    try:
        listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    except OSError as exc:
        raise CodexLoginError(
            f"cannot listen on localhost:{port} for the browser sign-in ({exc.strerror}); use "
            "the device code shown instead"
        ) from None
    listener = listeners[0]
    async with listener:
        actual = listener.socket.getsockname()[1]
        redirect_uri = f"http://localhost:{actual}/auth/callback"
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(24)
        url = issuer.authorize_url(redirect_uri=redirect_uri, challenge=challenge, state=state)
        say(f"Sign in with ChatGPT in your browser: {url}")

        async def open_page() -> None:  # a browser that never returns must not hold us up
            await trio.to_thread.run_sync(open_browser, url, abandon_on_cancel=True)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(open_page)
            code = await _one_callback(listener, state)
            nursery.cancel_scope.cancel()
    return await exchange_code(issuer, code=code, verifier=verifier, redirect_uri=redirect_uri)


# -- the device-code flow -----------------------------------------------------------------------


async def device_login(
    issuer: Issuer,
    *,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], Any] = trio.sleep,
) -> CodexTokens:
    """Sign in with a code typed on another device; returns the tokens.

    Raises:
        CodexLoginError: the issuer refused, the code expired, or access was denied.
    """
    status, start = await _post(
        f"{issuer.url}/api/accounts/deviceauth/usercode", json_body={"client_id": issuer.client_id}
    )
    if status != 200 or not isinstance(start, Mapping) or not start.get("device_auth_id"):
        raise CodexLoginError(
            f"the sign-in server offers no device code (HTTP {status}: {_error_text(start)}); "
            "use the browser sign-in"
        )
    user_code = str(start.get("user_code") or start.get("usercode") or "")
    interval = float(start.get("interval", 5))
    expires_in = float(start.get("expires_in") or 900)
    say(f"Or, on any device, open {issuer.url}/codex/device and enter the code {user_code}")
    deadline = trio.current_time() + expires_in
    while trio.current_time() < deadline:
        await sleep(interval)
        status, reply = await _post(
            f"{issuer.url}/api/accounts/deviceauth/token",
            json_body={"device_auth_id": start["device_auth_id"], "user_code": user_code},
        )
        error = reply.get("error") if isinstance(reply, Mapping) else None
        code = error.get("code") if isinstance(error, Mapping) else error
        if status == 200 and isinstance(reply, Mapping) and reply.get("authorization_code"):
            return await exchange_code(
                issuer,
                code=str(reply["authorization_code"]),
                verifier=str(reply.get("code_verifier") or ""),
                redirect_uri=f"{issuer.url}/deviceauth/callback",
            )
        if status in (403, 404) or code in ("authorization_pending", "deviceauth_pending"):
            continue  # the user has not approved yet
        if code == "slow_down":
            interval += 5
            continue
        raise CodexLoginError(
            f"the device sign-in failed (HTTP {status}: {_error_text(reply) or code}); run "
            "`kt login codex` again"
        )
    raise CodexLoginError(
        "the device code expired before it was entered; run `kt login codex` again"
    )


async def login(
    issuer: Issuer,
    store: TokenStore,
    *,
    open_browser: Callable[[str], Any] | None,
    port: int = CALLBACK_PORT,
    device: bool = True,
    say: Callable[[str], None] = print,
    timeout: float = LOGIN_TIMEOUT,
) -> CodexTokens:
    """Run the browser and device flows side by side; the first to succeed wins and is saved.

    Args:
        issuer: The authorization server.
        store: Where the tokens go.
        open_browser: Opens a URL; ``None`` runs the device flow alone.
        port: The browser flow's loopback port.
        device: Whether to run the device flow too.
        say: Where messages for the user go.
        timeout: Seconds before giving up.

    Raises:
        CodexLoginError: every flow failed, or the time ran out.
    """
    flows: list[Callable[[], Any]] = []
    if open_browser is not None:
        flows.append(lambda: browser_login(issuer, open_browser=open_browser, port=port, say=say))
    if device:
        flows.append(lambda: device_login(issuer, say=say))
    if not flows:
        raise CodexLoginError("no sign-in flow is left: allow the browser or the device code")
    won: list[CodexTokens] = []
    failures: list[str] = []

    async def run(flow: Callable[[], Any], cancel: trio.CancelScope) -> None:
        try:
            won.append(await flow())
        except CodexLoginError as exc:
            failures.append(str(exc))
            if len(failures) < len(flows):
                return  # the other flow may still succeed
        cancel.cancel()

    with trio.move_on_after(timeout):
        async with trio.open_nursery() as nursery:
            for flow in flows:
                nursery.start_soon(run, flow, nursery.cancel_scope)
    if not won:
        reason = "; ".join(failures) or f"no sign-in within {timeout:g} s"
        raise CodexLoginError(f"signing in with ChatGPT failed: {reason}")
    store.save(won[0])
    return won[0]


# -- what a backend uses ------------------------------------------------------------------------


class CodexAuth:
    """Fresh tokens for the Codex backend: loaded from the store, refreshed before expiry.

    Args:
        store: Where the tokens are.
        issuer: Where they are refreshed.

    One lock per run serialises refreshes, so parallel calls refresh once.
    """

    def __init__(self, store: TokenStore, issuer: Issuer | None = None) -> None:
        self.store = store
        self.issuer = issuer or Issuer()
        self._lock: trio.Lock | None = None

    def __repr__(self) -> str:
        return f"CodexAuth({self.store!r})"

    def require(self) -> CodexTokens:
        """The stored tokens, as they are.

        Raises:
            LLMNotConfiguredError: nobody signed in.
        """
        tokens = self.store.load()
        if tokens is None:
            raise LLMNotConfiguredError(
                "not signed in with ChatGPT: run `kt login codex` (browser or device code)"
            )
        return tokens

    async def fresh(self) -> CodexTokens:
        """Tokens whose access token is good for at least a minute (refreshed and saved if not).

        Raises:
            LLMNotConfiguredError: nobody signed in.
            LLMAuthError: the refresh was refused.
        """
        if self._lock is None:
            self._lock = trio.Lock()
        async with self._lock:
            tokens = self.require()
            if tokens.expiring():
                try:
                    tokens = await refresh(self.issuer, tokens)
                except CodexLoginError as exc:  # the network: worth a retry later
                    raise LLMAuthError(f"codex: {exc}") from None
                self.store.save(tokens)
            return tokens
