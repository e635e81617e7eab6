"""User accounts, for ``[auth] multi_user = "optional"`` or ``"required"``.

Accounts live in ``$KT_HOME/users.sqlite`` (peewee). Passwords are hashed with argon2id
(``argon2-cffi``); API tokens and invitation codes are random and stored as SHA-256 hashes, so
the database never holds anything a thief could present. A user's live sessions, saved sessions
(``$KT_HOME/users/<name>/sessions``) and preferences are their own: another user's session is
a 404, never a 403, so ids do not leak.

Registration is ``open`` (anyone may register), ``invite-only`` (with a code from
``kt admin invite`` or ``POST /api/auth/invitations``) or ``admin-only`` (only ``kt admin user
add`` and the admin token make users).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import attrs

from kt.errors import KTError

__all__ = [
    "AccountError",
    "Accounts",
    "InvalidCredentialsError",
    "InvitationError",
    "RegistrationClosedError",
    "UserExistsError",
    "UserView",
]

TOKEN_PREFIX = "ktu_"  # user API tokens start so; the host token never does
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
MIN_PASSWORD = 8


class AccountError(KTError):
    """Base of account errors."""


class InvalidCredentialsError(AccountError):
    """A wrong name, password or token (HTTP 401)."""


class RegistrationClosedError(AccountError, PermissionError):
    """Registration is not open to this request (HTTP 403)."""


class UserExistsError(AccountError):
    """The name is taken (HTTP 409)."""


class InvitationError(AccountError, ValueError):
    """An unknown or used invitation code (HTTP 400)."""


@attrs.frozen(kw_only=True)
class UserView:
    """A user as the API shows it (no secrets)."""

    name: str
    is_admin: bool = False
    created_at: float = 0.0


class Accounts:
    """The users, tokens and invitations of one kt home.

    Args:
        home: The kt home (``$KT_HOME``).
    """

    def __init__(self, home: Path) -> None:
        import peewee

        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.db = peewee.SqliteDatabase(
            str(home / "users.sqlite"), pragmas={"journal_mode": "wal", "foreign_keys": 1}
        )

        class Base(peewee.Model):
            class Meta:
                database = self.db

        class User(Base):
            name = peewee.CharField(unique=True)
            password_hash = peewee.CharField()
            is_admin = peewee.BooleanField(default=False)
            created_at = peewee.FloatField(default=time.time)
            preferences = peewee.TextField(default="{}")

        class Token(Base):
            user = peewee.ForeignKeyField(User, on_delete="CASCADE")
            token_hash = peewee.CharField(unique=True)
            label = peewee.CharField(default="")
            created_at = peewee.FloatField(default=time.time)

        class Invitation(Base):
            code_hash = peewee.CharField(unique=True)
            created_at = peewee.FloatField(default=time.time)
            used_by = peewee.CharField(null=True)

        self.User, self.Token, self.Invitation = User, Token, Invitation
        self._lock = threading.Lock()  # SQLite allows one writer; keep writes in order
        with self.db.connection_context():
            self.db.create_tables([User, Token, Invitation])

    # -- users --

    def create_user(self, name: str, password: str, *, is_admin: bool = False) -> UserView:
        """Create a user.

        Raises:
            AccountError: a name that is not 2-32 of ``a-z 0-9 _ . -``, or a short password.
            UserExistsError: the name is taken.
        """
        from argon2 import PasswordHasher

        if not isinstance(name, str) or not _NAME.match(name):
            raise AccountError("a user name is 2 to 32 of a-z, 0-9, '_', '.', '-'")
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
        hashed = PasswordHasher().hash(password)  # argon2id
        with self._lock, self.db.connection_context():
            if self.User.get_or_none(self.User.name == name) is not None:
                raise UserExistsError(f"the user name '{name}' is taken; choose another")
            user = self.User.create(name=name, password_hash=hashed, is_admin=is_admin)
        return _view(user)

    def register(
        self, name: str, password: str, *, registration: str, invitation: str | None = None
    ) -> UserView:
        """Self-service registration under the server's *registration* mode.

        Raises:
            RegistrationClosedError: ``admin-only``, or ``invite-only`` without a code.
            InvitationError: a wrong or used code.
        """
        if registration == "admin-only":
            raise RegistrationClosedError(
                "registration is admin-only: ask an administrator (kt admin user add)"
            )
        if registration == "invite-only":
            if not invitation:
                raise RegistrationClosedError("registration needs an invitation code")
            digest = _digest(invitation)
            with self._lock, self.db.connection_context():
                found = self.Invitation.get_or_none(self.Invitation.code_hash == digest)
                if found is None or found.used_by is not None:
                    raise InvitationError("that invitation code is unknown or used already")
                found.used_by = name
                found.save()
        return self.create_user(name, password)

    def users(self) -> list[UserView]:
        """Every user, by name."""
        with self.db.connection_context():
            return [_view(u) for u in self.User.select().order_by(self.User.name)]

    def remove_user(self, name: str) -> bool:
        """Delete a user and their tokens; ``False`` when there is none."""
        with self._lock, self.db.connection_context():
            user = self.User.get_or_none(self.User.name == name)
            if user is None:
                return False
            self.Token.delete().where(self.Token.user == user).execute()
            user.delete_instance()
            return True

    # -- logging in --

    def login(self, name: str, password: str, *, label: str = "login") -> str:
        """Check a password and issue a new API token (shown once).

        Raises:
            InvalidCredentialsError: no such user or a wrong password (the same message).
        """
        from argon2 import PasswordHasher
        from argon2.exceptions import VerificationError

        with self.db.connection_context():
            user = self.User.get_or_none(self.User.name == name)
        try:
            if user is None:
                raise VerificationError
            PasswordHasher().verify(user.password_hash, password)
        except VerificationError:
            raise InvalidCredentialsError("wrong user name or password") from None
        return self.issue_token(name, label=label)

    def issue_token(self, name: str, *, label: str = "") -> str:
        """A new API token for *name* (only its hash is kept).

        Raises:
            InvalidCredentialsError: no such user.
        """
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock, self.db.connection_context():
            user = self.User.get_or_none(self.User.name == name)
            if user is None:
                raise InvalidCredentialsError(f"no user '{name}'")
            self.Token.create(user=user, token_hash=_digest(token), label=label)
        return token

    def user_for_token(self, token: str) -> UserView | None:
        """The user a token belongs to, or ``None``."""
        with self.db.connection_context():
            found = (
                self.Token.select(self.Token, self.User)
                .join(self.User)
                .where(self.Token.token_hash == _digest(token))
                .first()
            )
        return _view(found.user) if found is not None else None

    def revoke(self, token: str) -> bool:
        """Forget a token (log out); ``False`` when it was unknown."""
        with self._lock, self.db.connection_context():
            return self.Token.delete().where(self.Token.token_hash == _digest(token)).execute() > 0

    # -- invitations and preferences --

    def invite(self) -> str:
        """A new single-use invitation code (only its hash is kept)."""
        code = secrets.token_urlsafe(16)
        with self._lock, self.db.connection_context():
            self.Invitation.create(code_hash=_digest(code))
        return code

    def preferences(self, name: str) -> dict[str, Any]:
        """The user's preferences (a JSON object)."""
        with self.db.connection_context():
            return json.loads(self.User.get(self.User.name == name).preferences)

    def set_preferences(self, name: str, preferences: dict[str, Any]) -> dict[str, Any]:
        """Replace the user's preferences."""
        with self._lock, self.db.connection_context():
            user = self.User.get(self.User.name == name)
            user.preferences = json.dumps(preferences)
            user.save()
        return preferences

    def session_dir(self, name: str) -> Path:
        """Where the user's sessions are recorded."""
        return self.home / "users" / name / "sessions"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _view(user: Any) -> UserView:
    return UserView(name=user.name, is_admin=bool(user.is_admin), created_at=user.created_at)
