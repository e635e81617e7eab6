"""A lab host: a ``kt serve`` / ``kt web`` server whose Studio places sessions on workers.

``kt serve start --mode lab-host --redis URL`` (or ``kt web``, or a unit) starts the server with
``KT_SERVE_MODE=lab-host`` and ``KT_LAB_REDIS`` in its environment; when ``kt_web`` builds the
app it calls ``kt_web_routes``, and :func:`install` turns the server into a lab host:

* its Studio's engine places every new creature whose config names no ``on_node`` on
  ``KT_LAB_PLACE_ON`` (a node, ``labels:a,b``, or ``*``: any live node, the default); a
  terrarium's privileged root stays on the host (its graph tools need the engine), so the host
  runs no other creature;
* stopping the server leaves its remote creatures running (``engine.leave_remote``), and the
  creatures it had placed before it went away (a restart, a crash, a kill, a power cut) that
  still run on their workers are taken back at start (``engine.adopt``), each as a live
  session again;
* ``/readyz`` answers ``mode: "lab-host"``, and 503 until Studio runs **and** Redis answers.

Dashboard and API users then drive remote creatures exactly as local ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kt
from kt.errors import KTError
from kt_lab.status import Lab

__all__ = ["LAB_HOST", "install"]

LAB_HOST = "lab-host"
ADOPTED_FROM = "lab:"  # the config_path an adopted session shows: where it came back from

log = logging.getLogger("kt_lab.lab_host")


def install(app: Any, host: Any, lab: Lab, env: Mapping[str, str]) -> None:
    """Make the server of *app* a lab host (see the module's docs).

    Args:
        app: The Flask application.
        host: The running :class:`kt_web.host.StudioHost`.
        lab: The Laboratory's read-only view (readiness).
        env: The server's environment (``KT_LAB_PLACE_ON``).
    """
    engine = host.studio.engine
    host.run(setattr, engine, "place_on", env.get("KT_LAB_PLACE_ON") or "*")
    host.run(setattr, engine, "leave_remote", True)  # a restart takes them back
    adopt(host)
    app.before_request(_readiness(host, lab))


def adopt(host: Any) -> list[str]:
    """Take back the creatures this host placed before it went away; their session ids.

    The engine joins them by their recorded channels and wires again. A graph that also had
    creatures here (a terrarium's privileged root) is resumed from its session file with the
    creatures taken back joined as they are, so the whole terrarium comes back as the session
    it was. Otherwise creatures that shared a graph come back as one ``terrarium`` session
    (named after its creatures), a creature alone as a ``creature`` session. Redis that cannot
    be reached now is logged, not raised: the server still starts (its ``/readyz`` says 503
    until Redis answers); so is a session file that cannot be resumed (the creatures taken
    back stay, as a session of their own).
    """
    studio = host.studio
    engine = studio.engine
    try:
        handles = host.run(engine.adopt, "redis")
    except KTError as error:
        log.warning("lab host: cannot take back the creatures placed before a restart: %s", error)
        return []
    graphs: dict[str, list[Any]] = {}
    for handle in handles:
        graphs.setdefault(engine.graph_of(handle.id), []).append(handle)
    sessions = []
    for group in graphs.values():
        ids = [handle.id for handle in group]
        session = _resume_with(host, group) or host.run(
            studio.sessions.adopt,
            "creature" if len(ids) == 1 else "terrarium",
            " + ".join(ids),
            ADOPTED_FROM + ",".join(ids),
            ids,
        )
        sessions.append(session.session_id)
        log.info("lab host: took back %s as session %s", " + ".join(ids), session.session_id)
    return sessions


def _resume_with(host: Any, group: list[Any]) -> Any:
    """Resume the session file *group*'s graph was recorded in, with *group* as hosted.

    Returns:
        The live session, or ``None`` when there is nothing to resume: no file recorded, the
        creatures' records disagree, or the file has no creature beyond *group* (logged when
        resuming failed).
    """
    recorded = {handle.recorded_session for handle in group}
    if len(recorded) != 1 or None in recorded:
        return None
    (path,) = recorded
    ids = {handle.id for handle in group}
    try:
        if set(_recorded_creatures(path, host.studio.kernel)) <= ids:
            return None  # every creature of the graph is back already
        return host.run(host.studio.resume, Path(path).name, hosted=tuple(sorted(ids)))
    except (KTError, OSError) as error:
        log.warning("lab host: cannot resume %s around the creatures taken back: %s", path, error)
        return None


def _recorded_creatures(path: str, kernel: Any) -> list[str]:
    """The creatures a graph session file recorded (the loaded session store reads it)."""
    with kt.SessionReader(path, kernel=kernel) as reader:
        return [creature for creature in reader.creatures if creature]


def _readiness(host: Any, lab: Lab) -> Any:
    """A before-request handler answering ``/readyz`` for a lab host."""

    def readyz() -> Any:
        import flask

        if flask.request.path != "/readyz":
            return None
        ready = bool(host.ready) and host.run(lab.ready)
        answer = flask.jsonify({"status": "ready" if ready else "starting", "mode": LAB_HOST})
        answer.status_code = 200 if ready else 503
        return answer

    return readyz
