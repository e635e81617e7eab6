"""Importing what a config entry names: a dotted module, or a creature's own ``./file.py``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kt.errors import ModuleLoadError

__all__ = ["load_object"]


def load_object(
    module: str,
    attr: str | None,
    *,
    path: str,
    file: str | None,
    folder: Path | None = None,
    aliases: Mapping[str, str] | None = None,
) -> Any:
    """Import ``module`` and return ``module.attr`` (or the module when *attr* is ``None``).

    ``module`` is a dotted import name, or a path to a ``.py`` file (``./tools.py``), which is
    resolved against the creature *folder*: a creature can carry its own code. A name in
    *aliases* (``"module:attr"`` or ``"module"``, see ``kt_module_aliases``) loads the
    ``"module:attribute"`` it maps to instead.

    Raises:
        ModuleLoadError: naming the config key path and the import problem.
    """
    if aliases:
        target = aliases.get(f"{module}:{attr}") or aliases.get(module)
        if target is not None:
            module, _, alias_attr = target.partition(":")
            attr = alias_attr or attr
    is_file = module.endswith(".py") or "/" in module
    try:
        if is_file:
            mod = _load_file(Path(module) if folder is None else folder / module)
        else:
            mod = importlib.import_module(module)
    except Exception as exc:
        fix = "install the package that provides it"
        if is_file:
            missing = isinstance(exc, FileNotFoundError)
            fix = "create it or fix the path" if missing else "fix the error in that file"
        raise ModuleLoadError(
            f"{file + ': ' if file else ''}at '{path}': cannot import module '{module}' "
            f"({type(exc).__name__}: {exc}); {fix}"
        ) from exc
    if attr is None:
        return mod
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise ModuleLoadError(
            f"{file + ': ' if file else ''}at '{path}': module '{module}' has no '{attr}'"
        ) from None


def _load_file(source: Path) -> Any:
    import hashlib
    import importlib.util
    import sys

    source = source.resolve()
    # Keyed by the whole path: two packs' creatures/swe/tools.py are two modules.
    digest = hashlib.blake2s(str(source).encode(), digest_size=4).hexdigest()
    name = f"kt_creature_code.{source.parent.name}_{digest}.{source.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None or not source.is_file():
        raise FileNotFoundError(f"no Python file at {source}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod
