"""Terrarium recipes: a file that declares creatures, channels, wiring and a root.

A recipe populates a :class:`kt_terrarium.Terrarium` (``await engine.apply_recipe(path)``, or
``kt terrarium run PATH``); it is not a runtime of its own. Two shapes are read:

* **TOML** (``terrarium.toml``), the canonical one::

      name = "swe_team"

      [root]
      base_config = "../creatures/general"
      system_prompt_file = "prompts/root.md"

      [[creatures]]
      name = "swe"
      system_prompt_file = "prompts/swe.md"
      output_wiring = ["reviewer", { to = "root", with_content = false }]
      channels = { listen = ["tasks"], can_send = ["team_chat"] }

      [channels]
      tasks = { kind = "queue", description = "Incoming task assignments" }
      team_chat = "Team coordination"           # a bare string is the description

* **YAML** in the kt-biome shape (``terrarium.yaml``, with or without the top-level
  ``terrarium:`` key); channel kinds may be written ``type:``.

Every creature block (and ``root``) is a creature config, loaded by
:func:`kt.config.load_creature_config` with the recipe's folder as its base directory, after
the terrarium keys (``channels``, ``output_wiring``, ``privileged``) are taken out. Everything
is checked when the recipe is loaded, with key-path errors (``creatures[1].channels.listen[0]:
unknown channel 'taks'``): names, channel references, wiring targets and wiring loops. The
whole format is described in ``docs/reference/terrarium.md``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from kt.config import CreatureConfig, load_creature_config
from kt.errors import ConfigError, ConfigNotFoundError, ConfigValidationError
from kt_terrarium.errors import WiringLoopError
from kt_terrarium.topology import find_wiring_loop

__all__ = [
    "DEFAULT_CHANNEL_KIND",
    "LEGACY_ROOT_TOOLS",
    "RECIPE_FILE_NAMES",
    "DEFAULT_LOOP_HOPS",
    "REPORT_CHANNEL",
    "ROOT_ID",
    "Recipe",
    "RecipeChannel",
    "RecipeCreature",
    "WireSpec",
    "find_recipe_file",
    "find_wiring_loop",
    "load_recipe",
    "loop_checked",
    "relocate_config_error",
]

RECIPE_FILE_NAMES: tuple[str, ...] = ("terrarium.toml", "terrarium.yaml", "terrarium.yml")
"""The files looked for in a recipe folder, in this order."""

ROOT_ID = "root"
"""The id of a recipe's root creature."""

REPORT_CHANNEL = "report_to_root"
"""The channel every creature of a recipe with a root may send on; the root listens to it."""

DEFAULT_CHANNEL_KIND = "broadcast"

LEGACY_ROOT_TOOLS = frozenset(
    {
        "terrarium_create",
        "terrarium_status",
        "terrarium_stop",
        "terrarium_send",
        "terrarium_observe",
        "terrarium_history",
        "creature_start",
        "creature_stop",
    }
)
"""Tool names older kt-biome recipes list under ``root.tools``; the engine gives roots its own
graph tools instead, so these entries are dropped with a warning."""

_TOP_LEVEL_KEYS = ("name", "description", "root", "creatures", "channels")
_CHANNEL_KEYS = ("kind", "type", "description")
_CREATURE_CHANNEL_KEYS = ("listen", "can_send")
_WIRE_KEYS = ("to", "with_content", "prompt", "prompt_format", "allow_self_trigger", "max_hops")
_IGNORED_CREATURE_KEYS = ("output_log", "output_log_size")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:>-]*$")


# -- Values -------------------------------------------------------------------------------------


def require_jinja(*, path: str, file: str | None) -> None:
    """Refuse ``prompt_format = "jinja"`` where Jinja2 is not installed, naming the extra."""
    try:
        import jinja2  # noqa: F401
    except ImportError:
        raise ConfigValidationError(
            "prompt_format 'jinja' needs Jinja2: pip install 'kt-terrarium[jinja]'",
            path=path,
            file=file,
        ) from None


