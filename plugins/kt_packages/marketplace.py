"""The marketplace index: a local TOML file of known packs, searched by ``kt marketplace search``.

There is no central registry yet. The index that ships with ``kt_packages`` lists the bundled
kt-biome stub (so ``kt install @kt-biome`` works offline); ``$KT_HOME/marketplace.toml`` adds
to it or overrides it by name::

    [[packs]]
    name = "acme"
    description = "Support creatures for Acme"
    version = "0.3.0"
    source = "https://example.org/acme/kt-acme.git"   # a git URL, or a folder relative to this file
    tags = ["support", "tickets"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from kt_packages.errors import PackManifestError

__all__ = ["BUNDLED_INDEX", "IndexEntry", "load_index", "search", "user_index_file"]

BUNDLED_INDEX = Path(__file__).with_name("marketplace.toml")
"""The index shipped with the plugin (lists the kt-biome stub)."""


@attrs.frozen
class IndexEntry:
    """One pack the index knows.

    Attributes:
        name: The pack name (``kt install @name`` / ``kt install name``).
        source: A git URL or an absolute folder path (relative paths are resolved against the
            index file when it is read).
        description: One line for listings.
        version: The version the index advertises (informational).
        tags: Words ``kt marketplace search`` matches too.
        index_file: The index file the entry came from.
    """

    name: str
    source: str
    description: str = ""
    version: str = ""
    tags: tuple[str, ...] = ()
    index_file: Path | None = None


def user_index_file(home: Path) -> Path:
    """The user's own index: ``marketplace.toml`` in the kt home."""
    return home / "marketplace.toml"


def _is_url(source: str) -> bool:
    return "://" in source or source.startswith("git@")


def read_index_file(file: Path) -> list[IndexEntry]:
    """Read one index file.

    Args:
        file: The TOML file (``[[packs]]`` tables).

    Returns:
        Its entries, in file order.

    Raises:
        PackManifestError: the file is not valid TOML or an entry lacks ``name`` / ``source``.
    """
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PackManifestError(f"cannot read the index ({exc})", file=str(file)) from exc
    packs = data.get("packs", [])
    if not isinstance(packs, list):
        raise PackManifestError("packs must be a list of [[packs]] tables", file=str(file))
    entries = []
    for i, item in enumerate(packs):
        if not isinstance(item, Mapping) or not item.get("name") or not item.get("source"):
            raise PackManifestError(
                "each [[packs]] entry needs a name and a source", path=f"packs[{i}]", file=str(file)
            )
        source = str(item["source"])
        if not _is_url(source):
            source = str((file.parent / Path(source).expanduser()).resolve())
        entries.append(
            IndexEntry(
                name=str(item["name"]),
                source=source,
                description=" ".join(str(item.get("description", "")).split()),
                version=str(item.get("version", "")),
                tags=tuple(str(t) for t in item.get("tags", [])),
                index_file=file,
            )
        )
    return entries


def load_index(files: Sequence[Path]) -> dict[str, IndexEntry]:
    """Merge index files; a later file's entry replaces an earlier one of the same name.

    Args:
        files: Index files, lowest priority first; missing files are skipped.

    Returns:
        Entries by pack name.
    """
    merged: dict[str, IndexEntry] = {}
    for file in files:
        if file.is_file():
            for entry in read_index_file(file):
                merged[entry.name] = entry
    return merged


def search(index: Mapping[str, IndexEntry], query: str) -> list[IndexEntry]:
    """Entries whose name, description or tags contain every word of *query* (any case).

    Args:
        index: Entries by name.
        query: Words to look for; empty matches everything.

    Returns:
        Matching entries sorted by name, exact name matches first.
    """
    words = query.lower().split()
    found = []
    for entry in index.values():
        haystack = " ".join([entry.name, entry.description, *entry.tags]).lower()
        if all(word in haystack for word in words):
            found.append(entry)
    return sorted(found, key=lambda e: (e.name.lower() != query.lower().strip(), e.name))
