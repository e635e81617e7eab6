"""The installed packs: ``$KT_HOME/packages/``, and installing, updating and removing them.

Layout of the packages folder::

    packages/
    ├── kt-biome/                 a copied or cloned pack (its files)
    ├── acme.link                 an editable pack: one line, the absolute path of its folder
    └── .kt-installs/
        ├── kt-biome.toml         how each pack was installed: source, kind, Python dists
        └── acme.toml

An editable pack is a pointer file rather than a symlink, so it needs no special rights on any
platform. When both exist for one name, the ``.link`` wins.

Changes are atomic and serialised. Every change is staged in a hidden folder next to its
destination and moved into place with a rename at the end (the old files are renamed aside
first and deleted after), so a failed copy or clone never leaves half a pack behind and no
reader ever sees a half-copied one. Installs, updates and removals take an exclusive lock on
``.kt-installs/.lock``, so processes installing at once (six ``kt.packages.ensure`` calls, say)
take turns, and the ones that find the pack installed once they hold the lock leave it alone.
An install never silently replaces an installed pack with an older version of it.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from kt.config.home import kt_home
from kt.errors import ConfigNotFoundError
from kt_packages import sources
from kt_packages.errors import (
    PackClashError,
    PackDowngradeError,
    PackNotFoundError,
    PackSourceError,
    PipInstallError,
)

__all__ = [
    "InstallReport",
    "InstalledPack",
    "PackStore",
    "UninstallReport",
    "UpdateResult",
    "split_ref",
]

LINK_SUFFIX = ".link"
RECORDS = ".kt-installs"
LOCK_FILE = ".lock"  # in RECORDS: held while the packages folder changes


def split_ref(ref: str) -> tuple[str, str]:
    """Split ``@pack/sub/path`` into (``pack``, ``sub/path``); ``@pack`` gives ``(pack, "")``.

    Args:
        ref: A package reference.

    Returns:
        The pack name and the path inside it.

    Raises:
        ValueError: *ref* does not start with ``@`` or names no pack.
    """
    if not ref.startswith("@") or len(ref) < 2 or ref[1] == "/":
        raise ValueError(f"{ref!r} is not a package reference; write @pack or @pack/path")
    name, _, sub = ref[1:].partition("/")
    return name, sub.strip("/")


@attrs.frozen
class InstalledPack:
    """One installed pack.

    Attributes:
        name: Its name (``@name/...``).
        root: The folder holding its files: the copy or clone, or for an editable pack the
            source folder itself.
        kind: ``"copy"``, ``"git"`` or ``"editable"``.
        source: Where it was installed from (a folder or URL; ``""`` when not recorded).
        broken: An editable pack whose folder no longer exists.
        record: Everything recorded at install time.
    """

    name: str
    root: Path
    kind: str
    source: str = ""
    broken: bool = False
    record: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    def manifest(self):
        """The pack's manifest, read without checking its contents."""
        from kt_packages.manifest import read_manifest

        return read_manifest(self.root, check_paths=False)


@attrs.frozen
class InstallReport:
    """What ``install`` did.

    Attributes:
        pack: The installed pack.
        manifest: Its manifest.
        replaced: An earlier install of the same name was replaced.
        pip_commands: The pip command lines that ran (none for a pack without Python).
        python_distributions: The distributions those commands installed.
        unsupported: Parts that need KohakuTerrarium's internals and were left out.
        warnings: Other things the user should know (plugins pip installed but this Python
            cannot see, requirements left out ...).
    """

    pack: InstalledPack
    manifest: Any
    replaced: bool = False
    pip_commands: tuple[tuple[str, ...], ...] = ()
    python_distributions: tuple[str, ...] = ()
    unsupported: tuple[Any, ...] = ()
    warnings: tuple[str, ...] = ()


@attrs.frozen
class UpdateResult:
    """What ``update`` did for one pack: ``status`` is updated, unchanged or skipped."""

    name: str
    status: str
    reason: str = ""
    report: InstallReport | None = None


@attrs.frozen
class UninstallReport:
    """What ``uninstall`` removed, and problems removing its Python distributions."""

    pack: InstalledPack
    removed_distributions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@attrs.frozen
