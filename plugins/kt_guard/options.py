"""The guard's options: what a creature's ``[[plugins]]`` entry for ``kt_guard`` may say.

Three optional tables, each switching one feature on::

    [[plugins]]
    name = "kt_guard"
    budgets = {tool_calls = [40, 50], wall_time = [600, 900]}
    permissions = {ask = ["bash", "write"], deny = ["bash(rm -rf *)"]}
    sandbox = {write_paths = ["."], network = false}

An entry without any of them (or no entry at all) switches nothing on. Options are checked
when they are read; a bad one is a :class:`GuardConfigError` naming the key path.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kt.errors import ConfigValidationError

__all__ = [
    "AXES",
    "BudgetOptions",
    "GuardConfigError",
    "GuardOptions",
    "Limit",
    "PermissionOptions",
    "Rule",
    "SandboxOptions",
    "parse_options",
]

AXES = ("turns", "model_calls", "tool_calls", "wall_time", "tokens")
"""Budget axes, in the order they are reported."""

DEFAULT_APPROVAL_TIMEOUT = 300.0
_TOP_KEYS = ("budgets", "permissions", "sandbox")
_PERMISSION_KEYS = ("ask", "allow", "deny", "timeout")
_SANDBOX_KEYS = ("read_paths", "write_paths", "deny_paths", "network", "shell", "allow_python")
_RULE = re.compile(r"^(?P<tool>[^()\s]+)\((?P<subject>.*)\)$", re.DOTALL)


class GuardConfigError(ConfigValidationError):
    """The ``kt_guard`` options of a creature are invalid; the message names the key path."""


@attrs.frozen
class Limit:
    """One budget axis: a warning at *soft*, a stop at *hard* (``soft`` may be ``None``)."""

    soft: float | None
    hard: float


@attrs.frozen
class BudgetOptions:
    """Budget limits by axis, and how many model calls remain once one is exhausted.

    Attributes:
        limits: Axis name (one of :data:`AXES`) → its limits; axes not listed are unlimited.
        final_calls: Model calls still allowed after ``tokens`` or ``wall_time`` ran out, so
            the model can give its final answer.
    """

    limits: Mapping[str, Limit]
    final_calls: int = 1


@attrs.frozen
class Rule:
    """A permission rule: a tool-name pattern, optionally with a pattern for its main argument.

    ``bash`` matches every bash call; ``web_*`` every tool whose name starts with ``web_``;
    ``bash(git *)`` the bash calls whose command matches ``git *``. Patterns are shell-style
    (``*``, ``?``, ``[...]``) and case-sensitive.
    """

    text: str
    tool: str
    subject: str | None = None

    def matches(self, tool: str, subject: str) -> bool:
        """Whether a call to *tool* whose main argument is *subject* falls under this rule."""
        if not fnmatch.fnmatchcase(tool, self.tool):
            return False
        return self.subject is None or fnmatch.fnmatchcase(subject, self.subject)


@attrs.frozen
class PermissionOptions:
    """Which calls are refused, which run freely and which wait for a person's approval.

    Attributes:
        ask: Calls that need approval (default: every call).
        allow: Calls that never need approval.
        deny: Calls that are always refused.
        timeout: Seconds an approval may take before the call is refused; ``None`` = no limit.
    """

    ask: tuple[Rule, ...]
    allow: tuple[Rule, ...] = ()
    deny: tuple[Rule, ...] = ()
    timeout: float | None = DEFAULT_APPROVAL_TIMEOUT


@attrs.frozen
class SandboxOptions:
    """Where tools may read and write, which hosts they may reach, which commands may run.

    Attributes:
        read_paths: Roots path arguments of reading tools must lie under; ``None`` = anywhere.
        write_paths: Roots path arguments of writing tools must lie under.
        deny_paths: Paths refused to every tool, on top of the built-in list (keys, shell
            startup files, the kt home, ``/etc``).
        network: ``True`` (any host), ``False`` (none) or host patterns that may be reached.
        shell: Command patterns shell tools may run; ``None`` = any command.
        allow_python: Whether code tools (``python``) may run; ``None`` = only when ``shell``
            is unrestricted.
    """

    read_paths: tuple[str, ...] | None = None
    write_paths: tuple[str, ...] = (".",)
    deny_paths: tuple[str, ...] = ()
    network: bool | tuple[str, ...] = True
    shell: tuple[str, ...] | None = None
    allow_python: bool | None = None


@attrs.frozen
class GuardOptions:
    """Everything one guard enforces for one creature; a feature is ``None`` when off."""

    budgets: BudgetOptions | None = None
    permissions: PermissionOptions | None = None
    sandbox: SandboxOptions | None = None

    @property
    def active(self) -> bool:
        """Whether any feature is switched on."""
        return any(x is not None for x in (self.budgets, self.permissions, self.sandbox))


def parse_options(raw: Mapping[str, Any], *, where: str = "plugins[kt_guard]") -> GuardOptions:
    """Validate the options of a guard entry.

    Args:
        raw: The entry's options (every key but ``name``/``module``/``class``).
        where: The key path of the entry, for messages.

    Returns:
        The parsed options.

    Raises:
        GuardConfigError: naming the bad key and what it accepts.
    """
    _reject_unknown(raw, _TOP_KEYS, where)
    budgets = raw.get("budgets")
    permissions = raw.get("permissions")
    sandbox = raw.get("sandbox")
    return GuardOptions(
        budgets=None if budgets is None else _budgets(budgets, f"{where}.budgets"),
        permissions=None
        if permissions is None
        else _permissions(permissions, f"{where}.permissions"),
        sandbox=None if sandbox is None else _sandbox(sandbox, f"{where}.sandbox"),
    )


def _reject_unknown(table: Any, accepted: Sequence[str], where: str) -> None:
    if not isinstance(table, Mapping):
        raise GuardConfigError(f"expected a table, got {_describe(table)}", path=where)
    unknown = sorted(str(k) for k in table if k not in accepted)
    if unknown:
        raise GuardConfigError(
            f"unknown key(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}", path=where
        )


def _budgets(table: Any, where: str) -> BudgetOptions:
    _reject_unknown(table, (*AXES, "final_calls"), where)
    limits = {}
    for axis in AXES:
        if axis in table:
            limits[axis] = _limit(table[axis], f"{where}.{axis}")
    final_calls = table.get("final_calls", 1)
    if isinstance(final_calls, bool) or not isinstance(final_calls, int) or final_calls < 0:
        raise GuardConfigError(
            f"must be a whole number ≥ 0, got {_describe(final_calls)}", path=f"{where}.final_calls"
        )
    return BudgetOptions(limits=limits, final_calls=final_calls)


def _limit(value: Any, where: str) -> Limit:
    soft: Any
    if isinstance(value, Mapping):
        _reject_unknown(value, ("soft", "hard"), where)
        if "hard" not in value:
            raise GuardConfigError("needs a 'hard' limit", path=where)
        soft, hard = value.get("soft"), value["hard"]
    elif isinstance(value, list | tuple):
        if len(value) != 2:
            raise GuardConfigError(
                f"write [soft, hard] (two numbers), got {len(value)} value(s)", path=where
            )
        soft, hard = value
    else:
        soft, hard = None, value
    hard = _positive(hard, f"{where}.hard")
    if soft is not None:
        soft = _positive(soft, f"{where}.soft")
        if soft > hard:
            raise GuardConfigError(f"soft ({soft:g}) must not be above hard ({hard:g})", path=where)
    return Limit(soft=soft, hard=hard)


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise GuardConfigError(f"must be a number above 0, got {_describe(value)}", path=where)
    if math.isinf(value):
        raise GuardConfigError("must be finite; leave the axis out for no limit", path=where)
    return float(value)


def _permissions(table: Any, where: str) -> PermissionOptions:
    _reject_unknown(table, _PERMISSION_KEYS, where)
    ask = _rules(table["ask"], f"{where}.ask") if "ask" in table else (Rule("*", "*"),)
    timeout: float | None = DEFAULT_APPROVAL_TIMEOUT
    if "timeout" in table:
        value = table["timeout"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise GuardConfigError(
                f"must be seconds ≥ 0 (0 = wait without limit), got {_describe(value)}",
                path=f"{where}.timeout",
            )
        timeout = float(value) or None
    return PermissionOptions(
        ask=ask,
        allow=_rules(table.get("allow", ()), f"{where}.allow"),
        deny=_rules(table.get("deny", ()), f"{where}.deny"),
        timeout=timeout,
    )


def _rules(value: Any, where: str) -> tuple[Rule, ...]:
    rules = []
    for i, text in enumerate(_strings(value, where)):
        match = _RULE.match(text)
        if match:
            rules.append(Rule(text, match["tool"], match["subject"]))
        elif "(" in text or ")" in text:
            raise GuardConfigError(
                f"'{text}' is not a rule; write a tool pattern such as 'bash' or 'web_*', "
                "optionally with an argument pattern: 'bash(git *)'",
                path=f"{where}[{i}]",
            )
        else:
            rules.append(Rule(text, text))
    return tuple(rules)


def _sandbox(table: Any, where: str) -> SandboxOptions:
    _reject_unknown(table, _SANDBOX_KEYS, where)
    read = table.get("read_paths")
    network = table.get("network", True)
    if not isinstance(network, bool):
        network = _strings(network, f"{where}.network")
    shell = table.get("shell")
    allow_python = table.get("allow_python")
    if allow_python is not None and not isinstance(allow_python, bool):
        raise GuardConfigError(
            f"must be true or false, got {_describe(allow_python)}", path=f"{where}.allow_python"
        )
    return SandboxOptions(
        read_paths=None if read is None else _strings(read, f"{where}.read_paths"),
        write_paths=_strings(table.get("write_paths", (".",)), f"{where}.write_paths"),
        deny_paths=_strings(table.get("deny_paths", ()), f"{where}.deny_paths"),
        network=network,
        shell=None if shell is None else _strings(shell, f"{where}.shell"),
        allow_python=allow_python,
    )


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise GuardConfigError(f"must be a list of strings, got {_describe(value)}", path=where)
    return tuple(value)


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"
