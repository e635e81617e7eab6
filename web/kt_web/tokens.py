"""Making auth tokens and storing them in ``[auth]`` of ``~/.kt/config.toml`` (mode 0600)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

__all__ = ["new_token"]


def new_token(which: str, env: Mapping[str, str] | None = None) -> tuple[str, Path]:
    """Make a random ``host`` or ``admin`` token and store it; returns it and the file.

    The file keeps its comments (tomlkit) and is written with mode 0600, since it now holds
    a secret.
    """
    import tomlkit

    from kt.config.home import kt_home

    env = os.environ if env is None else env
    path = kt_home(env) / "config.toml"
    document = (
        tomlkit.parse(path.read_text(encoding="utf-8")) if path.is_file() else tomlkit.document()
    )
    value = secrets.token_urlsafe(32)
    if "auth" not in document:
        document["auth"] = tomlkit.table()
    document["auth"][f"{which}_token"] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(tomlkit.dumps(document))
    os.replace(temporary, path)
    return value, path
