"""The installed ``kt.plugins`` entry points, found once and remembered.

Finding them means importing :mod:`importlib.metadata` and reading every ``.dist-info`` folder
on ``sys.path``: tens of milliseconds at every start of ``kt``, before any plugin loads. The
answer changes only when something is installed, upgraded or removed, which adds or removes a
``.dist-info`` folder and so changes its parent folder's modification time. So the scan is kept
under a *stamp* (``sys.path`` with each folder's time and link count): in the process, and in
``$KT_HOME/cache/plugin-entry-points.json`` for the next process, which then needs neither the
scan nor the import. A different stamp scans again; the file may be deleted at any time, and a
home that cannot be written only costs the scan.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the point is not to import it
    import importlib.metadata

__all__ = ["ENTRY_POINT_GROUP", "PluginEntryPoint", "installation_stamp", "installed_entry_points"]

ENTRY_POINT_GROUP = "kt.plugins"

CACHE_FORMAT = 1
_ENTRIES_KEPT = 8  # interpreters and sys.path layouts remembered in the file

Stamp = tuple[tuple[str, int, int], ...]
_TARGET = re.compile(r"\s*([\w.]+)\s*(?::\s*([\w.]+))?")  # "module" or "module:attr"


class PluginEntryPoint:
    """One installed plugin entry point: its name, its target and its distribution's name.

    Loads like :class:`importlib.metadata.EntryPoint`; :attr:`dist` is looked up only when
    asked for (versions for ``kt plugins``, the extras of a failed import).
    """

    __slots__ = ("dist_name", "name", "value")

    def __init__(self, name: str, value: str, dist_name: str | None) -> None:
        self.name = name
        self.value = value
        self.dist_name = dist_name

    def load(self) -> Any:
        """Import the module and return the object the entry point names."""
        import importlib

        match = _TARGET.match(self.value)
        if match is None:
            raise ValueError(f"entry point '{self.name}' has no valid target: {self.value!r}")
        found: Any = importlib.import_module(match.group(1))
        for part in filter(None, (match.group(2) or "").split(".")):
            found = getattr(found, part)
        return found

    @property
    def dist(self) -> importlib.metadata.Distribution | None:
        """The distribution that installed it (``None`` when it cannot be found)."""
        import importlib.metadata

        if self.dist_name is None:
            return None
        try:
            return importlib.metadata.distribution(self.dist_name)
        except importlib.metadata.PackageNotFoundError:
            return None


def installation_stamp() -> Stamp:
    """``sys.path`` with each folder's modification time (see the module docs).

    The current directory (``python -m`` puts it first) counts without its time: files are
    created there all the time, and it does not hold installed distributions.
    """
    cwd = os.getcwd()
    stamp = []
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == cwd:
            stamp.append((entry, 0, 0))
            continue
        try:
            info = os.stat(entry)
        except OSError:
            stamp.append((entry, -1, -1))
        else:  # the link count moves with every folder added or removed, even within a tick
            stamp.append((entry, info.st_mtime_ns, info.st_nlink))
    return tuple(stamp)


_remembered: tuple[Stamp, list[PluginEntryPoint]] | None = None


def installed_entry_points() -> dict[str, PluginEntryPoint]:
    """Every entry point in the ``kt.plugins`` group, by name, in the default load order.

    kt-terrarium's own plugins come first, then the others, each part by name: the first
    registration of a name is kept, so a built-in tool never loses to a third-party plugin
    whose name sorts first. Remembered until :func:`installation_stamp` changes, so a
    ``pip install``, even from this process, is seen by the next kernel.

    Returns:
        A new dict on each call.
    """
    global _remembered
    stamp = installation_stamp()
    if _remembered is None or _remembered[0] != stamp:
        key = json.dumps([sys.executable, stamp])
        found = _read_cache(key)
        if found is None:
            found = _scan()
            _write_cache(key, found)
        _remembered = (stamp, found)
    return {ep.name: ep for ep in _remembered[1]}


def _scan() -> list[PluginEntryPoint]:
    import importlib.metadata

    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    names: dict[int, str | None] = {}  # one distribution's entry points share its object
    for ep in found:
        if id(ep.dist) not in names:
            names[id(ep.dist)] = None if ep.dist is None else ep.dist.name
    entries = [PluginEntryPoint(ep.name, ep.value, names[id(ep.dist)]) for ep in found]

    def order(ep: PluginEntryPoint) -> tuple[bool, str]:
        own = ep.dist_name is not None and _normal(ep.dist_name) == "kt-terrarium"
        return (not own, ep.name)

    return sorted(entries, key=order)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _cache_file() -> str:
    from kt.config.home import kt_home

    return os.path.join(kt_home(), "cache", "plugin-entry-points.json")


def _read_entries() -> dict[str, Any]:
    try:
        with open(_cache_file(), encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _read_cache(key: str) -> list[PluginEntryPoint] | None:
    rows = _read_entries().get(key)
    if not isinstance(rows, list):
        return None
    try:
        return [PluginEntryPoint(str(n), str(v), None if d is None else str(d)) for n, v, d in rows]
    except (TypeError, ValueError):
        return None


def _write_cache(key: str, found: list[PluginEntryPoint]) -> None:
    """Remember *found* for the next process; never raises (a read-only home costs speed)."""
    try:
        path = _cache_file()
        entries = _read_entries()
        entries.pop(key, None)
        entries[key] = [[ep.name, ep.value, ep.dist_name] for ep in found]  # newest last
        while len(entries) > _ENTRIES_KEPT:
            entries.pop(next(iter(entries)))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}.tmp"
        with open(partial, "w", encoding="utf-8") as file:
            json.dump({"format": CACHE_FORMAT, "entries": entries}, file)
        os.replace(partial, path)  # readers see the old file or the new one, never a part
    except OSError:
        return
