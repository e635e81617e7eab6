"""``info``, ``ask_user`` and ``show_card``: manuals for the model, questions for the user.

Asking the user is the kernel's request exchange (:mod:`kt.events`), so any front end can take
part without importing this plugin:

1. The tool publishes a :class:`UserQuestion` (``ask_user``) or a :class:`CardShown`
   (``show_card`` with ``wait_for_reply``), both :class:`kt.events.UserRequest` events with a
   fresh ``request_id``, through :func:`kt.events.ask_person`, and waits.
2. A front end (terminal, web UI, script) lists :func:`kt.events.pending_requests` or renders
   the event, and answers with :func:`kt.events.answer_request` (or emits
   ``request.reply(text)``): a :class:`kt.events.UserAnswered` with the same id.

The tool returns the answer as its result; a ``timeout`` or ``cancelled`` answer is published
when nobody answered. Both events are recorded, so a session log shows what was asked and
answered, and a question still open when the process stopped is open again after a resume.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from importlib import resources
from typing import Any, ClassVar, Literal

import attrs

import kt
from kt.events import Choice, UserAnswered, UserRequest, answer_request, ask_person
from kt.events import pending_requests as _pending_requests
from kt_tools.common import check_manual, configurable, fail, mark_manual_read

# -- Events -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class UserQuestion(UserRequest):
    """The creature asks the user a question (``prompt``, Markdown) and waits for the answer.

    Attributes:
        placeholder: Hint text for the input field.
        multiline: Whether the answer may span several lines.
        surface: ``chat`` (inline) or ``modal`` (a dialog).
        timeout_s: Seconds the creature waits; ``None``: until answered.
    """

    type: ClassVar[str] = "user_question"
    kind: ClassVar[str] = "question"
    placeholder: str = ""
    multiline: bool = False
    surface: str = "chat"
    timeout_s: float | None = None


@attrs.frozen(kw_only=True)
class CardShown(UserRequest):
    """The creature shows the user a card (``prompt`` is its title).

    With ``wait_for_reply`` it is a request: the answer is one of the card's actions
    (``choices``); without, it is shown and nobody waits.

    Attributes:
        subtitle: A line under the title.
        icon: An icon name or emoji.
        body: Markdown text.
        footer: A line at the bottom.
        accent: ``primary``, ``info``, ``success``, ``warning``, ``danger`` or ``neutral``.
        fields: ``{"label", "value", "inline"}`` entries.
        actions: ``{"id", "label", "style", "url"}`` buttons; style is ``primary``,
            ``secondary``, ``danger`` or ``link`` (with ``url``).
        wait_for_reply: Whether the creature waits for an action.
        surface: ``chat`` or ``modal``.
        timeout_s: Seconds the creature waits; ``None``: until answered.
    """

    type: ClassVar[str] = "card_shown"
    kind: ClassVar[str] = "card"
    subtitle: str = ""
    icon: str = ""
    body: str = ""
    footer: str = ""
    accent: str = ""
    fields: tuple[Mapping[str, Any], ...] = ()
    actions: tuple[Mapping[str, Any], ...] = ()
    wait_for_reply: bool = False
    surface: str = "chat"
    timeout_s: float | None = None

    @property
    def waits(self) -> bool:
        """Whether the creature waits for an answer (a display-only card does not)."""
        return self.wait_for_reply


UserReply = UserAnswered
"""The answer event (``user_answered``), under the name this plugin used first."""


async def answer(
    agent: Any,
    question_id: str,
    text: str = "",
    *,
    action_id: str = "",
    values: Mapping[str, Any] | None = None,
) -> None:
    """Answer a waiting ``ask_user`` question (*text*) or ``show_card`` card (*action_id*).

    A shortcut for :func:`kt.events.answer_request`; call it from the agent's trio thread.

    Raises:
        kt.events.UserRequestError: nothing waits under *question_id*, or *action_id* is not
            one of the card's actions.
    """
    await answer_request(agent, question_id, action_id or text, values=values)


def pending_questions(agent: Any) -> list[UserQuestion | CardShown]:
    """The questions and interactive cards of *agent* still waiting for a reply, oldest first."""
    return [r for r in _pending_requests(agent) if isinstance(r, UserQuestion | CardShown)]


def _deadline(timeout: float | None) -> float | None:
    import time

    return time.time() + timeout if timeout else None


@attrs.frozen
class InteractOptions:
    """Options of ``ask_user`` and ``show_card``.

    Attributes:
        require_manual: The model must read the tool's manual with ``info`` first.
        default_timeout: Seconds to wait when a call gives no ``timeout_s`` (0 = no limit).
    """

    require_manual: bool = True
    default_timeout: float = 0.0


def _ask_user(options: InteractOptions) -> kt.ToolSpec:
    @kt.tool(name="ask_user", body_arg="question")
    async def ask_user(
        question: str,
        timeout_s: float | None = None,
        placeholder: str = "",
        multiline: bool = False,
        surface: Literal["chat", "modal"] = "chat",
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Ask the user a question and wait for the typed answer.

        Args:
            question: What to ask (Markdown).
            timeout_s: Seconds to wait (default: until answered).
            placeholder: Hint shown in the input field.
            multiline: Whether the answer may span several lines.
            surface: chat (inline) or modal (a dialog).
            ctx: Injected by the kernel.
        """
        gate = check_manual(ctx, options.require_manual)
        if gate is not None:
            return gate
        if not question.strip():
            return fail("question is empty; say what you want to know")
        timeout = timeout_s if timeout_s is not None else (options.default_timeout or None)
        ask_id = f"q_{uuid.uuid4().hex[:12]}"
        event = UserQuestion(
            request_id=ask_id,
            prompt=question,
            deadline=_deadline(timeout),
            placeholder=placeholder,
            multiline=multiline,
            surface=surface,
            timeout_s=timeout,
        )
        reply = await ask_person(ctx.agent, event, timeout)
        meta = {"question_id": ask_id}
        if reply.reason == "timeout":
            return kt.ToolResult(output="(no response within timeout)", metadata=meta)
        return kt.ToolResult(output=reply.answer.strip() or "(no response)", metadata=meta)

    return ask_user


