"""A circuit breaker for tools: stop calling a tool that keeps failing, then try it again.

A model that meets a broken tool (a server that is down, a missing binary) tends to call it
again and again, burning turns. :class:`CircuitBreaker` is a creature plugin that keeps, per
tool, the state machine of the classic circuit breaker:

* **closed**: calls go through; failures within the last ``window`` seconds are counted;
* **open**: after ``failures`` failures in the window, calls are refused at once with an error
  that tells the model when the tool may work again, for ``cooldown`` seconds;
* **half-open**: after the cooldown, one trial call goes through. Success closes the circuit;
  failure opens it again with the cooldown doubled (up to ``max_cooldown``).

A refused call is never run, so it has no side effect. The state lives in the plugin object,
one per creature.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

import attrs

import kt
from kt.errors import ConfigError, PluginBlockError
from kt.llm import ToolCall
from kt.tools import ToolResult

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker", "Circuit"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@attrs.define
class Circuit:
    """The breaker state of one tool.

    Attributes:
        state: ``closed``, ``open`` or ``half_open``.
        failures: When recent failures happened (monotonic seconds).
        opened_until: When an open circuit lets a trial call through.
        cooldown: The current cooldown (doubles after a failed trial).
    """

    state: str = CLOSED
    failures: deque[float] = attrs.field(factory=deque)
    opened_until: float = 0.0
    cooldown: float = 0.0


class CircuitBreaker:
    """A creature plugin refusing calls to tools that keep failing.

    Args:
        failures: Failures within ``window`` that open the circuit (at least 1).
        window: Seconds over which failures are counted.
        cooldown: Seconds an opened circuit stays open before a trial call.
        max_cooldown: The longest cooldown after repeated failed trials.
        tools: Guard only these tools; default: every tool.
        clock: Monotonic seconds (for tests); default ``time.monotonic``.
    """

    def __init__(
        self,
        failures: int = 3,
        window: float = 60.0,
        cooldown: float = 30.0,
        max_cooldown: float = 600.0,
        tools: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or window <= 0 or cooldown <= 0 or max_cooldown < cooldown:
            raise ConfigError(
                "circuit breaker: failures must be at least 1, window and cooldown above 0, "
                f"and max_cooldown at least cooldown (got failures={failures}, window={window}, "
                f"cooldown={cooldown}, max_cooldown={max_cooldown})"
            )
        self.threshold = failures
        self.window = window
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.tools = None if tools is None else frozenset(tools)
        self.clock = clock
        self.circuits: dict[str, Circuit] = {}

    def circuit(self, tool: str) -> Circuit:
        """The state of *tool*'s circuit (a closed one when it never failed)."""
        return self.circuits.setdefault(tool, Circuit(cooldown=self.cooldown))

    @kt.hookimpl
    def kt_pre_tool_call(self, call: ToolCall, ctx: kt.TurnContext) -> None:
        """Refuse calls while the circuit is open; after the cooldown, let one trial through."""
        if self.tools is not None and call.name not in self.tools:
            return
        circuit = self.circuit(call.name)
        if circuit.state == OPEN:
            now = self.clock()
            if now < circuit.opened_until:
                wait = circuit.opened_until - now
                raise PluginBlockError(
                    f"{call.name} failed {self.threshold} times recently and is paused for "
                    f"{wait:.0f}s more; use another approach, or try it again later"
                )
            circuit.state = HALF_OPEN  # this call is the trial

    @kt.hookimpl
    def kt_post_tool_call(self, call: ToolCall, result: ToolResult, ctx: kt.TurnContext) -> None:
        """Count a failure (opening the circuit at the threshold) or close it on success."""
        if self.tools is not None and call.name not in self.tools:
            return
        circuit = self.circuit(call.name)
        now = self.clock()
        if result.error is None:
            if circuit.state == HALF_OPEN:
                circuit.state, circuit.cooldown = CLOSED, self.cooldown
            circuit.failures.clear()
            return
        if circuit.state == HALF_OPEN:  # the trial failed: open again, for longer
            circuit.cooldown = min(circuit.cooldown * 2, self.max_cooldown)
            self._open(circuit, now)
            return
        circuit.failures.append(now)
        while circuit.failures and circuit.failures[0] <= now - self.window:
            circuit.failures.popleft()
        if len(circuit.failures) >= self.threshold:
            self._open(circuit, now)

    def _open(self, circuit: Circuit, now: float) -> None:
        circuit.state = OPEN
        circuit.opened_until = now + circuit.cooldown
        circuit.failures.clear()


@kt.hookimpl
def kt_module_aliases() -> dict[str, str]:
    return {"kt_biome.plugins.circuit_breaker:CircuitBreakerPlugin": "kt_breaker:CircuitBreaker"}
