"""Plugin managers, entry-point discovery and declared dependencies between plugins.

A plugin is found through the ``kt.plugins`` entry-point group. It may build on another
plugin's public API (``kt_openai`` imports ``kt_llm.http``) only when it says so, the way a
pytest plugin lists ``pytest_plugins``: a module-level tuple of entry-point names,

.. code-block:: python

    kt_requires = ("kt_llm",)

The loader registers those plugins first (whether or not the plugin set names them), and
reports a plugin whose dependency is not installed or failed as failed itself, with that
reason. A cycle of requirements fails every plugin in it. ``tests/test_architecture.py``
checks that a plugin imports another plugin only when it declares it.

Registration hooks are plain pluggy calls, made one implementation at a time so every spec
knows which plugin it came from.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Collection, Iterable
from types import ModuleType
from typing import Any

import attrs
import pluggy

import kt.plugins.hookspecs as hookspecs
from kt.plugins.entrypoints import (
    ENTRY_POINT_GROUP,
    PluginEntryPoint,
    _normal,
    installation_stamp,
    installed_entry_points,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "KtPluginManager",
    "PluginEntryPoint",
    "PluginFailure",
    "hookimpl",
    "installation_stamp",
    "installed_entry_points",
    "iter_registration",
    "load_entry_points",
    "new_plugin_manager",
    "plugin_name",
    "plugin_requires",
    "require_modules",
]

hookimpl = pluggy.HookimplMarker("kt")
"""Marker for hook implementations: ``@kt.hookimpl`` (``tryfirst=True`` / ``trylast=True``)."""


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded or registered, and why."""

    name: str
    reason: str


class KtPluginManager(pluggy.PluginManager):
    """pluggy's manager, made cheap to fill again with the same plugins.

    Registering a plugin makes pluggy look at every attribute (most are imports, classes and
    dunder methods) and read each hook's signature. A plugin that lives as long as the process
    (:meth:`register_lasting`) and a hookspec module are read only once: the next manager adds
    the same ``HookImpl`` and ``HookSpec`` objects, which pluggy never changes, so a second
    kernel costs well under a millisecond.
    """

    def register_lasting(self, plugin: Any, name: str) -> str | None:
        """:meth:`register` an entry point's object, scanning it once per process.

        The hooks found are reused while the plugin has as many attributes and the same hook
        functions as when it was scanned (a hook monkeypatched or added is seen).
        """
        if name in self._name2plugin or self.is_registered(plugin):
            return self.register(plugin, name)  # blocked or taken: pluggy's answer
        found = _scanned.get((id(plugin), name))
        if found is None or not _unchanged(plugin, *found):
            impls = [
                (attr, pluggy.HookImpl(plugin, name, getattr(plugin, attr), opts))
                for attr in dir(plugin)
                if (opts := self.parse_hookimpl_opts(plugin, attr)) is not None
            ]
            found = (plugin, len(getattr(plugin, "__dict__", ())), impls)
            _scanned[(id(plugin), name)] = found
        self._name2plugin[name] = plugin
        for attr, impl in found[2]:  # what pluggy's register does with each hook it finds
            hook_name = impl.opts.get("specname") or attr
            if (hook := getattr(self.hook, hook_name, None)) is None:
                setattr(self.hook, hook_name, hook := pluggy.HookCaller(hook_name, self._hookexec))
            elif hook.has_spec():
                self._verify_hook(hook, impl)
                hook._maybe_apply_history(impl)
            hook._add_hookimpl(impl)
        return name

    def add_hookspecs(self, module_or_class: Any) -> None:
        """pluggy's, reading each hookspec module once per process."""
        specs = _specs.get(module_or_class)
        if specs is None or any(
            getattr(module_or_class, spec.name, None) is not spec.function
            or getattr(getattr(self.hook, spec.name, None), "spec", None) is not None
            for spec in specs
        ):  # new, changed, or added twice (pluggy says what is wrong)
            super().add_hookspecs(module_or_class)
            if type(module_or_class) is ModuleType:
                specs = [c.spec for c in vars(self.hook).values() if c.spec is not None]
                _specs[module_or_class] = [s for s in specs if s.namespace is module_or_class]
            return
        for spec in specs:  # what pluggy's HookCaller.set_specification does
            if (hook := getattr(self.hook, spec.name, None)) is None:
                setattr(self.hook, spec.name, hook := pluggy.HookCaller(spec.name, self._hookexec))
            hook.spec, hook._call_history = spec, [] if spec.opts.get("historic") else None
            for impl in hook.get_hookimpls():
                self._verify_hook(hook, impl)


_specs: dict[ModuleType, list[Any]] = {}  # hookspec module -> the HookSpecs read from it
_scanned: dict[tuple[int, str], tuple[Any, int, list[tuple[str, pluggy.HookImpl]]]] = {}
"""(id, name) -> (plugin, its attribute count, (attribute, HookImpl) for each hook in it)."""


def _unchanged(plugin: Any, kept: Any, size: int, impls: list[tuple[str, Any]]) -> bool:
    if kept is not plugin or size != len(getattr(plugin, "__dict__", ())):  # a hook added?
        return False
    return all(getattr(plugin, attr, None) == impl.function for attr, impl in impls)


def new_plugin_manager() -> pluggy.PluginManager:
    """Return a fresh plugin manager with kt's hook specifications."""
    pm = KtPluginManager("kt")
    pm.add_hookspecs(hookspecs)
    return pm


