"""The JSON routes of the API.

Health, live sessions and their creatures, topology, saved sessions, settings, the catalog
and the runtime graph.

Each route's docstring is its reference entry (``docs/reference/http.md``, ``/openapi.json``):
the first line is the summary; ``Body:`` and ``Returns:`` say what goes in and comes out.
Handlers validate, call Studio (the engine's parts through ``host.run``), and answer with
Studio's converter; errors become 4xx answers in :mod:`kt_web.app`.
"""

from __future__ import annotations

import logging
from typing import Any

from kt_web.app import json_response, own, persistence, require_admin, session_dir, visible
from kt_web.bodies import (
    BranchBody,
    ChannelBody,
    ChatBody,
    ConnectBody,
    DefaultModelBody,
    EditBody,
    EndpointBody,
    ForkBody,
    InstallBody,
    KeyBody,
    McpServerBody,
    ModelBody,
    ResumeBody,
    SendBody,
    StartBody,
    TriggerBody,
    UnwireBody,
    WireBody,
    WorkingDirBody,
    parse,
)
from kt_web.errors import BodyError

__all__ = ["register"]

log = logging.getLogger("kt_web.routes")

CREATURE = "/api/sessions/<sid>/creatures/<cid>"
TOPOLOGY = "/api/sessions/topology/<sid>"


def _body(cls: type) -> Any:
    import flask

    data = flask.request.get_json(silent=True)
    if data is None and not flask.request.get_data():
        data = {}
    return parse(data, cls)


def _int_arg(name: str, default: int | None) -> int | None:
    import flask

    raw = flask.request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BodyError(f"{name} must be a whole number, not {raw!r}", field=name) from None


