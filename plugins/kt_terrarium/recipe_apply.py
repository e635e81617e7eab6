"""Applying a recipe: a loaded :class:`~kt_terrarium.recipes.Recipe` turned into hosted creatures.

:mod:`kt_terrarium.recipes` reads and checks recipe files; this module populates an engine from
one, all or nothing (see ``Terrarium.apply_recipe`` for the order of the steps).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from kt.config import CreatureConfig
from kt.errors import ConfigError
from kt.events import AgentWarning
from kt_terrarium.graphs import GraphBook
from kt_terrarium.handles import CreatureHandle
from kt_terrarium.hosting import STOP_DEADLINE, BuildArgs, Hosting
from kt_terrarium.recipes import REPORT_CHANNEL, Recipe, relocate_config_error
from kt_terrarium.routing import ChannelRouter
from kt_terrarium.wiring import OutputWiring, Wire

__all__ = ["AppliedRecipe", "RecipeApplier"]


@attrs.frozen(kw_only=True)
class AppliedRecipe:
    """What ``apply_recipe`` created.

    Attributes:
        name: The recipe's name.
        root: The root's id, or ``None``.
        creature_ids: Its creatures, in recipe order (root last).
        graph_ids: The graphs they ended up in (one, unless the recipe is disconnected).
        warnings: The recipe's warnings (dropped legacy keys and tools).
    """

    name: str
    root: str | None
    creature_ids: tuple[str, ...]
    graph_ids: tuple[str, ...]
    warnings: tuple[str, ...] = ()


class RecipeApplier:
    """Populates an engine from recipes.

    Args:
        hosting: Builds, places and starts creatures.
        book: The engine's graphs.
        router: Channels and edges.
        wiring: Output wires.
        start: ``start(handle)``: the engine starts a creature in its nursery.
        remove: ``remove(creature_id)``: the engine removes a creature (rollback).
    """

    def __init__(
        self,
        *,
        hosting: Hosting,
        book: GraphBook,
        router: ChannelRouter,
        wiring: OutputWiring,
        start: Callable[[CreatureHandle], Awaitable[None]],
        remove: Callable[[str], Awaitable[Any]],
    ) -> None:
        self.hosting = hosting
        self.book = book
        self.router = router
        self.wiring = wiring
        self._start = start
        self._remove = remove

    async def apply(
        self,
        recipe: Recipe,
        *,
        llm: Any,
        llm_selector: str | None,
        workdir: Path,
        session: Any,
        start: bool,
    ) -> AppliedRecipe:
        """Build, wire and start *recipe*'s creatures (ids already reserved by the caller)."""
        hosting, state = self.hosting, self.hosting.state
        handles: list[CreatureHandle] = []
        for creature in recipe.creatures:
            handle = hosting.new_handle(
                creature.name,
                creature.config,
                privileged=creature.privileged or creature.is_root,
                parent=None,
            )
            handle.body = hosting.local_body(
                handle,
                BuildArgs(
                    llm=_pick_llm(llm, creature.name, creature.config),
                    llm_selector=llm_selector,
                    pwd=workdir,
                ),
            )
            try:
                await hosting.build(handle)
            except ConfigError as error:
                raise relocate_config_error(
                    error, prefix=creature.path, file=recipe.file, creature=creature.name
                ) from error
            handles.append(handle)
        graph = self.book.new_graph(origin="recipe", session=session, name=recipe.name)
        for declared in recipe.channels:
            self.router.create_channel(graph, declared.name, declared.kind, declared.description)
        for handle in handles:
            hosting.place(handle, graph)
        for warning in recipe.warnings:
            state.publish(
                AgentWarning(message=warning, source=f"recipe:{recipe.name}"), (graph.id,)
            )
        root = recipe.root
        for creature in recipe.creatures:
            if creature.is_root:
                continue
            for name in (*creature.listen, creature.name):
                self.router.set_edge(creature.name, graph.channels[name], "listen", True)
            for name in (*creature.can_send, *((REPORT_CHANNEL,) if root else ())):
                self.router.set_edge(creature.name, graph.channels[name], "send", True)
        if root is not None:
            spec = recipe.creature(root)
            hears = {REPORT_CHANNEL, root, *spec.listen}
            for channel in graph.channels.values():
                if channel.kind == "broadcast" or not channel.listeners:
                    hears.add(channel.name)
            for name in sorted(hears):
                self.router.set_edge(root, graph.channels[name], "listen", True)
            for name in spec.can_send:
                self.router.set_edge(root, graph.channels[name], "send", True)
        for creature in recipe.creatures:
            handle = state.creatures[creature.name]
            for wire_spec in creature.output_wiring:
                self.wiring.attach(handle, Wire.from_spec(creature.name, wire_spec))
        state.touch()
        graph_ids = self.book.split_if_needed(graph.id, reason="recipe")
        if start:
            try:
                for handle in handles:
                    await self._start(handle)
            except BaseException:  # all or nothing: take the recipe's creatures out again
                with trio.move_on_after(STOP_DEADLINE, shield=True):
                    for handle in handles:
                        if handle.id in state.creatures:
                            await self._remove(handle.id)
                raise
        return AppliedRecipe(
            name=recipe.name,
            root=root,
            creature_ids=tuple(h.id for h in handles),
            graph_ids=tuple(graph_ids),
            warnings=recipe.warnings,
        )


def _pick_llm(llm: Any, creature_id: str, config: CreatureConfig) -> Any:
    if llm is None or hasattr(llm, "stream"):
        return llm
    if isinstance(llm, Mapping):
        return llm.get(creature_id)
    return llm(creature_id, config)