def plugin_name(plugin: object) -> str:
    """A stable display name for a plugin object (module name, class name or repr)."""
    name = getattr(plugin, "kt_plugin_name", None)
    if name is None and inspect.ismodule(plugin):
        return plugin.__name__
    name = name or getattr(plugin, "__name__", None)
    return str(name or type(plugin).__name__)


def plugin_requires(plugin: object) -> tuple[str, ...]:
    """The entry-point names *plugin* declares in ``kt_requires`` (empty when it declares none)."""
    declared = getattr(plugin, "kt_requires", ())
    if isinstance(declared, str):
        return (declared,)
    return tuple(str(name) for name in declared)


def require_modules(*names: str) -> None:
    """Fail a plugin's import when a library it cannot work without is not installed.

    Call it at the top of a plugin's entry-point module: the libraries are looked up, not
    imported, so loading stays cheap, and the loader reports the plugin failed with the extra
    that brings the missing one (``pip install 'kt-terrarium[sessions]'``).

    Raises:
        ModuleNotFoundError: naming the first module that is not installed.
    """
    import importlib.util

    for name in names:
        if importlib.util.find_spec(name) is None:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)


def missing_extra_hint(ep: PluginEntryPoint, exc: ImportError) -> str:
    """What to install when *ep*'s import failed for a missing optional dependency.

    The distribution's own metadata says which extra brings the module
    (``httpx>=0.27; extra == "llm"``), so the hint is right for third-party packs too.
    Returns ``""`` when no extra of the distribution provides it.
    """
    module = (getattr(exc, "name", None) or "").split(".")[0]
    if not module or ep.dist is None:
        return ""
    wanted = _normal(module)
    for requirement in ep.dist.requires or ():
        name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
        if extra and wanted in {_normal(name), _normal(_IMPORT_NAMES.get(_normal(name), ""))}:
            extra_name = extra.group(1)
            return f"install the '{extra_name}' extra: pip install '{ep.dist.name}[{extra_name}]'"
    return ""


# distributions whose import name differs from the distribution name
_IMPORT_NAMES = {
    "pyyaml": "yaml",
    "beautifulsoup4": "bs4",
    "python-dateutil": "dateutil",
    "markdown-it-py": "markdown_it",
    "opentelemetry-api": "opentelemetry",
    "pillow": "PIL",
}


class _Loader:
    """Loads entry points depth-first, each plugin after the plugins it requires."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.installed = installed_entry_points()
        self.failures: list[PluginFailure] = []
        self.failed: dict[str, str] = {}

    def fail(self, name: str, reason: str) -> bool:
        self.failed[name] = reason
        self.failures.append(PluginFailure(name, reason))
        return False

    def load(self, name: str, chain: tuple[str, ...] = ()) -> bool:
        """Register *name* (and what it requires); ``False`` when it is not registered."""
        if name in self.failed:
            return False
        if self.pm.has_plugin(name):
            return True
        if self.pm.is_blocked(name):
            return False
        if name in chain:
            cycle = " -> ".join((*chain[chain.index(name) :], name))
            return self.fail(name, f"its requirements form a cycle: {cycle}")
        ep = self.installed.get(name)
        if ep is None:
            known = ", ".join(sorted(self.installed)) or "none"
            return self.fail(name, f"not installed (installed plugins: {known})")
        try:
            plugin = ep.load()
        except ImportError as exc:
            hint = missing_extra_hint(ep, exc)
            return self.fail(name, f"{type(exc).__name__}: {exc}" + (f"; {hint}" if hint else ""))
        except Exception as exc:  # one broken plugin must not take the others down
            return self.fail(name, f"{type(exc).__name__}: {exc}")
        return self.register(name, plugin, chain, lasting=True)

    def register(
        self, name: str, plugin: object, chain: tuple[str, ...] = (), lasting: bool = False
    ) -> bool:
        """Register *plugin* after the plugins it requires (*lasting*: an entry point's)."""
        for needed in plugin_requires(plugin):
            if not self.load(needed, (*chain, name)):
                why = self.failed.get(needed, "is blocked")
                if name in self.failed:  # a cycle through this plugin already failed it
                    return False
                return self.fail(name, f"requires plugin '{needed}', which failed: {why}")
        try:
            if lasting and isinstance(self.pm, KtPluginManager):
                self.pm.register_lasting(plugin, name)
            else:
                self.pm.register(plugin, name=name)
        except Exception as exc:
            return self.fail(name, f"{type(exc).__name__}: {exc}")
        return True


def load_entry_points(
    pm: pluggy.PluginManager, wanted: Collection[str] | None, objects: Iterable[object] = ()
) -> list[PluginFailure]:
    """Register installed plugins (all, or the *wanted* names) and *objects*; return failures.

    Each plugin is registered after the plugins its ``kt_requires`` names, which are loaded
    even when *wanted* leaves them out. A plugin whose import fails (say a missing optional
    dependency) becomes a failure record with its reason, and so does every plugin that
    requires it; the others carry on. A wanted name that is not installed is a failure too.
    """
    loader = _Loader(pm)
    for name in list(loader.installed) if wanted is None else list(wanted):
        loader.load(name)
    for plugin in objects:
        loader.register(plugin_name(plugin), plugin)
    return loader.failures


def iter_registration(
    pm: pluggy.PluginManager, hook: str
) -> Iterable[tuple[str, Callable[[], Any]]]:
    """(plugin name, zero-argument call) for each implementation of a registration hook.

    In registration order (``tryfirst`` / ``trylast`` aside), not pluggy's call order, so when
    two plugins register the same name the plugin registered first keeps it.
    """
    caller = getattr(pm.hook, hook)
    for impl in caller.get_hookimpls():
        yield impl.plugin_name, impl.function
