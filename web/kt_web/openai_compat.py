"""An OpenAI-compatible endpoint for any live creature: ``/v1/models``, ``/v1/chat/completions``.

Any OpenAI client can use a creature as a model: the model name is the creature's id. The
creature keeps its own conversation (its history, tools and prompt), so only the **last user
message** of a request is sent to it as the next turn; earlier messages are ignored.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from kt_web.errors import BodyError

__all__ = ["register"]


def register(app: Any, host: Any) -> None:
    """Add ``/v1/models`` and ``/v1/chat/completions`` to *app*."""
    from kt_web.app import json_response

    def creatures() -> list[tuple[str, str]]:
        """(creature id, session id) of every creature of every live session."""
        return [
            (creature.id, session.session_id)
            for session in host.studio.sessions.list()
            for creature in session.creatures
        ]

    def mine() -> list[tuple[str, str]]:
        """:func:`creatures` of the sessions the current request may see."""
        from kt_web.app import visible

        return [(cid, sid) for cid, sid in host.run(creatures) if visible(sid)]

    def models() -> Any:
        """The running creatures, as OpenAI models (``id`` is the creature's id)."""
        found = mine()
        now = int(time.time())
        data = [
            {"id": cid, "object": "model", "created": now, "owned_by": sid} for cid, sid in found
        ]
        return json_response({"object": "list", "data": data})

    app.add_url_rule("/v1/models", "v1_models", models, methods=["GET"])

    def chat_completions() -> Any:
        """Run one turn of the creature named by ``model`` (OpenAI chat completions shape).

        Body:
            ``{model, messages, stream?}``: the last ``user`` message is the turn's input.

        Returns:
            A ``chat.completion`` object, or with ``stream`` server-sent ``chat.completion.chunk``
            events ending with ``data: [DONE]``.
        """
        import flask

        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BodyError("the body must be a JSON object {model, messages}", field="$")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BodyError("name a running creature (GET /v1/models)", field="model")
        text = _last_user_text(body.get("messages"))
        found = dict(mine())
        if model not in found:
            from kt_studio.errors import SessionNotFoundError

            raise SessionNotFoundError(
                f"no running creature '{model}'; running: {', '.join(found) or 'none'}"
            )
        sid = found[model]
        completion_id = f"chatcmpl-{secrets.token_hex(12)}"
        created = int(time.time())
        if not body.get("stream"):
            reply = host.run(host.studio.sessions.chat, sid, model, text)
            return json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.response},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": reply.usage.prompt_tokens,
                        "completion_tokens": reply.usage.completion_tokens,
                        "total_tokens": reply.usage.total_tokens,
                    },
                }
            )
        return flask.Response(
            _stream(host, sid, model, text, completion_id, created),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    app.add_url_rule(
        "/v1/chat/completions", "v1_chat_completions", chat_completions, methods=["POST"]
    )


def _last_user_text(messages: Any) -> str:
    if not isinstance(messages, list) or not messages:
        raise BodyError("give a non-empty list of messages", field="messages")
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts: keep the text ones
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            if isinstance(content, str) and content.strip():
                return content
    raise BodyError("the messages have no user message with text", field="messages")


def _stream(host: Any, sid: str, model: str, text: str, completion_id: str, created: int):
    """Server-sent chunks of one turn; a client that leaves cancels the turn (as with OpenAI)."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        data = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    stream = host.run(host.studio.sessions.stream, sid, model, text)
    try:
        yield chunk({"role": "assistant", "content": ""})
        while True:
            try:
                event = host.run(stream.__anext__)
            except StopAsyncIteration:
                break
            if event.type == "text_delta" and event.text:
                yield chunk({"content": event.text})
        yield chunk({}, "stop")
        yield "data: [DONE]\n\n"
    finally:
        host.run(stream.aclose)
