"""The composition algebra's error."""

from __future__ import annotations

from kt.errors import KTError

__all__ = ["ComposeError"]


class ComposeError(KTError, TypeError):
    """A composition stage received a value it cannot take (e.g. a tuple into an agent)."""
