"""Finding and reading config files: TOML (``tomllib``), YAML (PyYAML, the ``yaml`` extra), JSON."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from kt.config.problems import describe
from kt.errors import ConfigError, ConfigNotFoundError, ConfigValidationError

CONFIG_FILE_NAMES: tuple[str, ...] = (
    "creature.toml",
    "config.toml",
    "config.yaml",
    "config.yml",
    "config.json",
)
"""The files looked for in a creature folder, in this order; the first that exists wins."""


def find_config_file(path: Path) -> Path:
    """Return the config file of a creature folder, or *path* itself when it is a file.

    Args:
        path: A creature folder or a config file.

    Returns:
        The first of :data:`CONFIG_FILE_NAMES` that exists in the folder, or *path*.

    Raises:
        ConfigNotFoundError: *path* does not exist, or the folder holds none of the names.
    """
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for name in CONFIG_FILE_NAMES:
            candidate = path / name
            if candidate.is_file():
                return candidate
        raise ConfigNotFoundError(
            f"no creature config in folder {path}; create one of "
            f"{', '.join(CONFIG_FILE_NAMES)} (creature.toml is the canonical name)"
        )
    raise ConfigNotFoundError(f"{path} does not exist; pass a creature folder or its config file")


def read_config_file(path: Path) -> dict[str, Any]:
    """Read one config file (TOML, YAML or JSON) into a dict; errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the config: {error}", file=path) from error
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"invalid TOML: {error}", file=path) from error
    elif suffix in (".yaml", ".yml"):
        data = _parse_yaml(text, path)
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"invalid JSON: {error}", file=path) from error
    else:
        raise ConfigError(
            f"unsupported config format {suffix!r}; use .toml (canonical), .yaml or .json",
            file=path,
        )
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigValidationError(
            f"the config must be a table of keys, got {describe(data)}", file=path
        )
    return data


def _parse_yaml(text: str, path: Path) -> Any:
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            "reading YAML configs needs PyYAML; install it with "
            "`pip install 'kt-terrarium[yaml]'` or convert the file to creature.toml",
            file=path,
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"invalid YAML: {error}", file=path) from error
