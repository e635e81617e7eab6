"""Acme's pack for kt: look up support tickets, and teach creatures what ticket keys look like.

Installed (``pip install ./examples/acme_pack``), the pack is found through its ``kt.plugins``
entry point, exactly like a first-party plugin. It implements three hooks:

* ``kt_tools`` offers the ``lookup_ticket`` tool. A creature gets it by naming it in its config
  (``tools = [{name = "lookup_ticket"}]``); a contributed tool is never forced on anyone.
* ``kt_pre_tool_call`` rewrites loosely written keys (``t1042``, `` T-1042 ``) to ``T-1042``
  before the tool runs, so the model does not need a second attempt.
* ``kt_prompt_sections`` tells creatures that have the tool what ticket keys look like.
"""

from __future__ import annotations

import re

import attrs
import kt

_LOOSE_KEY = re.compile(r"^\s*t-?\s*(\d+)\s*$", re.IGNORECASE)


@kt.tool(concurrency_safe=True, timeout=15)
async def lookup_ticket(ticket_id: str) -> kt.ToolResult:
    """Fetch a support ticket's title, status and last comment.

    Args:
        ticket_id: Ticket key, e.g. "T-1042".
    """
    from kt_acme._tickets import fetch  # the service client loads only when the tool runs

    return await fetch(ticket_id)


def normalise_key(text: str) -> str:
    """Return *text* as a canonical ticket key (``t1042`` -> ``T-1042``), or unchanged.

    Args:
        text: What the model wrote as the key.

    Returns:
        ``T-<digits>`` when *text* is a loosely written key, else *text* itself.
    """
    match = _LOOSE_KEY.match(text)
    return f"T-{match.group(1)}" if match else text


@kt.hookimpl
def kt_tools() -> list[kt.ToolSpec]:
    """Offer ``lookup_ticket`` to creatures that name it."""
    return [lookup_ticket]  # a @kt.tool function is a ToolSpec


@kt.hookimpl
def kt_pre_tool_call(call: kt.ToolCall) -> kt.ToolCall | None:
    """Normalise the key of a ``lookup_ticket`` call; leave every other call alone."""
    if call.name != lookup_ticket.name:
        return None
    key = normalise_key(call.args["ticket_id"])  # arguments are validated before this hook
    if key == call.args["ticket_id"]:
        return None
    return attrs.evolve(call, args={**call.args, "ticket_id": key})


@kt.hookimpl
def kt_prompt_sections(creature: kt.Agent) -> list[kt.PromptSection]:
    """Explain Acme's ticket keys to creatures that can look tickets up."""
    if lookup_ticket.name not in creature.tools:
        return []
    text = (
        "Acme support tickets have keys like T-1042. Look a ticket up with lookup_ticket "
        "before answering a question about it; never guess its status."
    )
    return [kt.PromptSection("acme.tickets", text)]