def register(app: Any, host: Any) -> None:
    """Add the JSON routes to *app*, calling Studio through *host*."""

    def route(rule: str, methods: tuple[str, ...] = ("GET",)) -> Any:
        def add(view: Any) -> Any:
            app.add_url_rule(rule, view.__name__, view, methods=list(methods))
            return view

        return add

    def sessions() -> Any:
        return host.studio.sessions

    # -- health ------------------------------------------------------------------------------

    @route("/healthz")
    def healthz() -> Any:
        """Liveness: the process answers.

        Returns:
            ``{"status": "ok"}``.
        """
        return json_response({"status": "ok"})

    @route("/readyz")
    def readyz() -> Any:
        """Readiness: Studio and its engine accept calls (503 until they do).

        Returns:
            ``{"status": "ready", "mode": "standalone"}`` or 503 ``{"status": "starting"}``.
        """
        if not host.ready:
            return json_response({"status": "starting", "mode": "standalone"}, 503)
        return json_response({"status": "ready", "mode": "standalone"})

    @route("/api/auth/capabilities")
    def auth_capabilities() -> Any:
        """Which auth layers are on and how to present tokens (no secrets).

        Returns:
            ``host_token_required``, ``admin_token_required``, ``loopback_bypass``,
            ``multi_user``, ``registration``.
        """
        import flask

        return json_response(flask.current_app.config["KT_AUTH"].capabilities())

    # -- live sessions -----------------------------------------------------------------------

    @route("/api/sessions/active/creature", ("POST",))
    def start_creature() -> Any:
        """Start a creature as a new live session.

        Body:
            ``{config_path, llm?, pwd?, name?, on_node?}``: a creature folder or file or
            ``@pack/path``; a model selector; a working directory; its id; on a lab host, the
            node to run it on (a name, ``labels:a,b`` or ``*``), as its config's ``on_node``.

        Returns:
            201 with the session (``session_id``, ``kind``, ``root``, ``creatures`` ...).
        """
        body = _body(StartBody)
        view = host.run(
            sessions().start_creature,
            body.config_path,
            llm=body.llm,
            pwd=body.pwd,
            name=body.name,
            on_node=body.on_node,
            session_dir=session_dir(),
        )
        own(view.session_id)
        log.info(
            "started session %s: creature %s from %s", view.session_id, view.root, body.config_path
        )
        return json_response(view, 201)

    @route("/api/sessions/active/terrarium", ("POST",))
    def start_terrarium() -> Any:
        """Start a terrarium recipe as a new live session.

        Body:
            ``{config_path, llm?, pwd?, name?}``: a recipe folder or file or ``@pack/path``.

        Returns:
            201 with the session; ``root`` is the recipe's root.
        """
        body = _body(StartBody)
        view = host.run(
            sessions().start_terrarium,
            body.config_path,
            llm=body.llm,
            pwd=body.pwd,
            name=body.name,
        )
        log.info(
            "started session %s: terrarium %s from %s", view.session_id, view.name, body.config_path
        )
        return json_response(view, 201)

    @route("/api/sessions/active")
    def list_active() -> Any:
        """List the live sessions, oldest first.

        Returns:
            ``{"sessions": [...], "resumable": [...]}``: ``resumable`` names the sessions that
            were live when the server last stopped.
        """
        live = [s for s in host.run(sessions().list) if visible(s.session_id)]
        folder = persistence(host).session_dir  # only this user's files are offered
        resumable = [n for n in host.resumable() if (folder / f"{n}.ktsession").is_file()]
        return json_response({"sessions": live, "resumable": resumable})

    @route("/api/sessions/active/<sid>")
    def get_active(sid: str) -> Any:
        """One live session with its creatures, graphs and channels."""
        return json_response(host.run(sessions().get, sid))

    @route("/api/sessions/active/<sid>", ("DELETE",))
    def stop_active(sid: str) -> Any:
        """Stop a live session: its creatures stop and leave the engine.

        Returns:
            ``{"status": "stopped", "session_id": sid}``.
        """
        host.run(sessions().stop, sid)
        log.info("stopped session %s", sid)
        return json_response({"status": "stopped", "session_id": sid})

    # -- one creature ------------------------------------------------------------------------

    @route(CREATURE)
    def get_creature(sid: str, cid: str) -> Any:
        """One creature (``cid``: its id, its name, or ``root``)."""
        return json_response(host.run(sessions().creature, sid, cid))

    @route(f"{CREATURE}/chat", ("POST",))
    def chat(sid: str, cid: str) -> Any:
        """Run one turn and answer with the reply.

        Body:
            ``{message, timeout?}``.

        Returns:
            ``{response, status, usage, turn_index, tool_calls, error}``; a turn that fails
            is a 422 with the error's type and message and the reply.
        """
        body = _body(ChatBody)
        return json_response(
            host.run(sessions().chat, sid, cid, body.message, timeout=body.timeout)
        )

    @route(f"{CREATURE}/interrupt", ("POST",))
    def interrupt(sid: str, cid: str) -> Any:
        """Interrupt the creature's running turn.

        Returns:
            ``{"interrupted": true}`` when a turn was running, else ``false``.
        """
        return json_response({"interrupted": host.run(sessions().interrupt, sid, cid)})

    @route(f"{CREATURE}/history")
    def history(sid: str, cid: str) -> Any:
        """The creature's conversation and its session branches.

        Returns:
            ``{creature, messages, branches}``.
        """
        return json_response(host.run(sessions().history, sid, cid))

    @route(f"{CREATURE}/regenerate", ("POST",))
    def regenerate(sid: str, cid: str) -> Any:
        """Run the last user input again, as a new branch.

        Returns:
            The new reply (as ``/chat``); 409 while a turn runs.
        """
        return json_response(host.run(sessions().regenerate, sid, cid))

    @route(f"{CREATURE}/messages/<int:idx>/edit", ("POST",))
    def edit_message(sid: str, cid: str, idx: int) -> Any:
        """Replace the user message at history index ``idx`` and run from there (a new branch).

        Body:
            ``{content}``.

        Returns:
            The new reply (as ``/chat``).
        """
        body = _body(EditBody)
        return json_response(host.run(sessions().edit, sid, cid, idx, body.content))

    @route(f"{CREATURE}/branches/select", ("POST",))
    def select_branch(sid: str, cid: str) -> Any:
        """Make a recorded branch the live conversation (the next turn continues it).

        Body:
            ``{path}``: a branch's path from ``/history`` (``[1, 2]``: the first turn's second
            alternative of the second turn).

        Returns:
            The history afterwards (as ``/history``); 400 for no such branch, 409 while a
            turn runs.
        """
        body = _body(BranchBody)
        return json_response(host.run(sessions().select_branch, sid, cid, body.path))

    @route(f"{CREATURE}/messages/<int:idx>/rewind", ("POST",))
    def rewind_message(sid: str, cid: str, idx: int) -> Any:
        """Drop the history from message ``idx`` on.

        Returns:
            The history afterwards (as ``/history``).
        """
        return json_response(host.run(sessions().rewind, sid, cid, idx))

    @route(f"{CREATURE}/jobs")
    def jobs(sid: str, cid: str) -> Any:
        """The creature's background jobs.

        Returns:
            ``{"jobs": [{id, kind, name, status, started_at, ended_at, error}]}``.
        """
        return json_response({"jobs": host.run(sessions().jobs, sid, cid)})

    @route(f"{CREATURE}/jobs/<job_id>/cancel", ("POST",))
    def cancel_job(sid: str, cid: str, job_id: str) -> Any:
        """Cancel one background job.

        Returns:
            ``{"cancelled": bool}`` (``false``: it had ended).
        """
        return json_response({"cancelled": host.run(sessions().cancel_job, sid, cid, job_id)})

    @route(f"{CREATURE}/model", ("POST",))
    def switch_model(sid: str, cid: str) -> Any:
        """Switch the creature's model for the rest of the session.

        Body:
            ``{model}``: a selector (``BACKEND/MODEL``, a preset, ``scripted:FILE``).

        Returns:
            The creature, with its new ``model``.
        """
        body = _body(ModelBody)
        return json_response(host.run(sessions().set_model, sid, cid, body.model))

    @route(f"{CREATURE}/scratchpad")
    def scratchpad(sid: str, cid: str) -> Any:
        """The creature's scratchpad.

        Returns:
            ``{"scratchpad": {key: value}}``.
        """
        return json_response({"scratchpad": host.run(sessions().scratchpad, sid, cid)})

    @route(f"{CREATURE}/scratchpad", ("PATCH",))
    def patch_scratchpad(sid: str, cid: str) -> Any:
        """Set keys (text values) and delete keys (``null``) of the scratchpad.

        Body:
            ``{key: value or null, ...}``.

        Returns:
            ``{"scratchpad": {...}}`` after the change.
        """
        import flask

        changes = flask.request.get_json(silent=True)
        if not isinstance(changes, dict):
            raise BodyError("the body must be an object {key: text or null}", field="$")
        pad = host.run(sessions().patch_scratchpad, sid, cid, changes)
        return json_response({"scratchpad": pad})

    @route(f"{CREATURE}/system-prompt")
    def system_prompt(sid: str, cid: str) -> Any:
        """The creature's assembled system prompt.

        Returns:
            ``{"system_prompt": text}``.
        """
        return json_response({"system_prompt": host.run(sessions().system_prompt, sid, cid)})

    @route(f"{CREATURE}/triggers")
    def list_triggers(sid: str, cid: str) -> Any:
        """The creature's triggers: from its config, set up by its model, or added here.

        Returns:
            ``{"triggers": [{trigger_id, trigger_type, running, created_at, status, error}]}``.
        """
        return json_response({"triggers": host.run(sessions().triggers, sid, cid)})

    @route(f"{CREATURE}/triggers", ("POST",))
    def add_trigger(sid: str, cid: str) -> Any:
        """Start a trigger on the running creature (recorded, as one its model set up).

        Body:
            ``{type: "timer"|"schedule"|"channel", options}``; ``options`` are the arguments of
            the ``add_timer``, ``add_schedule`` or ``watch_channel`` tool (``{interval,
            prompt, immediate?, max_fires?, name?}`` ...). A ``name`` in use is a 409.

        Returns:
            201 with the trigger.
        """
        body = _body(TriggerBody)
        view = host.run(sessions().add_trigger, sid, cid, body.type, body.options)
        return json_response(view, 201)

    @route(f"{CREATURE}/triggers/<trigger_id>", ("DELETE",))
    def remove_trigger(sid: str, cid: str, trigger_id: str) -> Any:
        """Stop one of the creature's triggers for good (404 for an unknown id).

        Returns:
            ``{"removed": bool}`` (``false``: it had ended already).
        """
        return json_response({"removed": host.run(sessions().remove_trigger, sid, cid, trigger_id)})

    @route(f"{CREATURE}/working-dir")
    def get_working_dir(sid: str, cid: str) -> Any:
        """The creature's working directory, and the start folder it stays inside.

        Returns:
            ``{pwd, root}``.
        """
        return json_response(host.run(sessions().working_dir, sid, cid))

    @route(f"{CREATURE}/working-dir", ("PUT",))
    def set_working_dir(sid: str, cid: str) -> Any:
        """Move the creature's working directory, within the folder it started in.

        Body:
            ``{path}``: an existing folder, relative to the current working directory or
            absolute. Outside the start folder (links resolved) is a 400; during a turn, 409.

        Returns:
            ``{pwd, root}`` afterwards.
        """
        body = _body(WorkingDirBody)
        return json_response(host.run(sessions().set_working_dir, sid, cid, body.path))

    # -- topology ----------------------------------------------------------------------------

    @route(f"{TOPOLOGY}/channels")
    def list_channels(sid: str) -> Any:
        """The channels of the session's graphs.

        Returns:
            ``{"channels": [{name, kind, description, graph_id, listeners, senders, ...}]}``.
        """
        return json_response({"channels": host.run(sessions().channels, sid)})

    @route(f"{TOPOLOGY}/channels", ("POST",))
    def create_channel(sid: str) -> Any:
        """Create a channel in the session's root graph.

        Body:
            ``{name, kind?: "broadcast"|"queue", description?}``.
        """
        body = _body(ChannelBody)
        info = host.run(
            sessions().add_channel, sid, body.name, kind=body.kind, description=body.description
        )
        return json_response(info, 201)

    @route(f"{TOPOLOGY}/channels/<channel>", ("DELETE",))
    def delete_channel(sid: str, channel: str) -> Any:
        """Remove a channel of the session with its listen and send edges (404 if unknown).

        Returns:
            The graph change (``delta``: ``split`` when the graph fell apart).
        """
        return json_response(host.run(sessions().remove_channel, sid, channel))

    @route(f"{TOPOLOGY}/channels/<channel>/send", ("POST",))
    def send_channel(sid: str, channel: str) -> Any:
        """Send a message on a channel of the session.

        Body:
            ``{content, sender?}`` (default sender ``human``).
        """
        body = _body(SendBody)
        message = host.run(sessions().send, sid, channel, body.content, sender=body.sender)
        return json_response(message, 201)

    @route(f"{TOPOLOGY}/creatures", ("POST",))
    def add_creature(sid: str) -> Any:
        """Add a creature to the session, as a child of its root.

        Body:
            ``{config_path, llm?, pwd?, name?}``.

        Returns:
            201 with the creature.
        """
        body = _body(StartBody)
        view = host.run(
            sessions().add_creature,
            sid,
            body.config_path,
            llm=body.llm,
            pwd=body.pwd,
            name=body.name,
        )
        return json_response(view, 201)

    @route(f"{TOPOLOGY}/creatures/<cid>", ("DELETE",))
    def remove_creature(sid: str, cid: str) -> Any:
        """Stop a creature of the session and take it out (409 for the root).

        Returns:
            The graph change (``delta``: ``split`` when the graph fell apart).
        """
        return json_response(host.run(sessions().remove_creature, sid, cid))

    @route(f"{TOPOLOGY}/connect", ("POST",))
    def connect(sid: str) -> Any:
        """Let ``sender`` send to ``receiver`` over a channel (created when missing).

        Body:
            ``{sender, receiver, channel?}``.

        Returns:
            The graph change (``delta``: ``merge`` or ``nothing``).
        """
        body = _body(ConnectBody)
        change = host.run(sessions().connect, sid, body.sender, body.receiver, channel=body.channel)
        return json_response(change)

    @route(f"{TOPOLOGY}/disconnect", ("POST",))
    def disconnect(sid: str) -> Any:
        """Remove ``sender`` → ``receiver`` edges.

        Body:
            ``{sender, receiver, channel?}``.
        """
        body = _body(ConnectBody)
        change = host.run(
            sessions().disconnect, sid, body.sender, body.receiver, channel=body.channel
        )
        return json_response(change)

    @route(f"{TOPOLOGY}/wire", ("POST",))
    def add_wire(sid: str) -> Any:
        """Add an output wire: ``source``'s replies become turns of ``target``.

        Body:
            ``{source, target, with_content?, prompt?, max_hops?, allow_self_trigger?}``.
        """
        body = _body(WireBody)
        wire = host.run(
            sessions().wire,
            sid,
            body.source,
            body.target,
            with_content=body.with_content,
            prompt=body.prompt,
            max_hops=body.max_hops,
            allow_self_trigger=body.allow_self_trigger,
        )
        return json_response(wire.as_dict(), 201)

    @route(f"{TOPOLOGY}/unwire", ("POST",))
    def remove_wire(sid: str) -> Any:
        """Remove ``source``'s output wire(s) matching ``wire`` (an edge id or a target).

        Body:
            ``{source, wire}``.
        """
        body = _body(UnwireBody)
        removed = host.run(sessions().unwire, sid, body.source, body.wire)
        return json_response({"removed": [w.as_dict() for w in removed]})

    # -- saved sessions (files; never on the engine's loop) -----------------------------------

    @route("/api/sessions")
    def list_saved() -> Any:
        """Saved sessions, newest first.

        Query:
            ``search`` (text in the name, creatures or first input), ``limit`` (1-500,
            default 50), ``offset``.

        Returns:
            ``{total, offset, limit, items: [{name, status, creatures, turns, preview, live
            ...}]}``.
        """
        import flask

        page = persistence(host).list(
            search=flask.request.args.get("search", ""),
            limit=_int_arg("limit", 50),
            offset=_int_arg("offset", 0),
        )
        return json_response(page)

    @route("/api/sessions/<name>")
    def get_saved(name: str) -> Any:
        """One saved session's listing entry."""
        return json_response(persistence(host).get(name))

    @route("/api/sessions/<name>", ("DELETE",))
    def delete_saved(name: str) -> Any:
        """Delete a saved session file (409 while it is live)."""
        persistence(host).delete(name)
        return json_response({"deleted": name})

    @route("/api/sessions/<name>/resume", ("POST",))
    def resume_saved(name: str) -> Any:
        """Resume a saved session as a live session.

        Body:
            ``{llm?}``: a model selector for its creatures.

        Returns:
            201 with the new live session.
        """
        body = _body(ResumeBody)
        view = host.run(host.studio.resume, name, llm=body.llm, saved=persistence(host))
        own(view.session_id)
        return json_response(view, 201)

    @route("/api/sessions/<name>/fork", ("POST",))
    def fork_saved(name: str) -> Any:
        """Copy a saved session up to an event into a new one.

        Body:
            ``{at_event_id?, name?}``.
        """
        body = _body(ForkBody)
        forked = persistence(host).fork(name, at_event_id=body.at_event_id, label=body.name)
        return json_response(forked, 201)

    @route("/api/sessions/<name>/export")
    def export_saved(name: str) -> Any:
        """Export a saved session.

        Query:
            ``format``: ``md`` (default), ``html`` or ``jsonl``.

        Returns:
            The document, with its content type.
        """
        import flask

        from kt_studio.saved import EXPORT_FORMATS

        fmt = flask.request.args.get("format", "md")
        pieces = persistence(host).export(name, fmt)
        return flask.Response(pieces, mimetype=EXPORT_FORMATS[fmt])

    @route("/api/sessions/<name>/turns")
    def saved_turns(name: str) -> Any:
        """The recorded turns of a saved session.

        Query:
            ``creature`` (default: every creature).

        Returns:
            ``{"turns": [{creature, index, source, input, text, tool_calls, usage, status}]}``.
        """
        import flask

        turns = persistence(host).turns(name, creature=flask.request.args.get("creature"))
        return json_response({"turns": turns})

    @route("/api/sessions/<name>/events")
    def saved_events(name: str) -> Any:
        """The logged events of a saved session, in order.

        Query:
            ``after`` (an event id; default 0), ``until`` (the last id wanted; default: no
            bound), ``limit`` (default 200), ``creature``.

        Returns:
            ``{"events": [{id, type, creature, turn_index, timestamp, event}]}``; pass the last
            ``id`` as ``after`` for the next page.
        """
        import flask

        events = persistence(host).events(
            name,
            after=_int_arg("after", 0),
            until=_int_arg("until", None),
            limit=_int_arg("limit", 200),
            creature=flask.request.args.get("creature"),
        )
        return json_response({"events": events})

    @route("/api/sessions/<name>/memory/search")
    def memory_search(name: str) -> Any:
        """Search a saved session's memory.

        Query:
            ``q`` (required), ``k`` (default 10).
        """
        import flask

        hits = persistence(host).memory_search(
            name, flask.request.args.get("q", ""), k=_int_arg("k", 10)
        )
        return json_response({"hits": hits})

    # -- settings (admin token for changes) --------------------------------------------------

    @route("/api/settings/keys")
    def list_keys() -> Any:
        """API keys by provider, masked, with their source (stored, env, missing)."""
        return json_response({"keys": host.studio.identity.keys()})

    @route("/api/settings/keys/<provider>", ("PUT",))
    def set_key(provider: str) -> Any:
        """Store a provider's API key (admin). The answer shows it masked.

        Body:
            ``{key}``.
        """
        require_admin()
        body = _body(KeyBody)
        return json_response(host.studio.identity.set_key(provider, body.key))

    @route("/api/settings/keys/<provider>", ("DELETE",))
    def delete_key(provider: str) -> Any:
        """Forget a provider's stored key (admin)."""
        require_admin()
        return json_response({"removed": host.studio.identity.remove_key(provider)})

    @route("/api/settings/backends")
    def list_backends() -> Any:
        """Installed LLM backends with their presets."""
        return json_response({"backends": host.studio.identity.backends()})

    @route("/api/settings/default-model")
    def get_default_model() -> Any:
        """The default model selector (``null``: none)."""
        return json_response({"model": host.studio.identity.default_model()})

    @route("/api/settings/default-model", ("PUT",))
    def put_default_model() -> Any:
        """Set or clear the default model (admin).

        Body:
            ``{model}`` (``null`` clears it).
        """
        require_admin()
        body = _body(DefaultModelBody)
        return json_response({"model": host.studio.identity.set_default_model(body.model)})

    @route("/api/settings/profiles")
    def list_profiles() -> Any:
        """Custom model endpoints (``~/.kt/llm.toml``)."""
        return json_response({"profiles": host.studio.identity.endpoints()})

    @route("/api/settings/profiles", ("POST",))
    def add_profile() -> Any:
        """Add or replace a custom endpoint (admin).

        Body:
            ``{name, base_url, backend?, model?, api_key_env?}``.
        """
        from kt_studio.values import EndpointView

        require_admin()
        body = _body(EndpointBody)
        view = EndpointView(
            name=body.name,
            base_url=body.base_url,
            backend=body.backend,
            model=body.model,
            api_key_env=body.api_key_env,
        )
        return json_response(host.studio.identity.add_endpoint(view), 201)

    @route("/api/settings/profiles/<name>", ("DELETE",))
    def delete_profile(name: str) -> Any:
        """Remove a custom endpoint (admin)."""
        require_admin()
        return json_response({"removed": host.studio.identity.remove_endpoint(name)})

    @route("/api/settings/mcp")
    def list_mcp() -> Any:
        """MCP registry servers, secrets masked."""
        return json_response({"servers": host.studio.identity.mcp_servers()})

    @route("/api/settings/mcp", ("POST",))
    def add_mcp() -> Any:
        """Add (or with ``replace``, replace) an MCP registry server (admin).

        Body:
            ``{name, settings: {command, args, url, env ...}, replace?}``.
        """
        require_admin()
        body = _body(McpServerBody)
        view = host.studio.identity.add_mcp_server(body.name, body.settings, replace=body.replace)
        return json_response(view, 201)

    @route("/api/settings/mcp/<name>/test", ("POST",))
    def test_mcp(name: str) -> Any:
        """Start (or reach) a registry server now, list its tools, and stop it (admin).

        Returns:
            ``{name, ok, tools, error}``: a server that does not connect is ``ok: false`` with
            the reason (200), an unknown name a 400.
        """
        require_admin()
        return json_response(host.run(host.studio.identity.test_mcp_server, name))

    @route("/api/settings/mcp/<name>", ("DELETE",))
    def delete_mcp(name: str) -> Any:
        """Remove an MCP registry server (admin)."""
        require_admin()
        return json_response({"removed": host.studio.identity.remove_mcp_server(name)})

    # -- catalog -----------------------------------------------------------------------------

    @route("/api/catalog/packages")
    def list_packages() -> Any:
        """Installed packs with their creatures, terrariums, skills and plugins."""
        return json_response({"packages": host.studio.catalog.packs()})

    @route("/api/catalog/packages/<name>")
    def get_package(name: str) -> Any:
        """One installed pack."""
        return json_response(host.studio.catalog.pack(name))

    @route("/api/catalog/packages", ("POST",))
    def install_package() -> Any:
        """Install a pack from a folder, a git URL or the marketplace (admin).

        Body:
            ``{source, editable?}``.
        """
        require_admin()
        body = _body(InstallBody)
        return json_response(host.studio.catalog.install(body.source, editable=body.editable), 201)

    @route("/api/catalog/packages/<name>/update", ("POST",))
    def update_package(name: str) -> Any:
        """Update an installed pack (admin)."""
        require_admin()
        return json_response(host.studio.catalog.update(name))

    @route("/api/catalog/packages/<name>", ("DELETE",))
    def uninstall_package(name: str) -> Any:
        """Uninstall a pack and the Python distributions it installed (admin)."""
        require_admin()
        return json_response(host.studio.catalog.uninstall(name))

    @route("/api/catalog/builtins")
    def builtins() -> Any:
        """Built-in tools (with JSON schemas), sub-agents, triggers and plugins."""
        catalog = host.studio.catalog
        return json_response(
            {
                "tools": catalog.tools(),
                "subagents": catalog.subagents(),
                "triggers": catalog.triggers(),
                "plugins": catalog.plugins(),
            }
        )

    # -- runtime -----------------------------------------------------------------------------

    @route("/api/runtime/graph")
    def runtime_graph() -> Any:
        """Every live graph with its creatures, channels and wires, and its session.

        Returns:
            ``{"graphs": [{graph_id, session_id, creatures, channels, edges, store_path}]}``.
        """
        graphs = host.run(sessions().graph)
        return json_response(
            {"graphs": [g for g in graphs if g["session_id"] is None or visible(g["session_id"])]}
        )
