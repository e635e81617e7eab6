"""``Kernel``: one plugin set and the registries its registration hooks fill.

A kernel is cheap to build and owns its own ``pluggy.PluginManager``: there is no global plugin
state, so tests and applications can run several kernels with different plugin sets side by
side. Creatures built with a kernel read tools, backends, formats and the rest from its
registries, and its plugins see their runtime hooks.

Which plugins load (first match wins):

1. ``Kernel(plugins=[...])``: entry-point names and/or plugin objects; ``[]`` is the bare kernel.
2. The ``KT_PLUGINS`` environment variable: comma-separated names (empty: none).

A name that is a path to a Python file (``./shout_mode.py``, relative to the working dir) loads
that file as a plugin without packaging it, the way pytest's ``-p`` loads a module.
3. ``plugins`` in the ``[kt]`` table of ``~/.kt/config.toml``.
4. Every installed entry point in the ``kt.plugins`` group.

The kernel's own built-ins (the ``native`` tool format and the ``scripted`` backend) are always
there, like pytest's essential plugins. A chosen name that is not installed is an error listing
the installed ones. When two plugins register one name in a registry, the first registration is
kept and a :class:`RegistryClash` recorded (``docs/concepts/plugins.md`` explains the order and
how to choose). ``Kernel.default()`` is one shared kernel per process for the default set.
"""

from __future__ import annotations

import difflib
import logging
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
    installation_stamp,
    installed_entry_points,
    iter_registration,
    load_entry_points,
    new_plugin_manager,
)

__all__ = ["Kernel", "LazySpec", "PluginInfo", "Registry", "RegistryClash"]

T = TypeVar("T")

log = logging.getLogger("kt.plugins")


@attrs.frozen
class LazySpec:
    """A spec a registration hook names without importing it: imported when first read.

    ``kt.LazySpec("bash", "kt_tools.shell:bash")`` registers ``bash`` and imports its module
    when ``kernel.tools["bash"]`` is first read, so building a kernel imports no tool module.

    Attributes:
        name: The registered name, which the imported spec must have too.
        target: Where the spec is: ``"module:attribute"``.
    """

    name: str
    target: str

    def load(self, kind: str, plugin: str) -> Any:
        """Import the spec, marked as *plugin*'s (a failed import is a ``ModuleLoadError``)."""
        from kt.config.modules import load_object

        module, _, attr = self.target.partition(":")
        spec = load_object(module, attr, path=f"plugin {plugin}, {kind} {self.name}", file=None)
        if getattr(spec, "name", None) != self.name:
            raise PluginLoadError(
                f"plugin '{plugin}' registers {kind} '{self.name}' as {self.target}, which is "
                f"named '{getattr(spec, 'name', None)}'; fix the name in its registration hook"
            )
        return _stamped(spec, plugin)


def _stamped(spec: Any, plugin: str) -> Any:
    """*spec* with its ``plugin`` field filled in, when it has one that is empty."""
    unmarked = hasattr(spec, "plugin") and not spec.plugin
    return attrs.evolve(spec, plugin=plugin) if unmarked else spec


