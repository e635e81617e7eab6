"""Keeping provider keys out of tools: out of their environment, and out of what they return.

A creature's ``bash`` and ``python`` run whatever the model writes. Handing them the process's
environment hands them ``OPENAI_API_KEY`` and every other key kt itself needs; and whatever a
tool prints is stored in the session and sent to the model provider. So:

* :func:`tool_environment` removes every variable that holds a secret (a backend's key
  variable, or a name such as ``*_API_KEY``, ``*_TOKEN``, ``*_SECRET*``, ``*PASSWORD*``) from
  the environment a tool process gets. A creature brings one back by naming it in the tool's
  ``pass_env`` option.
* :func:`redact` replaces every known secret value (those variables' values, and the keys
  stored in ``KT_HOME/keys.toml``) in a tool's output and error with ``[redacted NAME]``. The
  ``kt_tools`` plugin applies it to every tool's result (its ``kt_post_tool_call`` hook), so a
  ``cat ~/.kt/keys.toml`` that got through anyway is recorded without the keys.

Values shorter than 8 characters are not treated as secrets: replacing them would garble
ordinary output and protect nothing.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from kt.config.home import kt_home

__all__ = [
    "SECRET_NAME_PATTERNS",
    "is_secret_name",
    "known_secrets",
    "redact",
    "tool_environment",
]

SECRET_NAME_PATTERNS = (
    "*_API_KEY",
    "*_APIKEY",
    "*_API_TOKEN",
    "*_ACCESS_KEY*",
    "*_SECRET",
    "*_SECRET_*",
    "*_TOKEN",
    "*PASSWORD*",
    "*_PRIVATE_KEY",
    "API_KEY",
)
"""Variable names treated as secrets, besides the key variables of the installed backends."""
MIN_SECRET_CHARS = 8


def is_secret_name(name: str, key_vars: Iterable[str] = ()) -> bool:
    """Whether the environment variable *name* holds a secret.

    Args:
        name: The variable's name.
        key_vars: The key variables of the installed model backends.
    """
    upper = name.upper()
    return name in set(key_vars) or any(fnmatch.fnmatchcase(upper, p) for p in SECRET_NAME_PATTERNS)


def backend_key_vars(kernel: object | None) -> list[str]:
    """The key variables the kernel's model backends read (``OPENAI_API_KEY`` ...)."""
    registry = getattr(kernel, "llm_backends", None)
    if registry is None:
        return []
    names = []
    for name in registry:
        var = getattr(registry[name], "key_env_var", None)
        if var:
            names.append(var)
    return names


def tool_environment(
    environ: Mapping[str, str], *, keep: Iterable[str] = (), key_vars: Iterable[str] = ()
) -> dict[str, str]:
    """*environ* without its secrets, except those named in *keep*.

    Args:
        environ: The environment to start from.
        keep: Secret variables to pass on anyway (the tool's ``pass_env`` option).
        key_vars: The key variables of the installed model backends.
    """
    kept = set(keep)
    key_vars = list(key_vars)
    return {
        name: value
        for name, value in environ.items()
        if name in kept or not is_secret_name(name, key_vars)
    }


def known_secrets(
    environ: Mapping[str, str], *, key_vars: Iterable[str] = (), home: Path | None = None
) -> dict[str, str]:
    """Every secret value kt knows of, mapped to a name to show in its place.

    The values of the secret variables of *environ* and of the process's own environment,
    and the keys stored in ``keys.toml`` in *home* (default: the kt home of *environ*).
    """
    key_vars = list(key_vars)
    found: dict[str, str] = {}
    for source in (os.environ, environ):
        for name, value in source.items():
            if len(value) >= MIN_SECRET_CHARS and is_secret_name(name, key_vars):
                found.setdefault(value, name)
    for provider, value in _stored_keys((home or kt_home(environ)) / "keys.toml").items():
        if isinstance(value, str) and len(value) >= MIN_SECRET_CHARS:
            found.setdefault(value, f"{provider} key")
    return found


_KEYS_READ: dict[Path, tuple[tuple[int, int], dict[str, object]]] = {}


def _stored_keys(keys_file: Path) -> dict[str, object]:
    """``keys.toml``, parsed once per change of the file (every tool call asks)."""
    try:
        stat = keys_file.stat()
    except OSError:
        return {}
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _KEYS_READ.get(keys_file)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        stored = tomllib.loads(keys_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    _KEYS_READ[keys_file] = (stamp, stored)
    return stored


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """*text* with every value of *secrets* replaced by ``[redacted NAME]``.

    Longer values are replaced first, so a key that contains another is replaced whole.
    """
    for value in sorted(secrets, key=len, reverse=True):
        if value in text:
            text = text.replace(value, f"[redacted {secrets[value]}]")
    return text
