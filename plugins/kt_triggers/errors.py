"""The one error kt_triggers raises: a trigger configured with something it cannot use."""

from __future__ import annotations

import kt

__all__ = ["TriggerConfigError"]


class TriggerConfigError(kt.ConfigValidationError):
    """A trigger option is missing or invalid (a bad cron field, an unknown time zone ...).

    Raised when a creature is built (the message names ``triggers[i].<option>`` and the file)
    and when a trigger is constructed in Python. The trigger tools report it to the model as a
    tool error instead.

    Attributes:
        detail: The message without the key path, for tool errors.
        option: The option at fault (``"cron"``, ``"interval"`` ...).
    """

    def __init__(
        self, detail: str, *, option: str = "", path: str = "", file: str | None = None
    ) -> None:
        self.detail = detail
        self.option = option
        super().__init__(detail, path=path or option, file=file)
