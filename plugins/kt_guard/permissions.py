"""The permission gate: some calls are refused, some run freely, the rest wait for a person.

A call that needs approval publishes :class:`ApprovalRequested` and waits (in the turn, so an
interrupt or a turn timeout cancels the wait). Whoever renders the creature's events (the CLI,
the web UI, a script reading ``agent.subscribe()``) answers with :func:`answer`; the call then
runs, or gets a "Permission denied" error in the same turn. Nobody answering within the
timeout counts as ``deny``: the gate fails closed.

Requests and answers are events, so a session log holds every one. After a restart,
:func:`restore_approvals` replays them (``kt_sessions`` calls it through its
``kt_session_restore`` hook when it resumes a creature): ``allow_session`` grants come back,
and requests that were still open (the process died, or the creature was stopped while one
waited) become pending again. Their tool call died with the process (the model sees it
as interrupted and usually retries it); answering such a request ``allow_once`` lets the first
call with exactly the same tool and arguments through without asking again.

This module holds the feature: the ``permissions`` table (:class:`PermissionOptions`),
the approval events, the gate and the answers. Its hooks are
:class:`kt_guard.hooks.PermissionHooks`, which load this module once it is needed. The
gate runs in :class:`kt_guard.Guard`'s tool-call check, after the sandbox and the budget: a
person is never asked about a call they would refuse anyway.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import attrs

import kt
from kt.errors import KTError, PluginBlockError
from kt.events import (
    Choice,
    Event,
    UserAnswered,
    UserRequest,
    answer_request,
    ask_person,
    from_wire,
    pending_requests,
    restore_requests,
)
from kt_guard.hooks import APPROVAL_BOOK
from kt_guard.options import GuardConfigError, check_table, describe, strings
from kt_guard.shellparse import (
    SHELL_TOOLS,
    ShellParseError,
    SimpleCommand,
    command_matches,
    require_parser,
    rough_commands,
    simple_commands,
)

__all__ = [
    "APPROVAL_CHOICES",
    "DECISIONS",
    "RESTORED_TYPES",
    "ApprovalAnswered",
    "ApprovalBook",
    "ApprovalError",
    "ApprovalRequested",
    "PermissionOptions",
    "Rule",
    "answer",
    "gate",
    "match_rule",
    "parse_permissions",
    "pending_approvals",
    "publish_unsent",
    "restore_approvals",
]

DECISIONS = ("allow_once", "allow_session", "deny")
"""The answers an approval request accepts."""

DEFAULT_APPROVAL_TIMEOUT = 300.0
_PERMISSION_KEYS = ("ask", "allow", "deny", "timeout")
_RULE = re.compile(r"^(?P<tool>[^()\s]+)\((?P<subject>.*)\)$", re.DOTALL)


# -- Options: the ``permissions`` table --------------------------------------------------------


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
        """Whether a call to *tool* whose main argument is *subject* falls under this rule.

        The whole subject is matched; for shell tools the gate matches each simple command
        instead (:func:`match_rule`).
        """
        if not fnmatch.fnmatchcase(tool, self.tool):
            return False
        return self.subject is None or fnmatch.fnmatchcase(subject, self.subject)

    def matches_command(self, command: SimpleCommand, *, loose: bool) -> bool:
        """Whether one simple command of a shell call falls under this rule's pattern."""
        return self.subject is None or command_matches(self.subject, command, loose=loose)


# -- Matching rules to calls ---------------------------------------------------------------------
#
# A rule about a shell tool ("bash(rm -rf *)") is about the commands a call would run, not about
# the text of the call. So a shell call is parsed into its simple commands (kt_guard.shellparse)
# and each rule kind asks its own question of them:
#
# * deny and ask: does ANY command match? (A denied command hidden after "cd .. &&", in
#   "$(...)", behind sudo or in "bash -c" is still found. Options count in any order.)
# * allow: does EVERY command match some allow rule? ("git status; rm -rf x" is not allowed
#   by "bash(git *)".) A line that cannot be parsed exactly is never allowed by a rule.
#
# Further rule kinds (modes such as plan or accept-edits) add a question here.


def match_rule(rules: Iterable[Rule], tool: str, subject: str, *, kind: str) -> Rule | None:
    """The rule of *rules* (of *kind*: ``deny``, ``ask`` or ``allow``) that covers the call.

    Raises:
        PluginBlockError: *kind* is ``deny``, a deny rule names an argument pattern for this
            shell tool, and the command line cannot be checked against it (a program computed
            at run time, or a substitution in a line that does not parse).
    """
    rules = [r for r in rules if fnmatch.fnmatchcase(tool, r.tool)]
    whole = next((r for r in rules if r.subject is None), None)
    if whole is not None or not rules or tool not in SHELL_TOOLS:
        return whole or next((r for r in rules if r.matches(tool, subject)), None)
    if kind == "allow":
        try:
            commands = simple_commands(subject)
        except ShellParseError:
            return None
        if not commands or any(c.dynamic for c in commands):
            return None
        matched = [
            next((r for r in rules if r.matches_command(c, loose=False)), None) for c in commands
        ]
        return matched[0] if all(matched) else None
    commands = _commands_to_refuse(tool, subject) if kind == "deny" else _any_commands(subject)
    for rule in rules:
        if fnmatch.fnmatchcase(subject, rule.subject or "*"):
            return rule
        if any(rule.matches_command(c, loose=True) for c in commands):
            return rule
    return None