@attrs.frozen(kw_only=True)
class WireSpec:
    """One output-wiring entry: where a creature's turn-end text goes.

    Attributes:
        to: The target creature's id (``root`` in a recipe with a root).
        with_content: Deliver the text; ``False`` sends a lifecycle ping with no content.
        prompt: A template for what the target receives; ``None``: the default
            ``[output-wire from {source}] {content}``. Placeholders: ``source``, ``target``,
            ``content``, ``status``, ``turn_index``, ``hops``, ``with_content``.
        prompt_format: ``simple`` (``str.format``, unknown placeholders render empty) or
            ``jinja`` (needs Jinja2).
        allow_self_trigger: Allow ``to`` to be the source itself (a loop of length one).
        max_hops: Deliver only while the chain of wire deliveries that led here is at most
            this long. Required for a wire that closes a loop (A→B→A); see
            :func:`kt_terrarium.topology.find_wiring_loop`.
    """

    to: str
    with_content: bool = True
    prompt: str | None = None
    prompt_format: str = "simple"
    allow_self_trigger: bool = False
    max_hops: int | None = None

    @classmethod
    def parse(cls, value: Any, *, path: str = "", file: str | None = None) -> WireSpec:
        """Read an entry: a bare target name, or a mapping with the attributes above.

        Args:
            value: The entry.
            path: Its key path, for errors.
            file: The file it came from, for errors.

        Returns:
            The wire spec.

        Raises:
            ConfigValidationError: unknown keys, wrong types, a bad ``prompt_format`` or
                ``max_hops``.
        """
        if isinstance(value, WireSpec):
            return value
        if isinstance(value, str):
            value = {"to": value}
        if not isinstance(value, Mapping):
            raise ConfigValidationError(
                "an output_wiring entry is a creature name or a table with 'to'",
                path=path,
                file=file,
            )
        _check_keys(value, _WIRE_KEYS, path=path, file=file)
        to = _string(value.get("to"), path=_join(path, "to"), file=file, required=True)
        prompt = value.get("prompt")
        if prompt is not None:
            prompt = _string(prompt, path=_join(path, "prompt"), file=file)
        prompt_format = value.get("prompt_format", "simple")
        if prompt_format not in ("simple", "jinja"):
            raise ConfigValidationError(
                f"prompt_format must be 'simple' or 'jinja', got {prompt_format!r}",
                path=_join(path, "prompt_format"),
                file=file,
            )
        if prompt_format == "jinja":
            require_jinja(path=_join(path, "prompt_format"), file=file)
        max_hops = value.get("max_hops")
        if max_hops is not None and (
            isinstance(max_hops, bool) or not isinstance(max_hops, int) or max_hops < 1
        ):
            raise ConfigValidationError(
                f"max_hops must be a whole number of at least 1, got {max_hops!r}",
                path=_join(path, "max_hops"),
                file=file,
            )
        return cls(
            to=to,
            with_content=_boolean(
                value.get("with_content", True), path=_join(path, "with_content"), file=file
            ),
            prompt=prompt,
            prompt_format=prompt_format,
            allow_self_trigger=_boolean(
                value.get("allow_self_trigger", False),
                path=_join(path, "allow_self_trigger"),
                file=file,
            ),
            max_hops=max_hops,
        )


@attrs.frozen(kw_only=True)
class RecipeChannel:
    """A channel a recipe declares (or one the engine adds for it: direct and report channels).

    Attributes:
        name: Unique in the recipe.
        kind: ``queue`` or ``broadcast`` (default).
        description: Shown to the creatures' models.
    """

    name: str
    kind: str = DEFAULT_CHANNEL_KIND
    description: str = ""


@attrs.frozen(kw_only=True)
class RecipeCreature:
    """One creature of a recipe, with its config loaded and its terrarium keys apart.

    Attributes:
        name: Its id in the engine (``root`` for the root).
        config: The loaded creature config (its ``name`` is :attr:`name`).
        listen: Channels it listens on, as written (its direct channel is added by the engine).
        can_send: Channels it may send on, as written.
        output_wiring: Where its turn-end text goes.
        privileged: Whether it gets the graph tools (always for the root).
        is_root: Whether it is the recipe's root.
        path: Its key path in the recipe (``creatures[1]`` or ``root``), for errors.
    """

    name: str
    config: CreatureConfig
    listen: tuple[str, ...] = ()
    can_send: tuple[str, ...] = ()
    output_wiring: tuple[WireSpec, ...] = ()
    privileged: bool = False
    is_root: bool = False
    path: str = ""


