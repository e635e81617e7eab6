"""The errors ``kt_packages`` raises; every one is a :class:`kt.errors.KTError`.

::

    KTError
    └── PackageError                 any problem with a pack
        ├── PackNotFoundError        not installed, and not in the marketplace index
        ├── PackSourceError          cannot install from this source (not a folder or git URL,
        │                            git failed, -e with a git URL)
        ├── PackManifestError        kt-pack.toml / kohaku.yaml is invalid (also a ConfigError:
        │                            ``file`` and key ``path`` are set)
        ├── PackClashError           two packs declare the same plugin, tool, skill or prompt
        └── PipInstallError          pip failed to install a pack's Python plugins

Each message names the problem and the command that fixes it.
"""

from __future__ import annotations

from kt.errors import ConfigError, KTError

__all__ = [
    "PackClashError",
    "PackManifestError",
    "PackDowngradeError",
    "PackNotFoundError",
    "PackSourceError",
    "PackageError",
    "PipInstallError",
]


class PackageError(KTError):
    """A pack cannot be installed, found, updated or removed."""


class PackNotFoundError(PackageError):
    """No installed pack has this name (and the marketplace index does not list it)."""


class PackSourceError(PackageError):
    """``kt install SOURCE`` cannot install from SOURCE, or git failed."""


class PackManifestError(PackageError, ConfigError):
    """A pack manifest (``kt-pack.toml`` or ``kohaku.yaml``) is invalid.

    Attributes:
        path: The key path in the manifest (``"creatures[1].name"``), or ``""``.
        file: The manifest file.
    """


class PackClashError(PackageError):
    """Two packs declare the same plugin, tool, skill or prompt name."""


class PackDowngradeError(PackageError):
    """Installing would replace an installed pack with an older version of it."""


class PipInstallError(PackageError):
    """pip failed while installing a pack's Python plugins or requirements.

    Attributes:
        command: The pip command line that failed.
        output: The end of pip's output.
    """

    def __init__(self, message: str, *, command: list[str], output: str) -> None:
        super().__init__(message)
        self.command = command
        self.output = output