_ACCENTS = {"primary", "info", "success", "warning", "danger", "neutral"}
_STYLES = {"primary", "secondary", "danger", "link"}


def clean_card_parts(
    fields: list[dict[str, Any]] | None, actions: list[dict[str, Any]] | None
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """Keep complete fields and actions, normalised; drop the rest."""
    kept_fields = tuple(
        {"label": str(f["label"]), "value": str(f["value"]), "inline": bool(f.get("inline"))}
        for f in fields or ()
        if isinstance(f, dict) and f.get("label") and "value" in f
    )
    kept_actions = []
    for action in actions or ():
        if not isinstance(action, dict) or not action.get("id"):
            continue
        style = action.get("style") if action.get("style") in _STYLES else "secondary"
        clean = {"id": str(action["id"]), "label": str(action.get("label") or action["id"])}
        clean["style"] = style
        if style == "link":
            clean["url"] = str(action.get("url", ""))
        kept_actions.append(clean)
    return kept_fields, tuple(kept_actions)


def _show_card(options: InteractOptions) -> kt.ToolSpec:
    @kt.tool(name="show_card", body_arg="body")
    async def show_card(
        title: str,
        subtitle: str = "",
        icon: str = "",
        body: str = "",
        footer: str = "",
        accent: str = "",
        fields: list[dict[str, Any]] | None = None,
        actions: list[dict[str, Any]] | None = None,
        wait_for_reply: bool | None = None,
        timeout_s: float | None = None,
        surface: Literal["chat", "modal"] = "chat",
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Show the user a card (title, text, fields, buttons); with buttons, wait for a click.

        Args:
            title: The card's title.
            subtitle: A line under the title.
            icon: An icon name or emoji.
            body: Markdown text.
            footer: A line at the bottom.
            accent: primary, info, success, warning, danger or neutral.
            fields: Entries {"label", "value", "inline"}.
            actions: Buttons {"id", "label", "style", "url"}; style is primary, secondary,
                danger or link (with url).
            wait_for_reply: Wait for a button click (default: when there are actions).
            timeout_s: Seconds to wait (default: until answered).
            surface: chat (inline) or modal (a dialog).
            ctx: Injected by the kernel.
        """
        gate = check_manual(ctx, options.require_manual)
        if gate is not None:
            return gate
        if not title.strip():
            return fail("title is required")
        kept_fields, kept_actions = clean_card_parts(fields, actions)
        interactive = bool(kept_actions) if wait_for_reply is None else wait_for_reply
        timeout = timeout_s if timeout_s is not None else (options.default_timeout or None)
        card_id = f"card_{uuid.uuid4().hex[:12]}"
        choices = tuple(Choice(a["id"], a["label"]) for a in kept_actions if a["style"] != "link")
        event = CardShown(
            request_id=card_id,
            prompt=title,
            choices=choices if interactive else (),
            deadline=_deadline(timeout) if interactive else None,
            subtitle=subtitle,
            icon=icon,
            body=body,
            footer=footer,
            accent=accent if accent in _ACCENTS else "",
            fields=kept_fields,
            actions=kept_actions,
            wait_for_reply=interactive,
            surface=surface,
            timeout_s=timeout if interactive else None,
        )
        meta = {"card_id": card_id}
        if not interactive:
            await ctx.agent.emit(event)
            return kt.ToolResult(output="card displayed", metadata=meta)
        reply = await ask_person(ctx.agent, event, timeout)
        if reply.reason == "timeout":
            return kt.ToolResult(output="card timed out without reply", metadata=meta)
        text = f"action: {reply.answer or '(none)'}"
        if reply.values:
            text += f"\nvalues: {json.dumps(dict(reply.values), ensure_ascii=False)}"
        return kt.ToolResult(output=text, metadata=meta)

    return show_card


ask_user = configurable(_ask_user, InteractOptions(), "ask_user")
show_card = configurable(_show_card, InteractOptions(), "show_card")

# -- info ---------------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.DOTALL)


def packaged_manual(name: str) -> str | None:
    """The manual this plugin ships for tool *name*, if any."""
    try:
        return resources.files("kt_tools.manuals").joinpath(f"{name}.md").read_text("utf-8")
    except (FileNotFoundError, OSError, ValueError):
        return None


def describe_parameters(spec: kt.ToolSpec) -> str:
    """A readable list of a tool's parameters from its schema."""
    props = spec.parameters.get("properties", {})
    required = set(spec.parameters.get("required", ()))
    if not props:
        return "Parameters: none"
    lines = ["Parameters:"]
    for name, schema in props.items():
        kind = schema.get("type") or "/".join(
            str(s.get("type", "any")) for s in schema.get("anyOf", [])
        )
        if "enum" in schema:
            kind = " | ".join(json.dumps(v) for v in schema["enum"])
        note = "required" if name in required else f"default {json.dumps(schema.get('default'))}"
        text = f"- {name} ({kind or 'any'}, {note})"
        if schema.get("description"):
            text += f": {schema['description']}"
        lines.append(text)
    return "\n".join(lines)


def manual_for(name: str, ctx: kt.ToolContext) -> str | None:
    """The documentation ``info`` shows for *name*, or ``None`` when there is none.

    Looked up in order: the creature's ``prompts/tools/<name>.md`` (or
    ``prompts/subagents/<name>.md``), this plugin's manual, then the tool's own description.
    The parameters of the creature's tool are appended, from its schema.
    """
    spec = ctx.agent.tools.get(name) if ctx.agent is not None else None
    text = None
    for folder in ("tools", "subagents"):
        local = ctx.working_dir / "prompts" / folder / f"{name}.md"
        if local.is_file():
            text = _FRONT_MATTER.sub("", local.read_text(encoding="utf-8")).strip()
            break
    if text is None:
        text = packaged_manual(name)
    if text is None and spec is not None:
        parts = [spec.description, spec.guidance or ""]
        text = "\n\n".join(p for p in parts if p)
    if text is None:
        return None
    text = f"# {name}\n\n{text.strip()}"
    if spec is not None:
        text += "\n\n" + describe_parameters(spec)
    return text


@kt.tool(name="info", body_arg="name")
async def info(name: str, ctx: kt.ToolContext = None) -> kt.ToolResult:
    """Show the full manual of a tool or sub-agent: what it does, its rules, its parameters.

    Some tools (edit, multi_edit, notebook_edit, ask_user, show_card) must have their manual
    read with info before their first use.

    Args:
        name: The tool's name, e.g. "edit".
        ctx: Injected by the kernel.
    """
    name = name.strip()
    # A name is looked up as a file name in the creature's prompts: never a path.
    plain = not any(c in name for c in "/\\\0") and name not in ("", ".", "..")
    text = manual_for(name, ctx) if plain else None
    if text is None:
        available = ", ".join(sorted(ctx.agent.tools)) if ctx.agent is not None else ""
        return fail(f"no tool or sub-agent named '{name}'; check the name. Available: {available}")
    mark_manual_read(ctx, name)
    return kt.ToolResult(output=text)


__all__ = [
    "CardShown",
    "UserQuestion",
    "UserReply",
    "answer",
    "ask_user",
    "info",
    "pending_questions",
    "show_card",
]
