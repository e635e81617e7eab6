"""The Flask application: auth checks, JSON errors, the built-in routes and plugins' routes."""

from __future__ import annotations

from typing import Any

from kt_web.auth import (
    ACCOUNT_DOORS,
    EXEMPT,
    GUARDED,
    TOKEN_COOKIE,
    AuthSettings,
    presented_host_token,
)
from kt_web.errors import error_body, status_for
from kt_web.logs import LogHub

__all__ = ["create_app", "json_response"]

ADMIN_HEADER = "X-KT-Admin-Token"


def create_app(
    host: Any,
    auth: AuthSettings | None = None,
    *,
    kernel: Any = None,
    logs: Any = None,
    accounts: Any = None,
) -> Any:
    """Build the application over a started :class:`~kt_web.host.StudioHost`.

    Args:
        host: The Studio host (started, or starting: ``/readyz`` answers 503 until it runs).
        auth: The auth layers (default: all off).
        kernel: The kernel whose plugins' ``kt_web_routes`` are called (default: Studio's).
        logs: The :class:`~kt_web.logs.LogHub` ``/ws/logs`` serves (default: a new one that
            only this app feeds).
        accounts: The :class:`~kt_web.accounts.Accounts`, when ``multi_user`` is on.

    Returns:
        The Flask application.
    """
    import flask
    from flask_sock import Sock

    from kt_web import account_routes, openai_compat, openapi, routes, sockets

    app = flask.Flask("kt_web")
    app.json.sort_keys = False
    app.config["KT_AUTH"] = auth or AuthSettings()
    app.config["SOCK_SERVER_OPTIONS"] = {
        "ping_interval": 25,
        "subprotocols": TokenProtocols(["kt"]),
    }
    app.extensions["kt_host"] = host
    app.extensions["kt_logs"] = logs or LogHub()
    app.extensions["kt_accounts"] = accounts
    app.extensions["kt_owners"] = {}  # live session id -> the user who started it (or None)
    sock = Sock(app)

    app.before_request(_check_browser_site)  # first: what a page elsewhere makes a browser send
    app.before_request(_check_host_token)
    app.before_request(_check_owner)  # after the user is known
    app.register_error_handler(Exception, _error_answer)
    routes.register(app, host)
    sockets.register(app, sock, host)
    openai_compat.register(app, host)
    openapi.register(app)
    account_routes.register(app)
    plugin_kernel = kernel if kernel is not None else getattr(host.studio, "kernel", None)
    if plugin_kernel is not None and hasattr(plugin_kernel.pm.hook, "kt_web_routes"):
        plugin_kernel.pm.hook.kt_web_routes(app=app, host=host)
    return app


class TokenProtocols(list):
    """The WebSocket subprotocols the server accepts: any ``kt-token.<t>`` a client offers.

    A browser cannot set headers on a WebSocket, so it offers its host token as a
    subprotocol; the handshake must echo an offered protocol back or the browser drops the
    connection. Whether the token is right is decided by the host-token check, not here.
    The list holds one plain protocol, ``kt``: an empty list would count as "none".
    """

    def __contains__(self, protocol: object) -> bool:
        token = isinstance(protocol, str) and protocol.startswith("kt-token.")
        return token or super().__contains__(protocol)


def json_response(data: Any, status: int = 200) -> Any:
    """A JSON answer of *data* (attrs values unstructured by Studio's converter)."""
    import flask

    from kt_studio.convert import unstructure

    response = flask.jsonify(unstructure(data))
    response.status_code = status
    return response


def _check_browser_site() -> Any:
    """Refuse requests a web page on another site could make a browser send (see kt_web.auth).

    A request with a right token passes; any other must be addressed to a loopback name (or an
    allowed host: no DNS rebinding) and, when it carries an ``Origin``, come from this server's
    own pages (no cross-site posts or WebSockets).
    """
    import flask

    request = flask.request
    if request.path.startswith(("/healthz", "/readyz")):
        return None
    auth: AuthSettings = flask.current_app.config["KT_AUTH"]
    token = presented_host_token(request.headers, request.args) or request.cookies.get(TOKEN_COOKIE)
    if auth.host_token_matches(token) or _user_token_ok(token):
        return None
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if not auth.host_allowed(host):
        return _forbid(
            request.path,
            f"requests addressed to '{host}' need the host token: a page elsewhere may have "
            f"pointed that name at this server. If '{host}' is how you reach it, add it to "
            "allowed_hosts under [auth] in ~/.kt/config.toml (or KT_AUTH_ALLOWED_HOSTS)",
        )
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1].lower() != request.host.lower():
        origin_host = origin.split("://", 1)[-1].rsplit(":", 1)[0]
        if origin == "null" or not auth.host_allowed(origin_host):  # a loopback page may call
            return _forbid(
                request.path,
                f"a page from {origin} may not call this server: cross-site requests need the "
                "host token (send it as 'Authorization: Bearer <token>')",
            )
    return None


def _user_token_ok(token: str | None) -> bool:
    import flask

    accounts = flask.current_app.extensions.get("kt_accounts")
    if accounts is None or token is None:
        return False
    from kt_web.accounts import TOKEN_PREFIX

    return token.startswith(TOKEN_PREFIX) and accounts.user_for_token(token) is not None


