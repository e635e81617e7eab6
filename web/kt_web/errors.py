"""Typed errors to HTTP answers: a status code, the error's type and its message.

=====  ====================================================================================
400    bad input: a body that does not fit (the field is named), a bad config or argument
401    missing or wrong host token (``WWW-Authenticate: Bearer``), or user credentials
403    missing or wrong admin token, on a route that changes configuration; closed
       registration; a channel the sender may not use
404    an unknown id: session, creature, channel, saved session, pack
409    the state forbids it now: a turn is running, a name is taken, a session is live
422    a turn that failed (its error type and message, and the reply it produced)
500    a bug: an error that is not a ``KTError``
=====  ====================================================================================

Every error answer has the body ``{"error": {"type", "message", "field"?}}``; a failed turn
adds ``"reply"``. A turn that fails never answers 200 with an empty reply.
"""

from __future__ import annotations

from typing import Any

from kt.errors import AgentStateError, ConfigError, KTError

__all__ = ["BodyError", "error_body", "status_for"]

_CONFLICT_SUFFIXES = ("ExistsError", "ConflictError", "AmbiguousError", "BusyError", "ClashError")


class BodyError(KTError, ValueError):
    """A request body (or query) that does not fit its route: missing, unknown or mistyped field.

    Args:
        message: What is wrong, naming the field.
        field: The field's path (``$.message``).
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def status_for(error: BaseException) -> int:
    """The HTTP status of *error* (see the module's table)."""
    from kt_studio.errors import StudioConflictError, StudioInputError, TurnFailedError

    name = type(error).__name__
    if isinstance(error, TurnFailedError):
        return 422
    if name == "InvalidCredentialsError":
        return 401
    if name == "RegistrationClosedError" or name == "ChannelPermissionError":
        return 403
    if isinstance(error, StudioInputError | BodyError | ConfigError):
        return 404 if name == "PackNotFoundError" else 400
    if isinstance(error, LookupError) or name.endswith("NotFoundError"):
        return 404
    if isinstance(error, StudioConflictError | AgentStateError) or name.endswith(
        _CONFLICT_SUFFIXES
    ):
        return 409
    if name == "BranchError":
        return 409
    if isinstance(error, KTError):
        return 400
    return 500


def error_body(error: BaseException) -> dict[str, Any]:
    """The JSON body of an error answer."""
    from kt_studio.convert import unstructure
    from kt_studio.errors import TurnFailedError

    if isinstance(error, TurnFailedError):
        detail: dict[str, Any] = {"type": error.error_type, "message": str(error)}
        return {"error": detail, "reply": unstructure(error.reply)}
    detail = {"type": type(error).__name__, "message": str(error)}
    field = getattr(error, "field", "")
    if field:
        detail["field"] = field
    return {"error": detail}
