"""OAuth for remote MCP servers: ``kt mcp login NAME``, stored tokens, quiet refresh.

A server entry with ``auth = "oauth"`` is reached with the MCP authorization flow, which the
SDK's ``OAuthClientProvider`` runs as an httpx auth: discovery of the authorization server from
the server's 401, dynamic client registration, the authorization-code grant with PKCE, and the
refresh grant when the access token runs out. This module gives it what it needs from kt:

- **Storage** (:class:`FileTokenStorage`): ``~/.kt/mcp-auth/<name>.json``, created 0600 in a
  0700 folder, like the API keys file; the tokens are bound to the server URL they were issued
  for, and their absolute expiry is kept so a later process refreshes before using a stale one.
- **Login** (:func:`login`): a listener on a loopback port receives the browser's redirect
  (``http://127.0.0.1:PORT/callback``); the authorization URL is handed to *open_url* (the
  browser, in ``kt mcp login``).
- **Creatures** (:func:`creature_auth`): a creature never opens a browser. With tokens it
  uses and refreshes them; without, or when the refresh is refused, the server fails to
  connect with "run `kt mcp login NAME`".

Tokens never reach logs, events or messages: errors name the server and the file, not values.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trio

from kt_mcp.errors import MCPServerError
from kt_mcp.settings import ServerSettings

__all__ = ["FileTokenStorage", "creature_auth", "login", "logout", "token_file"]

CLIENT_NAME = "kt-terrarium"
LOGIN_TIMEOUT = 300.0
"""Seconds ``kt mcp login`` waits for the browser to come back."""

_PAGE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n\r\n"
    b"<!doctype html><title>kt</title><p>kt is logged in to the MCP server. "
    b"You can close this window.</p>"
)


def token_file(name: str, env: Mapping[str, str] | None = None) -> Path:
    """Where server *name*'s tokens are kept: ``~/.kt/mcp-auth/<name>.json``."""
    from kt.config.home import kt_home

    return kt_home(env) / "mcp-auth" / f"{name}.json"


class FileTokenStorage:
    """The SDK's ``TokenStorage``, in one JSON file per server, readable by the user only.

    Args:
        path: The file.
        server_url: The server the tokens are for; tokens stored for another URL are not used.
    """

    def __init__(self, path: Path, server_url: str) -> None:
        self.path = path
        self.server_url = server_url

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("server_url") != self.server_url:
            return {}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        data = {**data, "server_url": self.server_url}
        temporary = self.path.with_name(self.path.name + ".tmp")
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file)
        os.replace(temporary, self.path)  # created 0600: never readable by others, not even briefly

    def has_tokens(self) -> bool:
        """Whether tokens for this server are stored."""
        return bool(self._read().get("tokens"))

    async def get_tokens(self) -> Any:
        """The stored tokens, with ``expires_in`` counted from now (negative: expired)."""
        from mcp.shared.auth import OAuthToken

        data = self._read()
        if not data.get("tokens"):
            return None
        tokens = dict(data["tokens"])
        if data.get("expires_at") is not None:
            tokens["expires_in"] = int(data["expires_at"] - time.time())
        return OAuthToken.model_validate(tokens)

    async def set_tokens(self, tokens: Any) -> None:
        """Store new tokens (after a login or a refresh) with their absolute expiry."""
        data = self._read()
        data["tokens"] = tokens.model_dump(mode="json", exclude_none=True)
        expires_in = tokens.expires_in
        data["expires_at"] = time.time() + expires_in if expires_in is not None else None
        self._write(data)

    async def get_client_info(self) -> Any:
        """The client registration the authorization server gave kt, if any."""
        from mcp.shared.auth import OAuthClientInformationFull

        data = self._read()
        if not data.get("client_info"):
            return None
        return OAuthClientInformationFull.model_validate(data["client_info"])

    async def set_client_info(self, client_info: Any) -> None:
        """Store the client registration."""
        data = self._read()
        data["client_info"] = client_info.model_dump(mode="json", exclude_none=True)
        self._write(data)


