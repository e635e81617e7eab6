"""Plugins add panels to dashboard pages (``kt_dashboard_panels``), in a real browser."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from browsing import by_label, find, find_all, open_chat, wait_for
from kt_web_helpers import Server, connect, frames_until, start_creature, write

ACME = """
import flask
import markupsafe

import kt
from kt_dashboard import Panel


@kt.hookimpl(optionalhook=True)
def kt_dashboard_panels(page, context):
    if page != "chat":
        return None
    who = markupsafe.escape(context["creature"].id)
    return Panel(
        title="Acme notes",
        html=f'<p id="acme">Notes for {who}</p><button type="button" id="acme-count">Count</button>',
        script="/acme/panel.js",
    )


@kt.hookimpl(optionalhook=True)
def kt_web_routes(app, host):
    script = "document.getElementById('acme-count').onclick = (e) => { e.target.textContent = 'Counted'; };"
    app.add_url_rule(
        "/acme/panel.js", "acme_js", lambda: flask.Response(script, mimetype="text/javascript")
    )
"""

BROKEN = """
import kt


@kt.hookimpl(optionalhook=True)
def kt_dashboard_panels(page):
    raise RuntimeError("this panel is broken")
"""


def server_log(server: Server) -> str:
    """The server's recent log records (what ``/ws/logs`` sends first)."""
    with connect(f"{server.ws_url}/ws/logs") as ws:
        return "\n".join(f.get("message", "") for f in frames_until(ws, "activity"))


@pytest.fixture
def panel_server(tmp_path):
    acme = write(tmp_path / "acme_panels.py", ACME)
    broken = write(tmp_path / "broken_panels.py", BROKEN)
    installed = sorted(entry_points(group="kt.plugins").names)
    running = Server(
        tmp_path / "home", env={"KT_PLUGINS": ",".join([*installed, str(acme), str(broken)])}
    )
    yield running
    running.stop()


def test_a_plugin_adds_a_panel_with_its_script(browser, panel_server, world):
    session = start_creature(panel_server, world, "markdown.toml")
    open_chat(browser, panel_server, session)
    panels = find_all(browser, ".plugin-panel")
    titles = [p.find_element("css selector", "h2").text for p in panels]
    assert titles[0] == "Acme notes"
    assert find(browser, "#acme").text == f"Notes for {session['root']}"
    by_label(browser, "Count").click()  # the panel's own module runs
    wait_for(browser, lambda b: find(b, "#acme-count").text == "Counted")
    assert titles[1].endswith(": this panel failed")  # the broken plugin is named, not fatal
    assert "broken_panels.py failed on the chat page" in server_log(panel_server)
    browser.get(panel_server.url + "/settings")  # other pages: the broken one's note only
    assert [
        p.find_element("css selector", "h2").text for p in find_all(browser, ".plugin-panel")
    ] == [titles[1]]
