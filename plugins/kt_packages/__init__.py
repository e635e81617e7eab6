"""Packs: install creature packs and resolve ``@pack/path`` references.

A pack is a folder of creatures, terrariums, skills and prompts, described by a
``kt-pack.toml`` (or a kt-biome ``kohaku.yaml``), optionally with Python plugins. This plugin

* installs packs under ``$KT_HOME/packages/`` from a folder (copied, or linked with ``-e``), a
  git URL, or the marketplace index (``@kt-biome`` is the bundled stub pack), and installs
  their Python plugins with ``sys.executable -m pip`` so their ``kt.plugins`` entry points are
  found by the next kernel;
* resolves ``@pack/path`` for configs, ``Agent.build`` and ``base_config``
  (``kt_resolve_ref``), and installs missing packs for :func:`kt_packages.ensure`
  (``kt_ensure_package``);
* adds ``kt install``, ``kt uninstall``, ``kt update``, ``kt list``, ``kt info`` and
  ``kt marketplace search`` (``kt_cli_commands``).

kt-biome's Python modules are written for KohakuTerrarium's internals; they are reported as
unsupported with the reason, and the rest of the pack installs. See
``docs/guides/packages.md``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kt

if TYPE_CHECKING:
    import click

    from kt_packages.errors import (  # noqa: F401
        PackageError,
        PackClashError,
        PackManifestError,
        PackNotFoundError,
        PackSourceError,
        PipInstallError,
    )
    from kt_packages.refs import ensure, resolve  # noqa: F401
    from kt_packages.store import InstalledPack, InstallReport, PackStore, split_ref  # noqa: F401

# Every process that loads the default plugin set imports this module (`kt --help` included),
# so the machinery loads on first use only.
_LAZY = {
    "PackageError": "kt_packages.errors",
    "PackClashError": "kt_packages.errors",
    "PackManifestError": "kt_packages.errors",
    "PackNotFoundError": "kt_packages.errors",
    "PackSourceError": "kt_packages.errors",
    "PipInstallError": "kt_packages.errors",
    "InstallReport": "kt_packages.store",
    "InstalledPack": "kt_packages.store",
    "PackStore": "kt_packages.store",
    "split_ref": "kt_packages.store",
    "ensure": "kt_packages.refs",
    "resolve": "kt_packages.refs",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kt_packages' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


@kt.hookimpl
def kt_resolve_ref(ref: str) -> Path | None:
    """Resolve ``@pack/path`` against the packs installed in ``$KT_HOME/packages``."""
    from kt_packages.store import PackStore

    return PackStore().resolve(ref)


@kt.hookimpl
def kt_addhookspecs(pm: Any) -> None:
    """Declare ``kt_ensure_package``, the hook :func:`kt_packages.ensure` calls."""
    from kt_packages import hookspecs

    pm.add_hookspecs(hookspecs)


@kt.hookimpl
def kt_ensure_package(ref: str) -> Path:
    """Install the pack *ref* names from the marketplace index unless it is installed."""
    from kt_packages.store import PackStore

    return PackStore().ensure(ref)


@kt.hookimpl
def kt_cli_commands(cli: click.Group) -> Any:
    """Add install, uninstall, update, list, info and marketplace to ``kt``."""
    from kt_packages.cli import add_commands  # click is imported only here

    add_commands(cli)
