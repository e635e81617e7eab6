"""The hook ``kt_packages`` declares (through ``kt_addhookspecs``) and calls.

Another package manager plugin implements it to take part in :func:`kt_packages.ensure`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

hookspec = pluggy.HookspecMarker("kt")


@hookspec(firstresult=True)
def kt_ensure_package(ref: str) -> Path | None:
    """Make sure the pack a reference such as ``@kt-biome`` names is installed; return its path.

    Called by :func:`kt_packages.ensure`; ``kt_packages`` declares this hook and implements it.
    Must be idempotent: a pack that is already installed is left as it is (no copy, no
    download, no pip run) and its path is returned. A pack that is missing is installed from
    wherever the implementation knows it (a marketplace index, a bundled copy). Stops at the
    first non-``None`` result.

    Args:
        ref: ``@pack`` or ``@pack/path``.

    Returns:
        The pack's folder, or the path inside it that *ref* names; ``None`` when this plugin
        does not install packages. Raise a :class:`kt.errors.KTError` (naming the fix) when it
        does but cannot install this one.

    Use in creature plugins:
        Not called.
    """
