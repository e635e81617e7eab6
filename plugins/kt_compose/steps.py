"""The composition algebra: build pipelines of agents and functions with operators.

A *runnable* is anything with ``async run(input) -> output``. Runnables combine with Python
operators into bigger runnables, so a multi-agent pipeline reads like an expression::

    async with compose.agent(writer_cfg) as writer, compose.agent(critic_cfg) as critic:
        pipeline = (writer >> critic) | fallback_writer
        verdict = await pipeline("Write a haiku about trio")

======================  ===========  ===================================================
expression              class        meaning
======================  ===========  ===================================================
``a >> b``              `Sequence`   output of *a* is the input of *b*
``a >> {"k": r, ...}``  `Router`     route *a*'s output by key (see `Router`)
``a & b``               `Product`    run both concurrently on the same input; a **tuple**
``a | b``               `Fallback`   if *a* raises an ``Exception``, run *b* on the same input
``a * n`` / ``n * a``   `Retry`      up to *n* attempts in total
``a.map(f)``            `Sequence`   post-process the output (``a >> f``)
``a.contramap(f)``      `Sequence`   pre-process the input (``f >> a``)
``a.fails_when(p)``     `FailsWhen`  raise ``ValueError`` when ``p(output)`` is true
``a.iterate(x)``        `Iteration`  feed each output back in as the next input
======================  ===========  ===================================================

Plain callables, sync or async, are wrapped as `Pure` wherever an operator meets one: on either
side of ``>>``, ``&`` and ``|``.

**Precedence is Python's, not a pipeline's**: ``*`` binds tightest, then ``>>``, then ``&``,
then ``|``. So ``a & b >> c`` is ``a & (b >> c)``, ``a >> b | c`` is ``(a >> b) | c`` and
``a >> b * 3`` retries only *b*. Add parentheses whenever that is not what you mean, e.g.
``(a & b) >> join``.

Agents enter through `agent` (one long-lived agent, entered with ``async with``) and `factory`
(a fresh agent per call). An agent stage takes and returns ``str`` and raises when its turn did
not complete, so ``|`` and ``*`` react to failed turns as they do to exceptions.

Cancellation: every combinator passes cancellation straight through. `Fallback` and `Retry`
catch ``Exception`` only, so ``trio.Cancelled`` (a ``BaseException``) is never retried or
replaced by a backup; `Product` cancels its other branches when one fails.
"""

from __future__ import annotations

import abc
import copy
import inspect
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kt.errors import AgentNotStartedError, AgentStateError, AgentStoppedError
from kt_compose.errors import ComposeError

if TYPE_CHECKING:
    from kt import Agent

__all__ = [
    "AgentFactoryRunnable",
    "AgentRunnable",
    "Effects",
    "Fallback",
    "FailsWhen",
    "Iteration",
    "Product",
    "Pure",
    "Retry",
    "Router",
    "Runnable",
    "Sequence",
    "agent",
    "as_runnable",
    "factory",
]


# -- Effects: what running a step costs ---------------------------------------------------------


def _check_non_negative(instance: Effects, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"Effects.{attribute.name} must be >= 0 or None, got {value!r}")


