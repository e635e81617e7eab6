"""Output wiring: a creature's turn-end text delivered to other creatures as new turns.

An output wire from A to B delivers A's final text at the end of every turn of A (or, with
``with_content=False``, a bare lifecycle ping), rendered through the wire's prompt template. The
source never waits for the target. Every path that creates a wire (``wire()``, a config's
``output_wiring``, a recipe) goes through one check, :func:`kt_terrarium.recipes.loop_checked`:
a wire that would close a loop is refused unless it opts in, and an opted-in loop always has a
hop budget. Every delivery counts the chain of wire deliveries that led to it (its *hops*), and a
wire delivers only while that count is within its budget. Delivery checks the budget again,
so a loop that got past creation some other way (a hand-built wire, a restored graph) still
stops after :data:`~kt_terrarium.recipes.DEFAULT_LOOP_HOPS` hops.

:class:`Wire` is the value; :class:`OutputWiring` is the engine's part that adds, removes and
runs wires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from kt.results import TurnResult
from kt_terrarium import topology
from kt_terrarium.errors import WiringLoopError
from kt_terrarium.events import (
    OutputWireAdded,
    OutputWireDelivered,
    OutputWireDropped,
    OutputWireRemoved,
)
from kt_terrarium.recipes import DEFAULT_LOOP_HOPS, WireSpec, loop_checked
from kt_terrarium.state import LIVE_STATES, EngineState

if TYPE_CHECKING:
    from kt_terrarium.graphs import GraphBook
    from kt_terrarium.handles import CreatureHandle

__all__ = [
    "DEFAULT_PING_PROMPT",
    "DEFAULT_WIRE_PROMPT",
    "OutputWiring",
    "Wire",
    "render_wire",
]

DEFAULT_WIRE_PROMPT = "[output-wire from {source}] {content}"
DEFAULT_PING_PROMPT = "[output-wire from {source}] (turn-end signal, no content)"


def _fnv1a(text: str) -> str:
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{value:08x}"


@attrs.frozen(kw_only=True)
class Wire:
    """One output wire: after each turn of ``source``, its text goes to ``target``.

    Attributes:
        edge_id: Derived from the values, so the same wire always has the same id.
        source: The creature whose turn ends.
        target: The creature that receives.
        with_content: ``False``: a lifecycle ping with no text.
        prompt: The template the target receives (``None``: the default).
        prompt_format: ``simple`` or ``jinja``.
        allow_self_trigger: Whether ``target`` may be ``source``.
        max_hops: Deliver only while the chain of wire deliveries is at most this long.
    """

    edge_id: str
    source: str
    target: str
    with_content: bool = True
    prompt: str | None = None
    prompt_format: str = "simple"
    allow_self_trigger: bool = False
    max_hops: int | None = None

    @classmethod
    def from_spec(cls, source: str, spec: WireSpec) -> Wire:
        """The wire *source* → ``spec.to``, with its value-derived id."""
        digest = _fnv1a(
            f"{spec.prompt or ''}|{spec.prompt_format}|{spec.allow_self_trigger}|{spec.max_hops}"
        )
        mode = "content" if spec.with_content else "ping"
        return cls(
            edge_id=f"wire_{source}_{spec.to}_{mode}_{digest}",
            source=source,
            target=spec.to,
            with_content=spec.with_content,
            prompt=spec.prompt,
            prompt_format=spec.prompt_format,
            allow_self_trigger=spec.allow_self_trigger,
            max_hops=spec.max_hops,
        )

    def as_dict(self) -> dict[str, Any]:
        """The wire as plain data."""
        return attrs.asdict(self)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render_wire(wire: Wire, *, content: str, result: TurnResult, hops: int) -> str:
    """What *wire*'s target receives for a turn of the source that ended with *result*.

    Args:
        wire: The wire.
        content: The source's final text (``""`` for a ping).
        result: The source's turn.
        hops: The delivery's hop count.

    Returns:
        The rendered prompt (``simple``: ``str.format`` with unknown placeholders empty;
        ``jinja``: Jinja2's sandbox), stripped.
    """
    values = {
        "source": wire.source,
        "target": wire.target,
        "content": content,
        "status": result.status,
        "turn_index": result.turn_index,
        "hops": hops,
        "with_content": wire.with_content,
    }
    template = wire.prompt
    if template is None:
        template = DEFAULT_WIRE_PROMPT if wire.with_content else DEFAULT_PING_PROMPT
    if wire.prompt_format == "jinja":
        from jinja2.sandbox import SandboxedEnvironment  # checked when the wire was added

        return SandboxedEnvironment().from_string(template).render(**values).strip()
    return template.format_map(_Blank(values)).strip()


class OutputWiring:
    """The engine's output wires: adding, removing, and delivering at each turn's end.

    Args:
        state: The engine's shared state.
        book: The engine's graphs (wiring two graphs merges them; unwiring may split one).
    """

    def __init__(self, state: EngineState, book: GraphBook) -> None:
        self.state = state
        self.book = book

    def wire(self, source: str, spec: WireSpec) -> Wire:
        """Add the wire *source* → ``spec.to`` (see ``Terrarium.wire``).

        Raises:
            CreatureNotFoundError: either creature is not hosted.
            WiringLoopError: the wire closes a loop without a hop limit.
            TopologyError: joining the graphs would clash.
        """
        target = spec.to
        handle, receiver = self.state.handle(source), self.state.handle(target)
        spec = loop_checked(self.edges(), source, spec)
        wire = Wire.from_spec(source, spec)
        for existing in handle.wires:
            if existing.edge_id == wire.edge_id:
                return existing
        if handle.graph_id != receiver.graph_id:
            self.book.merge(handle.graph_id, receiver.graph_id, reason="output_wire")
        self.attach(handle, wire)
        self.state.touch()
        return wire

    def edges(self) -> dict[str, list[str]]:
        """Every wire there is, dangling ones included: source id → target ids."""
        return {h.id: [w.target for w in h.wires] for h in self.state.creatures.values()}

    def attach(self, handle: CreatureHandle, wire: Wire) -> None:
        """Give *handle* the wire *wire* and publish it (no checks: recipes are checked)."""
        handle.wires.append(wire)
        self.state.publish(
            OutputWireAdded(
                creature=handle.id,
                edge_id=wire.edge_id,
                target=wire.target,
                with_content=wire.with_content,
                max_hops=wire.max_hops,
            ),
            (handle.graph_id,),
        )

    def unwire(self, source: str, wire: str) -> list[Wire]:
        """Remove *source*'s wires whose ``edge_id`` or target is *wire*; the graph may split."""
        handle = self.state.handle(source)
        removed = [w for w in handle.wires if wire in (w.edge_id, w.target)]
        for item in removed:
            handle.wires.remove(item)
            self.state.publish(
                OutputWireRemoved(creature=source, edge_id=item.edge_id, target=item.target),
                (handle.graph_id,),
            )
        if removed:
            self.state.touch()
            self.book.split_if_needed(handle.graph_id, reason="output_wire")
        return removed

    def drop_wires_to(self, creature_id: str, graph_id: str) -> None:
        """Remove every wire whose target is *creature_id* (it is being removed)."""
        for other in self.state.creatures.values():
            for wire in [w for w in other.wires if w.target == creature_id]:
                other.wires.remove(wire)
                self.state.publish(
                    OutputWireRemoved(creature=other.id, edge_id=wire.edge_id, target=creature_id),
                    (graph_id,),
                )

    def config_wires(self, handle: CreatureHandle) -> list[Wire]:
        """The wires of *handle*'s config (``output_wiring``), checked; targets may come later.

        Call before *handle* is placed, so nothing needs undoing when one is refused.

        Raises:
            WiringLoopError: a config wire closes a loop (with the wires already there, or
                with the creature's own); a config cannot opt into one.
        """
        edges = self.edges()
        wires = []
        for entry in handle.config.output_wiring:
            spec = WireSpec(
                to=entry.to,
                with_content=entry.with_content,
                prompt=entry.prompt,
                prompt_format=entry.prompt_format,
            )
            try:
                spec = loop_checked(edges, handle.id, spec)
            except WiringLoopError as exc:
                raise WiringLoopError(
                    f"creature '{handle.id}': config output_wiring to '{entry.to}': {exc}"
                ) from None
            edges.setdefault(handle.id, []).append(spec.to)
            wires.append(Wire.from_spec(handle.id, spec))
        return wires

    def join_dangling(self, creature_id: str) -> None:
        """Wires naming *creature_id* (either end) now connect: join the graphs they span."""
        handle = self.state.creatures[creature_id]
        for other in list(self.state.creatures.values()):
            linked = any(w.target == creature_id for w in other.wires) or any(
                w.target == other.id for w in handle.wires
            )
            if linked and other.graph_id != handle.graph_id:
                self.book.merge(other.graph_id, handle.graph_id, reason="output_wire")

    def _budget(self, wire: Wire) -> int | None:
        """*wire*'s hop budget: its own, else the default when it is part of a loop now."""
        if wire.max_hops is not None:
            return wire.max_hops
        if topology.find_wiring_loop(self.edges(), wire.source, wire.target) is not None:
            return DEFAULT_LOOP_HOPS
        return None

    async def after_turn(self, handle: CreatureHandle, result: TurnResult) -> None:
        """Run *handle*'s output wires for the turn that just ended."""
        hops = handle.turns.hops + 1
        for wire in list(handle.wires):
            target = self.state.creatures.get(wire.target)
            code = reason = ""
            budget = self._budget(wire)
            if target is None:
                code, reason = "unknown_target", "unknown target"
            elif target.state not in LIVE_STATES:
                code, reason = "target_stopped", "target stopped"
            elif budget is not None and hops > budget:
                code, reason = "hop_limit", f"hop limit {budget} reached"
            if code or target is None:
                await handle.body.emit(
                    OutputWireDropped(
                        edge_id=wire.edge_id, target=wire.target, reason=reason, code=code
                    )
                )
                continue
            content = (result.text or "").strip() if wire.with_content else ""
            text = render_wire(wire, content=content, result=result, hops=hops)
            target.turns.wire_hops.append(hops)
            target.queue_turn(text, "output_wire")
            await target.body.emit(
                OutputWireDelivered(
                    source=handle.id,
                    edge_id=wire.edge_id,
                    with_content=wire.with_content,
                    content=content,
                    text=text,
                    status=result.status,
                    hops=hops,
                )
            )
