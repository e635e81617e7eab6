"""A cache of the command list, so ``kt --help`` does not load every plugin to print it.

The problem: plugins add commands through the ``kt_cli_commands`` hook, and calling a hook
means building the kernel, which imports every plugin and fills its registries (tools,
backends, sub-agents ...). With the full plugin set that is most of half a second, and
``kt --help`` needs none of it except each command's name and one line of help.

Declaring command names statically (a second entry-point group, say) would need every plugin
to change and would still leave the help texts behind. Instead, whenever ``kt`` has collected
the commands for real (the first ``kt --help``, any plugin command), it writes their names and
help texts to ``$KT_HOME/cache/cli-commands.json``, together with *stamps* of everything that
could change the list:

* the interpreter (``sys.executable``) and ``sys.path``, and the modification time of every
  ``sys.path`` folder: installing, upgrading or removing a distribution adds or removes a
  ``.dist-info`` folder there, which changes the folder's time;
* the plugin selection: ``--plugins`` / ``--no-plugins``, ``KT_PLUGINS`` and the user config
  file ``$KT_HOME/config.toml``;
* the source tree of every plugin of the set and of ``kt_cli`` itself: each ``.py`` file's
  modification time (and size), so editing an editable install counts too, and each folder's
  entries, so adding or removing a module counts. A folder's entries, not its modification
  time: Python creating a ``__pycache__`` there as it first writes bytecode changes nothing.

``kt --help`` (and ``kt`` alone) reads the entry for the current context and checks its stamps,
a few hundred ``stat`` calls; any difference, or no entry, falls back to collecting for real and
refreshes the entry. Each entry also says which plugin provides each command, so running a
plugin command (``kt terrarium run``) imports that plugin alone to get the command, and the
command builds the full kernel itself only if it needs one (:mod:`kt_cli.main`); without an
up-to-date entry every plugin is asked. The file may be deleted at any time; ``KT_CLI_CACHE=0``
turns it off.

The current working directory is left out of the ``sys.path`` stamps (``python -m kt_cli``
puts it first), since creating files there is common and it never holds installed plugins.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: reading the cache must not import click or the kernel
    import click

    from kt import Kernel

__all__ = [
    "CACHE_FORMAT",
    "CachedCommand",
    "cache_context",
    "cache_file",
    "load_commands",
    "plugin_source_roots",
    "store_commands",
]

CACHE_FORMAT = 3
"""Bumped when the file's layout changes; older files are ignored."""

MAX_ENTRIES = 8
"""Contexts kept in the file (plugin sets, interpreters); the oldest entry goes first."""


class CachedCommand:
    """What ``kt --help`` shows of one command, and which plugin provides it.

    Args:
        name: The command name.
        help: The command's help text (``None`` when it has none).
        short_help: Its explicit short help, if any.
        hidden: Hidden commands are not listed.
        deprecated: Deprecated commands are marked in the listing.
        plugin: The plugin whose ``kt_cli_commands`` adds it (``None``: a built-in command).
            Running the command loads only that plugin to get it.
    """

    __slots__ = ("deprecated", "help", "hidden", "name", "plugin", "short_help")

    def __init__(
        self,
        name: str,
        *,
        help: str | None = None,
        short_help: str | None = None,
        hidden: bool = False,
        deprecated: bool | str = False,
        plugin: str | None = None,
    ) -> None:
        self.name = name
        self.help = help
        self.short_help = short_help
        self.hidden = hidden
        self.deprecated = deprecated
        self.plugin = plugin

    @classmethod
    def of(cls, name: str, command: click.Command, plugin: str | None = None) -> CachedCommand:
        """Summarise a real click command (of *plugin*, or built in)."""
        return cls(
            name,
            help=command.help,
            short_help=command.short_help,
            hidden=command.hidden,
            deprecated=command.deprecated,
            plugin=plugin,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in the cache file."""
        return {slot: getattr(self, slot) for slot in self.__slots__}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CachedCommand:
        """Rebuild from :meth:`to_json`'s output."""
        return cls(
            str(data["name"]),
            help=data.get("help"),
            short_help=data.get("short_help"),
            hidden=bool(data.get("hidden", False)),
            deprecated=data.get("deprecated", False),
            plugin=data.get("plugin"),
        )

    def stand_in(self) -> click.Command:
        """A click command with the same help, for formatting the listing (never invoked)."""
        import click

        return click.Command(
            self.name,
            help=self.help,
            short_help=self.short_help,
            hidden=self.hidden,
            deprecated=self.deprecated,
        )


def cache_file(env: Mapping[str, str] | None = None) -> Path | None:
    """Where the cache lives, or ``None`` when ``KT_CLI_CACHE=0`` turns it off."""
    from kt.config.home import kt_home

    env = os.environ if env is None else env
    if env.get("KT_CLI_CACHE", "1").strip().lower() in ("0", "off", "no", "false"):
        return None
    return kt_home(env) / "cache" / "cli-commands.json"


def cache_context(plugins: list[str] | None, env: Mapping[str, str] | None = None) -> str:
    """The key of the current context: interpreter, ``sys.path`` and plugin selection.

    Args:
        plugins: The plugin set chosen on the command line, or ``None``.
        env: The environment (default ``os.environ``).

    Returns:
        A canonical JSON string.
    """
    env = os.environ if env is None else env
    context = {
        "format": CACHE_FORMAT,
        "executable": sys.executable,
        "path": list(sys.path),
        "option": plugins,
        "KT_PLUGINS": env.get("KT_PLUGINS"),
    }
    return json.dumps(context, sort_keys=True)


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size if not os.path.isdir(path) else 0]


