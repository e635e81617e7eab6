"""The dashboard's pages over HTTP: every page renders from a real server, Markdown is safe."""

from __future__ import annotations

import pytest
from kt_web_helpers import Server, start_creature


@pytest.fixture(scope="module")
def session(server, world):
    return start_creature(server, world, "markdown.toml")


def test_every_page_renders(server, session):
    sid = session["session_id"]
    for path in ["/", f"/chat/{sid}/root", "/saved", "/settings", f"/terrarium/{sid}"]:
        answer = server.client.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
        assert answer.headers["content-type"].startswith("text/html")
        assert '<main id="main">' in answer.text
    home = server.client.get("/").text
    assert sid in home and "Start creature" in home
    parts = server.client.get(f"/terrarium/{sid}/parts")  # the fragment the page swaps in
    assert parts.status_code == 200 and "<svg" in parts.text and "<main" not in parts.text
    assert f'data-creature="{session["root"]}"' in parts.text
    assert server.client.get("/login").status_code == 302  # accounts are off: home instead


def test_chat_page_has_named_controls(server, session):
    page = server.client.get(f"/chat/{session['session_id']}/root").text
    assert '<label for="message" class="visually-hidden">Message</label>' in page
    assert '<button type="submit" id="send">Send</button>' in page
    assert ">Interrupt</button>" in page


def test_assets_are_served(server):
    modules = ["api.js", "chat.js", "chat_panels.js", "home.js", "session.js", "settings.js"]
    for name in ["dashboard.css", "theme.js", "terrarium.js", "highlight.css", *modules]:
        answer = server.client.get(f"/static/dashboard/{name}")
        assert answer.status_code == 200 and answer.text, name
    assert (
        "[data-theme=dark] .highlight" in server.client.get("/static/dashboard/highlight.css").text
    )


def test_render_route_gives_sanitized_markdown(server):
    text = (
        "**bold** <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))"
    )
    html = server.client.post("/api/dashboard/render", json={"text": text}).json()["html"]
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html


def test_render_route_names_a_missing_field(server):
    answer = server.client.post("/api/dashboard/render", json={})
    assert answer.status_code == 400
    assert "text" in answer.json()["error"]["message"]


def test_an_unknown_session_is_a_404_page_that_names_it(server):
    for path in ["/chat/nope/root", "/terrarium/nope", "/saved/nope"]:
        answer = server.client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "nope" in answer.text and "Back to the home page" in answer.text


def test_pages_need_the_host_token_when_one_is_set(tmp_path):
    token_server = Server(
        tmp_path / "home",
        env={"KT_AUTH_HOST_TOKEN": "s3cret", "KT_AUTH_LOOPBACK_BYPASS": "0"},
    )
    try:
        client = token_server.client
        refused = client.get("/settings")
        assert refused.status_code == 401 and "Host token needed" in refused.text
        assert "s3cret" not in refused.text
        allowed = client.get("/settings?token=s3cret")
        assert allowed.status_code == 200
        assert 'name="kt-token" content="s3cret"' in allowed.text  # handed to the modules
        assert client.get("/settings").status_code == 200  # the cookie carries it now
    finally:
        token_server.stop()