def _any_commands(command: str) -> list[SimpleCommand]:
    try:
        return simple_commands(command)
    except ShellParseError:
        return rough_commands(command)


def _commands_to_refuse(tool: str, command: str) -> list[SimpleCommand]:
    try:
        commands = simple_commands(command)
    except ShellParseError as exc:
        if any(marker in command for marker in ("$(", "`", "<(", ">(")):
            raise PluginBlockError(
                f"Permission denied: this {tool} command cannot be checked against the "
                f"creature's deny rules ({exc}) and it runs a substitution. Write it "
                "more simply (plain commands joined by ; && || |)."
            ) from None
        return rough_commands(command)
    dynamic = next((c for c in commands if c.dynamic), None)
    if dynamic is not None:
        raise PluginBlockError(
            f"Permission denied: in this {tool} command the program '{dynamic.words[0]}' is "
            "computed when it runs, so the creature's deny rules cannot be checked. Name the "
            "program directly."
        )
    return commands


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


def parse_permissions(value: Any, where: str) -> PermissionOptions:
    """Validate a ``permissions`` table: ``ask`` / ``allow`` / ``deny`` rules and ``timeout``.

    Raises:
        GuardConfigError: naming the bad key and what it accepts.
    """
    table = check_table(value, _PERMISSION_KEYS, where)
    ask = _rules(table["ask"], f"{where}.ask") if "ask" in table else (Rule("*", "*"),)
    timeout: float | None = DEFAULT_APPROVAL_TIMEOUT
    if "timeout" in table:
        seconds = table["timeout"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise GuardConfigError(
                f"must be seconds ≥ 0 (0 = wait without limit), got {describe(seconds)}",
                path=f"{where}.timeout",
            )
        timeout = float(seconds) or None
    options = PermissionOptions(
        ask=ask,
        allow=_rules(table.get("allow", ()), f"{where}.allow"),
        deny=_rules(table.get("deny", ()), f"{where}.deny"),
        timeout=timeout,
    )
    if any(r.subject is not None for r in (*options.ask, *options.allow, *options.deny)):
        require_parser(where)
    return options


def _rules(value: Any, where: str) -> tuple[Rule, ...]:
    rules = []
    for i, text in enumerate(strings(value, where)):
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


# -- Events ------------------------------------------------------------------------------------


APPROVAL_CHOICES = (
    Choice("allow_once", "allow once", "y"),
    Choice("allow_session", "allow for this session", "a"),
    Choice("deny", "deny", "n"),
)
"""The answers of an approval, with the keys terminal agents use."""


@attrs.frozen(kw_only=True)
class ApprovalRequested(UserRequest):
    """A tool call waits for a person's approval: a request every front end can answer.

    It is a :class:`kt.events.UserRequest` (kind ``approval``): ``kt.events.answer_request``
    (or :func:`kt_guard.answer`) settles it with one of :data:`APPROVAL_CHOICES`.

    Attributes:
        call_id: The tool call waiting.
        tool: The tool's name.
        args: The call's validated arguments.
        summary: ``key=value`` lines for display (long values elided).
        body: The same lines, where front ends show a request's details.
        timeout: Seconds until the call is refused unanswered; ``None`` = no limit.
    """

    type: ClassVar[str] = "approval_requested"
    kind: ClassVar[str] = "approval"
    choices: tuple[Choice, ...] = APPROVAL_CHOICES
    call_id: str = ""
    tool: str = ""
    args: Mapping[str, Any] = attrs.field(factory=dict)
    summary: str = ""
    body: str = ""
    timeout: float | None = None


@attrs.frozen(kw_only=True)
class ApprovalAnswered(Event):
    """An approval request was settled.

    Attributes:
        request_id: The request.
        call_id: Its tool call.
        tool: The tool's name.
        decision: ``allow_once``, ``allow_session`` or ``deny``.
        reason: ``answered`` (someone decided), ``timeout`` (nobody did in time; denied) or
            ``cancelled`` (the turn ended while waiting; denied).
    """

    type: ClassVar[str] = "approval_answered"
    request_id: str = ""
    call_id: str = ""
    tool: str = ""
    decision: str = "deny"
    reason: str = "answered"


# -- The gate ----------------------------------------------------------------------------------

_ELIDE = 80
_CLEANUP_DEADLINE = 5.0
RESTORED_TYPES = ("approval_requested", "approval_answered", "user_answered")
"""The event types that rebuild a resumed creature's approvals."""


class ApprovalError(KTError):
    """An approval answer that cannot be applied: unknown request, bad decision, answered twice."""


@attrs.define(eq=False)
class ApprovalBook:
    """A creature's approvals: standing grants, requests restored from a log, early answers."""

    session_tools: set[str] = attrs.Factory(set)
    one_time: list[tuple[str, str]] = attrs.Factory(list)
    restored: dict[str, ApprovalRequested] = attrs.Factory(dict)
    early: list[tuple[str, str]] = attrs.Factory(list)  # answered before the creature started
    answered: set[str] = attrs.Factory(set)  # answered through answer(), maybe not yet published


def _book(agent: kt.Agent) -> ApprovalBook:
    return agent.stash.setdefault(APPROVAL_BOOK, ApprovalBook())


def _fingerprint(tool: str, args: Mapping[str, Any]) -> tuple[str, str]:
    return tool, json.dumps(args, sort_keys=True, default=str)


def summarise(args: Mapping[str, Any]) -> str:
    """``key=value`` lines for display, long values elided."""
    lines = []
    for key, value in args.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) > _ELIDE:
            text = text[: _ELIDE - 3] + "..."
        lines.append(f"{key}={text}")
    return "\n".join(lines)


