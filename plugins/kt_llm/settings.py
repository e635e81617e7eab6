"""The user's model settings: ``~/.kt/llm.toml`` (the default model and custom endpoints).

::

    default = "anthropic/claude-sonnet-4-6@reasoning=high"

    [endpoints.lab]                      # kt config llm add lab --base-url ...
    backend = "openai"                   # the wire format: an installed backend
    base_url = "http://gpu-box:8000/v1"
    model = "qwen3-coder"                # used by --llm lab
    api_key_env = "LAB_API_KEY"          # optional; `kt config key set lab` works too

    [endpoints.lab.options]              # optional generation / backend options
    temperature = 0.2

Edits go through tomlkit, so comments a user wrote by hand survive ``kt model default`` and
``kt config llm add``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from kt.config.home import kt_home
from kt.errors import ConfigError

__all__ = ["Endpoint", "Settings"]


@attrs.frozen(kw_only=True)
class Endpoint:
    """A custom model endpoint, selected by its name like a provider (``--llm lab/MODEL``).

    Attributes:
        name: What selectors call it.
        base_url: The endpoint up to the API version (``http://host:8000/v1``).
        backend: The wire format: the name of an installed backend (``openai`` for any
            OpenAI-compatible server, ``anthropic`` for an Anthropic-compatible gateway).
        model: The model used when a selector names only the endpoint.
        api_key_env: The environment variable holding its key, if it needs one.
        options: Generation and backend options for every call.
    """

    name: str
    base_url: str
    backend: str = "openai"
    model: str = ""
    api_key_env: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)


class Settings:
    """The ``llm.toml`` file of one kt home, read on creation.

    Args:
        env: The environment (``KT_HOME``); default ``os.environ``.

    Attributes:
        path: The file.
        default: The default selector, or ``None``.
        endpoints: Custom endpoints by name.

    Raises:
        ConfigError: the file is not valid TOML or has a malformed endpoint.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env
        self.path = kt_home(self.env) / "llm.toml"
        self._document = self._read()
        data = self._document.unwrap() if self._document is not None else {}
        default = data.get("default")
        self.default: str | None = str(default) if default else None
        self.endpoints: dict[str, Endpoint] = {}
        for name, table in (data.get("endpoints") or {}).items():
            if not isinstance(table, Mapping) or not table.get("base_url"):
                raise ConfigError(
                    "needs a `base_url`; fix it or run `kt config llm remove " + name + "`",
                    path=f"endpoints.{name}",
                    file=str(self.path),
                )
            try:
                self.endpoints[name] = Endpoint(
                    name=name,
                    base_url=str(table["base_url"]),
                    backend=str(table.get("backend") or "openai"),
                    model=str(table.get("model") or ""),
                    api_key_env=table.get("api_key_env") or None,
                    options=dict(table.get("options") or {}),
                )
            except (TypeError, ValueError) as exc:
                raise ConfigError(str(exc), path=f"endpoints.{name}", file=str(self.path)) from None

    def _read(self) -> Any:
        if not self.path.is_file():
            return None
        import tomlkit

        try:
            return tomlkit.parse(self.path.read_text(encoding="utf-8"))
        except Exception as exc:
            raise ConfigError(
                f"not valid TOML ({exc}); fix or remove it", file=str(self.path)
            ) from None

    def _document_for_edit(self) -> Any:
        import tomlkit

        return self._document if self._document is not None else tomlkit.document()

    def set_default(self, selector: str | None) -> None:
        """Write (or, with ``None``, remove) the default selector."""
        document = self._document_for_edit()
        if selector is None:
            document.pop("default", None)
        else:
            document["default"] = selector
        self._save(document)
        self.default = selector

    def add_endpoint(self, endpoint: Endpoint) -> None:
        """Write *endpoint* (replacing one of the same name)."""
        import tomlkit

        document = self._document_for_edit()
        if "endpoints" not in document:
            document["endpoints"] = tomlkit.table(is_super_table=True)
        table = tomlkit.table()
        table["backend"] = endpoint.backend
        table["base_url"] = endpoint.base_url
        if endpoint.model:
            table["model"] = endpoint.model
        if endpoint.api_key_env:
            table["api_key_env"] = endpoint.api_key_env
        if endpoint.options:
            table["options"] = dict(endpoint.options)
        document["endpoints"][endpoint.name] = table
        self._save(document)
        self.endpoints[endpoint.name] = endpoint

    def remove_endpoint(self, name: str) -> bool:
        """Delete endpoint *name*; ``False`` when there is none."""
        document = self._document_for_edit()
        endpoints = document.get("endpoints")
        if not endpoints or name not in endpoints:
            return False
        del endpoints[name]
        self._save(document)
        self.endpoints.pop(name, None)
        return True

    def _save(self, document: Any) -> None:
        import tomlkit

        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(tomlkit.dumps(document), encoding="utf-8")
        os.replace(temporary, self.path)
        self._document = document
