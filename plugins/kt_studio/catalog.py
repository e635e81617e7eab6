"""``studio.catalog``: what is installed, and installing packs (through ``kt_packages``).

Packs and their contents, built-in tools, sub-agents, triggers and plugins; install, update
and uninstall.
"""

from __future__ import annotations

from typing import Any

from kt_studio.errors import StudioInputError
from kt_studio.values import PackView, PluginView, SpecView

__all__ = ["Catalog"]


class Catalog:
    """The catalog of one kernel and one kt home.

    Args:
        kernel: The kernel creatures are built with (its registries are the built-ins).
        packs: A ``kt_packages.PackStore`` (default: the kt home's).
    """

    def __init__(self, kernel: Any, packs: Any = None) -> None:
        self.kernel = kernel
        self._packs = packs

    @property
    def store(self) -> Any:
        """The pack store."""
        if self._packs is None:
            from kt_packages import PackStore

            self._packs = PackStore()
        return self._packs

    def packs(self) -> list[PackView]:
        """Every installed pack with the creatures, terrariums, skills and plugins it holds."""
        return [_pack_view(pack) for pack in self.store.installed()]

    def pack(self, name: str) -> PackView:
        """One installed pack.

        Raises:
            PackNotFoundError: not installed.
        """
        return _pack_view(self.store.require(name))

    def install(self, source: str, *, editable: bool = False) -> PackView:
        """Install a pack from a folder, a git URL or the marketplace (``kt install``).

        Raises:
            StudioInputError: *source* is empty.
            PackageError: the source or the pack is bad (the message says which).
        """
        if not isinstance(source, str) or not source.strip():
            raise StudioInputError("give a folder, a git URL or a pack name", field="source")
        report = self.store.install(source, editable=editable)
        return _pack_view(report.pack)

    def update(self, name: str) -> dict[str, str]:
        """Update one pack; returns ``{"name", "status", "reason"}``."""
        result = self.store.update(name)
        return {"name": result.name, "status": result.status, "reason": result.reason}

    def uninstall(self, name: str) -> dict[str, Any]:
        """Uninstall one pack and the Python distributions it installed."""
        report = self.store.uninstall(name)
        return {
            "name": report.pack.name,
            "removed_distributions": list(report.removed_distributions),
            "warnings": list(report.warnings),
        }

    def tools(self) -> list[SpecView]:
        """Every tool a loaded plugin offers, with its JSON schema."""
        registry = self.kernel.tools
        return [
            SpecView(
                name=name,
                plugin=registry.origin(name),
                description=registry[name].description,
                parameters=dict(registry[name].parameters),
            )
            for name in sorted(registry)
        ]

    def subagents(self) -> list[SpecView]:
        """Every sub-agent a loaded plugin offers."""
        return _specs(self.kernel.subagents)

    def triggers(self) -> list[SpecView]:
        """Every trigger type a loaded plugin offers."""
        return _specs(self.kernel.triggers)

    def plugins(self) -> list[PluginView]:
        """Every plugin of the kernel (loaded, then failed with the reason)."""
        return [
            PluginView(name=i.name, version=i.version, hooks=tuple(i.hooks), failure=i.failure)
            for i in self.kernel.plugin_infos()
        ]


def _specs(registry: Any) -> list[SpecView]:
    return [
        SpecView(
            name=name,
            plugin=registry.origin(name),
            description=getattr(registry[name], "description", ""),
        )
        for name in sorted(registry)
    ]


def _pack_view(pack: Any) -> PackView:
    try:
        manifest = None if pack.broken else pack.manifest()
    except Exception:  # a pack with a broken manifest is still listed; `kt info` says why
        manifest = None
    return PackView(
        name=pack.name,
        root=str(pack.root),
        kind=pack.kind,
        source=pack.source,
        broken=pack.broken,
        version=getattr(manifest, "version", "") or "",
        description=getattr(manifest, "description", "") or "",
        creatures=tuple(e.name for e in getattr(manifest, "creatures", ())),
        terrariums=tuple(e.name for e in getattr(manifest, "terrariums", ())),
        skills=tuple(e.name for e in getattr(manifest, "skills", ())),
        plugins=tuple(p.name for p in getattr(manifest, "plugins", ())),
        refs=tuple(
            f"@{pack.name}/{entry.path}"
            for kind in ("creatures", "terrariums")
            for entry in getattr(manifest, kind, ())
        ),
    )
