"""When a server asks the creature's side something: elicitation and sampling.

**Elicitation** (``elicitation/create``): a server wants information from the user in the
middle of a tool call. It becomes an :class:`MCPElicitation`, a :class:`kt.events.UserRequest`
of kind ``question``, answered on whatever surface runs the creature, exactly like
``ask_user``. The answer becomes the server's result:

- ``decline`` (or ``no``) declines; a timeout or an interrupted wait cancels;
- form values a front end collected (``values``) are the content;
- otherwise the typed text: the value of a single-field form, or a JSON object of the fields;
- a URL elicitation (``mode = "url"``) asks the user to open the URL; any answer but
  ``decline`` accepts.

**Sampling** (``sampling/createMessage``): a server asks the client's model for a completion.
The creature's model serves it when the entry's ``sampling`` option allows: ``ask`` (the
default) asks the user first with an approval request, ``allow`` serves without asking,
``deny`` refuses.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import kt
from kt.events import Choice, UserAnswered, ask_person
from kt_mcp.events import MCPElicitation, MCPSamplingApproval

__all__ = ["answer_elicitation", "elicit", "elicitation_request", "serve_sampling"]

DECLINES = {"decline", "no", "n"}


def elicitation_request(server: str, params: Any) -> MCPElicitation:
    """The user request for one ``elicitation/create``."""
    request_id = f"mcp_{uuid.uuid4().hex[:12]}"
    if getattr(params, "mode", "form") == "url":
        prompt = (
            f"MCP server '{server}' asks you to open {params.url}\n\n{params.message}\n\n"
            "Answer 'ok' when done, or 'decline'."
        )
        return MCPElicitation(request_id=request_id, prompt=prompt, server=server, url=params.url)
    schema = dict(params.requested_schema or {})
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    lines = [f"MCP server '{server}' asks: {params.message}"]
    for name, spec in properties.items():
        about = spec.get("description") or spec.get("title") or ""
        kind = spec.get("type", "string")
        optional = "" if name in required else ", optional"
        lines.append(f"- {name} ({kind}{optional}){': ' + about if about else ''}")
    if len(properties) == 1:
        lines.append("Answer with the value, or 'decline'.")
    elif properties:
        lines.append("Answer with a JSON object of the fields (like {\"a\": 1}), or 'decline'.")
    return MCPElicitation(
        request_id=request_id,
        prompt="\n".join(lines),
        server=server,
        fields=tuple(properties),
        schema=schema,
    )


def answer_elicitation(request: MCPElicitation, answered: UserAnswered) -> Any:
    """The ``ElicitResult`` for the user's answer to *request*."""
    import mcp.types as types

    if answered.reason != "answered":
        return types.ElicitResult(action="cancel")
    text = answered.answer.strip()
    if text.lower() in DECLINES:
        return types.ElicitResult(action="decline")
    if request.url:
        return types.ElicitResult(action="accept")
    if answered.values:
        content = dict(answered.values)
    elif len(request.fields) == 1:
        content = {request.fields[0]: text}
    else:
        try:
            content = json.loads(text) if text else {}
        except ValueError:
            content = None
        if not isinstance(content, dict):
            return types.ElicitResult(action="cancel")
    properties = request.schema.get("properties") or {}
    return types.ElicitResult(
        action="accept",
        content={key: _coerce(value, properties.get(key, {})) for key, value in content.items()},
    )


def _coerce(value: Any, spec: dict[str, Any]) -> Any:
    """A typed text answer as the field's JSON type (numbers, booleans); else unchanged."""
    if not isinstance(value, str):
        return value
    kind = spec.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return value.strip().lower() in ("true", "yes", "y", "1", "on")
    return value


async def elicit(agent: kt.Agent, server: str, params: Any) -> Any:
    """Ask the user on *agent*'s surfaces; the server's ``ElicitResult``."""
    request = elicitation_request(server, params)
    answered = await ask_person(agent, request, timeout=None)
    return answer_elicitation(request, answered)


async def serve_sampling(agent: kt.Agent, server: str, policy: str, params: Any) -> Any:
    """Answer ``sampling/createMessage`` with *agent*'s model, as *policy* allows.

    Args:
        agent: The creature whose model serves the request.
        server: The asking server's name.
        policy: ``ask`` (the user decides each time), ``allow`` or ``deny``.
        params: The request's ``CreateMessageRequestParams``.

    Returns:
        A ``CreateMessageResult``, or ``ErrorData`` when it is refused or fails.
    """
    import mcp.types as types

    def refuse(why: str) -> Any:
        return types.ErrorData(code=types.INVALID_REQUEST, message=why)

    if policy == "deny":
        return refuse(f"this client does not let MCP server '{server}' use its model")
    if policy == "ask":
        request = MCPSamplingApproval(
            request_id=f"mcp_{uuid.uuid4().hex[:12]}",
            prompt=f"MCP server '{server}' asks to use this creature's model "
            f"(up to {params.max_tokens} tokens). Allow it?",
            choices=(Choice("allow", "allow", "y"), Choice("deny", "deny", "n")),
            server=server,
        )
        answered = await ask_person(agent, request, timeout=None)
        if answered.answer != "allow":
            return refuse(f"the user did not let MCP server '{server}' use the model")
    messages = []
    if params.system_prompt:
        messages.append(kt.Message("system", params.system_prompt))
    for message in params.messages:
        content = message.content
        blocks = content if isinstance(content, list) else [content]
        text = "\n".join(getattr(block, "text", "") or "" for block in blocks)
        messages.append(kt.Message(message.role, text))
    try:
        reply = await _complete(agent, messages, params.max_tokens)
    except Exception as exc:  # the model failed: the server gets an error, the creature goes on
        return refuse(f"the model failed: {type(exc).__name__}: {exc}")
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text=reply),
        model=agent.llm_name,
        stop_reason="endTurn",
    )


async def _complete(agent: kt.Agent, messages: list[Any], max_tokens: int) -> str:
    request = kt.LLMRequest(messages=tuple(messages), options={"max_tokens": max_tokens})
    parts = []
    async for chunk in agent.llm.stream(request):
        text = getattr(chunk, "text", None)
        if text:
            parts.append(text)
    return "".join(parts)
