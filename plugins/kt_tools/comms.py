"""``send_message`` and ``stop_task``: talking on channels, and stopping background work.

``send_message`` needs a channel service: an object the terrarium engine (or any host that
gives creatures channels) puts on the creature's stash under ``kt.CHANNEL_SERVICE``. It is
looked up at call time, so a creature that joins a terrarium later gets it. The protocol is
two members:

* ``channels() -> Mapping[str, str]``: the channels this creature may send on, name to a short
  description (``"broadcast"``, ``"queue: tasks for the coder"``);
* ``async send(channel, content, *, sender, reply_to=None, metadata=None) -> str``: deliver one
  message and return its id; raise ``LookupError`` / ``PermissionError`` / ``ValueError``
  with a message for the model when it cannot be sent.

``stop_task`` cancels the creature's jobs (``agent.jobs``): background tool calls, sub-agents
running in the background, triggers and plugin tasks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import kt
from kt_tools.common import fail


def _metadata(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str) and raw.strip():
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return {}  # the message still goes out; bad metadata is not worth a failure
        return parsed if isinstance(parsed, dict) else {}
    return {}


@kt.tool(name="send_message", body_arg="message")
async def send_message(
    channel: str,
    message: str | None = None,
    content: str | None = None,
    reply_to: str | None = None,
    metadata: str | dict[str, Any] | None = None,
    channel_type: str | None = None,
    ctx: kt.ToolContext = None,
) -> kt.ToolResult:
    """Send a message on a named channel to other creatures of the terrarium.

    Only channels that exist can be used: never invent a channel name. Delivery is
    confirmed at once; you do not need to wait for or check on it.

    Args:
        channel: The channel's name.
        message: The text to send.
        content: Same as message.
        reply_to: The id of the message this answers.
        metadata: Extra data for the receivers: a JSON object.
        channel_type: Accepted for compatibility; channels are declared by the terrarium.
        ctx: Injected by the kernel.
    """
    text = message if message is not None else content
    if not text:
        return fail("message is required: give the text to send")
    service = ctx.stash.get(kt.CHANNEL_SERVICE, None)
    if service is None:
        return fail(
            "this creature has no channels, so send_message cannot deliver anything. Channels "
            "exist when the creature runs in a terrarium that declares them; answer in your "
            "reply instead."
        )
    available = dict(service.channels())
    if channel not in available:
        listed = "; ".join(f"{name} ({kind})" for name, kind in sorted(available.items()))
        return fail(
            f"unknown channel '{channel}'. Channels you can send on: {listed or 'none'}. "
            "Use one of these names exactly; do not invent channel names."
        )
    try:
        message_id = await service.send(
            channel, text, sender=ctx.creature, reply_to=reply_to, metadata=_metadata(metadata)
        )
    except (LookupError, PermissionError, ValueError) as exc:
        return fail(f"cannot send on '{channel}': {exc}")
    preview = text if len(text) <= 60 else text[:57] + "..."
    return kt.ToolResult(
        output=(
            f"Delivered to channel '{channel}' (message id {message_id}): {preview!r}. "
            "No follow-up is needed."
        ),
        metadata={"channel": channel, "message_id": str(message_id)},
    )


@kt.tool(name="stop_task")
async def stop_task(job_id: str, ctx: kt.ToolContext = None) -> kt.ToolResult:
    """Stop a background job: a tool call, sub-agent or trigger started earlier, by its id.

    Args:
        job_id: The id given when the job started (a trigger's id or name works too).
        ctx: Injected by the kernel.
    """
    agent = ctx.agent
    if agent is None:
        return fail("stop_task needs a running creature")
    job_id = job_id.strip()
    job = agent.jobs.get(job_id)
    if job is None:  # triggers are known to the model by the name they were given
        named = [j for j in agent.jobs.values() if j.name == job_id and j.kind == "trigger"]
        running = [j for j in named if j.status == "running"]
        job = (running or named or [None])[-1]
    if job is None:
        running = [
            f"{j.id} ({j.kind} {j.name})" for j in agent.jobs.values() if j.status == "running"
        ]
        return fail(
            f"Task not found: no job '{job_id}'. Running jobs: {', '.join(running) or 'none'}."
        )
    if job.status != "running":
        return kt.ToolResult(
            output=f"Task {job.id} is already {job.status}",
            metadata={"job_id": job.id, "status": job.status},
        )
    agent.cancel_job(job.id)
    label = {"tool": "tool", "subagent": "sub-agent", "trigger": "trigger"}.get(job.kind, "task")
    return kt.ToolResult(
        output=f"Cancelled {label}: {job.id} ({job.name})",
        metadata={"job_id": job.id, "kind": job.kind},
    )


__all__ = ["send_message", "stop_task"]
