"""``TurnContext``: what runtime hooks receive about the running turn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kt.runtime.stash import Stash

if TYPE_CHECKING:
    from kt.runtime.creature import Creature

__all__ = ["TurnContext"]


@attrs.define(kw_only=True)
class TurnContext:
    """The running turn, as runtime hooks see it.

    Attributes:
        creature: The agent running the turn (its ``stash`` holds per-creature state).
        turn_index: The turn's index (1 for the first turn).
        stash: State that lives for this turn only.
    """

    creature: Creature
    turn_index: int
    stash: Stash = attrs.field(factory=Stash)

    def plugin_options(self, name: str) -> Mapping[str, Any]:
        """The ``options`` of the creature's ``[[plugins]]`` entry *name* (``{}`` if none)."""
        return self.creature.plugin_options(name)
