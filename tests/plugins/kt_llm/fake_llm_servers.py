"""Local fake model servers that stream the real wire formats, for backend and SDK tests.

`FakeServer` is a small threaded HTTP/1.1 server on 127.0.0.1 (keep-alive, chunked streaming).
Each POST gets the next scripted `Reply` (or the result of a callable given the recorded
request). A reply can stream its chunks and then hold the connection open (to test interrupts
and stalls), or cut it off mid-stream. Every request is recorded with its headers and JSON body,
and the server notes when a client closed a held connection.

The builders below produce byte-exact streams in the shape each provider sends: OpenAI Chat
Completions and Responses, Anthropic Messages and Gemini streamGenerateContent, including usage
chunks, tool-call deltas, `[DONE]`, and JSON error bodies with their headers.
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the server answers to one request.

    status: HTTP status; headers: extra headers; chunks: body pieces, each written and flushed
    on its own (chunked encoding when status is 200, else one body with content-length);
    hold: after the chunks, keep the connection open without finishing the body until the
    client closes it; cut: after the chunks, drop the connection without finishing the body;
    gate: a threading.Event the server waits for before sending chunks[gate_at:].
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    hold: bool = False
    cut: bool = False
    gate: threading.Event | None = None
    gate_at: int = 0
    content_type: str = "text/event-stream; charset=utf-8"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeServer:
    """A scripted HTTP server on 127.0.0.1; use as a context manager (or call close())."""

    def __init__(
        self,
        replies: Iterable[Reply | Callable[[Recorded], Reply]] = (),
        *,
        default: Callable[[Recorded], Reply] | None = None,
        record: bool = True,
    ) -> None:
        self.replies: list[Reply | Callable[[Recorded], Reply]] = list(replies)
        self.default = default  # answers when no scripted reply is left
        self.record = record
        self.requests: list[Recorded] = []
        self.disconnected = threading.Event()  # a client closed a held connection
        self.stopping = threading.Event()
        self.connections = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def setup(self):
                super().setup()
                # Real servers write small SSE events at once; without this, Nagle's algorithm
                # holds them back until the client's (delayed) ACK.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with server._lock:
                    server.connections += 1

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                recorded = Recorded(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with server._lock:
                    if server.record:
                        server.requests.append(recorded)
                    entry = server.replies.pop(0) if server.replies else server.default
                if entry is None:
                    reply = Reply(404, chunks=[b'{"error": {"message": "no scripted reply"}}'])
                else:
                    reply = entry(recorded) if callable(entry) else entry
                server._answer(self, reply)

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 drops a batch's connections

            def handle_error(self, request, client_address):  # a client that went away
                pass

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def _answer(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        handler.send_response(reply.status)
        handler.send_header(
            "content-type", reply.content_type if reply.status == 200 else "application/json"
        )
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        if reply.status != 200:
            body = b"".join(reply.chunks)
            handler.send_header("content-length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            handler.wfile.flush()
            return
        handler.send_header("transfer-encoding", "chunked")
        handler.end_headers()
        handler.wfile.flush()
        try:
            for i, chunk in enumerate(reply.chunks):
                if reply.gate is not None and i == reply.gate_at:
                    while not reply.gate.wait(0.05):
                        if self.stopping.is_set():
                            return
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                handler.wfile.flush()
            if reply.cut:
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.hold:
                self._hold(handler)
                return
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:  # the client went away
            handler.close_connection = True
            self.disconnected.set()

    def _hold(self, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        sock = handler.connection
        while not self.stopping.is_set():
            readable, _, _ = select.select([sock], [], [], 0.05)
            if readable:
                try:
                    if not sock.recv(1024):
                        self.disconnected.set()
                        return
                except OSError:
                    self.disconnected.set()
                    return

    def close(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def error_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, headers=dict(headers or {}), chunks=[json.dumps(payload).encode()])


# -- OpenAI Chat Completions --------------------------------------------------------------------

OPENAI_MODEL = "gpt-4o-mini-2024-07-18"


def _openai_chunk(choices: list, usage: Any = None, *, n: int = 0) -> bytes:
    payload = {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": OPENAI_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
        "choices": choices,
        "usage": usage,
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _openai_choice(delta: dict, finish: str | None = None) -> dict:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}


def openai_usage(prompt=19, completion=10, cached=0, reasoning=0) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def openai_text_chunks(
    pieces: list[str], *, usage: dict | None = None, finish="stop"
) -> list[bytes]:
    chunks = [
        _openai_chunk([_openai_choice({"role": "assistant", "content": "", "refusal": None})])
    ]
    chunks += [_openai_chunk([_openai_choice({"content": piece})]) for piece in pieces]
    chunks.append(_openai_chunk([_openai_choice({}, finish)]))
    chunks.append(_openai_chunk([], usage or openai_usage()))
    chunks.append(b"data: [DONE]\n\n")
    return chunks


def openai_text(text: str, *, size: int = 4, usage: dict | None = None, **kw) -> Reply:
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    return Reply(chunks=openai_text_chunks(pieces, usage=usage), **kw)


def openai_tool_calls(
    calls: list[tuple[str, str, dict]], *, interleave: bool = False, split: int = 5, text: str = ""
) -> Reply:
    """Tool-call deltas: (id, name, args) each; arguments split every `split` characters."""
    chunks = [
        _openai_chunk([_openai_choice({"role": "assistant", "content": None, "refusal": None})])
    ]
    if text:
        chunks.append(_openai_chunk([_openai_choice({"content": text})]))
    starts, fragments = [], []
    for index, (call_id, name, args) in enumerate(calls):
        starts.append(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ]
            }
        )
        text_args = json.dumps(args)
        fragments.append(
            [
                {
                    "tool_calls": [
                        {"index": index, "function": {"arguments": text_args[i : i + split]}}
                    ]
                }
                for i in range(0, len(text_args), split)
            ]
        )
    if interleave:
        for start in starts:
            chunks.append(_openai_chunk([_openai_choice(start)]))
        longest = max(len(f) for f in fragments)
        for step in range(longest):
            for frags in fragments:
                if step < len(frags):
                    chunks.append(_openai_chunk([_openai_choice(frags[step])]))
    else:
        for start, frags in zip(starts, fragments, strict=True):
            chunks.append(_openai_chunk([_openai_choice(start)]))
            chunks += [_openai_chunk([_openai_choice(f)]) for f in frags]
    chunks.append(_openai_chunk([_openai_choice({}, "tool_calls")]))
    chunks.append(_openai_chunk([], openai_usage(prompt=80, completion=30)))
    chunks.append(b"data: [DONE]\n\n")
    return Reply(chunks=chunks)


def openai_error(
    status: int, message: str, type_: str, code: str | None = None, *, headers=None
) -> Reply:
    return error_reply(
        status,
        {"error": {"message": message, "type": type_, "param": None, "code": code}},
        {"x-request-id": "req_0123456789abcdef", **(headers or {})},
    )


def openai_rate_limited(retry_after: str = "0.05") -> Reply:
    return openai_error(
        429,
        "Rate limit reached for gpt-4o-mini in organization org-abc on tokens per min (TPM): "
        "Limit 200000, Used 199990, Requested 120. Please try again in 50ms.",
        "tokens",
        "rate_limit_exceeded",
        headers={"retry-after": retry_after, "x-ratelimit-remaining-tokens": "10"},
    )


def openai_context_overflow() -> Reply:
    return openai_error(
        400,
        "This model's maximum context length is 128000 tokens. However, your messages resulted "
        "in 130012 tokens. Please reduce the length of the messages.",
        "invalid_request_error",
        "context_length_exceeded",
    )


# -- OpenAI Responses ---------------------------------------------------------------------------


def _responses_event(kind: str, payload: dict, seq: list[int]) -> bytes:
    seq[0] += 1
    payload = {"type": kind, "sequence_number": seq[0], **payload}
    return b"event: " + kind.encode() + b"\ndata: " + json.dumps(payload).encode() + b"\n\n"


def _response_object(status: str, output: list, usage: dict | None) -> dict:
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        "object": "response",
        "created_at": 1741476542,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-4.1-2025-04-14",
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def responses_stream(
    text: str = "",
    calls: list[tuple[str, str, dict]] = (),
    *,
    reasoning: dict | None = None,
) -> Reply:
    """A Responses stream; *reasoning* (a reasoning output item) comes first when given."""
    seq = [-1]
    chunks = [
        _responses_event(
            "response.created", {"response": _response_object("in_progress", [], None)}, seq
        )
    ]
    output = []
    index = 0
    if reasoning is not None:
        added = {**reasoning, "summary": []}
        added.pop("encrypted_content", None)
        chunks.append(
            _responses_event(
                "response.output_item.added", {"output_index": index, "item": added}, seq
            )
        )
        chunks.append(
            _responses_event(
                "response.output_item.done", {"output_index": index, "item": reasoning}, seq
            )
        )
        output.append(reasoning)
        index += 1
    if text:
        item_id = "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b"
        item = {
            "id": item_id,
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        chunks.append(
            _responses_event(
                "response.output_item.added", {"output_index": index, "item": item}, seq
            )
        )
        part = {"type": "output_text", "text": "", "annotations": []}
        chunks.append(
            _responses_event(
                "response.content_part.added",
                {"item_id": item_id, "output_index": index, "content_index": 0, "part": part},
                seq,
            )
        )
        for i in range(0, len(text), 4):
            chunks.append(
                _responses_event(
                    "response.output_text.delta",
                    {
                        "item_id": item_id,
                        "output_index": index,
                        "content_index": 0,
                        "delta": text[i : i + 4],
                        "logprobs": [],
                    },
                    seq,
                )
            )
        chunks.append(
            _responses_event(
                "response.output_text.done",
                {
                    "item_id": item_id,
                    "output_index": index,
                    "content_index": 0,
                    "text": text,
                    "logprobs": [],
                },
                seq,
            )
        )
        done_part = {"type": "output_text", "text": text, "annotations": []}
        chunks.append(
            _responses_event(
                "response.content_part.done",
                {"item_id": item_id, "output_index": index, "content_index": 0, "part": done_part},
                seq,
            )
        )
        done_item = {**item, "status": "completed", "content": [done_part]}
        chunks.append(
            _responses_event(
                "response.output_item.done", {"output_index": index, "item": done_item}, seq
            )
        )
        output.append(done_item)
        index += 1
    for call_id, name, args in calls:
        item_id = f"fc_{call_id}"
        item = {
            "id": item_id,
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": call_id,
            "name": name,
        }
        chunks.append(
            _responses_event(
                "response.output_item.added", {"output_index": index, "item": item}, seq
            )
        )
        text_args = json.dumps(args)
        for i in range(0, len(text_args), 6):
            chunks.append(
                _responses_event(
                    "response.function_call_arguments.delta",
                    {"item_id": item_id, "output_index": index, "delta": text_args[i : i + 6]},
                    seq,
                )
            )
        chunks.append(
            _responses_event(
                "response.function_call_arguments.done",
                {"item_id": item_id, "output_index": index, "arguments": text_args},
                seq,
            )
        )
        done_item = {**item, "status": "completed", "arguments": text_args}
        chunks.append(
            _responses_event(
                "response.output_item.done", {"output_index": index, "item": done_item}, seq
            )
        )
        output.append(done_item)
        index += 1
    usage = {
        "input_tokens": 36,
        "input_tokens_details": {"cached_tokens": 12},
        "output_tokens": 87,
        "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": 123,
    }
    chunks.append(
        _responses_event(
            "response.completed", {"response": _response_object("completed", output, usage)}, seq
        )
    )
    return Reply(chunks=chunks)


def reasoning_item(encrypted: str | None) -> dict:
    """A reasoning output item as OpenAI streams it (encrypted content only when asked for)."""
    item = {"id": "rs_68af0b3a5c348190a6c3d8d8e1d4a0b50d2a1f9c", "type": "reasoning", "summary": []}
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def responses_error_event(code: str, message: str) -> Reply:
    """A stream that fails at once with a Responses ``error`` event."""
    seq = [-1]
    return Reply(
        chunks=[
            _responses_event(
                "response.created", {"response": _response_object("in_progress", [], None)}, seq
            ),
            _responses_event("error", {"code": code, "message": message, "param": None}, seq),
        ]
    )


def responses_failed(code: str, message: str) -> Reply:
    """A stream that ends with ``response.failed`` carrying *code*."""
    seq = [-1]
    failed = _response_object("failed", [], None)
    failed["error"] = {"code": code, "message": message}
    return Reply(
        chunks=[
            _responses_event(
                "response.created", {"response": _response_object("in_progress", [], None)}, seq
            ),
            _responses_event("response.failed", {"response": failed}, seq),
        ]
    )


def openai_raw_chunk(payload: dict) -> bytes:
    """One ``data:`` line with *payload* as it is (for servers' own shapes)."""
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def openai_whole_tool_calls(
    calls: list[tuple[str, str, dict]], *, index: str = "zero", one_chunk: bool = False
) -> Reply:
    """Tool calls each whole in one fragment, as Ollama and some gateways send them.

    index: ``"zero"`` (every call says ``index: 0``) or ``"missing"`` (no index at all);
    one_chunk: all calls in one delta instead of one chunk per call.
    """
    fragments = []
    for call_id, name, args in calls:
        fragment = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        if index == "zero":
            fragment["index"] = 0
        fragments.append(fragment)
    chunks = [_openai_chunk([_openai_choice({"role": "assistant", "content": ""})])]
    if one_chunk:
        chunks.append(_openai_chunk([_openai_choice({"tool_calls": fragments})]))
    else:
        chunks += [_openai_chunk([_openai_choice({"tool_calls": [f]})]) for f in fragments]
    chunks.append(_openai_chunk([_openai_choice({}, "tool_calls")]))
    chunks.append(_openai_chunk([], openai_usage(prompt=40, completion=20)))
    chunks.append(b"data: [DONE]\n\n")
    return Reply(chunks=chunks)


# -- Anthropic Messages -------------------------------------------------------------------------

ANTHROPIC_MODEL = "claude-haiku-4-5-20251001"


def _anthropic_event(kind: str, payload: dict) -> bytes:
    return (
        b"event: "
        + kind.encode()
        + b"\ndata: "
        + json.dumps({"type": kind, **payload}).encode()
        + b"\n\n"
    )


def anthropic_stream(
    blocks: list[tuple[str, Any]],
    *,
    stop_reason: str | None = None,
    input_tokens: int = 25,
    output_tokens: int = 15,
    cache_read: int = 0,
    cache_write: int = 0,
) -> Reply:
    """Blocks: ("text", "Hello"), ("thinking", ("thought", "sig")), ("tool_use", (id, name, args)),
    ("redacted_thinking", "data")."""
    chunks = [
        _anthropic_event(
            "message_start",
            {
                "message": {
                    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": ANTHROPIC_MODEL,
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_tokens,
                        "cache_creation_input_tokens": cache_write,
                        "cache_read_input_tokens": cache_read,
                        "output_tokens": 1,
                        "service_tier": "standard",
                    },
                }
            },
        ),
        _anthropic_event("ping", {}),
    ]
    has_tool = False
    for index, (kind, value) in enumerate(blocks):
        if kind == "text":
            chunks.append(
                _anthropic_event(
                    "content_block_start",
                    {"index": index, "content_block": {"type": "text", "text": ""}},
                )
            )
            for i in range(0, len(value), 5):
                chunks.append(
                    _anthropic_event(
                        "content_block_delta",
                        {"index": index, "delta": {"type": "text_delta", "text": value[i : i + 5]}},
                    )
                )
        elif kind == "thinking":
            thought, signature = value
            chunks.append(
                _anthropic_event(
                    "content_block_start",
                    {
                        "index": index,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                    },
                )
            )
            chunks.append(
                _anthropic_event(
                    "content_block_delta",
                    {"index": index, "delta": {"type": "thinking_delta", "thinking": thought}},
                )
            )
            chunks.append(
                _anthropic_event(
                    "content_block_delta",
                    {"index": index, "delta": {"type": "signature_delta", "signature": signature}},
                )
            )
        elif kind == "redacted_thinking":
            chunks.append(
                _anthropic_event(
                    "content_block_start",
                    {"index": index, "content_block": {"type": "redacted_thinking", "data": value}},
                )
            )
        elif kind == "tool_use":
            has_tool = True
            call_id, name, args = value
            chunks.append(
                _anthropic_event(
                    "content_block_start",
                    {
                        "index": index,
                        "content_block": {
                            "type": "tool_use",
                            "id": call_id,
                            "name": name,
                            "input": {},
                        },
                    },
                )
            )
            text_args = json.dumps(args)
            chunks.append(
                _anthropic_event(
                    "content_block_delta",
                    {"index": index, "delta": {"type": "input_json_delta", "partial_json": ""}},
                )
            )
            for i in range(0, len(text_args), 7):
                chunks.append(
                    _anthropic_event(
                        "content_block_delta",
                        {
                            "index": index,
                            "delta": {
                                "type": "input_json_delta",
                                "partial_json": text_args[i : i + 7],
                            },
                        },
                    )
                )
        chunks.append(_anthropic_event("content_block_stop", {"index": index}))
    reason = stop_reason or ("tool_use" if has_tool else "end_turn")
    chunks.append(
        _anthropic_event(
            "message_delta",
            {
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
    )
    chunks.append(_anthropic_event("message_stop", {}))
    return Reply(chunks=chunks, headers={"request-id": "req_011CSHoEeqs5C35K2UUqR7Fy"})


def anthropic_error(status: int, type_: str, message: str, headers=None) -> Reply:
    return error_reply(
        status,
        {
            "type": "error",
            "error": {"type": type_, "message": message},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
        },
        headers,
    )


# -- Gemini -------------------------------------------------------------------------------------

GEMINI_MODEL = "gemini-2.5-flash"


def _gemini_chunk(
    parts: list | None, *, finish: str | None = None, usage: dict | None = None
) -> bytes:
    candidate: dict[str, Any] = {"content": {"parts": parts or [], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    payload: dict[str, Any] = {"candidates": [candidate]}
    payload["usageMetadata"] = usage or {
        "promptTokenCount": 8,
        "totalTokenCount": 8,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}],
    }
    payload["modelVersion"] = GEMINI_MODEL
    payload["responseId"] = "eYcLabCdN5-wz7IPk4_b0Qo"
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\r\n\r\n"


def gemini_usage(prompt=8, candidates=12, thoughts=0, cached=0) -> dict:
    usage = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if cached:
        usage["cachedContentTokenCount"] = cached
    return usage


def gemini_stream(
    text: str = "",
    calls: list[tuple[str, dict]] = (),
    *,
    signature: str | None = None,
    usage: dict | None = None,
) -> Reply:
    chunks = []
    pieces = [text[i : i + 6] for i in range(0, len(text), 6)]
    for piece in pieces:
        chunks.append(_gemini_chunk([{"text": piece}]))
    if calls:
        parts = []
        for n, (name, args) in enumerate(calls):
            part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
            if signature and n == 0:
                part["thoughtSignature"] = signature
            parts.append(part)
        chunks.append(_gemini_chunk(parts, finish="STOP", usage=usage or gemini_usage()))
    else:
        chunks.append(_gemini_chunk([{"text": ""}], finish="STOP", usage=usage or gemini_usage()))
    return Reply(chunks=chunks)


def gemini_error(
    status: int, code_status: str, message: str, details: list | None = None, headers=None
) -> Reply:
    error: dict[str, Any] = {"code": status, "message": message, "status": code_status}
    if details:
        error["details"] = details
    return error_reply(status, {"error": error}, headers)


SECRET_KEY = "sk-test-SECRET-0123456789abcdef"  # tests check it never leaks