class _Source:
    kind: str  # "local" or "git"
    location: str
    index_name: str | None = None  # the marketplace name it was found under


class PackStore:
    """The packs installed in one packages folder.

    Args:
        root: The packages folder. ``None``: ``packages/`` in the kt home (``$KT_HOME`` or
            ``~/.kt``), read when the store is made.
        pip_runner: Runs pip command lines (default: a subprocess). Tests pass a fake to see
            the commands without installing anything.
        index_files: Marketplace index files, lowest priority first. ``None``: the bundled
            index, the marketplace sources' cached indexes, then ``$KT_HOME/marketplace.toml``.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        pip_runner: Any = None,
        index_files: Sequence[Path] | None = None,
    ) -> None:
        home = kt_home()
        self.root = Path(root) if root is not None else home / "packages"
        self.pip_runner = pip_runner
        self._lock_depth = 0  # how deep this store holds the folder's lock (see locked())
        if index_files is None:
            from kt_packages.marketplace import default_index_files

            index_files = default_index_files(home)
        self.index_files = list(index_files)

    # -- Looking up ----------------------------------------------------------------------------

    def installed(self) -> list[InstalledPack]:
        """Every installed pack, sorted by name."""
        if not self.root.is_dir():
            return []
        names: set[str] = set()
        for entry in self.root.iterdir():
            if entry.name.startswith("."):
                continue
            if entry.suffix == LINK_SUFFIX and entry.is_file():
                names.add(entry.name[: -len(LINK_SUFFIX)])
            elif entry.is_dir():
                names.add(entry.name)
        return [pack for name in sorted(names) if (pack := self.get(name)) is not None]

    def get(self, name: str) -> InstalledPack | None:
        """The installed pack called *name*, or ``None``."""
        if not name or name.startswith(".") or "/" in name:
            return None
        record = self._read_record(name)
        link = self.root / f"{name}{LINK_SUFFIX}"
        if link.is_file():
            target = Path(link.read_text(encoding="utf-8").strip())
            return InstalledPack(name, target, "editable", str(target), not target.is_dir(), record)
        folder = self.root / name
        if folder.is_dir():
            kind = "git" if (folder / ".git").exists() else str(record.get("kind", "copy"))
            return InstalledPack(name, folder, kind, str(record.get("source", "")), False, record)
        return None

    def require(self, name: str) -> InstalledPack:
        """The installed pack called *name*.

        Raises:
            PackNotFoundError: no such pack; the message lists the installed ones.
        """
        pack = self.get(name)
        if pack is None:
            installed = [p.name for p in self.installed()]
            raise PackNotFoundError(
                f"no pack named '{name}' is installed in {self.root}"
                f"{_did_you_mean(name, installed)}; `kt list` shows the installed packs"
            )
        return pack

    def resolve(self, ref: str) -> Path | None:
        """The folder or file an ``@pack/path`` reference names.

        Args:
            ref: ``@pack`` (the pack's folder) or ``@pack/path/inside``.

        Returns:
            The path, or ``None`` when no pack of that name is installed (another resolver
            may know it).

        Raises:
            ConfigNotFoundError: the pack is installed but the path is not in it (with close
                matches), escapes it, or the pack is an editable link to a folder that is gone.
        """
        try:
            found = self._resolve(ref)
        except (ConfigNotFoundError, FileNotFoundError):  # maybe caught mid-swap: see below
            found = None
        if found is None and not self._lock_depth and self.root.is_dir():
            # Maybe another process is replacing the pack this very moment (between its two
            # renames): once it holds no lock, what is there is whole. Ask again, for real.
            with self.locked():
                return self._resolve(ref)
        return found

    def _resolve(self, ref: str) -> Path | None:
        name, sub = split_ref(ref)
        pack = self.get(name)
        if pack is None:
            return None
        if pack.broken:
            raise ConfigNotFoundError(
                f"{ref}: pack '{name}' is installed editable from {pack.root}, which no longer "
                f"exists; reinstall it (`kt install FOLDER -e`) or `kt uninstall {name}`"
            )
        root = pack.root.resolve()
        target = (root / sub).resolve() if sub else root
        if not target.is_relative_to(root):
            raise ConfigNotFoundError(f"{ref}: the path leaves pack '{name}'; remove the '..'")
        if not target.exists():
            raise ConfigNotFoundError(
                f"{ref}: pack '{name}' ({root}) has no '{sub}'.{_pack_contents_hint(root, sub)}"
            )
        return target

    # -- Installing ----------------------------------------------------------------------------

    def install(
        self,
        source: str,
        *,
        editable: bool = False,
        name: str | None = None,
        allow_downgrade: bool = False,
    ) -> InstallReport:
        """Install a pack from a folder, a git URL, or the marketplace index.

        A pack already installed under the same name is replaced (reinstalling is updating).
        A ``kt-pack.toml`` pack's Python plugins are installed with ``sys.executable -m pip``
        (editable with *editable*); a kohaku.yaml pack's Python classes are reported as
        unsupported and left out.

        Args:
            source: A local folder; a git URL (``https://...``, ``git@...``, ``*.git``); or
                ``@name`` / a bare ``name`` listed in the marketplace index (``@kt-biome`` is
                the bundled stub). A folder of that name in the current directory wins over
                the index.
            editable: Link the folder instead of copying it, so edits are live (folders only).
            name: Install under this name instead of the manifest's.
            allow_downgrade: Replace an installed pack even when the source's version is
                older than the installed one.

        Returns:
            What was installed, with unsupported parts and warnings.

        Raises:
            PackSourceError: the source is none of the above, ``-e`` was given a git URL, or
                git or copying failed. Nothing is changed.
            PackManifestError: the manifest is invalid. Nothing is changed.
            PackClashError: another installed pack declares one of its plugin, tool, skill or
                prompt names (both packs are named). Nothing is changed.
            PackDowngradeError: the pack is installed in a newer version than the source's,
                and *allow_downgrade* is not set. Nothing is changed.
            PipInstallError: the pack's files are installed, but pip failed; fix the cause and
                run ``kt update NAME`` (or ``kt install`` again).
        """
        with self.locked():
            return self._install(source, editable=editable, name=name, downgrade=allow_downgrade)

    def _install(
        self, source: str, *, editable: bool, name: str | None, downgrade: bool
    ) -> InstallReport:
        from kt_packages.compat import find_unsupported
        from kt_packages.manifest import check_pack_name, read_manifest

        origin = self._locate_source(source)
        if editable and origin.kind == "git":
            raise PackSourceError(
                f"cannot install {source} editable: -e links a local folder; clone the "
                "repository first and run `kt install FOLDER -e`, or drop -e"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".kt-staging-", dir=self.root))
        try:
            if origin.kind == "git":
                files = staging / "pack"
                sources.git_clone(origin.location, files)
            else:
                files = Path(origin.location).expanduser().resolve()
            manifest = read_manifest(files)
            pack_name = name or origin.index_name or manifest.name
            check_pack_name(pack_name, where="--name" if name else "pack name")
            self._check_clashes(pack_name, manifest)
            if not downgrade:
                self._check_not_older(pack_name, manifest.version, source)
            unsupported = tuple(find_unsupported(files, manifest))
            if origin.kind == "local" and not editable:
                copied = staging / "pack"
                sources.copy_pack(files, copied)
                files = copied
            replaced = self._swap_in(pack_name, files, staging, editable=editable)
            kind = "editable" if editable else ("git" if origin.kind == "git" else "copy")
        finally:
            sources.remove_tree(staging)
        record: dict[str, Any] = {
            "name": pack_name,
            "kind": kind,
            "source": origin.location,
            "requested": source,
            "installed_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        self._write_record(pack_name, record)
        pack = self.require(pack_name)
        commands, distributions, warnings = self._install_python(pack, manifest)
        if distributions:
            record["python_distributions"] = list(distributions)
            self._write_record(pack_name, record)
            pack = self.require(pack_name)
        return InstallReport(
            pack=pack,
            manifest=manifest,
            replaced=replaced,
            pip_commands=tuple(tuple(c) for c in commands),
            python_distributions=distributions,
            unsupported=unsupported,
            warnings=tuple(warnings),
        )

    def ensure(self, ref: str) -> Path:
        """Make sure the pack *ref* names is installed, and return what *ref* names.

        Idempotent: an installed pack is left exactly as it is (no copy, no pip run). A pack
        that is not installed is installed from the marketplace index (``@kt-biome``: the
        bundled stub).

        Args:
            ref: ``@pack`` or ``@pack/path``.

        Returns:
            The pack's folder, or the path inside it.

        Raises:
            PackNotFoundError: not installed and not in the marketplace index.
            ConfigNotFoundError: the pack is installed but has no such path.
            PackageError: installing it failed (see :meth:`install`).
        """
        name, _ = split_ref(ref)
        pack = self.get(name)
        if pack is None or pack.broken:
            with self.locked():
                pack = self.get(name)  # another process may have installed it meanwhile
                if pack is None or pack.broken:
                    entry = self.index().get(name)
                    if entry is None:
                        raise PackNotFoundError(
                            f"pack '{name}' is not installed and the marketplace index does "
                            "not list it; install it with `kt install FOLDER_OR_GIT_URL` "
                            "(`kt marketplace search` shows the known packs)"
                        )
                    self.install(f"@{name}")
        found = self.resolve(ref)
        assert found is not None  # just installed
        return found

    def index(self):
        """The marketplace index: known packs by name."""
        from kt_packages.marketplace import load_index

        return load_index(self.index_files)

    def _locate_source(self, source: str) -> _Source:
        if source.startswith("@"):
            name, sub = split_ref(source)
            entry = self.index().get(name)
            if entry is None or sub:
                raise PackNotFoundError(
                    f"{source} is not in the marketplace index; install a pack from a folder or "
                    "a git URL (`kt marketplace search` lists the known packs)"
                )
            return self._index_source(entry)
        if sources.is_git_url(source) and not Path(source).expanduser().is_dir():
            return _Source("git", source)
        folder = Path(source).expanduser()
        if folder.is_dir():
            if sources.is_git_url(source):  # a local bare repository: clone it
                return _Source("git", str(folder.resolve()))
            return _Source("local", str(folder.resolve()))
        entry = self.index().get(source)
        if entry is not None:
            return self._index_source(entry)
        raise PackSourceError(
            f"cannot install from {source!r}: it is not a folder, not a git URL (https://... "
            "or *.git) and not a pack in the marketplace index (`kt marketplace search`)"
        )

    def _index_source(self, entry) -> _Source:
        if sources.is_git_url(entry.source):
            return _Source("git", entry.source, entry.name)
        if not Path(entry.source).is_dir():
            raise PackSourceError(
                f"the marketplace index lists pack '{entry.name}' at {entry.source}, which does "
                f"not exist (index: {entry.index_file}); the bundled kt-biome stub ships with a "
                "source checkout of KT Terrarium: install from a checkout, or fix the index"
            )
        return _Source("local", entry.source, entry.name)

    def _check_clashes(self, name: str, manifest) -> None:
        ours = manifest.global_names()
        problems = []
        for other in self.installed():
            if other.name == name or other.broken:
                continue
            try:
                theirs = other.manifest().global_names()
            except Exception:  # an unreadable pack cannot declare anything
                continue
            for kind, names in ours.items():
                for clash in sorted(set(names) & set(theirs.get(kind, []))):
                    problems.append(
                        f"{kind} '{clash}' is declared by both pack '{other.name}' (installed) "
                        f"and pack '{name}'"
                    )
        if problems:
            raise PackClashError(
                "; ".join(problems) + f". Uninstall the installed one first (`kt uninstall "
                f"NAME`) or rename the {'/'.join(sorted({p.split()[0] for p in problems}))} in "
                "one of the packs; nothing was changed"
            )

    def _install_python(self, pack: InstalledPack, manifest) -> tuple[list, tuple, list[str]]:
        from kt_packages import pip
        from kt_packages.manifest import KT_PACK_FILE

        commands: list[list[str]] = []
        warnings: list[str] = []
        distributions: list[str] = []
        if manifest.format != KT_PACK_FILE:
            if manifest.python_requirements:
                warnings.append(
                    f"python_dependencies of {manifest.format} were not installed "
                    f"({', '.join(manifest.python_requirements)}): they serve the pack's "
                    "KohakuTerrarium modules, which are unsupported"
                )
            return commands, (), warnings
        editable = pack.kind == "editable"
        projects = list(dict.fromkeys(p.project for p in manifest.plugins))
        what = f"the Python plugins of pack '{pack.name}'"
        try:
            if projects:
                folders = [str((pack.root / p).resolve()) for p in projects]
                command = pip.pip_install_command(folders, editable=editable)
                commands.append(command)
                pip.run_pip(command, what=what, runner=self.pip_runner)
                distributions = [
                    d for p in projects if (d := pip.distribution_name(pack.root / p)) is not None
                ]
            if manifest.python_requirements:
                command = pip.pip_install_command(list(manifest.python_requirements))
                commands.append(command)
                pip.run_pip(
                    command, what=f"the requirements of pack '{pack.name}'", runner=self.pip_runner
                )
        except PipInstallError as exc:
            raise PipInstallError(
                f"pack '{pack.name}' is installed in {pack.root}, but {exc} Fix the cause and run "
                f"`kt update {pack.name}` (for an editable pack, `kt install FOLDER -e` again)",
                command=exc.command,
                output=exc.output,
            ) from exc
        if manifest.plugins and self.pip_runner is None:
            visible = pip.visible_plugin_names()
            for plugin in manifest.plugins:
                if plugin.name not in visible:
                    warnings.append(
                        f"plugin '{plugin.name}' was installed, but this Python sees no "
                        f"kt.plugins entry point of that name; check the [project.entry-points."
                        f'"kt.plugins"] table of {plugin.project}/pyproject.toml, and that pip '
                        "installs into this interpreter"
                    )
        return commands, tuple(distributions), warnings

    # -- Updating and removing -----------------------------------------------------------------

    def update(self, name: str) -> UpdateResult:
        """Bring one pack up to date with its source.

        * a git clone is fast-forwarded (``git pull --ff-only``); its Python plugins are
          reinstalled when it moved;
        * a copy is copied again from the folder it came from, when that still exists;
        * an editable pack is skipped: its files are live already.

        Args:
            name: The pack name, or an ``@pack/...`` reference.

        Returns:
            ``updated``, ``unchanged`` or ``skipped`` (with the reason).

        Raises:
            PackNotFoundError: no such pack is installed.
            PackageError: git, the manifest check or pip failed.
        """
        if name.startswith("@"):
            name, _ = split_ref(name)
        pack = self.require(name)
        if pack.kind == "editable":
            return UpdateResult(name, "skipped", f"editable: its files are live in {pack.root}")
        if pack.kind == "git":
            before = sources.git_head(pack.root)
            sources.git_pull(pack.root)
            if sources.git_head(pack.root) == before:
                return UpdateResult(name, "unchanged", "already at the newest commit")
            from kt_packages.manifest import read_manifest

            manifest = read_manifest(pack.root)
            self._check_clashes(name, manifest)
            commands, _, warnings = self._install_python(pack, manifest)
            report = InstallReport(
                pack, manifest, True, tuple(tuple(c) for c in commands), warnings=tuple(warnings)
            )
            return UpdateResult(name, "updated", "pulled the newest commit", report)
        source = Path(pack.source) if pack.source else None
        if source is None or not source.is_dir():
            return UpdateResult(
                name, "skipped", f"its source folder {pack.source or '(unknown)'} is gone"
            )
        report = self.install(str(source), name=name)
        return UpdateResult(name, "updated", f"copied again from {source}", report)

    def uninstall(self, name: str) -> UninstallReport:
        """Remove a pack's files (or link) and the Python distributions it installed.

        Args:
            name: The pack name (or ``@pack``).

        Returns:
            What was removed; a distribution pip could not remove is a warning.

        Raises:
            PackNotFoundError: no such pack is installed.
        """
        from kt_packages import pip

        if name.startswith("@"):
            name, _ = split_ref(name)
        with self.locked():
            pack = self.require(name)
            self._remove_files(name)
            (self.root / RECORDS / f"{name}.toml").unlink(missing_ok=True)
        removed, warnings = [], []
        installed = [d for d in pack.record.get("python_distributions", []) if pip.is_installed(d)]
        if installed:
            command = pip.pip_uninstall_command(installed)
            try:
                pip.run_pip(
                    command, what=f"the Python plugins of pack '{name}'", runner=self.pip_runner
                )
                removed = installed
            except PipInstallError as exc:
                warnings.append(f"{exc}; remove them with `{' '.join(command)}`")
        return UninstallReport(pack, tuple(removed), tuple(warnings))

    # -- Changing the folder -------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the packages folder's exclusive lock (re-entrant within this store).

        Other processes (and other stores in this one) wait for it, so changes never overlap.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        import fcntl

        folder = self.root / RECORDS
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LOCK_FILE, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # blocks until the holder releases it
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _check_not_older(self, name: str, version: str, source: str) -> None:
        """Refuse to replace an installed *name* with an older *version* of it."""
        from packaging.version import InvalidVersion, Version

        pack = self.get(name)
        if pack is None or pack.broken or not version:
            return
        try:
            installed = pack.manifest().version
            older = bool(installed) and Version(version) < Version(installed)
        except (InvalidVersion, Exception):  # an unreadable or unversioned pack: no order
            return
        if older:
            raise PackDowngradeError(
                f"pack '{name}' {installed} is installed and {source} has the older version "
                f"{version}; nothing was changed. To go back to {version}, run `kt install "
                f"{source} --allow-downgrade` (Python: allow_downgrade=True)"
            )

    def _swap_in(self, name: str, files: Path, staging: Path, *, editable: bool) -> bool:
        """Put *files* in place as pack *name* with renames; return whether one was replaced.

        The old folder or link is renamed into *staging* (deleted with it) just before the
        new one is renamed into place, so the pack is never half-copied.
        """
        folder, link = self.root / name, self.root / f"{name}{LINK_SUFFIX}"
        replaced = False
        for old, aside in ((link, staging / "old.link"), (folder, staging / "old")):
            if old.exists() or old.is_symlink():
                os.replace(old, aside)
                replaced = True
        if editable:
            pending = staging / "new.link"
            pending.write_text(f"{files}\n", encoding="utf-8")
            os.replace(pending, link)
        else:
            os.replace(files, folder)
        return replaced

    def _remove_files(self, name: str) -> bool:
        existed = False
        link = self.root / f"{name}{LINK_SUFFIX}"
        if link.is_file():
            link.unlink()
            existed = True
        folder = self.root / name
        if folder.exists() or folder.is_symlink():
            sources.remove_tree(folder)
            existed = True
        return existed

    # -- Install records -----------------------------------------------------------------------

    def _read_record(self, name: str) -> dict[str, Any]:
        import tomllib

        file = self.root / RECORDS / f"{name}.toml"
        try:
            return tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _write_record(self, name: str, record: Mapping[str, Any]) -> None:
        import tomlkit

        folder = self.root / RECORDS
        folder.mkdir(parents=True, exist_ok=True)
        pending = folder / f".{name}.toml.{os.getpid()}"
        pending.write_text(tomlkit.dumps(dict(record)), encoding="utf-8")
        os.replace(pending, folder / f"{name}.toml")  # readers see the old or the new record


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=3)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _pack_contents_hint(root: Path, sub: str) -> str:
    kind = sub.split("/")[0]
    folder = root / kind
    if kind in ("creatures", "terrariums", "skills", "prompts") and folder.is_dir():
        names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        wanted = sub.split("/")[1] if "/" in sub else ""
        hint = _did_you_mean(wanted, names) if wanted else ""
        return f"{hint} Its {kind}: {', '.join(names) or 'none'}."
    top = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    return f" It contains: {', '.join(top)}."
