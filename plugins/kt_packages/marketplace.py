"""The marketplace: TOML indexes of known packs, searched by ``kt marketplace search``.

There is no central registry. The index that ships with ``kt_packages`` lists the bundled
kt-biome stub (so ``kt install @kt-biome`` works offline). **Sources** add indexes published
elsewhere: ``kt marketplace add NAME URL`` records one in ``$KT_HOME/marketplaces.toml`` and
fetches its index into ``$KT_HOME/cache/marketplace/NAME.toml``; ``kt marketplace refresh``
fetches them again (a failed fetch keeps the copy already cached). A source is

- an ``http(s)://`` URL of an index file,
- a git repository (``git+https://...``, ``*.git``, ``git@host:...``, ``ssh://``, ``git://``,
  or a local repository folder) holding ``marketplace.toml`` at its top, or
- a local index file (a path or a ``file://`` URL).

Indexes are merged, later ones replacing earlier entries of the same name: the bundled index,
then the sources in the order they were added, then ``$KT_HOME/marketplace.toml``, the user's
own, which adds to them or overrides them by name::

    [[packs]]
    name = "acme"
    description = "Support creatures for Acme"
    version = "0.3.0"
    source = "https://example.org/acme/kt-acme.git"   # a git URL, or a folder relative to this file
    tags = ["support", "tickets"]
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from kt_packages.errors import PackManifestError, PackNotFoundError, PackSourceError

__all__ = [
    "BUNDLED_INDEX",
    "IndexEntry",
    "MarketplaceSource",
    "SourceList",
    "default_index_files",
    "load_index",
    "search",
    "user_index_file",
]

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
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackManifestError(f"cannot read the index ({exc})", file=str(file)) from exc

    def beside_the_file(source: str) -> str:
        return str((file.parent / Path(source).expanduser()).resolve())

    return parse_index(text, where=str(file), resolve=beside_the_file, index_file=file)


def parse_index(
    text: str,
    *,
    where: str,
    resolve: Callable[[str], str],
    index_file: Path | None = None,
) -> list[IndexEntry]:
    """The entries of an index's TOML *text*.

    Args:
        text: The index (``[[packs]]`` tables).
        where: Where it came from, for errors (a file or a URL).
        resolve: Turns a relative ``source`` (not a URL) into what to install from.
        index_file: Recorded on the entries.

    Raises:
        PackManifestError: not valid TOML, or an entry lacks ``name`` / ``source``.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PackManifestError(f"cannot read the index ({exc})", file=where) from exc
    packs = data.get("packs", [])
    if not isinstance(packs, list):
        raise PackManifestError("packs must be a list of [[packs]] tables", file=where)
    entries = []
    for i, item in enumerate(packs):
        if not isinstance(item, Mapping) or not item.get("name") or not item.get("source"):
            raise PackManifestError(
                "each [[packs]] entry needs a name and a source", path=f"packs[{i}]", file=where
            )
        source = str(item["source"])
        if not _is_url(source):
            source = resolve(source)
        entries.append(
            IndexEntry(
                name=str(item["name"]),
                source=source,
                description=" ".join(str(item.get("description", "")).split()),
                version=str(item.get("version", "")),
                tags=tuple(str(t) for t in item.get("tags", [])),
                index_file=index_file,
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


# -- Sources: indexes published elsewhere, fetched and cached ----------------------------------

INDEX_IN_REPOSITORY = "marketplace.toml"
"""The index file a git source holds at its top."""
FETCH_TIMEOUT = 30.0
"""Seconds an HTTP fetch of an index may take."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def sources_file(home: Path) -> Path:
    """Where the sources are listed: ``marketplaces.toml`` in the kt home."""
    return home / "marketplaces.toml"


def cache_folder(home: Path) -> Path:
    """Where fetched indexes are kept: ``cache/marketplace/`` in the kt home."""
    return home / "cache" / "marketplace"


@attrs.frozen
class MarketplaceSource:
    """One source of packs: where its index comes from, and what was fetched last.

    Attributes:
        name: What the user calls it (``kt marketplace remove NAME``).
        url: The index's URL, git repository or file, as given.
        kind: ``http``, ``git`` or ``file``.
        cache: The cached copy of its index (absent until a fetch succeeds).
        fetched_at: When the cached copy was fetched (0: never).
        packs: Entries in the cached copy.
    """

    name: str
    url: str
    kind: str
    cache: Path
    fetched_at: float = 0.0
    packs: int = 0


def source_kind(url: str) -> str:
    """``git``, ``http`` or ``file``: how the index at *url* is fetched."""
    if url.startswith("git+") or url.startswith(("git@", "ssh://", "git://")):
        return "git"
    if url.rstrip("/").endswith(".git"):
        return "git"
    if url.startswith(("http://", "https://")):
        return "http"
    local = Path(url.removeprefix("file://")).expanduser()
    return "git" if local.is_dir() else "file"


class SourceList:
    """The marketplace sources of one kt home (``marketplaces.toml`` and the cache).

    Args:
        home: The kt home.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self.file = sources_file(home)
        self.cache = cache_folder(home)

    def sources(self) -> list[MarketplaceSource]:
        """The sources, in the order they were added.

        Raises:
            PackManifestError: ``marketplaces.toml`` is not valid.
        """
        if not self.file.is_file():
            return []
        try:
            data = tomllib.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PackManifestError(
                f"cannot read the marketplace sources ({exc}); fix the file or remove it",
                file=str(self.file),
            ) from exc
        found = []
        for name, table in (data.get("sources") or {}).items():
            if not isinstance(table, Mapping) or not isinstance(table.get("url"), str):
                raise PackManifestError(
                    f"each source needs a url; fix it or run `kt marketplace remove {name}`",
                    path=f"sources.{name}",
                    file=str(self.file),
                )
            found.append(self._source(name, table["url"]))
        return found

    def _source(self, name: str, url: str) -> MarketplaceSource:
        cache = self.cache / f"{name}.toml"
        meta: dict = {}
        try:
            meta = json.loads((self.cache / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        return MarketplaceSource(
            name,
            url,
            source_kind(url),
            cache,
            float(meta.get("fetched_at", 0.0)) if cache.is_file() else 0.0,
            int(meta.get("packs", 0)) if cache.is_file() else 0,
        )

    def get(self, name: str) -> MarketplaceSource:
        """The source called *name*.

        Raises:
            PackNotFoundError: there is none (the message lists the sources).
        """
        for source in self.sources():
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources()) or "none yet"
        raise PackNotFoundError(
            f"no marketplace source '{name}' (sources: {known}); `kt marketplace add NAME URL` "
            "adds one"
        )

    def index_files(self) -> list[Path]:
        """The cached indexes, in the sources' order (those never fetched are left out)."""
        return [s.cache for s in self.sources() if s.cache.is_file()]

    def add(self, name: str, url: str) -> MarketplaceSource:
        """Add (or replace) the source *name* and fetch its index; nothing changes on failure.

        Raises:
            PackSourceError: *name* is not a valid name, or the index cannot be fetched.
            PackManifestError: the fetched index is not valid.
        """
        if not _NAME.match(name):
            raise PackSourceError(
                f"'{name}' is not a valid source name: use letters, digits, '.', '_' and '-'"
            )
        source = self._source(name, url)
        self._fetch(source)
        import tomlkit

        document = (
            tomlkit.parse(self.file.read_text(encoding="utf-8"))
            if self.file.is_file()
            else tomlkit.document()
        )
        if "sources" not in document:
            document["sources"] = tomlkit.table(is_super_table=True)
        table = tomlkit.table()
        table["url"] = url
        document["sources"][name] = table
        _write_atomically(self.file, tomlkit.dumps(document))
        return self._source(name, url)

    def remove(self, name: str) -> MarketplaceSource:
        """Forget the source *name* and its cached index.

        Raises:
            PackNotFoundError: there is no such source.
        """
        source = self.get(name)
        import tomlkit

        document = tomlkit.parse(self.file.read_text(encoding="utf-8"))
        del document["sources"][name]
        _write_atomically(self.file, tomlkit.dumps(document))
        for path in (source.cache, self.cache / f"{name}.json"):
            path.unlink(missing_ok=True)
        return source

    def refresh(self, name: str | None = None) -> list[tuple[MarketplaceSource, str]]:
        """Fetch the index of every source (or of *name*) again.

        Returns:
            ``(source, problem)`` per source, *problem* ``""`` when the fetch succeeded; a
            failed fetch keeps the copy cached before.

        Raises:
            PackNotFoundError: *name* is not a source.
        """
        chosen = [self.get(name)] if name is not None else self.sources()
        results = []
        for source in chosen:
            try:
                self._fetch(source)
            except (PackSourceError, PackManifestError) as exc:
                results.append((source, str(exc)))
            else:
                results.append((self._source(source.name, source.url), ""))
        return results

    def _fetch(self, source: MarketplaceSource) -> None:
        """Fetch *source*'s index, check it, and cache it with every source made absolute."""
        url = source.url
        if source.kind == "http":
            text = _download(url)
            base = url.rsplit("/", 1)[0] + "/"

            def resolve(relative: str) -> str:  # a pack next to the index, as a git URL
                from urllib.parse import urljoin

                return urljoin(base, relative)

        elif source.kind == "git":
            text = _index_from_repository(url.removeprefix("git+"))

            def resolve(relative: str) -> str:  # the clone is gone once the index is read
                if Path(relative).expanduser().is_absolute():
                    return str(Path(relative).expanduser())
                raise PackManifestError(
                    f"pack source '{relative}' is relative; an index in a git repository must "
                    "give each pack's source as a git URL or an absolute path",
                    file=f"{url} ({INDEX_IN_REPOSITORY})",
                )

        else:
            file = Path(url.removeprefix("file://")).expanduser().resolve()
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise PackSourceError(f"cannot read the index {file}: {exc}") from exc

            def resolve(relative: str) -> str:
                return str((file.parent / Path(relative).expanduser()).resolve())

        entries = parse_index(text, where=url, resolve=resolve)
        import tomlkit

        document = tomlkit.document()
        document.add(tomlkit.comment(f"marketplace source '{source.name}': {url}"))
        document.add(tomlkit.comment("fetched by kt; `kt marketplace refresh` replaces it"))
        packs = tomlkit.aot()
        for entry in entries:
            table = tomlkit.table()
            table.update(
                {
                    "name": entry.name,
                    "source": entry.source,
                    "description": entry.description,
                    "version": entry.version,
                    "tags": list(entry.tags),
                }
            )
            packs.append(table)
        document["packs"] = packs
        self.cache.mkdir(parents=True, exist_ok=True)
        _write_atomically(source.cache, tomlkit.dumps(document))
        meta = {"url": url, "fetched_at": time.time(), "packs": len(entries)}
        _write_atomically(self.cache / f"{source.name}.json", json.dumps(meta))


def default_index_files(home: Path) -> list[Path]:
    """The indexes ``kt install @NAME`` reads, lowest priority first.

    The bundled one, the sources' cached copies, then ``$KT_HOME/marketplace.toml``.
    """
    try:
        cached = SourceList(home).index_files()
    except PackManifestError:  # a broken sources file must not stop installs from folders
        cached = []
    return [BUNDLED_INDEX, *cached, user_index_file(home)]


def _download(url: str) -> str:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "kt-terrarium marketplace"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
            return response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        raise PackSourceError(
            f"cannot fetch the index {url}: HTTP {exc.code} {exc.reason}; check the URL"
        ) from None
    except (urllib.error.URLError, OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PackSourceError(
            f"cannot fetch the index {url}: {reason}; check the URL and the network "
            "(`kt marketplace refresh` tries again)"
        ) from None


def _index_from_repository(url: str) -> str:
    from kt_packages.sources import git_clone

    with tempfile.TemporaryDirectory(prefix="kt-marketplace-") as scratch:
        clone = Path(scratch) / "index"
        git_clone(url, clone)
        index = clone / INDEX_IN_REPOSITORY
        if not index.is_file():
            raise PackSourceError(
                f"the git repository {url} has no {INDEX_IN_REPOSITORY} at its top; a "
                "marketplace repository keeps its index there"
            )
        return index.read_text(encoding="utf-8")


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
