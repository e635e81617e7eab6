"""The dashboard's pages: server-rendered templates over Studio, live parts in ES modules.

Every page is rendered on the server from Studio (reads of files directly, the engine's parts
through ``host.run``) and works without its script; the modules in ``static/`` only add what
must be live: the chat socket, the channel observer, the forms that call the JSON API.

Pages pass the same host-token layer as the API: a browser presents the token once as
``?token=`` (kept in a same-site cookie) and the page hands it to its modules in a meta tag.
Text from models and tools reaches a page only through Jinja's escaping or
:func:`kt_dashboard.markdown.render`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from kt.errors import KTError
from kt_dashboard import requests
from kt_dashboard.markdown import highlight_css, render

__all__ = ["PAGE_SIZE", "register"]

PAGE_SIZE = 20  # saved sessions per page of the list
TURNS_PER_PAGE = 50  # turns per page of a saved session's viewer
TOKEN_COOKIE = "kt_host_token"
HERE = Path(__file__).parent


@attrs.define
class MarkdownBody:
    """What ``/api/dashboard/render`` reads."""

    text: str


def register(app: Any, host: Any) -> None:
    """Add the dashboard's blueprint to *app* (pages at ``/``, assets at ``/static/dashboard``)."""
    import flask

    pages = flask.Blueprint(
        "dashboard",
        __name__,
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        static_url_path="/static/dashboard",
    )
    pages.before_request(_check_token)
    pages.after_request(_keep_token)
    pages.register_error_handler(KTError, _error_page)

    @pages.route("/")
    def home() -> Any:
        """The home page: live sessions, recent saved sessions, quick start."""
        from kt_web.app import persistence, visible

        live = [s for s in host.run(host.studio.sessions.list) if visible(s.session_id)]
        recent = persistence(host).list(limit=10)
        return _page(
            "home.html",
            live=live,
            recent=recent.items,
            configs=_installed_configs(host),
            resumable=host.resumable(),
        )

    @pages.route("/chat/<sid>/<cid>")
    def chat(sid: str, cid: str) -> Any:
        """Chat with one creature of a live session."""
        sessions = host.studio.sessions
        session = host.run(sessions.get, sid)
        creature = host.run(sessions.creature, sid, cid)
        history = host.run(sessions.history, sid, cid)
        return _page(
            "chat.html",
            session=session,
            creature=creature,
            messages=[_message(m) for m in history.messages if m.get("role") != "system"],
            requests=requests.pending(host, sid, cid),
        )

    @pages.route("/terrarium/<sid>")
    def terrarium(sid: str) -> Any:
        """A live session's creatures and channels, with its channel traffic live."""
        sessions = host.studio.sessions
        session = host.run(sessions.get, sid)
        return _page(
            "terrarium.html",
            session=session,
            channels=host.run(sessions.channels, sid),
            traffic=host.run(sessions.channel_history, sid),
        )

    @pages.route("/saved")
    def saved() -> Any:
        """Saved sessions, newest first, with search and paging."""
        from kt_web.app import persistence

        search = flask.request.args.get("search", "")
        offset = _whole(flask.request.args.get("offset"))
        listing = persistence(host).list(search=search, limit=PAGE_SIZE, offset=offset)
        return _page("saved.html", page=listing, search=search, page_size=PAGE_SIZE)

    @pages.route("/saved/<name>")
    def saved_session(name: str) -> Any:
        """One saved session's conversation, paged by turn; ``find`` keeps the turns with it."""
        from kt_web.app import persistence

        store = persistence(host)
        entry = store.get(name)
        find = flask.request.args.get("find", "").strip()
        turns = store.turns(name)
        if find:
            needle = find.casefold()
            turns = [t for t in turns if needle in f"{t.input}\n{t.text}".casefold()]
        offset = _whole(flask.request.args.get("offset"))
        shown = [_turn(t) for t in turns[offset : offset + TURNS_PER_PAGE]]
        return _page(
            "session.html",
            entry=entry,
            turns=shown,
            total=len(turns),
            offset=offset,
            page_size=TURNS_PER_PAGE,
            find=find,
        )

    @pages.route("/settings")
    def settings() -> Any:
        """API keys (masked), the default model, model profiles and MCP servers."""
        identity = host.studio.identity
        return _page(
            "settings.html",
            keys=identity.keys(),
            backends=identity.backends(),
            default_model=identity.default_model(),
            profiles=identity.endpoints(),
            mcp=identity.mcp_servers(),
            admin_required=flask.current_app.config["KT_AUTH"].admin_token is not None,
        )

    @pages.route("/static/dashboard/highlight.css")
    def highlight_styles() -> Any:
        """The code-highlighting rules of both themes."""
        return flask.Response(highlight_css(), mimetype="text/css")

    app.register_blueprint(pages)

    def render_markdown() -> Any:
        """Render Markdown to sanitized HTML (what the chat page shows for a finished reply).

        Body:
            ``{text}``.

        Returns:
            ``{"html": ...}``: safe to insert in a page.
        """
        from kt_web.bodies import parse

        body = parse(flask.request.get_json(silent=True) or {}, MarkdownBody)
        return flask.jsonify({"html": render(body.text)})

    def pending_requests(sid: str, cid: str) -> Any:
        """The questions a creature waits on (``ask_user``, cards), oldest first.

        Returns:
            ``{"requests": [{request_id, kind, prompt, choices, placeholder}]}``.
        """
        return flask.jsonify({"requests": requests.pending(host, sid, cid)})

    def answer_request(sid: str, cid: str, request_id: str) -> Any:
        """Answer a creature's pending question or card.

        Body:
            ``{answer}``: a choice's id, or the typed text.

        Returns:
            ``{"answered": request_id}``; 400 when no such request waits.
        """
        from kt_web.bodies import parse

        body = parse(flask.request.get_json(silent=True) or {}, requests.AnswerBody)
        requests.answer(host, sid, cid, request_id, body.answer)
        return flask.jsonify({"answered": request_id})

    app.add_url_rule("/api/dashboard/render", "dashboard_render", render_markdown, methods=["POST"])
    creature = "/api/dashboard/sessions/<sid>/creatures/<cid>/requests"
    app.add_url_rule(creature, "dashboard_requests", pending_requests)
    app.add_url_rule(
        f"{creature}/<request_id>/answer",
        "dashboard_answer",
        answer_request,
        methods=["POST"],
    )


