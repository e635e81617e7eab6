"""A local OAuth authorization server and a protected MCP server, written for kt_mcp's tests.

:class:`TestAuthority` is an in-memory authorization server (dynamic client registration,
authorization code with PKCE, refresh tokens with rotation, revocation) that approves every
authorization request at once, as a user who clicks "Allow" would. :func:`serve_protected`
serves it, with an MCP server whose tool ``whoami`` needs one of its tokens, over HTTP on a
loopback port, using the SDK's server-side auth routes and bearer middleware.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import mcp.types as types
import trio
from mcp.server import Server
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    ProviderTokenVerifier,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken


class TestAuthority:
    """An authorization server that says yes, keeps count, and can be told to expire or revoke.

    Attributes:
        lifetime: Seconds an access token lives.
        registrations / authorizations / refreshes: How often each happened.
    """

    __test__ = False  # not a test class, whatever its name says

    def __init__(self, lifetime: int = 3600) -> None:
        self.lifetime = lifetime
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.registrations = self.authorizations = self.refreshes = 0

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired from now on."""
        for token, value in list(self.access.items()):
            self.access[token] = value.model_copy(update={"expires_at": int(time.time()) - 1})

    def revoke_everything(self) -> None:
        self.access.clear()
        self.refresh.clear()

    # -- OAuthAuthorizationServerProvider -------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.registrations += 1
        self.clients[client_info.client_id] = client_info

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        self.authorizations += 1
        code = secrets.token_urlsafe(16)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or [],
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: Any, authorization_code: str) -> Any:
        return self.codes.get(authorization_code)

    async def exchange_authorization_code(self, client: Any, authorization_code: Any) -> OAuthToken:
        del self.codes[authorization_code.code]
        return self._issue(client.client_id, authorization_code.scopes)

    async def load_refresh_token(self, client: Any, refresh_token: str) -> Any:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self, client: Any, refresh_token: Any, scopes: list[str]
    ) -> OAuthToken:
        self.refreshes += 1
        del self.refresh[refresh_token.token]  # rotated: a refresh token works once
        return self._issue(client.client_id, scopes or refresh_token.scopes)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: Any) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)

    def _issue(self, client_id: str, scopes: list[str]) -> OAuthToken:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        expires = int(time.time()) + self.lifetime
        self.access[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=expires
        )
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes)
        return OAuthToken(
            access_token=access,
            expires_in=self.lifetime,
            refresh_token=refresh,
            scope=" ".join(scopes) or None,
        )


def _mcp_server() -> Server:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        schema = {"type": "object", "properties": {}}
        return types.ListToolsResult(
            tools=[types.Tool(name="whoami", description="Who is asking.", input_schema=schema)]
        )

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        return types.CallToolResult(
            content=[types.TextContent(type="text", text="an authorized kt")]
        )

    return Server("protected", on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_protected(
    authority: TestAuthority, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the authority and the protected MCP server; reports the MCP endpoint's URL."""
    from hypercorn.config import Config
    from hypercorn.trio import serve

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    for listener in listeners:
        listener.socket.close()  # only the number was needed; Hypercorn binds it again
    base = f"http://127.0.0.1:{port}"
    app = _mcp_server().streamable_http_app(
        streamable_http_path="/mcp",
        auth=AuthSettings(
            issuer_url=base,
            resource_server_url=f"{base}/mcp",
            client_registration_options=ClientRegistrationOptions(enabled=True),
            validate_token_resource=False,
        ),
        token_verifier=ProviderTokenVerifier(authority),
        auth_server_provider=authority,
    )
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, app, config)
        task_status.started(f"{base}/mcp")
