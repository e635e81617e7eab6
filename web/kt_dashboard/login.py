"""Logging in to the dashboard when user accounts are on (``[auth] multi_user``).

The login page is a plain form posted to the server (it works without its script). A correct
name and password get an API token from :mod:`kt_web.accounts`, kept in the same same-site,
script-invisible cookie as a host token: pages read it, and hand it to their modules for the
API and the sockets, where a user token is accepted in place of the host token. Logging out
revokes the token and clears the cookie. With ``multi_user = "required"`` every page sends a
browser without a user here first, and back to the page it asked for afterwards.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

__all__ = ["add_routes", "current_accounts", "user_for"]

LOGIN_PATH = "/login"


def current_accounts() -> Any:
    """The server's accounts (``None``: user accounts are off)."""
    import flask

    return flask.current_app.extensions.get("kt_accounts")


def user_for(token: str | None) -> Any:
    """The user a (cookie's) token belongs to, or ``None``."""
    from kt_web.accounts import TOKEN_PREFIX

    accounts = current_accounts()
    if accounts is None or not token or not token.startswith(TOKEN_PREFIX):
        return None
    return accounts.user_for_token(token)


def add_routes(pages: Any, token_cookie: str) -> None:
    """Add ``/login`` and ``/logout`` to the dashboard's blueprint *pages*."""
    import flask

    from kt.errors import KTError

    @pages.route(LOGIN_PATH, methods=["GET", "POST"])
    def login() -> Any:
        """The login form; a POST logs in (or, with ``action=register``, makes the account)."""
        accounts = current_accounts()
        if accounts is None:
            return flask.redirect(flask.url_for("dashboard.home"))
        request = flask.request
        target = _local(request.values.get("next", ""))
        auth = flask.current_app.config["KT_AUTH"]
        values = {"next": target, "registration": auth.registration, "token": "", "name": ""}
        if request.method == "GET":
            return flask.render_template("login.html", error=None, **values)
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        try:
            if request.form.get("action") == "register":
                accounts.register(
                    name,
                    password,
                    registration=auth.registration,
                    invitation=request.form.get("invitation") or None,
                )
            token = accounts.login(name, password, label="dashboard")
        except KTError as error:
            from kt_web.errors import status_for

            shown = {"type": type(error).__name__, "message": str(error)}
            values["name"] = name
            return flask.render_template("login.html", error=shown, **values), status_for(error)
        response = flask.redirect(target)
        response.set_cookie(token_cookie, token, httponly=True, samesite="Strict")
        return response

    @pages.route("/logout", methods=["POST"])
    def logout() -> Any:
        """Revoke the browser's user token and forget it."""
        accounts = current_accounts()
        token = flask.request.cookies.get(token_cookie)
        if accounts is not None and token:
            accounts.revoke(token)
        response = flask.redirect(flask.url_for("dashboard.login"))
        response.delete_cookie(token_cookie, httponly=True, samesite="Strict")
        return response


def login_redirect() -> Any:
    """Send the browser to the login page, to come back to what it asked for."""
    import flask

    request = flask.request
    path = request.full_path.rstrip("?") if request.query_string else request.path
    return flask.redirect(flask.url_for("dashboard.login", next=path))


def _local(target: str) -> str:
    """*target* when it is a path on this server, else ``/`` (no redirect elsewhere)."""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return "/"
    return target
