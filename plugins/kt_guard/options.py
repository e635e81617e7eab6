"""The option checks the guard's features share, and the error they raise.

A creature switches features on in its ``[[plugins]]`` entry for ``kt_guard``, one table per
feature::

    [[plugins]]
    name = "kt_guard"
    budgets = {tool_calls = [40, 50], wall_time = [600, 900]}     # kt_guard.budget
    permissions = {ask = ["bash", "write"], deny = ["bash(rm -rf *)"]}   # kt_guard.permissions
    sandbox = {write_paths = ["."], network = false}              # kt_guard.sandbox

Each feature module declares its table (``BudgetOptions``, ``PermissionOptions``,
``SandboxOptions``) and parses it with the checks below, so every bad option reads the same
way: a :class:`GuardConfigError` naming the key path and what the key accepts.
:func:`kt_guard.parse_options` reads a whole entry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kt.errors import ConfigValidationError

__all__ = ["GuardConfigError", "check_table", "describe", "positive", "strings"]


class GuardConfigError(ConfigValidationError):
    """The ``kt_guard`` options of a creature are invalid; the message names the key path."""


def check_table(value: Any, accepted: Sequence[str], where: str) -> Mapping[str, Any]:
    """*value* as a table whose keys are all in *accepted*.

    Raises:
        GuardConfigError: it is not a table, or has a key not accepted (all are listed).
    """
    if not isinstance(value, Mapping):
        raise GuardConfigError(f"expected a table, got {describe(value)}", path=where)
    unknown = sorted(str(k) for k in value if k not in accepted)
    if unknown:
        raise GuardConfigError(
            f"unknown key(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}", path=where
        )
    return value


def strings(value: Any, where: str) -> tuple[str, ...]:
    """*value* as a tuple of strings; a single string counts as a list of one.

    Raises:
        GuardConfigError: it is neither a string nor a list of strings.
    """
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise GuardConfigError(f"must be a list of strings, got {describe(value)}", path=where)
    return tuple(value)


def positive(value: Any, where: str) -> float:
    """*value* as a finite number above 0.

    Raises:
        GuardConfigError: it is not a number, not above 0, or infinite.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise GuardConfigError(f"must be a number above 0, got {describe(value)}", path=where)
    if math.isinf(value):
        raise GuardConfigError("must be finite; leave the axis out for no limit", path=where)
    return float(value)


def describe(value: Any) -> str:
    """``int 3`` / ``str 'x'``: a value with its type, for messages."""
    return f"{type(value).__name__} {value!r}"
