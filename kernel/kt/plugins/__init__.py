"""The plugin machinery: hook specifications, plugin managers and sets, the ``Kernel``.

* :mod:`kt.plugins.hookspecs`: every cross-plugin hook, each docstring its reference.
* :mod:`kt.plugins.entrypoints`: the installed entry points, found once and remembered.
* :mod:`kt.plugins.manager`: loading plugins, declared dependencies (``kt_requires``), the
  ``hookimpl`` marker.
* :mod:`kt.plugins.runner`: :class:`HookRunner`, which awaits runtime hooks in pluggy's order.
* :mod:`kt.plugins.kernel`: :class:`kt.Kernel`, a plugin set and its registries.
* :mod:`kt.plugins.builtin`: the kernel's own plugin (the ``native`` format, ``scripted``).
"""

from __future__ import annotations

from kt.plugins.manager import (
    ENTRY_POINT_GROUP,
    PluginFailure,
    hookimpl,
    installed_entry_points,
    iter_registration,
    load_entry_points,
    new_plugin_manager,
    plugin_name,
    plugin_requires,
    require_modules,
)
from kt.plugins.runner import HookRunner

__all__ = [
    "ENTRY_POINT_GROUP",
    "HookRunner",
    "PluginFailure",
    "hookimpl",
    "installed_entry_points",
    "iter_registration",
    "load_entry_points",
    "new_plugin_manager",
    "plugin_name",
    "plugin_requires",
    "require_modules",
]
