"""``ToolContext``: facts about the running call, for a tool that asks for them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from kt.llm import ToolCall

if TYPE_CHECKING:
    from kt.runtime.stash import Stash

__all__ = ["ToolContext"]


@attrs.frozen
class ToolContext:
    """Facts about the running call, injected into a tool that asks for it.

    A tool asks by annotating a parameter with ``ToolContext`` (or naming it ``ctx`` or
    ``context``); that parameter is left out of the schema.

    Attributes:
        creature: The creature's name.
        working_dir: The creature's working directory; resolve relative paths against it,
            never against the process's current directory.
        call: The call being run (validated arguments).
        turn_index: The turn the call belongs to.
        stash: The creature's typed stash, for state shared between tools and plugins.
        agent: The running :class:`kt.Agent`.
    """

    creature: str
    working_dir: Path
    call: ToolCall
    turn_index: int
    stash: Stash
    agent: Any = attrs.field(default=None, repr=False)

    def resolve_path(self, path: str | Path) -> Path:
        """Return *path* anchored at the working directory (absolute paths are kept)."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.working_dir / p