def _forbid(path: str, message: str) -> Any:
    import flask

    if path.startswith("/ws/"):
        flask.g.kt_ws_refusal = message  # the socket opens, then closes with the reason
        return None
    response = flask.jsonify({"error": {"type": "Forbidden", "message": message}})
    response.status_code = 403
    return response


def _check_host_token() -> Any:
    """The auth layers before every guarded request: a user's token, or the host token."""
    import flask

    request = flask.request
    path = request.path
    flask.g.kt_user = None
    if path.startswith(EXEMPT) or not path.startswith(GUARDED):
        return None
    auth: AuthSettings = flask.current_app.config["KT_AUTH"]
    accounts = flask.current_app.extensions.get("kt_accounts")
    token = presented_host_token(request.headers, request.args)
    if accounts is not None and token is not None:
        from kt_web.accounts import TOKEN_PREFIX

        if token.startswith(TOKEN_PREFIX):
            user = accounts.user_for_token(token)
            if user is None:
                return _refuse(path, "unknown or revoked user token; log in again")
            flask.g.kt_user = user
            return None
    if not auth.host_ok(token, request.remote_addr):
        return _refuse(
            path,
            "this server needs its host token: send 'Authorization: Bearer <token>' or "
            "'X-KT-Host-Token' (WebSockets: subprotocol kt-token.<token> or ?token=)",
        )
    operator = auth.admin_token is not None and auth.admin_ok(request.headers.get(ADMIN_HEADER))
    if auth.multi_user == "required" and not path.startswith(ACCOUNT_DOORS) and not operator:
        return _refuse(
            path,
            "this server needs a user: log in (POST /api/auth/login) and send "
            "the token as 'Authorization: Bearer ktu_...'",
        )
    return None


def _refuse(path: str, message: str) -> Any:
    import flask

    if path.startswith("/ws/"):
        flask.g.kt_ws_refusal = message  # the socket opens, then closes with 4401
        return None
    response = flask.jsonify({"error": {"type": "Unauthorized", "message": message}})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="kt"'
    return response


def current_user() -> Any:
    """The user of the current request (``None``: anonymous, or accounts off)."""
    import flask

    return getattr(flask.g, "kt_user", None)


def owner_name() -> str | None:
    """The name sessions started by this request belong to."""
    user = current_user()
    return user.name if user is not None else None


def _check_owner() -> None:
    """A live session of another user is a 404 (ids of others' sessions never leak)."""
    import flask

    values = flask.request.view_args
    if not values or "sid" not in values:
        return
    if flask.current_app.extensions.get("kt_accounts") is None:
        return
    if getattr(flask.g, "kt_ws_refusal", None) is not None:
        return  # the socket will be refused anyway
    owners = flask.current_app.extensions["kt_owners"]
    if values["sid"] in owners and owners[values["sid"]] != owner_name():
        from kt_studio.errors import SessionNotFoundError

        raise SessionNotFoundError(f"no live session '{values['sid']}'")


def visible(session_id: str) -> bool:
    """Whether the current request may see a live session."""
    import flask

    if flask.current_app.extensions.get("kt_accounts") is None:
        return True
    return flask.current_app.extensions["kt_owners"].get(session_id) == owner_name()


def persistence(host: Any) -> Any:
    """The saved sessions the current request sees: its user's folder, or the Studio's."""
    import flask

    accounts = flask.current_app.extensions.get("kt_accounts")
    user = current_user()
    if accounts is None or user is None:
        return host.studio.persistence
    return host.studio.saved_in(accounts.session_dir(user.name))


def session_dir() -> Any:
    """Where sessions started by the current request are recorded (``None``: the Studio's)."""
    import flask

    accounts = flask.current_app.extensions.get("kt_accounts")
    user = current_user()
    return accounts.session_dir(user.name) if accounts is not None and user is not None else None


def own(session_id: str) -> None:
    """Record that the current request's user started *session_id*."""
    import flask

    flask.current_app.extensions["kt_owners"][session_id] = owner_name()


def require_admin() -> None:
    """Refuse the current request unless it presents the admin token (when one is set).

    Raises:
        werkzeug.exceptions.Forbidden: as a JSON 403.
    """
    import flask

    auth: AuthSettings = flask.current_app.config["KT_AUTH"]
    if auth.admin_ok(flask.request.headers.get(ADMIN_HEADER)):
        return
    response = flask.jsonify(
        {
            "error": {
                "type": "Forbidden",
                "message": f"this route changes configuration: send the admin token as "
                f"'{ADMIN_HEADER}'",
            }
        }
    )
    response.status_code = 403
    flask.abort(response)


def _error_answer(error: Exception) -> Any:
    import flask
    from werkzeug.exceptions import HTTPException

    if isinstance(error, HTTPException):
        if error.response is not None:
            return error.response
        body = {"error": {"type": type(error).__name__, "message": error.description}}
        response = flask.jsonify(body)
        response.status_code = error.code or 500
        return response
    status = status_for(error)
    if status == 500:
        flask.current_app.logger.exception("unhandled error in %s", flask.request.path)
        body = {"error": {"type": type(error).__name__, "message": "internal error; see the log"}}
        response = flask.jsonify(body)
    else:
        response = flask.jsonify(error_body(error))
    response.status_code = status
    return response
