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
from types import MappingProxyType
from typing import Any

import attrs

from kt.errors import KTError
from kt_dashboard import login, panels, requests, timeline
from kt_dashboard.markdown import highlight_css, render
from kt_web.auth import TOKEN_COOKIE  # the server's checks read the same cookie

__all__ = ["PAGE_SIZE", "register"]

PAGE_SIZE = 20  # saved sessions per page of the list
TURNS_PER_PAGE = 50  # turns per page of a saved session's viewer
MEMORY_HITS = 20  # results of a memory search in the viewer
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
    pages.context_processor(_who)
    login.add_routes(pages, TOKEN_COOKIE)

    def show(template: str, **values: Any) -> Any:
        """A page, with the panels plugins add to it (``kt_dashboard_panels``)."""
        from kt_web.app import current_user

        context = MappingProxyType({**values, "user": current_user()})
        added = panels.collect(
            getattr(host.studio, "kernel", None), template.removesuffix(".html"), context
        )
        return _page(template, panels=added, **values)

    @pages.route("/")
    def home() -> Any:
        """The home page: live sessions, recent saved sessions, quick start."""
        from kt_web.app import persistence, visible

        live = [s for s in host.run(host.studio.sessions.list) if visible(s.session_id)]
        recent = persistence(host).list(limit=10)
        return show(
            "home.html",
            live=live,
            recent=recent.items,
            configs=_installed_configs(host),
            resumable=host.resumable(),
        )

    # Page routes name the session ``session_id``, not ``sid``: kt_web checks the owner of a
    # ``sid`` before the dashboard knows the page's user, so pages check it themselves.
    @pages.route("/chat/<session_id>/<cid>")
    def chat(session_id: str, cid: str) -> Any:
        """Chat with one creature of a live session."""
        sid = _own_session(session_id)
        sessions = host.studio.sessions
        session = host.run(sessions.get, sid)
        creature = host.run(sessions.creature, sid, cid)
        history = host.run(sessions.history, sid, cid)
        return show(
            "chat.html",
            session=session,
            creature=creature,
            messages=[
                _message(i, m) for i, m in enumerate(history.messages) if m.get("role") != "system"
            ],
            history_length=len(history.messages),
            requests=requests.pending(host, sid, cid),
            scratchpad=host.run(sessions.scratchpad, sid, cid),
            system_prompt=host.run(sessions.system_prompt, sid, cid),
            models=_model_choices(host),
            # Studio does not say a creature's context window yet: the meter then counts tokens
            context_window=getattr(creature, "context_window", None),
        )

    @pages.route("/terrarium/<session_id>")
    def terrarium(session_id: str) -> Any:
        """A live session's graph drawn, its creatures and channels, changes, channel traffic."""
        sid = _own_session(session_id)
        sessions = host.studio.sessions
        return show(
            "terrarium.html",
            **_graph_parts(host, sid),
            channels=host.run(sessions.channels, sid),
            traffic=host.run(sessions.channel_history, sid),
            configs=_installed_configs(host),
        )

    @pages.route("/terrarium/<session_id>/parts")
    def terrarium_parts(session_id: str) -> Any:
        """The terrarium page's drawing and creature list alone (the page swaps them in)."""
        return _page("terrarium_parts.html", **_graph_parts(host, _own_session(session_id)))

    @pages.route("/saved")
    def saved() -> Any:
        """Saved sessions, newest first, with search and paging."""
        from kt_web.app import persistence

        search = flask.request.args.get("search", "")
        offset = _whole(flask.request.args.get("offset"))
        listing = persistence(host).list(search=search, limit=PAGE_SIZE, offset=offset)
        return show("saved.html", page=listing, search=search, page_size=PAGE_SIZE)

    @pages.route("/saved/<name>")
    def saved_session(name: str) -> Any:
        """One saved session's conversation, paged by turn, each with its timeline and cost.

        Query: ``find`` keeps the turns with that text; ``memory`` searches the session's
        memory; ``offset`` pages.
        """
        from kt_web.app import persistence

        store = persistence(host)
        entry = store.get(name)
        find = flask.request.args.get("find", "").strip()
        memory = flask.request.args.get("memory", "").strip()
        turns = store.turns(name)
        if find:
            needle = find.casefold()
            turns = [t for t in turns if needle in f"{t.input}\n{t.text}".casefold()]
        offset = _whole(flask.request.args.get("offset"))
        page = turns[offset : offset + TURNS_PER_PAGE]
        found = timeline.details(store, name, page)
        return show(
            "session.html",
            entry=entry,
            turns=[_turn(t, found[(t.creature, t.index)]) for t in page],
            total=len(turns),
            offset=offset,
            page_size=TURNS_PER_PAGE,
            find=find,
            memory=memory,
            hits=store.memory_search(name, memory, k=MEMORY_HITS) if memory else [],
            categories=timeline.CATEGORIES,
        )

    @pages.route("/settings")
    def settings() -> Any:
        """API keys (masked), the default model, model profiles, MCP servers and packs."""
        identity = host.studio.identity
        return show(
            "settings.html",
            keys=identity.keys(),
            backends=identity.backends(),
            default_model=identity.default_model(),
            profiles=identity.endpoints(),
            mcp=identity.mcp_servers(),
            packs=host.studio.catalog.packs(),
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


def _who() -> dict[str, Any]:
    """What every page's header shows of the user (templates of this blueprint, error pages too)."""
    from kt_web.app import current_user

    return {"user": current_user(), "accounts_on": login.current_accounts() is not None}


def _own_session(session_id: str) -> str:
    """*session_id*, when the page's user may see that live session.

    Raises:
        SessionNotFoundError: it is another user's (a 404, as the API answers: ids never leak).
    """
    from kt_studio.errors import SessionNotFoundError
    from kt_web.app import visible

    if not visible(session_id):
        raise SessionNotFoundError(f"no live session '{session_id}'")
    return session_id


def _check_token() -> Any:
    """Refuse a page to a browser without the host token or a user, as the API would.

    With user accounts on, a user's token (kept by the login page) stands in for the host
    token, and the page is that user's: their sessions, their saved sessions.
    """
    import flask

    from kt_web.auth import presented_host_token

    request = flask.request
    if request.path.startswith("/static/"):
        return None
    accounts = login.current_accounts()
    if accounts is not None and request.path in (login.LOGIN_PATH, "/logout"):
        flask.g.kt_page_token = ""
        return None
    token = request.args.get("token") or request.cookies.get(TOKEN_COOKIE)
    token = token or presented_host_token(request.headers, {})
    user = login.user_for(token)
    if user is not None:
        flask.g.kt_user = user  # what kt_web.app's persistence() and visible() read
        flask.g.kt_page_token = token
        return None
    auth = flask.current_app.config["KT_AUTH"]
    if not auth.host_ok(token, request.remote_addr):
        if accounts is not None:
            return login.login_redirect()
        return flask.render_template("token.html", token=""), 401
    if accounts is not None and auth.multi_user == "required":
        return login.login_redirect()
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


def _graph_parts(host: Any, sid: str) -> dict[str, Any]:
    """A live session and the drawing of its graphs."""
    from kt_dashboard.graph import draw

    sessions = host.studio.sessions
    session = host.run(sessions.get, sid)
    graphs = [g for g in host.run(sessions.graph) if g["graph_id"] in session.graph_ids]
    return {"session": session, "drawing": draw(graphs)}


def _installed_configs(host: Any) -> list[str]:
    """``@pack/path`` of every creature and terrarium of the installed packs, as they declare."""
    return [ref for pack in host.studio.catalog.packs() for ref in pack.refs]


def _text_of(content: Any) -> str:
    """The text of a message's content (a string, or parts of which some are text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list | tuple):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _model_choices(host: Any) -> list[str]:
    """The custom profiles and every backend's presets, for the chat page's model picker."""
    identity = host.studio.identity
    profiles = [p.name for p in identity.endpoints()]
    return profiles + [f"{b.name}/{preset}" for b in identity.backends() for preset in b.presets]


def _message(index: int, data: Any) -> dict[str, Any]:
    """A history message as the chat template shows it (*index*: its place in the history)."""
    return {
        "index": index,
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


def _turn(record: Any, detail: timeline.TurnDetail) -> dict[str, Any]:
    """A recorded turn as the viewer shows it, with its timeline and cost."""
    return {
        "creature": record.creature,
        "index": record.index,
        "input": record.input,
        "text": record.text,
        "status": record.status,
        "tool_calls": [getattr(c, "name", str(c)) for c in record.tool_calls],
        "tokens": record.usage.total_tokens if record.usage else 0,
        "last_event_id": record.last_event_id,
        "cost": detail.cost,
        "cost_complete": detail.complete,
        "events": detail.entries,
    }