@attrs.frozen(kw_only=True)
class Recipe:
    """A loaded, checked recipe.

    Attributes:
        name: The terrarium's name (default: the folder's name).
        description: One line for listings.
        file: The recipe file, or ``None`` for a mapping.
        folder: Where relative paths in the recipe resolve.
        channels: Declared channels, then one direct channel per creature (named after it,
            unless declared), then ``report_to_root`` when there is a root.
        creatures: The creatures in declaration order, the root last.
        root: The root's id, or ``None``.
        warnings: Things that did not stop loading (dropped legacy keys and tools).
    """

    name: str
    description: str = ""
    file: Path | None = None
    folder: Path | None = None
    channels: tuple[RecipeChannel, ...] = ()
    creatures: tuple[RecipeCreature, ...] = ()
    root: str | None = None
    warnings: tuple[str, ...] = ()

    def creature(self, name: str) -> RecipeCreature:
        """The creature called *name*.

        Raises:
            KeyError: when there is none.
        """
        for creature in self.creatures:
            if creature.name == name:
                return creature
        raise KeyError(name)


# -- Loading ------------------------------------------------------------------------------------


def find_recipe_file(path: str | os.PathLike[str]) -> Path:
    """The recipe file of a folder (see :data:`RECIPE_FILE_NAMES`), or *path* when it is a file.

    Args:
        path: A recipe folder or file.

    Returns:
        The file.

    Raises:
        ConfigNotFoundError: nothing there.
    """
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for name in RECIPE_FILE_NAMES:
            if (path / name).is_file():
                return path / name
        raise ConfigNotFoundError(
            f"no recipe in folder {path}: expected one of {', '.join(RECIPE_FILE_NAMES)}"
        )
    raise ConfigNotFoundError(f"recipe not found: {path}; give a recipe folder or file")


def load_recipe(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    resolve_ref: Callable[[str], Path | None] | None = None,
) -> Recipe:
    """Load and check a recipe, and the config of each of its creatures.

    Args:
        source: A recipe folder or file (``.toml`` or ``.yaml``), an ``@pack/path`` reference
            (needs *resolve_ref*), or the recipe as a mapping.
        base_dir: For a mapping: where relative paths resolve (default: the current
            directory).
        env: Variables for ``${VAR}`` interpolation in creature blocks (default
            ``os.environ``).
        resolve_ref: Turns ``@pack/path`` references into folders or files (the engine passes
            its kernel's ``resolve_ref``); ``None``: references cannot be used.

    Returns:
        The recipe.

    Raises:
        ConfigNotFoundError: the recipe, a ``base_config`` or a prompt file is missing.
        ConfigValidationError: a problem in the recipe or a creature block; the path names the
            key (``creatures[0].channels.listen[1]``).
        ConfigError: the file cannot be read or parsed.
    """
    if isinstance(source, Mapping):
        data, file = dict(source), None
        folder = Path(base_dir).resolve() if base_dir is not None else Path.cwd().resolve()
    else:
        text = os.fspath(source)
        if text.startswith("@"):
            resolved = resolve_ref(text) if resolve_ref is not None else None
            if resolved is None:
                raise ConfigNotFoundError(
                    f"cannot resolve {text}: no installed pack provides it (install the pack "
                    "with `kt install`, or give a path)"
                )
            text = os.fspath(resolved)
        file = find_recipe_file(text).resolve()
        folder = file.parent
        from kt.config import read_config_file  # the one reader for TOML, YAML and JSON

        data = read_config_file(file)
    if "terrarium" in data and isinstance(data["terrarium"], Mapping):
        if len(data) > 1:
            others = ", ".join(sorted(str(k) for k in data if k != "terrarium"))
            raise ConfigValidationError(
                f"keys outside the 'terrarium' table: {others}; move them inside it",
                file=_name(file),
            )
        data = dict(data["terrarium"])
    return _RecipeReader(file=file, folder=folder, env=env, resolve_ref=resolve_ref).read(data)


