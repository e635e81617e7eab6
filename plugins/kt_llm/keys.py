"""API keys: ``~/.kt/keys.toml`` (mode 0600), with the environment as fallback.

The file maps provider names to keys::

    openai = "sk-..."
    anthropic = "sk-ant-..."

A stored key wins over the provider's environment variable, so ``kt login`` takes effect even
in a shell that exports an old key. The file is created with mode 0600 and rewritten
atomically (a new file with mode 0600, then a rename), so a key is never readable by other
users, not even for a moment. Keys are never logged, printed (only :func:`mask` of them) or
written anywhere else.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from kt.config.home import kt_home
from kt.errors import ConfigError

__all__ = ["KeySource", "KeyStore", "mask"]

KeySource = Literal["stored", "env", "missing"]


def mask(key: str) -> str:
    """A key as listings show it: the first 4 and last 4 characters, or ``****`` when short."""
    return "****" if len(key) <= 8 else f"{key[:4]}...{key[-4:]}"


class KeyStore:
    """The keys file of one kt home.

    Args:
        env: The environment (``KT_HOME`` chooses the home; provider variables are the
            fallback). Default ``os.environ``.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env
        self.path = kt_home(self.env) / "keys.toml"

    def __repr__(self) -> str:
        return f"KeyStore({str(self.path)!r})"

    def stored(self) -> dict[str, str]:
        """Every stored key by provider (``{}`` when there is no file).

        Raises:
            ConfigError: the file is not valid TOML.
        """
        if not self.path.is_file():
            return {}
        import tomlkit

        try:
            data = tomlkit.parse(self.path.read_text(encoding="utf-8")).unwrap()
        except Exception as exc:
            raise ConfigError(
                f"not valid TOML ({type(exc).__name__}); fix it, or remove it and run "
                "`kt login PROVIDER` again",
                file=str(self.path),
            ) from None
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str) and v}

    def lookup(self, provider: str, env_var: str | None) -> tuple[str | None, KeySource]:
        """The key for *provider*: the stored one, else the value of *env_var*.

        Returns:
            ``(key, source)``; ``(None, "missing")`` when there is neither.
        """
        key = self.stored().get(provider)
        if key:
            return key, "stored"
        if env_var and self.env.get(env_var):
            return self.env[env_var], "env"
        return None, "missing"

    def set(self, provider: str, key: str) -> None:
        """Store *key* for *provider* (replacing any stored one).

        Raises:
            ValueError: an empty key.
        """
        key = key.strip()
        if not key:
            raise ValueError("the key is empty")
        self._write({**self.stored(), provider: key})

    def remove(self, provider: str) -> bool:
        """Forget the stored key of *provider*; ``False`` when none was stored."""
        keys = self.stored()
        if provider not in keys:
            return False
        del keys[provider]
        self._write(keys)
        return True

    def mode(self) -> int | None:
        """The file's permission bits, or ``None`` when it does not exist."""
        try:
            return stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            return None

    def _write(self, keys: Mapping[str, str]) -> None:
        import tomlkit

        document = tomlkit.document()
        document.add(
            tomlkit.comment("API keys by provider, written by `kt login` / `kt config key`")
        )
        for provider in sorted(keys):
            document[provider] = keys[provider]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # an existing temporary file keeps its old mode otherwise
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(tomlkit.dumps(document))
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