def _check_probability(instance: Effects, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"Effects.reliability must be between 0 and 1 or None, got {value!r}")


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _mul(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a * b


def _max(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else max(a, b)


@attrs.frozen
class Effects:
    """An annotation of what one run of a step costs: money, time and the chance it succeeds.

    Effects are declared, never measured: attach them with `Runnable.with_effects` and read the
    combined estimate of a pipeline from its ``.effects``. ``None`` in a field means "unknown"
    and stays unknown through every combination (unknown + 2 is unknown).

    Attributes:
        cost: Cost of one run, in whatever unit you choose (dollars, tokens). ``>= 0``.
        latency: Seconds one run takes. ``>= 0``.
        reliability: Probability that one run succeeds, between 0 and 1.
    """

    cost: float | None = attrs.field(default=None, validator=_check_non_negative)
    latency: float | None = attrs.field(default=None, validator=_check_non_negative)
    reliability: float | None = attrs.field(default=None, validator=_check_probability)

    def then(self, other: Effects) -> Effects:
        """Combine with a step that runs after this one: costs and latencies add up.

        Args:
            other: The later step's effects.

        Returns:
            Effects: cost and latency summed, reliabilities multiplied (both must succeed).
        """
        return Effects(
            cost=_add(self.cost, other.cost),
            latency=_add(self.latency, other.latency),
            reliability=_mul(self.reliability, other.reliability),
        )

    def alongside(self, other: Effects) -> Effects:
        """Combine with a step that runs at the same time: the slower one sets the latency.

        Args:
            other: The concurrent step's effects.

        Returns:
            Effects: costs summed, the larger latency, reliabilities multiplied (both must
            succeed).
        """
        return Effects(
            cost=_add(self.cost, other.cost),
            latency=_max(self.latency, other.latency),
            reliability=_mul(self.reliability, other.reliability),
        )

    def or_else(self, other: Effects) -> Effects:
        """Combine with a backup that runs only when this step fails (expected values).

        Args:
            other: The backup's effects.

        Returns:
            Effects: this step's cost and latency plus the backup's, weighted by the chance
            this step fails; the result fails only when both fail.
        """
        failure = None if self.reliability is None else 1.0 - self.reliability
        reliability = None
        if failure is not None and other.reliability is not None:
            reliability = 1.0 - failure * (1.0 - other.reliability)
        return Effects(
            cost=_add(self.cost, _mul(failure, other.cost)),
            latency=_add(self.latency, _mul(failure, other.latency)),
            reliability=reliability,
        )

    def __rshift__(self, other: Effects) -> Effects:
        """``a >> b`` is ``a.then(b)``, mirroring the runnable operator."""
        return self.then(other)

    def __and__(self, other: Effects) -> Effects:
        """``a & b`` is ``a.alongside(b)``, mirroring the runnable operator."""
        return self.alongside(other)

    def __or__(self, other: Effects) -> Effects:
        """``a | b`` is ``a.or_else(b)``, mirroring the runnable operator."""
        return self.or_else(other)


_NEUTRAL = Effects(cost=0.0, latency=0.0, reliability=1.0)


def _combine(
    children: Iterable[Runnable], combine: Callable[[Effects, Effects], Effects]
) -> Effects | None:
    """Fold the children's effects; a child without any is neutral (free, instant, reliable).

    Treating unannotated children as neutral keeps glue steps (``>> (lambda t: ...)``) from
    erasing what the annotated stages declared. A pipeline with no annotated child at all has
    no effects (``None``).
    """
    declared = [child.effects for child in children]
    if all(effects is None for effects in declared):
        return None
    total: Effects | None = None
    for effects in declared:
        effects = _NEUTRAL if effects is None else effects
        total = effects if total is None else combine(total, effects)
    return total


# -- The base class ------------------------------------------------------------------------------


def as_runnable(value: Any) -> Runnable:
    """Return *value* as a runnable: runnables unchanged, callables wrapped in `Pure`.

    Args:
        value: A `Runnable`, a sync or async callable, or a ``dict`` of routes (a `Router`).

    Returns:
        Runnable: the runnable to use in a composition.

    Raises:
        TypeError: if *value* is none of these.
    """
    if isinstance(value, Runnable):
        return value
    if isinstance(value, Mapping):
        return Router(value)
    if callable(value):
        return Pure(value)
    raise TypeError(
        f"cannot compose {type(value).__name__} {value!r}: use a Runnable, a function "
        "(sync or async) or a dict of routes"
    )


def _coerce_or_none(value: Any) -> Runnable | None:
    """Like `as_runnable`, but ``None`` where an operator should return ``NotImplemented``."""
    if isinstance(value, Runnable | Mapping) or callable(value):
        return as_runnable(value)
    return None


class Runnable(abc.ABC):
    """A step of a pipeline: ``await step.run(input)`` (or ``await step(input)``) -> output.

    Subclass it and implement `run` to make your own step; the operators and helpers below come
    for free. Runnables are immutable once built, so one step can appear in several pipelines.
    """

    _declared_effects: Effects | None = None

    @abc.abstractmethod
    async def run(self, input: Any) -> Any:
        """Process *input* and return the output.

        Args:
            input: Whatever the previous step produced.

        Returns:
            The step's output, handed to the next step.
        """

    async def __call__(self, input: Any) -> Any:
        """Same as ``await self.run(input)``."""
        return await self.run(input)

    # -- effects --

    @property
    def effects(self) -> Effects | None:
        """The declared effects of this step, or the combination of its parts' effects.

        ``None`` when neither this step nor any part of it was annotated.
        """
        return self._declared_effects

    def with_effects(
        self,
        effects: Effects | None = None,
        *,
        cost: float | None = None,
        latency: float | None = None,
        reliability: float | None = None,
    ) -> Runnable:
        """Return a copy of this step annotated with *effects* (or the given fields).

        Args:
            effects: A whole `Effects` value; when given, the keyword fields must be omitted.
            cost: Cost of one run.
            latency: Seconds one run takes.
            reliability: Probability that one run succeeds.

        Returns:
            Runnable: a shallow copy whose ``.effects`` is the annotation.

        Raises:
            TypeError: if both *effects* and keyword fields are given.
        """
        if effects is not None and (cost, latency, reliability) != (None, None, None):
            raise TypeError("pass either an Effects value or cost=/latency=/reliability=, not both")
        if effects is None:
            effects = Effects(cost=cost, latency=latency, reliability=reliability)
        annotated = copy.copy(self)
        annotated._declared_effects = effects
        return annotated

    # -- operators --

    def __rshift__(self, other: Any) -> Runnable:
        """``self >> other``: a `Sequence`; a dict on the right becomes a `Router`."""
        right = _coerce_or_none(other)
        if right is None:
            return NotImplemented
        return Sequence(self, right)

    def __rrshift__(self, other: Any) -> Runnable:
        """``function >> self``: wrap the function as `Pure` and run it first."""
        left = _coerce_or_none(other)
        if left is None:
            return NotImplemented
        return Sequence(left, self)

    def __and__(self, other: Any) -> Runnable:
        """``self & other``: a `Product` running both on the same input concurrently."""
        right = _coerce_or_none(other)
        if right is None:
            return NotImplemented
        return Product(self, right)

    def __rand__(self, other: Any) -> Runnable:
        """``function & self``: a `Product` with the wrapped function as the first branch."""
        left = _coerce_or_none(other)
        if left is None:
            return NotImplemented
        return Product(left, self)

    def __or__(self, other: Any) -> Runnable:
        """``self | other``: a `Fallback` that runs *other* when *self* raises."""
        right = _coerce_or_none(other)
        if right is None:
            return NotImplemented
        return Fallback(self, right)

    def __ror__(self, other: Any) -> Runnable:
        """``function | self``: a `Fallback` trying the wrapped function first."""
        left = _coerce_or_none(other)
        if left is None:
            return NotImplemented
        return Fallback(left, self)

    def __mul__(self, attempts: Any) -> Runnable:
        """``self * n``: a `Retry` with *n* attempts in total."""
        return Retry(self, attempts)

    def __rmul__(self, attempts: Any) -> Runnable:
        """``n * self``: same as ``self * n``."""
        return Retry(self, attempts)

    # -- helpers --

    def map(self, fn: Callable[[Any], Any]) -> Runnable:
        """Post-process this step's output with *fn* (sync or async); same as ``self >> fn``.

        Args:
            fn: Called with this step's output; its result is the new output.

        Returns:
            Runnable: the combined step.
        """
        return Sequence(self, Pure(fn))

    def contramap(self, fn: Callable[[Any], Any]) -> Runnable:
        """Pre-process the input with *fn* (sync or async); same as ``fn >> self``.

        Args:
            fn: Called with the input; its result is what this step receives.

        Returns:
            Runnable: the combined step.
        """
        return Sequence(Pure(fn), self)

    def fails_when(self, predicate: Callable[[Any], Any]) -> Runnable:
        """Treat an output for which *predicate* is true as a failure (raise ``ValueError``).

        This lets ``|`` and ``*`` react to bad outputs, not only to exceptions:
        ``(writer.fails_when(lambda text: len(text) > 280) * 3) | summarizer``.

        Args:
            predicate: Called with the output (sync or async); a truthy result means "failed".

        Returns:
            Runnable: a `FailsWhen` step.
        """
        return FailsWhen(self, predicate)

    def iterate(self, initial: Any) -> Iteration:
        """Run this step over and over, feeding each output back in as the next input.

        The iterator never ends on its own: ``break`` when you have what you need. Use
        `Iteration.feed` to replace the next input once::

            steps = counter.iterate(1)
            async for value in steps:
                if value > 100:
                    break
                if value == 3:
                    steps.feed(10)   # the next run gets 10, not 3

        Args:
            initial: The input of the first run.

        Returns:
            Iteration: an async iterator of outputs.
        """
        return Iteration(self, initial)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# -- Leaves and combinators ------------------------------------------------------------------------


def _callable_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


class Pure(Runnable):
    """A plain function as a step. Sync functions run in the event loop's thread.

    A sync function that blocks (file or network I/O) stalls every other task while it runs;
    have it call ``trio.to_thread.run_sync`` or make it ``async``.

    Args:
        fn: Called with the input. When it returns an awaitable (an ``async def`` function, or a
            function returning a coroutine), the awaitable is awaited.

    Raises:
        TypeError: if *fn* is not callable.
    """

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"Pure needs a callable, got {type(fn).__name__} {fn!r}")
        self.fn = fn

    async def run(self, input: Any) -> Any:
        """Call the function with *input*, awaiting its result if it is awaitable.

        Args:
            input: Passed to the function.

        Returns:
            The function's (awaited) result.
        """
        result = self.fn(input)
        if inspect.isawaitable(result):
            result = await result
        return result

    def __repr__(self) -> str:
        return _callable_name(self.fn)


def _flatten(cls: type[Runnable], parts: Iterable[Runnable], attribute: str) -> tuple:
    """Splice nested instances of *cls* into one level, unless they carry their own effects."""
    flat: list[Runnable] = []
    for part in parts:
        if type(part) is cls and part._declared_effects is None:
            flat.extend(getattr(part, attribute))
        else:
            flat.append(part)
    return tuple(flat)


class Sequence(Runnable):
    """Steps run one after another; each step's output is the next step's input.

    Built by ``a >> b``. Nested sequences are flattened: ``a >> b >> c`` has three stages.

    Args:
        *stages: The steps (runnables or callables), in order. At least one.
    """

    def __init__(self, *stages: Any) -> None:
        if not stages:
            raise TypeError("Sequence needs at least one stage")
        self.stages: tuple[Runnable, ...] = _flatten(
            Sequence, (as_runnable(stage) for stage in stages), "stages"
        )

    async def run(self, input: Any) -> Any:
        """Run the stages in order, threading the value through.

        An exception from a stage ends the sequence and propagates; later stages do not run.

        Args:
            input: The first stage's input.

        Returns:
            The last stage's output.
        """
        value = input
        for stage in self.stages:
            value = await stage.run(value)
        return value

    @property
    def effects(self) -> Effects | None:
        """Declared effects, else the stages' effects combined sequentially."""
        if self._declared_effects is not None:
            return self._declared_effects
        return _combine(self.stages, Effects.then)

    def __repr__(self) -> str:
        return "(" + " >> ".join(repr(stage) for stage in self.stages) + ")"


class Product(Runnable):
    r"""Branches run concurrently on the same input; the outputs come back as a tuple.

    Built by ``a & b``; nested products are flattened, so ``a & b & c`` returns a 3-tuple in
    branch order (not completion order). Follow it with a join step when the next stage takes
    one value: ``(a & b) >> (lambda pair: "\\n".join(pair))``.

    The branches run in one trio nursery. When a branch raises, the others are cancelled at
    their next checkpoint and that first exception propagates unchanged (not wrapped in an
    ``ExceptionGroup``); errors raised by other branches while they are being cancelled are
    attached to it as notes. When the caller's scope is cancelled, every branch is cancelled
    and ``trio.Cancelled`` propagates.

    Args:
        *branches: The steps (runnables or callables). At least one.
    """

    def __init__(self, *branches: Any) -> None:
        if not branches:
            raise TypeError("Product needs at least one branch")
        self.branches: tuple[Runnable, ...] = _flatten(
            Product, (as_runnable(branch) for branch in branches), "branches"
        )

    async def run(self, input: Any) -> tuple[Any, ...]:
        """Run every branch on *input* concurrently.

        Args:
            input: Given to every branch.

        Returns:
            tuple: one output per branch, in branch order.

        Raises:
            Exception: the first exception a branch raised; the other branches were cancelled.
        """
        outputs: list[Any] = [None] * len(self.branches)
        failures: list[Exception] = []

        async with trio.open_nursery() as nursery:

            async def run_branch(index: int, branch: Runnable) -> None:
                try:
                    outputs[index] = await branch.run(input)
                except Exception as error:  # Cancelled is a BaseException and passes through
                    failures.append(error)
                    nursery.cancel_scope.cancel()

            for index, branch in enumerate(self.branches):
                nursery.start_soon(run_branch, index, branch)

        if failures:
            first, *others = failures
            for other in others:
                first.add_note(f"another branch of {self!r} also failed: {other!r}")
            raise first
        return tuple(outputs)

    @property
    def effects(self) -> Effects | None:
        """Declared effects, else the branches' effects combined in parallel."""
        if self._declared_effects is not None:
            return self._declared_effects
        return _combine(self.branches, Effects.alongside)

    def __repr__(self) -> str:
        return "(" + " & ".join(repr(branch) for branch in self.branches) + ")"


class Fallback(Runnable):
    """Try each option in turn on the ORIGINAL input until one returns without raising.

    Built by ``a | b``; ``a | b | c`` tries three options. Only ``Exception`` counts as a
    failure: cancellation (``trio.Cancelled``), ``KeyboardInterrupt`` and other
    ``BaseException`` pass straight through, and no later option runs.

    Args:
        *options: The steps (runnables or callables), most preferred first. At least one.
    """

    def __init__(self, *options: Any) -> None:
        if not options:
            raise TypeError("Fallback needs at least one option")
        self.options: tuple[Runnable, ...] = _flatten(
            Fallback, (as_runnable(option) for option in options), "options"
        )

    async def run(self, input: Any) -> Any:
        """Run the options in order until one succeeds.

        Args:
            input: Given, unchanged, to every option that runs.

        Returns:
            The first successful option's output.

        Raises:
            Exception: the last option's exception, when every option failed.
        """
        last_error: Exception | None = None
        for option in self.options:
            try:
                return await option.run(input)
            except Exception as error:
                last_error = error
        assert last_error is not None  # options is never empty
        raise last_error

    @property
    def effects(self) -> Effects | None:
        """Declared effects, else the expected effects of trying the options in order."""
        if self._declared_effects is not None:
            return self._declared_effects
        return _combine(self.options, Effects.or_else)

    def __repr__(self) -> str:
        return "(" + " | ".join(repr(option) for option in self.options) + ")"


class Retry(Runnable):
    """Run a step up to *attempts* times in total, until it returns without raising.

    Built by ``step * n`` or ``n * step``: ``n`` is the number of attempts, not of retries, so
    ``step * 1`` runs once. Each attempt gets the same input. Only ``Exception`` triggers another
    attempt; cancellation passes through at once. There is no delay between attempts: put a
    `Pure` step that sleeps in front of the step if you need back-off.

    Args:
        runnable: The step to retry (a runnable or callable).
        attempts: Total number of attempts, an ``int`` of at least 1.

    Raises:
        TypeError: if *attempts* is not an ``int`` (``bool`` excluded) or is less than 1.
    """

    def __init__(self, runnable: Any, attempts: int) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise TypeError(
                f"retry count must be an int, got {type(attempts).__name__} {attempts!r}: "
                "write `step * 3` for three attempts"
            )
        if attempts < 1:
            raise TypeError(
                f"retry count must be at least 1 (it counts attempts, not retries), got {attempts}"
            )
        self.runnable = as_runnable(runnable)
        self.attempts = attempts

    async def run(self, input: Any) -> Any:
        """Run the step until it succeeds or the attempts run out.

        Args:
            input: Given, unchanged, to every attempt.

        Returns:
            The first successful attempt's output.

        Raises:
            Exception: the last attempt's exception, when every attempt failed.
        """
        last_error: Exception | None = None
        for _ in range(self.attempts):
            try:
                return await self.runnable.run(input)
            except Exception as error:
                last_error = error
        assert last_error is not None  # attempts >= 1
        raise last_error

    @property
    def effects(self) -> Effects | None:
        """Declared effects, else the expected effects of up to *attempts* tries."""
        if self._declared_effects is not None:
            return self._declared_effects
        inner = self.runnable.effects
        if inner is None:
            return None
        total = inner
        for _ in range(self.attempts - 1):
            total = total.or_else(inner)
        return total

    def __repr__(self) -> str:
        return f"({self.runnable!r} * {self.attempts})"


class Router(Runnable):
    """Pick one step by key and run it.

    Built by ``a >> {"billing": billing, "tech": tech, "_default": triage}``. The input decides
    the route:

    * a 2-tuple ``(key, payload)``: the route named ``str(key)`` runs with *payload*;
    * anything else: the route named ``str(input)`` runs with the input itself.

    The route ``"_default"``, when present, runs for keys with no route of their own (with the
    same payload). Without it, an unknown key raises ``KeyError`` listing the known keys.

    Args:
        routes: Key to step (runnable or callable). Keys are converted with ``str``.

    Raises:
        TypeError: if a route's value is neither a runnable nor callable.
    """

    DEFAULT = "_default"

    def __init__(self, routes: Mapping[Any, Any]) -> None:
        built: dict[str, Runnable] = {}
        for key, value in routes.items():
            step = _coerce_or_none(value)
            if step is None:
                raise TypeError(
                    f"route {key!r} maps to {type(value).__name__} {value!r}; every route needs "
                    "a Runnable or a function"
                )
            built[str(key)] = step
        self.routes: Mapping[str, Runnable] = built

    async def run(self, input: Any) -> Any:
        """Run the route the input selects.

        Args:
            input: ``(key, payload)``, or a value that is both key and payload.

        Returns:
            The chosen route's output.

        Raises:
            KeyError: if no route matches and there is no ``"_default"`` route.
        """
        if isinstance(input, tuple) and len(input) == 2:
            key, payload = str(input[0]), input[1]
        else:
            key, payload = str(input), input
        route = self.routes.get(key) or self.routes.get(self.DEFAULT)
        if route is None:
            known = ", ".join(repr(name) for name in self.routes) or "none"
            raise KeyError(
                f"no route for key {key!r} (routes: {known}); add that key or a "
                f"{self.DEFAULT!r} route"
            )
        return await route.run(payload)

    def __repr__(self) -> str:
        inner = ", ".join(f"{key!r}: {step!r}" for key, step in self.routes.items())
        return "{" + inner + "}"


class FailsWhen(Runnable):
    """Raise ``ValueError`` when a step's output satisfies a predicate.

    Built by `Runnable.fails_when`.

    Args:
        runnable: The checked step.
        predicate: Called with the output (sync or async); truthy means "failed".
    """

    def __init__(self, runnable: Any, predicate: Callable[[Any], Any]) -> None:
        if not callable(predicate):
            raise TypeError(f"fails_when needs a callable predicate, got {predicate!r}")
        self.runnable = as_runnable(runnable)
        self.predicate = predicate

    async def run(self, input: Any) -> Any:
        """Run the step and check its output.

        Args:
            input: The step's input.

        Returns:
            The step's output, when the predicate is false for it.

        Raises:
            ValueError: if the predicate is true for the output.
        """
        output = await self.runnable.run(input)
        failed = self.predicate(output)
        if inspect.isawaitable(failed):
            failed = await failed
        if failed:
            raise ValueError(
                f"{self.runnable!r} produced {output!r}, which "
                f"{_callable_name(self.predicate)} rejects"
            )
        return output

    @property
    def effects(self) -> Effects | None:
        """Declared effects, else the checked step's."""
        if self._declared_effects is not None:
            return self._declared_effects
        return self.runnable.effects

    def __repr__(self) -> str:
        return f"{self.runnable!r}.fails_when({_callable_name(self.predicate)})"


class Iteration(AsyncIterator[Any]):
    """The async iterator returned by `Runnable.iterate`.

    Each ``__anext__`` runs the step once on the current input, yields the output and makes it
    the next input. It never stops by itself. An exception from the step propagates out of the
    ``async for``; the iteration may be resumed afterwards with the same input.
    """

    def __init__(self, runnable: Runnable, initial: Any) -> None:
        self.runnable = runnable
        self._next_input = initial

    def feed(self, value: Any) -> None:
        """Use *value* as the input of the next run, instead of the last output.

        Args:
            value: The next input. Later runs go back to feeding outputs back in.
        """
        self._next_input = value

    def __aiter__(self) -> Iteration:
        return self

    async def __anext__(self) -> Any:
        output = await self.runnable.run(self._next_input)
        self._next_input = output
        return output


# -- Agents as steps -----------------------------------------------------------------------------


def _require_text(stage: Runnable, value: Any) -> str:
    """An agent stage takes text; anything else is a composition mistake, never ``str()``-ed."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        raise ComposeError(
            f"{stage!r} got a tuple of {len(value)} values (the output of `&`), but an agent "
            "takes one string; join the branches first, e.g. "
            '`(a & b) >> (lambda t: "\\n".join(t)) >> agent_stage`'
        )
    raise ComposeError(
        f"{stage!r} got {type(value).__name__} {value!r}, but an agent takes a string; "
        "convert it first, e.g. `... >> str >> agent_stage` or `.contramap(json.dumps)`"
    )


def _config_label(config: Any) -> str:
    if isinstance(config, Mapping):
        return repr(config.get("name", "<dict config>"))
    return repr(getattr(config, "name", None) or str(config))


async def _build_agent(config: Any, build_kwargs: Mapping[str, Any]) -> Agent:
    from kt import Agent  # here, not at the top: keeps `import kt_compose` light

    return await Agent.build(config, **build_kwargs)


async def _run_turn(agent: Agent, text: str, timeout: float | None) -> str:
    result = await agent.run(text, timeout=timeout)
    result.raise_for_status()
    return (result.text or "").strip()


class AgentRunnable(Runnable):
    """One long-lived agent as a step; built by `agent`.

    Enter it with ``async with`` to build and start the agent; leaving the block stops it.
    Every run is one turn with ``str`` input; the agent keeps its conversation between runs,
    so a stage that appears twice in a pipeline (or is iterated) remembers earlier turns.
    Entering again after leaving builds a fresh agent.

    Concurrent runs (the same stage in two branches of ``&``) are queued by the agent and run
    one turn at a time.
    """

    def __init__(
        self, config: Any, *, timeout: float | None = None, build_kwargs: Mapping[str, Any]
    ) -> None:
        self.config = config
        self.timeout = timeout
        self._build_kwargs = dict(build_kwargs)
        self._agent: Agent | None = None
        self._stopped = False

    @property
    def agent(self) -> Agent:
        """The running `kt.Agent`, for calls the step interface does not cover.

        Raises:
            AgentNotStartedError: outside ``async with``.
            AgentStoppedError: after the ``async with`` block ended.
        """
        if self._agent is None:
            if self._stopped:
                raise AgentStoppedError(
                    f"compose agent {_config_label(self.config)} was stopped when its "
                    "`async with` block ended; enter it again to build a fresh agent"
                )
            raise AgentNotStartedError(
                f"compose agent {_config_label(self.config)} is not started; use it inside "
                "`async with kt_compose.agent(config) as stage:`"
            )
        return self._agent

    def __await__(self) -> Generator[Any, None, AgentRunnable]:
        """``await compose.agent(...)`` gives the same step, for ``async with await agent(..)``.

        The seed framework's examples await the call before entering it; the step is built
        when the ``async with`` block is entered either way.
        """
        return _itself(self).__await__()

    async def __aenter__(self) -> AgentRunnable:
        """Build and start the agent.

        Raises:
            AgentStateError: if this step is already entered.
        """
        if self._agent is not None:
            raise AgentStateError(
                f"compose agent {_config_label(self.config)} is already started; enter it "
                "once, or make a second one with kt_compose.agent(...)"
            )
        agent = await _build_agent(self.config, self._build_kwargs)
        await agent.__aenter__()
        self._agent = agent
        self._stopped = False
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        """Stop the agent (see ``Agent.__aexit__`` for what a cancelled stop leaves behind)."""
        agent, self._agent = self._agent, None
        self._stopped = True
        if agent is not None:
            await agent.__aexit__(*exc_info)

    async def run(self, input: Any) -> str:
        """Run one turn with *input* and return the final text, stripped.

        A turn that times out (``timeout=`` of `agent`), is interrupted or errors raises, so
        ``|`` and ``*`` can react. An outer cancellation cancels the turn and propagates.

        Args:
            input: The user message; must be a ``str``.

        Returns:
            str: ``result.text.strip()`` of the turn.

        Raises:
            ComposeError: if *input* is not a ``str`` (e.g. the tuple produced by ``&``).
            AgentNotStartedError: outside ``async with``.
            KTError: ``result.raise_for_status()``'s error for a turn that did not complete.
        """
        agent = self.agent
        text = _require_text(self, input)
        return await _run_turn(agent, text, self.timeout)

    def __repr__(self) -> str:
        return f"agent({_config_label(self.config)})"


class AgentFactoryRunnable(Runnable):
    """A fresh agent per run; built by `factory`.

    Each run builds an agent, starts it, runs one turn, and stops it, so nothing (history,
    scratchpad, tool state) carries over between runs and concurrent runs do not queue behind
    each other. That costs a build per call; prefer `agent` for a conversation.
    """

    def __init__(
        self,
        config: Any,
        *,
        timeout: float | None = None,
        llm_factory: Callable[[], Any] | None = None,
        build_kwargs: Mapping[str, Any],
    ) -> None:
        if llm_factory is not None and "llm" in build_kwargs:
            raise TypeError("pass llm= or llm_factory=, not both")
        if llm_factory is not None and not callable(llm_factory):
            raise TypeError(f"llm_factory must be a zero-argument callable, got {llm_factory!r}")
        self.config = config
        self.timeout = timeout
        self.llm_factory = llm_factory
        self._build_kwargs = dict(build_kwargs)

    async def run(self, input: Any) -> str:
        """Build, start, run one turn with *input*, stop; return the final text, stripped.

        The agent is stopped however the turn ends, including on cancellation.

        Args:
            input: The user message; must be a ``str``.

        Returns:
            str: ``result.text.strip()`` of the turn.

        Raises:
            ComposeError: if *input* is not a ``str``.
            KTError: a build error (``ConfigError`` ...), or ``result.raise_for_status()``'s
                error for a turn that did not complete.
        """
        text = _require_text(self, input)
        build_kwargs = dict(self._build_kwargs)
        if self.llm_factory is not None:
            build_kwargs["llm"] = self.llm_factory()
        agent = await _build_agent(self.config, build_kwargs)
        async with agent:
            return await _run_turn(agent, text, self.timeout)

    def __repr__(self) -> str:
        return f"factory({_config_label(self.config)})"


async def _itself(step: AgentRunnable) -> AgentRunnable:
    return step


def agent(config: Any, *, timeout: float | None = None, **build_kwargs: Any) -> AgentRunnable:
    """One agent as a pipeline step, kept running for the whole ``async with`` block.

    ::

        async with compose.agent("@kt-biome/creatures/swe", llm=llm) as swe:
            print(await (swe >> summarize)("Fix the failing test"))

    Args:
        config: What ``kt.Agent.build`` accepts: a dict, a path, a ``CreatureConfig`` or an
            ``@pack/ref``.
        timeout: Per-turn time limit in seconds (``None``: none); a timed-out turn raises
            ``TurnTimeoutError``, so ``stage * 2`` retries it.
        **build_kwargs: Passed to ``kt.Agent.build`` (``llm=``, ``tools=``, ``plugins=``,
            ``pwd=``, ``kernel=``).

    Returns:
        AgentRunnable: enter it with ``async with`` before running it.
    """
    return AgentRunnable(config, timeout=timeout, build_kwargs=build_kwargs)


def factory(
    config: Any,
    *,
    timeout: float | None = None,
    llm_factory: Callable[[], Any] | None = None,
    **build_kwargs: Any,
) -> AgentFactoryRunnable:
    """A pipeline step that builds a fresh agent for every run and stops it afterwards.

    An ``llm=`` object is shared by every agent the step builds; a ``ScriptedLLM`` would then
    hand its entries out across calls. Pass ``llm_factory=`` to give each call its own model.

    Args:
        config: What ``kt.Agent.build`` accepts.
        timeout: Per-turn time limit in seconds (``None``: none).
        llm_factory: Zero-argument callable returning a new LLM for each run.
        **build_kwargs: Passed to ``kt.Agent.build`` (``llm=``, ``tools=``, ...).

    Returns:
        AgentFactoryRunnable: a step that needs no ``async with``.

    Raises:
        TypeError: if both ``llm=`` and ``llm_factory=`` are given.
    """
    return AgentFactoryRunnable(
        config, timeout=timeout, llm_factory=llm_factory, build_kwargs=build_kwargs
    )
