"""Hook specifications ``kt_web`` adds to every kernel it is part of."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import flask

hookspec = pluggy.HookspecMarker("kt")


@hookspec
def kt_web_routes(app: flask.Flask, host: Any) -> None:
    """Add routes (or blueprints) to the HTTP API.

    Called once per server process, when ``kt_web.app.create_app`` builds the Flask
    application, after the built-in routes were registered, for each plugin of the kernel
    Studio runs with, in registration order. Routes added here go through the same auth
    layers as the built-in ones (a path under ``/api/`` needs the host token) and the same
    error handling (a raised ``KTError`` becomes a 4xx JSON answer). Their docstrings appear in
    ``/openapi.json``.

    Args:
        app: The Flask application. Add routes with ``app.add_url_rule`` or register a
            blueprint; do not replace the built-in ones.
        host: The :class:`kt_web.host.StudioHost`: ``host.studio`` is the Studio, and
            ``host.run(fn, *args)`` runs *fn* (sync or async) on the engine's loop and
            returns its result. Call Studio's ``sessions`` and ``attach`` only through it.

    Use in creature plugins:
        Not called: creature plugins are loaded after the server has started.
    """
