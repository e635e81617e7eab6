"""The HTTP reference page and /openapi.json come from the routes' docstrings."""

from __future__ import annotations

from kt_web import openapi


def test_the_reference_page_is_up_to_date():
    expected = openapi.markdown(openapi.reference_app())
    assert openapi.PAGE.read_text(encoding="utf-8") == expected, (
        "docs/reference/http.md is out of date: run python -m kt_web.openapi --write"
    )


def test_every_route_has_a_summary():
    app = openapi.reference_app()
    document = openapi.document(app)
    missing = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if not operation["summary"]
    ]
    assert missing == []
    assert "/api/sessions/{sid}/creatures/{cid}/chat" in document["paths"]
    assert document["paths"]["/ws/sessions/{sid}/observer"]["get"]["x-websocket"]


def test_the_server_serves_openapi_json(server):
    served = server.client.get("/openapi.json").json()
    assert served["openapi"] == "3.1.0" and "/v1/chat/completions" in served["paths"]
