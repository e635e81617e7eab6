"""``studio.identity``: models, keys and MCP servers, over ``kt_llm`` and ``kt_mcp``.

Keys go in and never come back out: every listing masks them (``kt_llm.keys.mask``), and MCP
server environments are masked the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kt_studio.errors import StudioInputError
from kt_studio.values import BackendView, EndpointView, KeyView, McpServerView, McpTestView

__all__ = ["Identity"]


class Identity:
    """Model settings, API keys and the MCP registry of one kt home.

    Args:
        kernel: The kernel (its LLM backends).
        env: The environment (``KT_HOME`` and provider key variables).
    """

    def __init__(self, kernel: Any, env: Mapping[str, str]) -> None:
        self.kernel = kernel
        self.env = env

    # -- models --

    def backends(self) -> list[BackendView]:
        """Every installed LLM backend and its presets."""
        registry = self.kernel.llm_backends
        return [
            BackendView(
                name=name,
                plugin=registry.origin(name),
                description=registry[name].description,
                key_env_var=registry[name].key_env_var,
                presets=tuple(p.name for p in registry[name].profiles),
            )
            for name in sorted(registry)
        ]

    def default_model(self) -> str | None:
        """The default model selector of ``~/.kt/llm.toml`` (``None``: none set)."""
        from kt_llm.settings import Settings

        return Settings(self.env).default

    def set_default_model(self, selector: str | None) -> str | None:
        """Set (or with ``None``, clear) the default model selector."""
        from kt_llm.settings import Settings

        if selector is not None and (not isinstance(selector, str) or not selector.strip()):
            raise StudioInputError("a selector such as openai/gpt-4o, or null", field="model")
        Settings(self.env).set_default(selector)
        return selector

    def endpoints(self) -> list[EndpointView]:
        """The custom endpoints (profiles) of ``~/.kt/llm.toml``."""
        from kt_llm.settings import Settings

        return [
            EndpointView(
                name=e.name,
                base_url=e.base_url,
                backend=e.backend,
                model=e.model,
                api_key_env=e.api_key_env,
            )
            for e in Settings(self.env).endpoints.values()
        ]

    def add_endpoint(self, endpoint: EndpointView) -> EndpointView:
        """Add or replace a custom endpoint.

        Raises:
            StudioInputError: no name or base URL, or an unknown backend.
        """
        from kt_llm.settings import Endpoint, Settings

        if not endpoint.name.strip():
            raise StudioInputError("give the endpoint a name", field="name")
        if not endpoint.base_url.startswith(("http://", "https://")):
            raise StudioInputError("an http(s) URL up to the API version", field="base_url")
        if endpoint.backend not in self.kernel.llm_backends:
            known = ", ".join(sorted(self.kernel.llm_backends))
            raise StudioInputError(f"not an installed backend; installed: {known}", field="backend")
        Settings(self.env).add_endpoint(
            Endpoint(
                name=endpoint.name,
                base_url=endpoint.base_url,
                backend=endpoint.backend,
                model=endpoint.model,
                api_key_env=endpoint.api_key_env,
            )
        )
        return endpoint

    def remove_endpoint(self, name: str) -> bool:
        """Remove a custom endpoint; ``False`` when there was none."""
        from kt_llm.settings import Settings

        return Settings(self.env).remove_endpoint(name)

    # -- keys --

    def keys(self) -> list[KeyView]:
        """A key per backend that needs one, plus every stored key: masked, with its source."""
        from kt_llm.keys import KeyStore, mask

        store = KeyStore(self.env)
        env_vars = {
            name: self.kernel.llm_backends[name].key_env_var for name in self.kernel.llm_backends
        }
        providers = sorted({*(p for p, v in env_vars.items() if v), *store.stored()})
        views = []
        for provider in providers:
            key, source = store.lookup(provider, env_vars.get(provider))
            views.append(
                KeyView(
                    provider=provider,
                    masked=mask(key) if key else "",
                    source=source,
                    env_var=env_vars.get(provider),
                )
            )
        return views

    def set_key(self, provider: str, key: str) -> KeyView:
        """Store a key for *provider* (mode 0600 file); returns it masked.

        Raises:
            StudioInputError: no provider, or an empty key.
        """
        from kt_llm.keys import KeyStore, mask

        if not isinstance(provider, str) or not provider.strip() or "/" in provider:
            raise StudioInputError("a provider name such as openai", field="provider")
        if not isinstance(key, str) or not key.strip():
            raise StudioInputError("the key is empty", field="key")
        KeyStore(self.env).set(provider, key)
        return KeyView(provider=provider, masked=mask(key.strip()), source="stored")

    def remove_key(self, provider: str) -> bool:
        """Forget a stored key; ``False`` when none was stored."""
        from kt_llm.keys import KeyStore

        return KeyStore(self.env).remove(provider)

    # -- MCP --

    def mcp_servers(self) -> list[McpServerView]:
        """The servers of the MCP registry, with environment values masked."""
        from kt_llm.keys import mask
        from kt_mcp.settings import load_registry

        views = []
        for name, table in sorted(load_registry(self.env).items()):
            shown = dict(table)
            if isinstance(shown.get("env"), Mapping):
                shown["env"] = {k: mask(str(v)) for k, v in shown["env"].items()}
            if isinstance(shown.get("headers"), Mapping):
                shown["headers"] = {k: mask(str(v)) for k, v in shown["headers"].items()}
            views.append(McpServerView(name=name, settings=shown))
        return views

    def add_mcp_server(self, name: str, settings: Mapping[str, Any], *, replace: bool = False):
        """Add (or replace) a registry server.

        Raises:
            MCPConfigError: the name is taken or the settings are invalid.
        """
        from kt_mcp.settings import save_registry_server

        if not isinstance(name, str) or not name.strip():
            raise StudioInputError("give the server a name", field="name")
        save_registry_server(name, dict(settings), env=self.env, replace=replace)
        return next(v for v in self.mcp_servers() if v.name == name)

    async def test_mcp_server(self, name: str) -> McpTestView:
        """Connect to registry server *name* now and list its tools (it is stopped after).

        Raises:
            StudioInputError: no server of that name, or settings that cannot be used.
        """
        from pathlib import Path

        from kt.config import MCPServerEntry
        from kt_mcp.checks import probe
        from kt_mcp.settings import SettingsProblem, load_registry, resolve_servers

        registry = load_registry(self.env)
        if name not in registry:
            known = ", ".join(sorted(registry)) or "none"
            message = f"no MCP server '{name}' in the registry ({known})"
            raise StudioInputError(message, field="name")
        (item,) = resolve_servers(
            [MCPServerEntry(name=name)], registry=registry, env=self.env, working_dir=Path.cwd()
        )
        if isinstance(item, SettingsProblem):
            raise StudioInputError(str(item.error), field="name")
        found = await probe(item, why="a test from Studio")
        return McpTestView(name=name, ok=found.ok, tools=found.tools, error=found.error)

    def remove_mcp_server(self, name: str) -> bool:
        """Remove a registry server; ``False`` when there was none."""
        from kt_mcp.settings import remove_registry_server

        return remove_registry_server(name, env=self.env)
