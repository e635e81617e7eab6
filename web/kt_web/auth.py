"""The auth layers at the HTTP boundary: a host token, an admin token, the loopback bypass.

All are off by default. Settings come from ``~/.kt/config.toml``::

    [auth]
    host_token = "..."          # every /api/*, /ws/* and /v1/* request
    admin_token = "..."         # routes that change configuration (keys, MCP, packs, models)
    loopback_bypass = true      # a peer on 127.0.0.0/8 or ::1 needs no host token
    allowed_hosts = []          # names this server is reached by, besides localhost

and the environment overrides them: ``KT_AUTH_HOST_TOKEN``, ``KT_AUTH_ADMIN_TOKEN``,
``KT_AUTH_LOOPBACK_BYPASS`` (``1``/``0``), and ``KT_AUTH_HOST_TOKEN_FILE`` /
``KT_AUTH_ADMIN_TOKEN_FILE`` (the token is the file's content), for secrets kept out of the
environment. ``multi_user`` (``KT_AUTH_MULTI_USER``: ``off``, ``optional``, ``required``) and
``registration`` (``KT_AUTH_REGISTRATION``: ``open``, ``invite-only``, ``admin-only``) turn on
user accounts (:mod:`kt_web.accounts`): a user presents an API token (``ktu_...``) where the
host token would go.

A request presents the host token as ``Authorization: Bearer T``, ``X-KT-Host-Token: T``, a
WebSocket subprotocol ``kt-token.T`` or ``?token=T``; the admin token as
``X-KT-Admin-Token: T``. Tokens are compared in constant time. The loopback bypass looks at the
socket's peer address only (``REMOTE_ADDR`` as the server set it), never a forwarded header,
so a reverse proxy on the same machine does not open the door: turn the bypass off behind one.

A request that does not present a right token is also checked for what a web page elsewhere
could make a browser send: its ``Host`` must be a loopback name or address (or one of
``allowed_hosts``, ``KT_AUTH_ALLOWED_HOSTS``), so a site whose name was re-pointed at
127.0.0.1 (DNS rebinding) is refused; and an ``Origin`` it carries must be this server's own,
so another site's page cannot post here or open a WebSocket (cross-site requests). A request
with the right token passes: no page on another site holds it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from kt.errors import ConfigError

__all__ = ["AuthSettings", "is_loopback", "load_auth"]

EXEMPT = ("/healthz", "/readyz", "/api/auth/capabilities", "/openapi.json", "/static/")
ACCOUNT_DOORS = ("/api/auth/login", "/api/auth/register")  # reachable without a user
GUARDED = ("/api/", "/ws/", "/v1/")
TOKEN_COOKIE = "kt_host_token"  # where the dashboard keeps a token given once (same-site, HttpOnly)


@attrs.frozen(kw_only=True)
class AuthSettings:
    """The auth layers in force.

    Attributes:
        host_token: Required on guarded paths (``None``: layer off).
        admin_token: Required on configuration changes (``None``: layer off).
        loopback_bypass: Loopback peers need no host token.
        multi_user: ``off``, ``optional`` (anonymous requests allowed too) or ``required``.
        registration: ``open``, ``invite-only`` or ``admin-only``.
        allowed_hosts: Host names requests without a token may be addressed to, besides
            ``localhost``, ``*.localhost`` and loopback addresses; ``*`` allows any.
    """

    host_token: str | None = attrs.field(default=None, repr=False)
    admin_token: str | None = attrs.field(default=None, repr=False)
    loopback_bypass: bool = True
    multi_user: str = "off"
    registration: str = "admin-only"
    allowed_hosts: tuple[str, ...] = ()

    @property
    def any_layer(self) -> bool:
        """Whether any layer protects the API."""
        return self.host_token is not None or self.admin_token is not None

    def capabilities(self) -> dict[str, Any]:
        """What a client needs to know to authenticate (no secrets)."""
        return {
            "host_token_required": self.host_token is not None,
            "admin_token_required": self.admin_token is not None,
            "loopback_bypass": self.loopback_bypass,
            "multi_user": self.multi_user,
            "registration": self.registration,
            "header": "Authorization: Bearer <token> or X-KT-Host-Token",
            "websocket": "subprotocol kt-token.<token> or ?token=<token>",
        }

    def host_ok(self, token: str | None, peer: str | None) -> bool:
        """Whether a request with *token* from *peer* passes the host-token layer."""
        if self.host_token is None:
            return True
        if self.loopback_bypass and is_loopback(peer):
            return True
        return token is not None and hmac.compare_digest(token.encode(), self.host_token.encode())

    def host_token_matches(self, token: str | None) -> bool:
        """Whether *token* is the host token (never true when there is none)."""
        if self.host_token is None or token is None:
            return False
        return hmac.compare_digest(token.encode(), self.host_token.encode())

    def host_allowed(self, host: str) -> bool:
        """Whether a request without a token may be addressed to *host* (port removed)."""
        host = host.strip("[]").lower()
        if host == "localhost" or host.endswith(".localhost") or "*" in self.allowed_hosts:
            return True
        return is_loopback(host) or host in {name.lower() for name in self.allowed_hosts}

    def admin_ok(self, token: str | None) -> bool:
        """Whether *token* passes the admin layer (loopback peers are not exempt)."""
        if self.admin_token is None:
            return True
        return token is not None and hmac.compare_digest(token.encode(), self.admin_token.encode())


def is_loopback(peer: str | None) -> bool:
    """Whether *peer* (a socket's address) is on the loopback network."""
    if not peer:
        return False
    try:
        return ipaddress.ip_address(peer.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def load_auth(env: Mapping[str, str] | None = None) -> AuthSettings:
    """Read ``[auth]`` of the user config, then the environment overrides.

    Raises:
        ConfigError: a malformed value, an unreadable token file, or user accounts asked for.
    """
    from kt.config.home import user_config

    env = os.environ if env is None else env
    table = dict(user_config(env).get("auth", {}) or {})
    host = _secret(env, "KT_AUTH_HOST_TOKEN", table.get("host_token"))
    admin = _secret(env, "KT_AUTH_ADMIN_TOKEN", table.get("admin_token"))
    bypass = table.get("loopback_bypass", True)
    if "KT_AUTH_LOOPBACK_BYPASS" in env:
        bypass = env["KT_AUTH_LOOPBACK_BYPASS"].strip().lower() in ("1", "true", "yes", "on")
    multi_user = str(env.get("KT_AUTH_MULTI_USER", table.get("multi_user", "off")))
    if multi_user not in ("off", "optional", "required"):
        raise ConfigError("off, optional or required", path="auth.multi_user")
    registration = str(env.get("KT_AUTH_REGISTRATION", table.get("registration", "admin-only")))
    if registration not in ("open", "invite-only", "admin-only"):
        raise ConfigError("open, invite-only or admin-only", path="auth.registration")
    allowed = table.get("allowed_hosts", [])
    if "KT_AUTH_ALLOWED_HOSTS" in env:
        allowed = [name.strip() for name in env["KT_AUTH_ALLOWED_HOSTS"].split(",") if name.strip()]
    if not isinstance(allowed, list) or not all(isinstance(name, str) for name in allowed):
        raise ConfigError(
            'a list of host names, such as ["kt.example.org"]', path="auth.allowed_hosts"
        )
    return AuthSettings(
        host_token=host,
        admin_token=admin,
        loopback_bypass=bool(bypass),
        multi_user=multi_user,
        registration=registration,
        allowed_hosts=tuple(allowed),
    )


def _secret(env: Mapping[str, str], name: str, configured: Any) -> str | None:
    file = env.get(f"{name}_FILE")
    if file:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {name}_FILE: {exc.strerror}", file=file) from None
    else:
        value = env.get(name) or (str(configured) if configured else "")
    return value.strip() or None


def presented_host_token(headers: Mapping[str, str], args: Mapping[str, str]) -> str | None:
    """The host token a request presents, wherever it put it."""
    authorization = headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    if headers.get("X-KT-Host-Token"):
        return headers["X-KT-Host-Token"].strip()
    for protocol in headers.get("Sec-WebSocket-Protocol", "").split(","):
        if protocol.strip().startswith("kt-token."):
            return protocol.strip()[len("kt-token.") :]
    return args.get("token") or None
