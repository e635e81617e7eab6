"""``${VAR}`` / ``${VAR:default}`` interpolation in config values (``$${`` is a literal ``${``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kt.config.problems import join_key
from kt.errors import InterpolationError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<body>[^{}]*)\}|\$\{")
"""Three alternatives, tried in order: the ``$${`` escape, a closed reference, a stray ``${``."""


def interpolate(value: Any, env: Mapping[str, str], *, file: Path | None, path: str = "") -> Any:
    """Substitute ``${VAR}`` / ``${VAR:default}`` in every string value (not in keys)."""
    if isinstance(value, str):
        return _interpolate_string(value, env, file=file, path=path)
    if isinstance(value, dict):
        return {
            key: interpolate(item, env, file=file, path=join_key(path, key))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):  # a Python caller may write a tuple for a list
        return [
            interpolate(item, env, file=file, path=f"{path}[{index}]")
            for index, item in enumerate(value)
        ]
    return value


def _interpolate_string(text: str, env: Mapping[str, str], *, file: Path | None, path: str) -> str:
    if "${" not in text:
        return text

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        body = match.group("body")
        if body is None:
            raise InterpolationError(
                f"unclosed or nested '${{' in {text!r}; write ${{VAR}} or ${{VAR:default}} "
                "(nesting is not supported; write $${ for a literal '${')",
                path=path,
                file=file,
            )
        name, has_default, default = body.partition(":")
        if not _NAME.fullmatch(name):
            raise InterpolationError(
                f"malformed reference '${{{body}}}' in {text!r}; a variable name is letters, "
                "digits and '_' (not starting with a digit), e.g. ${MODEL:gpt-4o}",
                path=path,
                file=file,
            )
        if name in env:
            return env[name]
        return default if has_default else ""

    return _REFERENCE.sub(substitute, text)
