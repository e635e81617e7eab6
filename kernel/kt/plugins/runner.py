"""The async runner for runtime hooks.

pluggy is synchronous: calling an ``async def`` implementation through ``pm.hook.x(...)`` returns
a coroutine nobody awaits. So runtime hooks go through :class:`HookRunner`, which keeps pluggy's
call order (last registered first, ``tryfirst`` / ``trylast``) and its opt-in arguments (an
implementation takes any subset of the spec's arguments), awaits awaitable results, threads a
value through chained hooks, and isolates errors per implementation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pluggy

from kt.errors import PluginBlockError, PluginError

__all__ = ["HookRunner"]

T = TypeVar("T")


def _priority(impl: pluggy.HookImpl) -> int:
    return 2 if impl.tryfirst else 0 if impl.trylast else 1


ErrorReporter = Callable[[str, str, BaseException], Any]


class HookRunner:
    """Calls runtime hooks across a stack of plugin managers (kernel's, then creature's).

    Implementations from later managers count as registered later, so a creature's own plugins
    run before the kernel's within the same ``tryfirst`` / normal / ``trylast`` class. Each
    hook's implementations are listed once: a plugin registered later joins later agents.

    Args:
        managers: The plugin managers, kernel's first.
        on_error: Called with (hook name, plugin name, exception) when an implementation
            raises anything but ``PluginBlockError``; may be async.
    """

    def __init__(
        self, managers: Sequence[pluggy.PluginManager], on_error: ErrorReporter | None = None
    ) -> None:
        self._managers = tuple(managers)
        self._on_error = on_error
        self._cache: dict[str, list[tuple[str, pluggy.HookImpl]]] = {}

    def impls(self, hook: str) -> list[tuple[str, pluggy.HookImpl]]:
        """(plugin name, implementation) pairs for *hook*, in call order."""
        cached = self._cache.get(hook)
        if cached is None:
            merged: list[pluggy.HookImpl] = []
            for pm in self._managers:
                caller = getattr(pm.hook, hook, None)
                if caller is not None:
                    merged.extend(caller.get_hookimpls())
            for impl in merged:
                if impl.wrapper or impl.hookwrapper:
                    raise PluginError(
                        f"plugin '{impl.plugin_name}' implements {hook} as a wrapper; runtime "
                        "hooks may be async and cannot be wrappers: write a pre/post pair"
                    )
            merged.sort(key=_priority)  # stable: keeps registration order within a class
            cached = [(impl.plugin_name, impl) for impl in reversed(merged)]
            self._cache[hook] = cached
        return cached

    def has(self, hook: str) -> bool:
        """Whether any plugin implements *hook*."""
        return bool(self.impls(hook))

    async def _call(self, hook: str, name: str, impl: pluggy.HookImpl, kwargs: dict[str, Any]):
        out = impl.function(*(kwargs[arg] for arg in impl.argnames))
        if inspect.isawaitable(out):
            out = await out
        return out

    async def _report(self, hook: str, name: str, exc: BaseException) -> None:
        if self._on_error is not None:
            out = self._on_error(hook, name, exc)
            if inspect.isawaitable(out):
                await out

    async def chain(
        self,
        hook: str,
        value_arg: str,
        value: T,
        *,
        vetoable: bool = False,
        changed_by: list[str] | None = None,
        **kwargs: Any,
    ) -> T:
        """Thread *value* through every implementation; ``None`` results keep it.

        Args:
            hook: The hook name.
            value_arg: The argument name the value is passed as.
            value: The starting value.
            vetoable: Whether ``PluginBlockError`` vetoes (pre hooks) or is reported like any
                other error (post hooks: the operation already happened). In a vetoable
                chain any other exception vetoes too, after being reported: a check that breaks
                refuses (fail closed), it never waves the operation through.
            changed_by: When given, the names of the plugins that replaced the value are
                appended to it, in call order.
            **kwargs: The hook's other arguments.

        Raises:
            PluginBlockError: from the implementation that vetoed (*vetoable* hooks only);
                later implementations are skipped.
        """
        for name, impl in self.impls(hook):
            available = {value_arg: value, **kwargs}
            try:
                out = await self._call(hook, name, impl, available)
            except PluginBlockError:
                if vetoable:
                    raise
                await self._report(hook, name, PluginBlockError(f"cannot veto in {hook}"))
                continue
            except Exception as exc:  # a buggy plugin must not kill the turn
                await self._report(hook, name, exc)
                if vetoable:  # ... nor let through what it was there to check
                    raise PluginBlockError(
                        f"plugin '{name}' failed while checking this ({type(exc).__name__}: "
                        f"{exc}), so it was not done; fix or remove the plugin"
                    ) from exc
                continue
            if out is not None:
                if changed_by is not None and out != value:
                    changed_by.append(name)
                value = out
        return value

    async def notify(self, hook: str, **kwargs: Any) -> None:
        """Call every implementation; results are ignored, errors reported and isolated."""
        for name, impl in self.impls(hook):
            try:
                await self._call(hook, name, impl, kwargs)
            except Exception as exc:
                await self._report(hook, name, exc)

    async def collect(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call every implementation; return the flattened non-``None`` results."""
        results: list[Any] = []
        for name, impl in self.impls(hook):
            try:
                out = await self._call(hook, name, impl, kwargs)
            except Exception as exc:
                await self._report(hook, name, exc)
                continue
            if out is None:
                continue
            if isinstance(out, list | tuple):
                results.extend(out)
            else:
                results.append(out)
        return results

    async def first(self, hook: str, **kwargs: Any) -> Any:
        """Return the first non-``None`` result (``firstresult`` semantics); errors propagate."""
        for name, impl in self.impls(hook):
            out = await self._call(hook, name, impl, kwargs)
            if out is not None:
                return out
        return None
