"""The user's kt home (``~/.kt``, or ``$KT_HOME``) and the user config file in it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kt.errors import ConfigError

__all__ = ["kt_home", "user_config"]


def kt_home(env: Mapping[str, str] | None = None) -> Path:
    """The kt home folder: ``$KT_HOME`` when set, else ``~/.kt`` (not created here)."""
    env = os.environ if env is None else env
    configured = env.get("KT_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".kt"


def user_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The parsed ``config.toml`` of the kt home, or ``{}`` when there is none.

    Raises:
        ConfigError: when the file is not valid TOML.
    """
    path = kt_home(env) / "config.toml"
    if not path.is_file():
        return {}
    import tomllib  # only paid for when a user config exists

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML ({exc}); fix or remove the file", file=path) from exc