@attrs.define
class _RecipeReader:
    file: Path | None
    folder: Path
    env: Mapping[str, str] | None
    resolve_ref: Callable[[str], Path | None] | None
    warnings: list[str] = attrs.Factory(list)

    @property
    def where(self) -> str | None:
        return _name(self.file)

    def read(self, data: Mapping[str, Any]) -> Recipe:
        _check_keys(data, _TOP_LEVEL_KEYS, path="", file=self.where)
        default_name = self.file.parent.name if self.file else "terrarium"
        name = _string(data.get("name", default_name), path="name", file=self.where)
        description = _string(data.get("description", ""), path="description", file=self.where)
        declared = self._channels(data.get("channels"))
        blocks = data.get("creatures", [])
        if not isinstance(blocks, list):
            raise ConfigValidationError(
                f"creatures must be a list of tables, got {_describe(blocks)}",
                path="creatures",
                file=self.where,
            )
        root_block = data.get("root")
        if root_block is not None and not isinstance(root_block, Mapping):
            raise ConfigValidationError(
                f"root must be a table (a creature config), got {_describe(root_block)}",
                path="root",
                file=self.where,
            )
        names = self._creature_names(blocks, has_root=root_block is not None)
        channels = dict(declared)
        for creature_name in names:
            channels.setdefault(
                creature_name,
                RecipeChannel(
                    name=creature_name,
                    kind="queue",
                    description=f"Direct channel to {creature_name}",
                ),
            )
        if root_block is not None:
            channels.setdefault(
                ROOT_ID,
                RecipeChannel(
                    name=ROOT_ID, kind="queue", description=f"Direct channel to {ROOT_ID}"
                ),
            )
            channels.setdefault(
                REPORT_CHANNEL,
                RecipeChannel(
                    name=REPORT_CHANNEL,
                    kind="queue",
                    description="Any creature can report to the root here",
                ),
            )
        targets = set(names) | ({ROOT_ID} if root_block is not None else set())
        creatures = [
            self._creature(block, f"creatures[{i}]", channels=channels, targets=targets)
            for i, block in enumerate(blocks)
        ]
        if root_block is not None:
            creatures.append(
                self._creature(root_block, "root", channels=channels, targets=targets, is_root=True)
            )
        creatures = self._check_wiring_loops(creatures)
        return Recipe(
            name=name,
            description=description,
            file=self.file,
            folder=self.folder,
            channels=tuple(channels.values()),
            creatures=tuple(creatures),
            root=ROOT_ID if root_block is not None else None,
            warnings=tuple(self.warnings),
        )

    def _channels(self, value: Any) -> dict[str, RecipeChannel]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigValidationError(
                "channels must be a table of channel name -> {kind, description}, got "
                f"{_describe(value)}",
                path="channels",
                file=self.where,
            )
        channels = {}
        for raw_name, spec in value.items():
            path = f"channels.{raw_name}"
            channel_name = str(raw_name)
            if not _CHANNEL_NAME.match(channel_name):
                raise ConfigValidationError(
                    f"invalid channel name {channel_name!r}: use letters, digits, '_', '-', "
                    "'.' or ':'",
                    path=path,
                    file=self.where,
                )
            if spec is None:
                spec = {}
            elif isinstance(spec, str):
                spec = {"description": spec}
            elif not isinstance(spec, Mapping):
                raise ConfigValidationError(
                    f"a channel is a table {{kind, description}} or a description string, got "
                    f"{_describe(spec)}",
                    path=path,
                    file=self.where,
                )
            _check_keys(spec, _CHANNEL_KEYS, path=path, file=self.where)
            if "kind" in spec and "type" in spec:
                raise ConfigValidationError(
                    "given both 'kind' and 'type' (its older name); keep only 'kind'",
                    path=f"{path}.type",
                    file=self.where,
                )
            kind_key = "type" if "type" in spec else "kind"
            kind = spec.get(kind_key, DEFAULT_CHANNEL_KIND)
            if kind not in ("queue", "broadcast"):
                raise ConfigValidationError(
                    f"a channel's kind is 'queue' or 'broadcast', got {kind!r}",
                    path=f"{path}.{kind_key}",
                    file=self.where,
                )
            description = _string(
                spec.get("description", ""), path=f"{path}.description", file=self.where
            )
            channels[channel_name] = RecipeChannel(
                name=channel_name, kind=kind, description=description.strip()
            )
        return channels

    def _creature_names(self, blocks: list[Any], *, has_root: bool) -> list[str]:
        names: list[str] = []
        for i, block in enumerate(blocks):
            path = f"creatures[{i}]"
            if not isinstance(block, Mapping):
                raise ConfigValidationError(
                    f"a creature is a table (a creature config with a name), got "
                    f"{_describe(block)}",
                    path=path,
                    file=self.where,
                )
            name = _string(block.get("name"), path=f"{path}.name", file=self.where, required=True)
            if not _NAME.match(name):
                raise ConfigValidationError(
                    f"invalid creature name {name!r}: use letters, digits, '_', '-' or '.'",
                    path=f"{path}.name",
                    file=self.where,
                )
            if name in names:
                raise ConfigValidationError(
                    f"two creatures are named {name!r}; names are ids and must be unique",
                    path=f"{path}.name",
                    file=self.where,
                )
            if has_root and name == ROOT_ID:
                raise ConfigValidationError(
                    f"the name {ROOT_ID!r} belongs to the recipe's root; rename this creature",
                    path=f"{path}.name",
                    file=self.where,
                )
            names.append(name)
        return names

    def _creature(
        self,
        block: Mapping[str, Any],
        path: str,
        *,
        channels: Mapping[str, RecipeChannel],
        targets: set[str],
        is_root: bool = False,
    ) -> RecipeCreature:
        data = dict(block)
        if is_root:
            given = data.get("name")
            if given not in (None, ROOT_ID):
                self.warnings.append(
                    f"root.name {given!r} is ignored: the root's id is always {ROOT_ID!r}"
                )
            data["name"] = ROOT_ID
            self._drop_legacy_root_tools(data)
        name = str(data["name"])
        listen, can_send = self._creature_channels(data.pop("channels", None), path, channels)
        wiring = data.pop("output_wiring", None)
        privileged = _boolean(
            data.pop("privileged", is_root), path=f"{path}.privileged", file=self.where
        )
        for key in _IGNORED_CREATURE_KEYS:
            if key in data:
                data.pop(key)
                self.warnings.append(f"{path}.{key} is ignored (observers use engine.subscribe)")
        if "config" in data and "base_config" not in data:
            data["base_config"] = data.pop("config")  # the older kt-biome spelling
        try:
            config = load_creature_config(
                data, base_dir=self.folder, env=self.env, resolve_ref=self.resolve_ref
            )
        except ConfigError as error:
            raise relocate_config_error(
                error, prefix=path, file=self.file, creature=name
            ) from error
        if wiring is None:
            for j, w in enumerate(config.output_wiring):
                if w.prompt_format == "jinja":
                    require_jinja(path=f"{path}.output_wiring[{j}].prompt_format", file=self.where)
            specs = [
                WireSpec(
                    to=w.to,
                    with_content=w.with_content,
                    prompt=w.prompt,
                    prompt_format=w.prompt_format,
                )
                for w in config.output_wiring
            ]
        else:
            if not isinstance(wiring, list):
                raise ConfigValidationError(
                    f"output_wiring must be a list, got {_describe(wiring)}",
                    path=f"{path}.output_wiring",
                    file=self.where,
                )
            specs = [
                WireSpec.parse(entry, path=f"{path}.output_wiring[{j}]", file=self.where)
                for j, entry in enumerate(wiring)
            ]
        for j, spec in enumerate(specs):
            if spec.to not in targets:
                raise ConfigValidationError(
                    f"output_wiring target {spec.to!r} is not a creature of this recipe"
                    f"{_did_you_mean(spec.to, targets)}",
                    path=f"{path}.output_wiring[{j}].to",
                    file=self.where,
                )
        return RecipeCreature(
            name=name,
            config=config,
            listen=listen,
            can_send=can_send,
            output_wiring=tuple(specs),
            privileged=privileged,
            is_root=is_root,
            path=path,
        )

    def _drop_legacy_root_tools(self, data: dict[str, Any]) -> None:
        tools = data.get("tools")
        if not isinstance(tools, list):
            return
        kept, dropped = [], []
        for entry in tools:
            name = entry.get("name") if isinstance(entry, Mapping) else entry
            (dropped if name in LEGACY_ROOT_TOOLS else kept).append(entry)
        if dropped:
            names = ", ".join(str(e.get("name") if isinstance(e, Mapping) else e) for e in dropped)
            self.warnings.append(
                f"root.tools: {names} dropped: the root gets the engine's graph tools "
                "(group_status, group_add_node, ...) instead"
            )
        if kept:
            data["tools"] = kept
        else:
            data.pop("tools")

    def _creature_channels(
        self, value: Any, path: str, channels: Mapping[str, RecipeChannel]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if value is None:
            return (), ()
        where = f"{path}.channels"
        if not isinstance(value, Mapping):
            raise ConfigValidationError(
                f"channels must be a table {{listen = [...], can_send = [...]}}, got "
                f"{_describe(value)}",
                path=where,
                file=self.where,
            )
        _check_keys(value, _CREATURE_CHANNEL_KEYS, path=where, file=self.where)
        lists = []
        for key in _CREATURE_CHANNEL_KEYS:
            names = value.get(key) or []
            if not isinstance(names, list):
                raise ConfigValidationError(
                    f"{key} must be a list of channel names, got {_describe(names)}",
                    path=f"{where}.{key}",
                    file=self.where,
                )
            for j, channel in enumerate(names):
                if channel not in channels:
                    raise ConfigValidationError(
                        f"unknown channel {channel!r}{_did_you_mean(str(channel), channels)}; "
                        "declare it under [channels] (declared and direct channels: "
                        f"{', '.join(sorted(channels)) or 'none'})",
                        path=f"{where}.{key}[{j}]",
                        file=self.where,
                    )
            lists.append(tuple(dict.fromkeys(names)))
        return lists[0], lists[1]

    def _check_wiring_loops(self, creatures: list[RecipeCreature]) -> list[RecipeCreature]:
        """Refuse unbounded loops; give each allowed loop its default hop budget."""
        edges: dict[str, list[str]] = {}
        checked = []
        for creature in creatures:
            wires = []
            for j, spec in enumerate(creature.output_wiring):
                try:
                    wires.append(loop_checked(edges, creature.name, spec))
                except WiringLoopError as exc:
                    raise ConfigValidationError(
                        str(exc), path=f"{creature.path}.output_wiring[{j}]", file=self.where
                    ) from None
                edges.setdefault(creature.name, []).append(spec.to)
            checked.append(attrs.evolve(creature, output_wiring=tuple(wires)))
        return checked


# -- Wiring loops -------------------------------------------------------------------------------

DEFAULT_LOOP_HOPS = 10
"""The hop budget of a wire that closes an allowed loop and sets no ``max_hops`` itself."""


def loop_checked(edges: Mapping[str, Iterable[str]], source: str, spec: WireSpec) -> WireSpec:
    """The one check every new output wire goes through, whatever creates it.

    ``Terrarium.wire``, a creature config's ``output_wiring``, a recipe and a restored graph
    all call this before a wire exists. A wire that closes no loop passes unchanged. A wire
    that closes a loop is refused unless it opts in (``max_hops``; a wire to its own source
    also ``allow_self_trigger``), and an opted-in loop always has a hop budget: its
    ``max_hops``, else :data:`DEFAULT_LOOP_HOPS`. So no loop of wires runs forever.

    Args:
        edges: The wires that exist (or are declared): source → targets.
        source: The new wire's source.
        spec: The new wire.

    Returns:
        *spec*, with ``max_hops`` set when it closes a loop and had none.

    Raises:
        WiringLoopError: the wire closes a loop it did not opt into.
    """
    loop = find_wiring_loop(edges, source, spec.to)
    if loop is None:
        return spec
    if not _loop_allowed(spec, source):
        raise WiringLoopError(_loop_message(loop, spec, source))
    if spec.max_hops is None:
        return attrs.evolve(spec, max_hops=DEFAULT_LOOP_HOPS)
    return spec


def _loop_allowed(spec: WireSpec, source: str) -> bool:
    if spec.to == source:
        return spec.allow_self_trigger or spec.max_hops is not None
    return spec.max_hops is not None


def _loop_message(loop: list[str], spec: WireSpec, source: str) -> str:
    chain = " -> ".join(loop)
    if spec.to == source:
        return (
            f"output wire {chain} makes '{source}' trigger itself after every turn; set "
            f"allow_self_trigger = true (it then stops after max_hops, default "
            f"{DEFAULT_LOOP_HOPS}) if that is what you want"
        )
    return (
        f"output wire {source} -> {spec.to} closes the loop {chain}, which would make these "
        "creatures trigger each other forever; set max_hops on this wire to bound the loop, "
        "or remove a wire (a creature config's output_wiring cannot close a loop: wire it "
        "with max_hops instead)"
    )


# -- Helpers ------------------------------------------------------------------------------------


def relocate_config_error(
    error: ConfigError, *, prefix: str, file: Path | None, creature: str
) -> ConfigError:
    """Re-home an error of an inline creature block to its place in the recipe.

    A problem in the block itself gets the recipe's file and a key path under *prefix*
    (``creatures[1].controller.temperature``); a problem in a file the block inherits from keeps
    that file and says which creature loaded it.

    Args:
        error: The error raised for the block.
        prefix: The block's key path in the recipe.
        file: The recipe file.
        creature: The creature's name.

    Returns:
        An error of the same class.
    """
    cls = type(error)
    if error.file is None:
        message = error.message.replace("\n  - ", f"\n  - {prefix}.").replace(
            f"{prefix}.(top level)", prefix
        )
        try:
            return cls(
                f"{message} (creature '{creature}')",
                path=_join(prefix, error.path),
                file=_name(file),
            )
        except TypeError:
            return ConfigValidationError(message, path=_join(prefix, error.path), file=_name(file))
    try:
        return cls(
            f"{error.message} (loading {prefix} '{creature}')", path=error.path, file=error.file
        )
    except TypeError:
        return error


def _check_keys(data: Mapping[str, Any], accepted: Iterable[str], *, path: str, file: str | None):
    accepted = tuple(accepted)
    for key in data:
        if key not in accepted:
            raise ConfigValidationError(
                f"unknown key {str(key)!r}{_did_you_mean(str(key), accepted)}; accepted keys: "
                f"{', '.join(accepted)}",
                path=_join(path, str(key)),
                file=file,
            )


def _string(value: Any, *, path: str, file: str | None, required: bool = False) -> str:
    if value is None and required:
        raise ConfigValidationError(
            f"required key {path.rsplit('.', 1)[-1]!r} is missing", path=path, file=file
        )
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigValidationError(
            f"expected a non-empty string, got {_describe(value)}"
            if required
            else f"expected a string, got {_describe(value)}",
            path=path,
            file=file,
        )
    return value


def _boolean(value: Any, *, path: str, file: str | None) -> bool:
    if not isinstance(value, bool):
        raise ConfigValidationError(
            f"expected true or false, got {_describe(value)}", path=path, file=file
        )
    return value


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=3)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _join(path: str, key: str) -> str:
    if not key:
        return path
    if not path:
        return key
    return f"{path}{key}" if key.startswith("[") else f"{path}.{key}"


def _name(file: Path | None) -> str | None:
    return str(file) if file is not None else None
