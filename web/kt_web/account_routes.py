"""The account routes: register, log in and out, the current user, users and invitations.

They answer 404 while ``[auth] multi_user`` is ``off``.
"""

from __future__ import annotations

from typing import Any

import attrs

from kt.errors import KTError
from kt_web.app import current_user, json_response, require_admin
from kt_web.bodies import parse

__all__ = ["register"]


class AccountsOffError(KTError, LookupError):
    """User accounts are off on this server."""


@attrs.frozen(kw_only=True)
class RegisterBody:
    """A new account."""

    name: str
    password: str
    invitation: str | None = None


@attrs.frozen(kw_only=True)
class LoginBody:
    """Credentials."""

    name: str
    password: str


@attrs.frozen(kw_only=True)
class NewUserBody:
    """An account an administrator makes."""

    name: str
    password: str
    is_admin: bool = False


def _accounts() -> Any:
    import flask

    accounts = flask.current_app.extensions.get("kt_accounts")
    if accounts is None:
        raise AccountsOffError(
            'user accounts are off; set [auth] multi_user = "optional" or "required"'
        )
    return accounts


def _body(cls: type) -> Any:
    import flask

    return parse(flask.request.get_json(silent=True), cls)


def _me() -> Any:
    from kt_web.accounts import InvalidCredentialsError

    user = current_user()
    if user is None:
        raise InvalidCredentialsError("log in first (POST /api/auth/login)")
    return user


def register(app: Any) -> None:
    """Add the account routes to *app*."""

    def route(rule: str, methods: tuple[str, ...] = ("GET",)) -> Any:
        def add(view: Any) -> Any:
            app.add_url_rule(rule, view.__name__, view, methods=list(methods))
            return view

        return add

    @route("/api/auth/register", ("POST",))
    def register_user() -> Any:
        """Create an account, as ``[auth] registration`` allows (open, invite-only).

        Body:
            ``{name, password, invitation?}``.

        Returns:
            201 with ``{name, is_admin, created_at}``; 403 when registration is closed.
        """
        import flask

        body = _body(RegisterBody)
        mode = flask.current_app.config["KT_AUTH"].registration
        user = _accounts().register(
            body.name, body.password, registration=mode, invitation=body.invitation
        )
        return json_response(user, 201)

    @route("/api/auth/login", ("POST",))
    def login() -> Any:
        """Log in: check the password and issue an API token (shown once).

        Body:
            ``{name, password}``.

        Returns:
            ``{token, user}``; send the token as ``Authorization: Bearer ktu_...``.
        """
        body = _body(LoginBody)
        accounts = _accounts()
        token = accounts.login(body.name, body.password)
        return json_response({"token": token, "user": accounts.user_for_token(token)})

    @route("/api/auth/logout", ("POST",))
    def logout() -> Any:
        """Revoke the token this request presents."""
        import flask

        from kt_web.auth import presented_host_token

        _me()
        token = presented_host_token(flask.request.headers, flask.request.args)
        return json_response({"revoked": _accounts().revoke(token or "")})

    @route("/api/auth/me")
    def me() -> Any:
        """The current user and their preferences."""
        user = _me()
        return json_response({"user": user, "preferences": _accounts().preferences(user.name)})

    @route("/api/auth/me/preferences", ("PUT",))
    def put_preferences() -> Any:
        """Replace the current user's preferences (a JSON object)."""
        import flask

        from kt_web.errors import BodyError

        user = _me()
        data = flask.request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BodyError("the body must be a JSON object", field="$")
        return json_response({"preferences": _accounts().set_preferences(user.name, data)})

    @route("/api/auth/users")
    def list_users() -> Any:
        """Every user (admin)."""
        require_admin()
        return json_response({"users": _accounts().users()})

    @route("/api/auth/users", ("POST",))
    def add_user() -> Any:
        """Create a user, whatever the registration mode (admin).

        Body:
            ``{name, password, is_admin?}``.
        """
        require_admin()
        body = _body(NewUserBody)
        return json_response(
            _accounts().create_user(body.name, body.password, is_admin=body.is_admin), 201
        )

    @route("/api/auth/users/<name>", ("DELETE",))
    def remove_user(name: str) -> Any:
        """Delete a user and their tokens (admin); their session files stay."""
        require_admin()
        return json_response({"removed": _accounts().remove_user(name)})

    @route("/api/auth/invitations", ("POST",))
    def invite() -> Any:
        """Make a single-use invitation code for invite-only registration (admin).

        Returns:
            201 with ``{code}`` (shown once).
        """
        require_admin()
        return json_response({"code": _accounts().invite()}, 201)