def _provider(
    settings: ServerSettings,
    storage: FileTokenStorage,
    *,
    redirect_uri: str,
    redirect_handler: Callable[[str], Awaitable[None]],
    callback_handler: Callable[[], Awaitable[Any]],
) -> Any:
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientMetadata

    class StoredExpiryProvider(OAuthClientProvider):
        """Knows when stored tokens expire, so a new process refreshes them before use."""

        async def _initialize(self) -> None:
            await super()._initialize()
            tokens = self.context.current_tokens
            if tokens is not None and tokens.expires_in is not None:
                self.context.update_token_expiry(tokens)

    metadata = OAuthClientMetadata(
        client_name=CLIENT_NAME,
        redirect_uris=[redirect_uri],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return StoredExpiryProvider(
        server_url=settings.url or "",
        client_metadata=metadata,
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )


def creature_auth(settings: ServerSettings, env: Mapping[str, str] | None = None) -> Any:
    """The httpx auth for a creature's connection to *settings*' server (``None``: no OAuth).

    It uses and refreshes stored tokens, and never starts a login.

    Raises:
        MCPServerError: the server uses OAuth and nobody has logged in to it yet.
    """
    if settings.auth != "oauth":
        return None
    storage = FileTokenStorage(token_file(settings.name, env), settings.url or "")
    needs_login = (
        f"MCP server '{settings.name}' needs you to log in (OAuth): run `kt mcp login "
        f"{settings.name}`"
    )
    if not storage.has_tokens():
        raise MCPServerError(needs_login, server=settings.name)

    async def refuse(url: str) -> None:
        raise MCPServerError(needs_login + " again; its tokens were refused", server=settings.name)

    async def never() -> Any:
        raise MCPServerError(needs_login, server=settings.name)

    return _provider(
        settings,
        storage,
        redirect_uri="http://127.0.0.1/callback",
        redirect_handler=refuse,
        callback_handler=never,
    )


async def login(
    settings: ServerSettings,
    *,
    open_url: Callable[[str], Awaitable[None]],
    env: Mapping[str, str] | None = None,
    timeout: float = LOGIN_TIMEOUT,
) -> tuple[bool, str]:
    """Run the OAuth flow for *settings*' server and store the tokens.

    Args:
        settings: An HTTP server (``auth = "oauth"`` or not: logging in is what is asked).
        open_url: Shows the user the authorization URL (opens the browser, prints it).
        env: Where ``KT_HOME`` is read.
        timeout: Seconds to wait for the browser's redirect.

    Returns:
        Whether it worked, and what to tell the user (the tool count, or why not).
    """
    import attrs

    from kt_mcp.connection import ServerConnection

    if settings.transport == "stdio":
        return False, f"MCP server '{settings.name}' is a local program (stdio); it has no login"
    settings = attrs.evolve(settings, auth="oauth", connect_timeout=timeout)
    storage = FileTokenStorage(token_file(settings.name, env), settings.url or "")
    arrived: dict[str, Any] = {}
    returned = trio.Event()

    async def handle(stream: trio.SocketStream) -> None:
        request = b""
        with trio.move_on_after(10):
            while b"\r\n\r\n" not in request and len(request) < 65536:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                request += chunk
        target = request.split(b" ", 2)[1].decode("latin-1") if request.count(b" ") >= 2 else ""
        parts = urlsplit(target)
        if parts.path == "/callback" and not returned.is_set():
            arrived.update({k: v[0] for k, v in parse_qs(parts.query).items()})
            returned.set()
        await stream.send_all(_PAGE)
        await stream.aclose()

    async def callback() -> Any:
        from mcp.shared.auth import AuthorizationCodeResult

        await returned.wait()
        if "error" in arrived:
            why = arrived.get("error_description") or arrived["error"]
            raise MCPServerError(f"the authorization server said no: {why}", server=settings.name)
        return AuthorizationCodeResult(
            code=arrived.get("code", ""), state=arrived.get("state"), iss=arrived.get("iss")
        )

    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        nursery.start_soon(trio.serve_listeners, handle, listeners)
        auth = _provider(
            settings,
            storage,
            redirect_uri=f"http://127.0.0.1:{port}/callback",
            redirect_handler=open_url,
            callback_handler=callback,
        )
        connection = ServerConnection(settings, spawn=nursery.start, auth=lambda: auth)
        if await connection.connect():
            told = f"logged in to '{settings.name}'; {len(connection.tools)} tools"
            await connection.disconnect("kt mcp login")
            ok = True
        else:
            told, ok = connection.error or "the login failed", False
        nursery.cancel_scope.cancel()
    return ok, told


def logout(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Forget server *name*'s tokens; ``False`` when there were none."""
    path = token_file(name, env)
    if not path.exists():
        return False
    path.unlink()
    return True
