"""Messages for config problems: key paths, values described for users, "did you mean"."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kt.config.schema import ALIASES, CONTROLLER_FIELDS, TOP_LEVEL_KEYS
from kt.errors import ConfigValidationError


def raise_problems(problems: list[tuple[str, str]], *, file: Path | None) -> None:
    """Raise one ConfigValidationError listing every problem (key path, message)."""
    if not problems:
        return
    first_path, first_message = problems[0]
    if len(problems) == 1:
        raise ConfigValidationError(first_message, path=first_path, file=file)
    listed = "\n".join(f"  - {path or '(top level)'}: {message}" for path, message in problems)
    raise ConfigValidationError(
        f"{len(problems)} problems in the config:\n{listed}", path=first_path, file=file
    )


def unknown_key_message(key: Any, accepted: Iterable[str]) -> str:
    """Say that *key* is not accepted, with a close match or the accepted keys."""
    accepted = sorted(accepted)
    close = difflib.get_close_matches(str(key), accepted, n=3)
    if close:
        hint = "did you mean " + " or ".join(repr(match) for match in close) + "?"
    elif set(accepted) == TOP_LEVEL_KEYS:
        # The controller aliases would drown the list; name them as a group instead.
        listed = sorted(TOP_LEVEL_KEYS - set(CONTROLLER_FIELDS) - set(ALIASES))
        hint = "accepted keys: " + ", ".join(listed) + ", and every [controller] key"
    else:
        hint = "accepted keys: " + ", ".join(accepted)
    return f"unknown key {str(key)!r}; {hint}"


def describe(value: Any) -> str:
    """Describe a value for a message: its type, and the value when it is short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def join_key(path: str, key: Any) -> str:
    """Append *key* to a dotted key path."""
    return f"{path}.{key}" if path else str(key)