async def gate(
    agent: kt.Agent,
    options: PermissionOptions,
    call: kt.ToolCall,
    *,
    subject: str,
    turn_index: int,
) -> None:
    """Let *call* through, refuse it, or ask a person and wait for the answer.

    Precedence: a ``deny`` rule refuses; an ``allow`` rule lets through; a call no ``ask`` rule
    matches goes through; a tool granted ``allow_session`` goes through; otherwise the call
    waits for an answer (``kt.events.ask_person``).

    Cancellation: if the turn is interrupted or times out while waiting, the request is
    withdrawn (an :class:`ApprovalAnswered` with reason ``cancelled`` is published, shielded)
    and ``trio.Cancelled`` propagates. If the agent is stopping, nothing is published: the
    request stays open in the session log, and a resumed creature finds it pending.

    Args:
        agent: The creature.
        options: The permission rules.
        call: The validated call.
        subject: The call's main argument (a command, a path), matched by ``tool(pattern)``.
        turn_index: The turn, for the events.

    Raises:
        PluginBlockError: the call is refused (a rule, a ``deny``, or no answer in time).
    """
    args = call.args if isinstance(call.args, Mapping) else {}
    denied = match_rule(options.deny, call.name, subject, kind="deny")
    if denied is not None:
        raise PluginBlockError(
            f"Permission denied: {call.name} calls matching '{denied.text}' are not allowed "
            "for this creature. Do not retry; take another approach."
        )
    if match_rule(options.allow, call.name, subject, kind="allow") is not None:
        return
    if match_rule(options.ask, call.name, subject, kind="ask") is None:
        return
    book = _book(agent)
    if call.name in book.session_tools:
        return
    fingerprint = _fingerprint(call.name, args)
    if fingerprint in book.one_time:
        book.one_time.remove(fingerprint)
        return
    summary = summarise(args)
    request = ApprovalRequested(
        request_id=f"approval_{uuid.uuid4().hex[:8]}",
        prompt=f"{call.name} wants to run",
        deadline=time.time() + options.timeout if options.timeout else None,
        call_id=call.id,
        tool=call.name,
        args=dict(args),
        summary=summary,
        body=summary,
        timeout=options.timeout,
    )
    import trio  # at use, not import: loading the plugin stays trio-free (`kt --help`)

    try:
        answered = await ask_person(agent, request, options.timeout)
    except BaseException:
        if agent.is_running:  # interrupted or timed out: withdraw the request
            with trio.move_on_after(_CLEANUP_DEADLINE, shield=True):
                await agent.emit(_answered(request, "deny", "cancelled"), turn_index=turn_index)
        # When the agent is stopping, the request stays open in the log: a resumed creature
        # finds it pending again (restore_approvals).
        raise
    reason = answered.reason  # answered, or timeout (nobody answered in time)
    decision = answered.answer if reason == "answered" else "deny"
    await agent.emit(_answered(request, decision, reason), turn_index=turn_index)
    if decision == "allow_session":
        book.session_tools.add(call.name)
    if decision != "deny":
        return
    if reason == "timeout":
        raise PluginBlockError(
            f"Permission denied: nobody approved this {call.name} call within "
            f"{options.timeout:g}s. Do not retry it now; tell the user what you wanted to do."
        )
    raise PluginBlockError(
        f"Permission denied: the user refused this {call.name} call. Do not retry it; ask the "
        "user how to proceed or take another approach."
    )


