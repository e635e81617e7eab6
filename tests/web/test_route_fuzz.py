"""Every route of the API, fed malformed input: a typed 4xx answer, never a server error.

The routes come from ``/openapi.json``, so a new route is covered as soon as it exists. Path
parameters are a live session's ids or a junk value with an escaped ``../``; bodies are not
JSON, JSON of the wrong shape, or an object whose usual fields have the wrong types; queries
carry a non-number limit and a long search. ``DELETE`` runs with junk ids only, so the live
session stays for the other routes. Errors have the API's shape (``{"error": {"type",
"message"}}``); the MCP endpoint may answer a message in JSON-RPC's (``code``, ``message``).
"""

from __future__ import annotations

import json
import re

from kt_web_helpers import start_creature

JUNK = "zz%2F..%2Fx"
BODIES = [
    "not json",
    "[]",
    "[1, 2]",
    '"text"',
    "123",
    "null",
    json.dumps({"unexpected": 1}),
    json.dumps(
        {
            "message": 5,
            "name": [],
            "config_path": {},
            "llm": 3,
            "channel": None,
            "content": [],
            "path": 7,
            "key": None,
            "enabled": "yes",
            "index": "a",
            "value": {"a": 1},
        }
    ),
]


def test_no_route_answers_malformed_input_with_a_server_error(server, world):
    session = start_creature(server, world)["session_id"]
    live = {"session_id": session, "creature": "root", "creature_id": "root"}
    paths = server.client.get("/openapi.json").json()["paths"]
    assert len(paths) > 40  # the whole API, not a stub
    wrong = []
    for path, methods in paths.items():
        for method in (m.upper() for m in methods):
            if "shutdown" in path:
                continue
            choices = [{}] if method == "DELETE" else [live, {}]
            for given in choices:
                url = re.sub(r"{(\w+)}", lambda m: given.get(m.group(1), JUNK), path)  # noqa: B023
                bodies = BODIES if method in ("POST", "PUT", "PATCH") else [None]
                for body in bodies:
                    response = server.client.request(
                        method,
                        url,
                        content=body,
                        headers={"content-type": "application/json"} if body else {},
                        params={"limit": "abc", "q": "x" * 1000} if method == "GET" else None,
                    )
                    if response.status_code >= 500:
                        wrong.append((method, url, body, response.status_code, response.text[:200]))
                    elif response.status_code >= 400 and url.startswith("/api/"):
                        error = response.json().get("error") or {}
                        named = error.get("type") or (url == "/api/mcp" and "code" in error)
                        if not (named and error.get("message")):
                            wrong.append((method, url, body, response.status_code, response.text))
    assert wrong == []
    assert server.client.get(f"/api/sessions/active/{session}").status_code == 200
