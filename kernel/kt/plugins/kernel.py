"""``Kernel``: one plugin set and the registries its registration hooks fill.

A kernel is cheap to build and owns its own ``pluggy.PluginManager``: there is no global plugin
state, so tests and applications can run several kernels with different plugin sets side by
side. Creatures built with a kernel read tools, backends, formats and the rest from its
registries, and its plugins see their runtime hooks.

Which plugins load (first match wins):

1. ``Kernel(plugins=[...])``: entry-point names and/or plugin objects; ``[]`` is the bare kernel.
2. The ``KT_PLUGINS`` environment variable: comma-separated names (empty: none).
3. ``plugins`` in the ``[kt]`` table of ``~/.kt/config.toml``.
4. Every installed entry point in the ``kt.plugins`` group.

The kernel's own built-ins (the ``native`` tool format and the ``scripted`` backend) are always
there, like pytest's essential plugins.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import attrs
import pluggy

from kt.config import home
from kt.errors import PluginLoadError, RegistryClashError, UnknownNameError
from kt.plugins import builtin
from kt.plugins.manager import (
    PluginFailure,
    installed_entry_points,
    iter_registration,
    load_entry_points,
    new_plugin_manager,
)

__all__ = ["Kernel", "PluginInfo", "Registry"]

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Specs by name, remembering which plugin contributed each.

    Args:
        kind: What the registry holds (``"tool"``), for messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}

    def add(self, name: str, item: T, plugin: str) -> None:
        """Add *item*; a name already taken by another plugin is a clash.

        Raises:
            RegistryClashError: naming both plugins.
        """
        if name in self._items:
            raise RegistryClashError(
                f"{self.kind} '{name}' is registered by both plugin '{self._origins[name]}' and "
                f"plugin '{plugin}'; uninstall or deselect one of them (kt plugins lists them)"
            )
        self._items[name] = item
        self._origins[name] = plugin

    def origin(self, name: str) -> str:
        """The plugin that contributed *name*."""
        return self._origins[name]

    def __getitem__(self, name: str) -> T:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@attrs.frozen
class PluginInfo:
    """One plugin as ``kt plugins`` shows it."""

    name: str
    version: str
    hooks: tuple[str, ...]
    failure: str | None = None


# registration hook -> (kernel attribute, what the registry holds)
_REGISTRIES: dict[str, tuple[str, str]] = {
    "kt_tools": ("tools", "tool"),
    "kt_llm_backends": ("llm_backends", "LLM backend"),
    "kt_subagents": ("subagents", "sub-agent"),
    "kt_triggers": ("triggers", "trigger"),
    "kt_inputs": ("inputs", "input"),
    "kt_outputs": ("outputs", "output"),
    "kt_controllers": ("controllers", "controller"),
    "kt_tool_formats": ("tool_formats", "tool format"),
    "kt_session_stores": ("session_stores", "session store"),
    "kt_transports": ("transports", "transport"),
}


def _selected_plugins(env: Mapping[str, str]) -> list[str] | None:
    """Names chosen by ``KT_PLUGINS`` or the user config; ``None`` means every installed one."""
    if "KT_PLUGINS" in env:
        return [n.strip() for n in env["KT_PLUGINS"].split(",") if n.strip()]
    chosen = home.user_config(env).get("kt", {}).get("plugins")
    return None if chosen is None else [str(n) for n in chosen]


class Kernel:
    """A plugin set and its registries.

    Args:
        plugins: Entry-point names and/or plugin objects (modules, instances) to load;
            ``[]`` for the bare kernel; ``None`` (default) to follow ``KT_PLUGINS``, the user
            config, or else load every installed plugin.
        env: Environment to read ``KT_PLUGINS`` / ``KT_HOME`` from (default ``os.environ``).

    Raises:
        RegistryClashError: when two plugins register the same name in one registry.
    """

    def __init__(
        self, plugins: Sequence[str | object] | None = None, *, env: Mapping[str, str] | None = None
    ) -> None:
        self.env = os.environ if env is None else env
        self.pm: pluggy.PluginManager = new_plugin_manager()
        self.failures: list[PluginFailure] = []
        self.pm.register(builtin, name="kt.builtin")
        if plugins is None:
            self.failures += load_entry_points(self.pm, _selected_plugins(self.env))
        else:
            names = [p for p in plugins if isinstance(p, str)]
            objects = [p for p in plugins if not isinstance(p, str)]
            self.failures += load_entry_points(self.pm, names, objects)
        self.pm.hook.kt_addhookspecs.call_historic(kwargs={"pm": self.pm})
        for attr, kind in _REGISTRIES.values():
            setattr(self, attr, Registry(kind))
        self._fill_registries()
        self.shared_sessions: dict[str, Any] = {}  # session_key -> the store creatures share

    tools: Registry[Any]
    llm_backends: Registry[Any]
    subagents: Registry[Any]
    triggers: Registry[Any]
    inputs: Registry[Any]
    outputs: Registry[Any]
    controllers: Registry[Any]
    tool_formats: Registry[Any]
    session_stores: Registry[Any]
    transports: Registry[Any]

    def _fill_registries(self) -> None:
        failed: set[str] = set()
        for hook, (attr, _) in _REGISTRIES.items():
            registry: Registry[Any] = getattr(self, attr)
            for name, call in iter_registration(self.pm, hook):
                if name in failed:
                    continue
                try:
                    specs = call() or []
                except Exception as exc:  # recorded and shown by `kt plugins`
                    self.failures.append(
                        PluginFailure(name, f"{hook}() raised {type(exc).__name__}: {exc}")
                    )
                    failed.add(name)
                    continue
                for spec in specs if isinstance(specs, list | tuple) else [specs]:
                    if hasattr(spec, "plugin") and not spec.plugin:
                        spec = attrs.evolve(spec, plugin=name)
                    registry.add(spec.name, spec, name)
        for name in failed:
            self.pm.unregister(name=name)

    # -- Introspection -------------------------------------------------------------------------

    @property
    def plugin_names(self) -> list[str]:
        """Names of the registered plugins (the kernel's built-ins excluded)."""
        return [n for n, _ in self.pm.list_name_plugin() if n != "kt.builtin"]

    def plugin_infos(self) -> list[PluginInfo]:
        """Loaded plugins with their versions and hooks, then failed ones with reasons."""
        installed = installed_entry_points()
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if name == "kt.builtin":
                continue
            callers = self.pm.get_hookcallers(plugin) or []
            ep = installed.get(name)
            version = ep.dist.version if ep is not None and ep.dist is not None else ""
            infos.append(PluginInfo(name, version, tuple(sorted({c.name for c in callers}))))
        for failure in self.failures:
            infos.append(PluginInfo(failure.name, "", (), failure.reason))
        return infos

    # -- Services for creatures ----------------------------------------------------------------

    def session_store(self, *, needs: str = "factory") -> Any:
        """The session store to use: the first one registered through ``kt_session_stores``.

        Args:
            needs: The spec member the caller is about to use (``factory``, ``resume``,
                ``reader``, ``resume_terrarium``), for the error message.

        Returns:
            The :class:`kt.SessionStoreSpec`.

        Raises:
            UnknownNameError: no loaded plugin provides a store (with that member).
        """
        for spec in self.session_stores.values():
            if getattr(spec, needs, None) is not None:
                return spec
        loaded = ", ".join(sorted(self.session_stores)) or "none"
        raise UnknownNameError(
            f"no session store that supports '{needs}' is loaded (session stores: {loaded}); "
            "install or enable the kt_sessions plugin (pip install 'kt-terrarium[sessions]'); "
            "`kt plugins` lists what is loaded"
        )

    def resolve_ref(self, ref: str) -> Path | None:
        """Resolve an ``@pack/path`` reference through ``kt_resolve_ref`` (``None``: unknown)."""
        found = self.pm.hook.kt_resolve_ref(ref=ref)
        return None if found is None else Path(found)

    def load_plugin(self, name: str) -> object:
        """Import an installed plugin by entry-point name without adding it to this kernel.

        Used for plugins a creature config lists by name.

        Raises:
            PluginLoadError: when it is not installed or fails to import.
        """
        if self.pm.has_plugin(name):
            return self.pm.get_plugin(name)
        ep = installed_entry_points().get(name)
        if ep is None:
            raise PluginLoadError(
                f"plugin '{name}' is not installed; `kt plugins` lists the installed ones"
            )
        try:
            return ep.load()
        except Exception as exc:
            raise PluginLoadError(f"plugin '{name}' failed to import: {exc}") from exc
