"""Packs from Python: ``kt_packages.ensure("@kt-biome")`` and ``kt_packages.resolve(ref)``.

A *pack* is a folder of creatures, terrariums, skills and prompts (and optionally Python
plugins) installed under a name, so that configs can say ``@name/creatures/swe``. Installing
packs is a plugin's job (``kt_packages``, which also gives ``kt install``); this module only
calls the hooks, so it works with whichever plugin provides them::

    import kt
    import kt_packages

    swe = kt_packages.ensure("@kt-biome/creatures/swe")   # installs kt-biome if missing
    agent = await kt.Agent.build(swe, llm=...)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kt.errors import ConfigNotFoundError

if TYPE_CHECKING:
    from kt import Kernel

__all__ = ["ensure", "resolve"]


def _kernel(kernel: Kernel | None) -> Kernel:
    if kernel is not None:
        return kernel
    from kt import Kernel

    return Kernel()


def _pack_name(ref: str) -> str:
    if not isinstance(ref, str) or not ref.startswith("@") or len(ref) < 2 or ref[1] == "/":
        raise ValueError(f"{ref!r} is not a package reference; write @pack or @pack/path")
    return ref[1:].split("/", 1)[0]


def resolve(ref: str, *, kernel: Kernel | None = None) -> Path:
    """The folder or file an installed pack provides for ``@pack/path``.

    Args:
        ref: ``@pack`` or ``@pack/path``.
        kernel: The plugin set whose ``kt_resolve_ref`` hooks answer. ``None``: a new
            ``kt.Kernel()`` (every installed plugin, or the ``KT_PLUGINS`` choice).

    Returns:
        The path.

    Raises:
        ValueError: *ref* does not start with ``@``.
        ConfigNotFoundError: no plugin knows the pack (install it with ``kt install``), or
            the pack has no such path.
    """
    name = _pack_name(ref)
    found = _kernel(kernel).resolve_ref(ref)
    if found is None:
        raise ConfigNotFoundError(
            f"no package resolver knows {ref!r}; install the pack with `kt install {name}` "
            "(or kt_packages.ensure), and check that the kt_packages plugin is loaded "
            "(`kt plugins`)"
        )
    return found


def ensure(ref: str, *, kernel: Kernel | None = None) -> Path:
    """Install the pack *ref* names unless it is installed already; return what *ref* names.

    Idempotent: calling it again for an installed pack changes nothing (no copy, no download,
    no pip run). Plugins the pack installs are found by kernels built after the call; the
    *kernel* passed here keeps its plugin set.

    Args:
        ref: ``@pack`` (the pack's folder) or ``@pack/path`` (a path inside it).
        kernel: The plugin set whose ``kt_ensure_package`` hook installs it. ``None``: a new
            ``kt.Kernel()``.

    Returns:
        The pack's folder, or the path inside it.

    Raises:
        ValueError: *ref* does not start with ``@``.
        ConfigNotFoundError: no loaded plugin installs packages (load ``kt_packages``), or the
            pack has no such path.
        KTError: the plugin could not install it; the message says why and what to do.
    """
    name = _pack_name(ref)
    caller = getattr(_kernel(kernel).pm.hook, "kt_ensure_package", None)
    found = None if caller is None else caller(ref=ref)
    if found is None:
        raise ConfigNotFoundError(
            f"cannot ensure {ref!r}: no loaded plugin installs packages; install and load "
            f"kt_packages (`kt plugins` lists what is loaded), then `kt install {name}`"
        )
    return Path(found)
