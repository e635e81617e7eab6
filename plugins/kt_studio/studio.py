"""The :class:`Studio` facade: one engine, and the namespaces over it and over the plugins."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from kt_studio.attach import Attach
from kt_studio.catalog import Catalog
from kt_studio.identity import Identity
from kt_studio.live import LiveSessions
from kt_studio.saved import SavedSessions

__all__ = ["Studio"]


class Studio:
    """The management facade: catalog, identity, live sessions, saved sessions, attach.

    Enter it with ``async with`` on a trio loop (it runs a ``kt_terrarium.Terrarium``);
    leaving stops every live creature. ``catalog``, ``identity`` and ``persistence`` never
    touch the engine and may be used from any thread; ``sessions`` and ``attach`` run on the
    engine's loop.

    Args:
        kernel: The plugin set creatures are built with (default: ``kt.Kernel()``).
        session_dir: Where live sessions are recorded and saved sessions are listed
            (default: ``$KT_SESSION_DIR`` or ``~/.kt/sessions``).
        pwd: The default working directory of creatures and the base of relative config
            paths (default: the current directory).
        llm: A model every creature uses unless a start names one (tests, demos): an LLM
            instance, or ``(creature_id, config) -> LLM | None``.
        env: The environment (``KT_HOME``, keys); default ``os.environ``.
        packs: A ``kt_packages.PackStore`` for the catalog (default: the kt home's).
    """

    def __init__(
        self,
        *,
        kernel: Any = None,
        session_dir: str | os.PathLike[str] | None = None,
        pwd: str | os.PathLike[str] | None = None,
        llm: Any = None,
        env: Mapping[str, str] | None = None,
        packs: Any = None,
    ) -> None:
        import kt
        from kt_studio.stores import StudioStores
        from kt_terrarium import Terrarium
        from kt_terrarium.persistence import graph_store_factory

        self.env = os.environ if env is None else env
        self.kernel = kernel if kernel is not None else kt.Kernel(env=self.env)
        self.session_dir = Path(session_dir or _default_session_dir(self.env)).expanduser()
        self.session_dir.mkdir(parents=True, exist_ok=True)
        self.pwd = Path(pwd).resolve() if pwd is not None else Path.cwd()
        self._stores = StudioStores(graph_store_factory(self.kernel))
        self.engine = Terrarium(
            kernel=self.kernel,
            session_dir=self.session_dir,
            store_factory=self._stores,
            pwd=self.pwd,
            llm=llm,
            env=self.env,
        )
        self.sessions = LiveSessions(self.engine, self._resolve_config, self._stores)
        self.attach = Attach(self.engine, self.sessions)
        self.persistence = SavedSessions(self.session_dir, self._live_paths)
        self.catalog = Catalog(self.kernel, packs)
        self.identity = Identity(self.kernel, self.env)

    async def __aenter__(self) -> Studio:
        await self.engine.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.engine.__aexit__(*exc_info)

    def _resolve_config(self, config_path: str) -> Any:
        """``@pack/path`` as it is; other paths against the Studio's working directory."""
        if config_path.startswith("@"):
            return config_path
        path = Path(config_path).expanduser()
        return path if path.is_absolute() else self.pwd / path

    def saved_in(self, folder: str | os.PathLike[str]) -> SavedSessions:
        """Saved sessions of another folder (a user's), with this Studio's live sessions."""
        path = Path(folder).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return SavedSessions(path, self._live_paths)

    def _live_paths(self) -> set[Path]:
        """Session files written by live graphs now (read under the GIL: a snapshot)."""
        return {
            Path(path).resolve() for session in self.sessions.list() for path in session.store_paths
        }

    async def resume(
        self,
        name: str,
        *,
        llm: str | None = None,
        saved: SavedSessions | None = None,
        hosted: Collection[str] = (),
    ) -> Any:
        """Resume a saved session into the engine as a live session.

        Args:
            name: The saved session (name or unique prefix).
            llm: A model selector for its creatures (default: as recorded).
            saved: Where to look *name* up (default: :attr:`persistence`).
            hosted: Its creatures the engine hosts already (a lab host took them back from
                their workers): joined as they are, and part of the live session.

        Returns:
            The new :class:`~kt_studio.values.LiveSession` (a new session file continues the
            old one).

        Raises:
            SessionNotFoundError: no such saved session.
            StudioConflictError: it is live already, or a creature running on its own recorded
                it (``kt resume`` continues those).
        """
        from kt_studio.errors import StudioConflictError

        path = (saved or self.persistence).path(name)
        if path.resolve() in self._live_paths():
            raise StudioConflictError(f"session '{name}' is live already")
        import trio

        configs = await trio.to_thread.run_sync(_recipe_configs, path, self.kernel, self.env)
        options: dict[str, Any] = {"configs": configs}
        if llm:
            options["llm_selector"] = llm
        if hosted:
            options["hosted"] = tuple(hosted)
        kind = await trio.to_thread.run_sync(_recorded_kind, path)
        if kind != "terrarium":
            raise StudioConflictError(
                f"session '{name}' was recorded by a creature running on its own (kt run), "
                f"not by a graph Studio can rebuild; continue it with `kt resume {name}`"
            )
        ids = await self.engine.resume(path, **options)  # into one new, whole file
        kind = "terrarium" if len(ids) > 1 else "creature"
        return self.sessions.adopt(kind, path.name.removesuffix(".ktsession"), str(path), ids)


def _recorded_kind(path: Path) -> str:
    """What recorded a session file: ``terrarium`` (a graph) or ``agent`` (``kt run``)."""
    import kt_sessions

    with kt_sessions.SessionReader(path) as reader:
        return str(reader.meta.get("config_type", ""))


def _recipe_configs(path: Path, kernel: Any, env: Mapping[str, str]) -> dict[str, Any]:
    """Configs of recorded creatures that a terrarium recipe defined, by creature id.

    A recipe's creature is recorded with the recipe's folder (its config is a block of the
    recipe, not a folder of its own); the engine rebuilds it from that block. A recipe that
    is gone or changed so it no longer loads leaves the engine to say which creature it
    cannot rebuild.
    """
    import kt_sessions
    from kt.errors import ConfigError
    from kt_terrarium.recipes import find_recipe_file, load_recipe

    with kt_sessions.SessionReader(path) as reader:
        folders = {
            event.wire.get("config", {}).get("folder")
            for event in reader.events(type=["creature_started"])
        }
    configs: dict[str, Any] = {}
    for folder in sorted(f for f in folders if f):
        try:
            recipe = load_recipe(find_recipe_file(folder), env=env, resolve_ref=kernel.resolve_ref)
        except ConfigError:
            continue  # a creature folder, not a recipe's
        configs.update({c.name: c.config for c in recipe.creatures if c.name not in configs})
    return configs


def _default_session_dir(env: Mapping[str, str]) -> Path:
    if env.get("KT_SESSION_DIR"):
        return Path(env["KT_SESSION_DIR"])
    from kt.config.home import kt_home

    return kt_home(env) / "sessions"