class Registry(Mapping[str, T], Generic[T]):
    """Specs by name, remembering which plugin contributed each; a lazy one loads on first read.

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

    def replace(self, name: str, item: T, plugin: str) -> None:
        """Put *item* from *plugin* in place of what *name* holds (a clash the user decided)."""
        self._items[name] = item
        self._origins[name] = plugin

    def origin(self, name: str) -> str:
        """The plugin that contributed *name*."""
        return self._origins[name]

    def __getitem__(self, name: str) -> T:
        item = self._items[name]
        if type(item) is LazySpec:
            item = self._items[name] = item.load(self.kind, self._origins[name])
        return item

    def __contains__(self, name: object) -> bool:
        return name in self._items  # without loading it

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@attrs.frozen
class RegistryClash:
    """Two plugins registered the same name in one registry; the first one is kept.

    Attributes:
        kind: What the registry holds (``"tool"``).
        name: The name both registered.
        kept: The plugin whose registration is used.
        ignored: The plugin whose registration is left out.
    """

    kind: str
    name: str
    kept: str
    ignored: str

    @property
    def message(self) -> str:
        """What happened and how to choose the other one, in one line."""
        return (
            f"{self.kind} '{self.name}' is registered by both plugin '{self.kept}' and plugin "
            f"'{self.ignored}'; using the one from '{self.kept}'. To use the one from "
            f"'{self.ignored}' instead, add `{self.name} = \"{self.ignored}\"` to [kt.prefer] in "
            "~/.kt/config.toml "
            f"(or list '{self.ignored}' first in --plugins / KT_PLUGINS), or uninstall one of "
            "them; `kt plugins` lists every clash"
        )


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


def _selected_plugins(env: Mapping[str, str]) -> tuple[list[str] | None, str]:
    """Names chosen by ``KT_PLUGINS`` or the user config (``None``: every installed one).

    Returns:
        The names, and what chose them (for messages).
    """
    if "KT_PLUGINS" in env:
        return [n.strip() for n in env["KT_PLUGINS"].split(",") if n.strip()], "KT_PLUGINS"
    chosen = home.user_config(env).get("kt", {}).get("plugins")
    where = "[kt] plugins in the user config"
    return (None, "") if chosen is None else ([str(n) for n in chosen], where)


def _preferences(env: Mapping[str, str]) -> dict[str, str]:
    """The ``[kt.prefer]`` table of the user config: registered name -> plugin to keep."""
    table = home.user_config(env).get("kt", {}).get("prefer", {})
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


def _check_known(names: Sequence[str], source: str) -> None:
    """Refuse chosen plugin names that are not installed, listing the installed ones.

    Raises:
        PluginLoadError: naming each unknown plugin, a close match if any, and *source*.
    """
    installed = installed_entry_points()
    unknown = [name for name in names if name not in installed]
    if not unknown:
        return
    guesses = []
    for name in unknown:
        close = difflib.get_close_matches(name, list(installed), n=1)
        guesses.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    known = ", ".join(installed) or "none"
    plural = "s" if len(unknown) > 1 else ""
    raise PluginLoadError(
        f"unknown plugin{plural} {', '.join(guesses)} in {source}; the installed plugins are: "
        f"{known}. Fix the name, or install the plugin (`kt plugins` lists them)"
    )


def _is_plugin_file(name: str) -> bool:
    return name.endswith(".py") or "/" in name or os.sep in name


def _plugin_files(names: Sequence[str]) -> list[object]:
    """Plugins chosen as files (``./shout_mode.py``): loaded without packaging, as modules.

    Raises:
        ModuleLoadError: a file that is missing or fails to import, with the fix.
    """
    from kt.config.modules import load_object

    found = []
    for name in filter(_is_plugin_file, names):
        module = load_object(name, None, path="plugins", file=None, folder=Path.cwd())
        module.kt_plugin_name = name  # `kt plugins` shows the path the user gave
        found.append(module)
    return found


_logged_clashes: set[RegistryClash] = set()  # a clash is logged once per process


class Kernel:
    """A plugin set and its registries.

    Args:
        plugins: Entry-point names and/or plugin objects (modules, instances) to load, in
            registration order; ``[]`` for the bare kernel; ``None`` (default) to follow
            ``KT_PLUGINS``, the user config, or else load every installed plugin.
        env: Environment to read ``KT_PLUGINS`` / ``KT_HOME`` from (default ``os.environ``).
        prefer: For names two plugins register: the plugin whose registration to keep
            (default: the ``[kt.prefer]`` table of the user config; else the first one).

    Attributes:
        failures: Plugins that could not be loaded or registered, with reasons.
        clashes: Names two plugins registered in one registry, and which one is kept.

    Raises:
        PluginLoadError: a chosen plugin name is not installed (the message lists the
            installed ones).
    """

    def __init__(
        self,
        plugins: Sequence[str | object] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        prefer: Mapping[str, str] | None = None,
    ) -> None:
        self.env = os.environ if env is None else env
        self.pm: pluggy.PluginManager = new_plugin_manager()
        self.failures: list[PluginFailure] = []
        self.clashes: list[RegistryClash] = []
        self._prefer = None if prefer is None else dict(prefer)  # the user config's: on a clash
        self.pm.register(builtin, name="kt.builtin")
        if plugins is None:
            chosen, source = _selected_plugins(self.env)
            files = _plugin_files(chosen or [])
            if chosen is not None:
                chosen = [name for name in chosen if not _is_plugin_file(name)]
                _check_known(chosen, source)
            self.failures += load_entry_points(self.pm, chosen, files)
        else:
            names = [p for p in plugins if isinstance(p, str) and not _is_plugin_file(p)]
            objects = [p for p in plugins if not isinstance(p, str)]
            objects += _plugin_files([p for p in plugins if isinstance(p, str)])
            _check_known(names, "the chosen plugin set")
            self.failures += load_entry_points(self.pm, names, objects)
        self.pm.hook.kt_addhookspecs.call_historic(kwargs={"pm": self.pm})
        for attr, kind in _REGISTRIES.values():
            setattr(self, attr, Registry(kind))
        self._fill_registries()
        self.shared_sessions: dict[str, Any] = {}  # session_key -> the store creatures share
        self._aliases: dict[str, str] | None = None  # module_aliases(), read on first use

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
                    self._register(registry, _stamped(spec, name), name)
        for name in failed:
            self.pm.unregister(name=name)

    def _register(self, registry: Registry[Any], spec: Any, plugin: str) -> None:
        """Add *spec*, or record a clash with the plugin that registered its name first."""
        if spec.name not in registry:
            registry.add(spec.name, spec, plugin)
            return
        first = registry.origin(spec.name)
        if self._prefer is None:
            self._prefer = _preferences(self.env)
        if self._prefer.get(spec.name) == plugin:  # the user chose this one: swap them
            registry.replace(spec.name, spec, plugin)
            first, plugin = plugin, first
        clash = RegistryClash(registry.kind, spec.name, kept=first, ignored=plugin)
        self.clashes.append(clash)
        if clash not in _logged_clashes:
            _logged_clashes.add(clash)
            log.warning("%s", clash.message)

    @classmethod
    def default(cls) -> Kernel:
        """The process's kernel for the default plugin set, for callers that only read it.

        Built on first use, and again when ``KT_PLUGINS``, the user config or the installation
        changes. Build your own ``Kernel()`` to change one (register plugins, add hook specs).
        """
        key = _default_key(os.environ)
        global _default
        if _default is None or _default[0] != key:
            _default = (key, cls())
        return _default[1]

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

    def module_aliases(self) -> dict[str, str]:
        """What loads instead of a module a config names: every ``kt_module_aliases`` entry.

        Keys are ``"module:Class"`` or ``"module"``, values ``"module:attribute"``; when two
        plugins declare a key, the one registered first wins.
        """
        if self._aliases is None:  # read once, like the registries: every module entry asks
            self._aliases = {}
            for declared in reversed(self.pm.hook.kt_module_aliases()):  # registration order
                for key, target in (declared or {}).items():
                    self._aliases.setdefault(key, target)
        return dict(self._aliases)

    def load_object(
        self, module: str, attr: str | None = None, *, folder: Path | None = None
    ) -> Any:
        """Import what a config entry names, as a build does (aliases applied).

        Raises ``ModuleLoadError`` naming the problem (a ``./file.py`` is found in *folder*).
        """
        from kt.config.modules import load_object

        aliases = self.module_aliases()
        return load_object(
            module, attr, path=attr or module, file=None, folder=folder, aliases=aliases
        )

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


_default: tuple[tuple[object, ...], Kernel] | None = None


def _default_key(env: Mapping[str, str]) -> tuple[object, ...]:
    """What decides the default plugin set: the environment, the user config, the installation."""
    config = home.kt_home(env) / "config.toml"
    try:
        config_stamp = config.stat().st_mtime_ns
    except OSError:
        config_stamp = -1
    return (env.get("KT_PLUGINS"), str(config), config_stamp, installation_stamp())