def _page(template: str, **values: Any) -> Any:
    import flask

    return flask.render_template(
        template,
        markdown=render,
        token=flask.g.get("kt_page_token") or "",
        **values,
    )


def _check_token() -> Any:
    """Refuse a page to a browser without the host token, as the API would."""
    import flask

    from kt_web.auth import presented_host_token

    request = flask.request
    if request.path.startswith("/static/"):
        return None
    token = request.args.get("token") or request.cookies.get(TOKEN_COOKIE)
    token = token or presented_host_token(request.headers, {})
    auth = flask.current_app.config["KT_AUTH"]
    if not auth.host_ok(token, request.remote_addr):
        return flask.render_template("token.html", token=""), 401
    flask.g.kt_page_token = token if auth.host_token is not None else ""
    return None


def _keep_token(response: Any) -> Any:
    """Keep a token given as ``?token=`` in a cookie, so links need not carry it."""
    import flask

    token = flask.request.args.get("token")
    if token and flask.g.get("kt_page_token"):
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
    return response


def _error_page(error: KTError) -> Any:
    """A page (not JSON) for a typed error: an unknown session, a bad name ..."""
    import flask

    from kt_web.errors import status_for

    values = {"error_type": type(error).__name__, "message": str(error)}
    return flask.render_template("error.html", token="", **values), status_for(error)


def _whole(raw: str | None) -> int:
    try:
        return max(0, int(raw or 0))
    except ValueError:
        return 0


def _installed_configs(host: Any) -> list[str]:
    """``@pack/path`` of every creature and terrarium of the installed packs."""
    refs = []
    for pack in host.studio.catalog.packs():
        refs += [f"@{pack.name}/{path}" for path in (*pack.creatures, *pack.terrariums)]
    return refs


def _text_of(content: Any) -> str:
    """The text of a message's content (a string, or parts of which some are text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list | tuple):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _message(data: Any) -> dict[str, Any]:
    """A history message as the chat template shows it."""
    return {
        "role": data.get("role", ""),
        "text": _text_of(data.get("content")),
        "tool_calls": [
            {"name": c.get("name", ""), "arguments": _shown_args(c.get("args", {}))}
            for c in data.get("tool_calls") or ()
        ],
        "name": data.get("name") or "",
    }


def _shown_args(args: Any) -> str:
    """Tool-call arguments as the page shows them: indented JSON, or the raw text."""
    return args if isinstance(args, str) else json.dumps(args, indent=2, ensure_ascii=False)


def _turn(record: Any) -> dict[str, Any]:
    """A recorded turn as the viewer shows it."""
    return {
        "creature": record.creature,
        "index": record.index,
        "input": record.input,
        "text": record.text,
        "status": record.status,
        "tool_calls": [getattr(c, "name", str(c)) for c in record.tool_calls],
        "tokens": record.usage.total_tokens if record.usage else 0,
    }