def _answered(request: ApprovalRequested, decision: str, reason: str) -> ApprovalAnswered:
    return ApprovalAnswered(
        request_id=request.request_id,
        call_id=request.call_id,
        tool=request.tool,
        decision=decision,
        reason=reason,
    )


def answer(agent: kt.Agent, request_id: str, decision: str, *, source: str = "api") -> None:
    """Answer a pending approval request; a shortcut for ``kt.events.answer_request``.

    Callable from synchronous code on the agent's trio thread (an event handler): the answer
    is published by a task of the creature right after. From another thread use
    ``trio.from_thread.run_sync(kt_guard.answer, agent, request_id, decision)`` or a
    ``kt_portal.Portal``. An answer to a request restored from a log, given before the
    creature started, is published when it starts.

    Args:
        agent: The creature whose request it is.
        request_id: ``ApprovalRequested.request_id``.
        decision: ``allow_once`` (this call), ``allow_session`` (every call of this tool from
            now on, for the creature's life) or ``deny``.
        source: Who answered, for the record.

    Raises:
        ApprovalError: the decision is not one of those, or no such request is pending (never
            asked, already answered, timed out or withdrawn).
    """
    if decision not in DECISIONS:
        raise ApprovalError(
            f"unknown decision {decision!r}; answer with one of {', '.join(DECISIONS)}"
        )
    book = _book(agent)
    pending = {r.request_id for r in pending_approvals(agent)} - book.answered
    if request_id not in pending:
        open_ids = ", ".join(sorted(pending)) or "none"
        raise ApprovalError(
            f"no pending approval request '{request_id}' (it was never asked, or was already "
            f"answered, timed out or withdrawn); pending requests: {open_ids}"
        )
    book.answered.add(request_id)  # published by a task: a second answer must fail now
    if agent.is_running:
        agent.start_job(
            functools.partial(answer_request, source=source),
            agent,
            request_id,
            decision,
            name="approval_answer",
        )
    else:
        book.early.append((request_id, decision))


async def publish_unsent(agent: kt.Agent) -> None:
    """Publish answers given to restored requests before the creature started."""
    book = _book(agent)
    while book.early:
        request_id, decision = book.early.pop(0)
        await answer_request(agent, request_id, decision, source="api")


def apply_restored_answer(agent: kt.Agent, event: UserAnswered) -> ApprovalAnswered | None:
    """Apply an answer to a request restored from a log (its call died with the process).

    ``allow_session`` grants the tool; ``allow_once`` lets the first identical call through.

    Returns:
        The :class:`ApprovalAnswered` to publish, or ``None`` when *event* is not such an
        answer.
    """
    request = _book(agent).restored.pop(event.request_id, None)
    if request is None:
        return None
    decision = event.answer if event.reason == "answered" and event.answer else "deny"
    book = _book(agent)
    if decision == "allow_session":
        book.session_tools.add(request.tool)
    elif decision == "allow_once":
        book.one_time.append(_fingerprint(request.tool, request.args))
    return _answered(request, decision, event.reason)


def pending_approvals(agent: kt.Agent) -> list[ApprovalRequested]:
    """The approval requests waiting for an answer, oldest first (restored ones included)."""
    return [r for r in pending_requests(agent) if isinstance(r, ApprovalRequested)]


def restore_approvals(agent: kt.Agent, events: Iterable[Event | Mapping[str, Any]]) -> None:
    """Rebuild the approval state of a resumed creature from its event log.

    Replays the approval events and their answers in order (other events are ignored; wire
    dicts from ``to_wire`` are accepted): ``allow_session`` grants are restored, and requests
    with no answer become pending again, so :func:`pending_approvals` lists them and
    :func:`answer` (or ``kt.events.answer_request``) settles them. Call it before or after the
    agent starts.

    Args:
        agent: The resumed creature.
        events: Its logged events, oldest first.
    """
    book = _book(agent)
    relevant: list[Event] = []
    for item in events:
        event = item
        if isinstance(item, Mapping):
            if item.get("type") not in RESTORED_TYPES:
                continue
            event = from_wire(item)
        relevant.append(event)
        if isinstance(event, ApprovalRequested):
            book.restored[event.request_id] = event
        elif isinstance(event, ApprovalAnswered):
            book.restored.pop(event.request_id, None)
            if event.decision == "allow_session":
                book.session_tools.add(event.tool)
            # The guard's own record settles the request too (older logs have only this).
            relevant[-1] = UserAnswered(request_id=event.request_id, answer=event.decision)
        elif isinstance(event, UserAnswered):
            book.restored.pop(event.request_id, None)
    restore_requests(agent, relevant)