def _environment_paths(env: Mapping[str, str]) -> list[str]:
    from kt.config.home import kt_home

    cwd = os.getcwd()
    paths = [p for p in sys.path if p and os.path.abspath(p) != cwd]
    return [*paths, str(kt_home(env) / "config.toml")]


def _tree(root: Path) -> tuple[list[str], list[str]]:
    """A package's folders and ``.py`` files (``__pycache__`` left out); a module: its file."""
    if root.is_file():
        return [], [str(root)]
    folders, files = [], []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        folders.append(folder)
        files += [os.path.join(folder, name) for name in names if name.endswith(".py")]
    return folders, files


def _entries(folder: str) -> list[str] | None:
    """*folder*'s entries but ``__pycache__``, sorted (``None``: it is gone)."""
    try:
        return sorted(name for name in os.listdir(folder) if name != "__pycache__")
    except OSError:
        return None


def plugin_source_roots(kernel: Kernel) -> list[Path]:
    """The source folders (or single files) of the kernel's plugins and of ``kt_cli``.

    A loaded plugin is found through its module (or its class's module); a plugin that failed
    to load, through its entry point and the import system, without importing it.

    Args:
        kernel: The invocation's kernel.

    Returns:
        One path per top-level package or module, without duplicates.
    """
    import importlib.util

    tops: set[str] = {"kt_cli"}
    for name, plugin in kernel.pm.list_name_plugin():
        if name == "kt.builtin":
            continue
        module = plugin.__name__ if isinstance(plugin, type(sys)) else type(plugin).__module__
        tops.add(module.split(".")[0])
    failed = {failure.name for failure in kernel.failures}
    if failed:
        from importlib.metadata import entry_points

        for ep in entry_points(group="kt.plugins"):
            if ep.name in failed:
                tops.add(ep.value.split(":")[0].split(".")[0])
    roots: list[Path] = []
    for top in sorted(tops):
        module = sys.modules.get(top)
        locations: list[str] = []
        if module is not None:
            locations = list(getattr(module, "__path__", []) or [])
            if not locations and getattr(module, "__file__", None):
                locations = [module.__file__]
        else:
            try:
                spec = importlib.util.find_spec(top)
            except (ImportError, ValueError):
                spec = None
            if spec is not None:
                locations = list(spec.submodule_search_locations or [])
                if not locations and spec.origin and spec.has_location:
                    locations = [spec.origin]
        roots += [Path(location) for location in locations if location]
    return roots


def _stamps(paths: Iterable[str]) -> dict[str, list[int] | None]:
    return {path: _stat(path) for path in paths}


def _read(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def load_commands(
    plugins: list[str] | None, env: Mapping[str, str] | None = None
) -> list[CachedCommand] | None:
    """The cached commands for the current context, or ``None`` when they may be out of date.

    Args:
        plugins: The plugin set chosen on the command line, or ``None``.
        env: The environment (default ``os.environ``).

    Returns:
        Built-in and plugin commands, sorted by name; ``None`` when there is no entry for this
        context, or a stamp differs.
    """
    env = os.environ if env is None else env
    file = cache_file(env)
    if file is None:
        return None
    entry = _read(file).get(cache_context(plugins, env))
    if not isinstance(entry, dict):
        return None
    try:
        stamps = entry["stamps"]
        expected = set(_environment_paths(env))
        if not expected <= set(stamps):
            return None
        for path, stamp in stamps.items():
            if _stat(path) != stamp:
                return None
        for folder, entries in entry["folders"].items():
            if _entries(folder) != entries:
                return None
        return [CachedCommand.from_json(c) for c in entry["commands"]]
    except (KeyError, TypeError, ValueError):
        return None


def store_commands(
    plugins: list[str] | None,
    commands: Iterable[CachedCommand],
    kernel: Kernel,
    env: Mapping[str, str] | None = None,
) -> None:
    """Write the commands of the current context, with fresh stamps; never raises.

    Args:
        plugins: The plugin set chosen on the command line, or ``None``.
        commands: Every command ``kt`` offers in this context.
        kernel: The kernel the plugin commands came from (for its plugins' source folders).
        env: The environment (default ``os.environ``).
    """
    env = os.environ if env is None else env
    file = cache_file(env)
    if file is None:
        return
    try:
        paths, folders = _environment_paths(env), []
        for root in plugin_source_roots(kernel):
            tree_folders, files = _tree(root)
            folders += tree_folders
            paths += files
        entry = {
            "stamps": _stamps(paths),
            "folders": {folder: _entries(folder) for folder in folders},
            "commands": [c.to_json() for c in sorted(commands, key=lambda c: c.name)],
        }
        entries = _read(file)
        entries.pop(cache_context(plugins, env), None)
        entries[cache_context(plugins, env)] = entry  # newest last
        while len(entries) > MAX_ENTRIES:
            entries.pop(next(iter(entries)))
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(f"{file.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps({"format": CACHE_FORMAT, "entries": entries}), "utf-8")
        os.replace(partial, file)  # readers see the old file or the new one, never a part
    except OSError:
        return  # a read-only home only costs speed
