"""``kt_web``: the HTTP and WebSocket API over Studio, its auth layers, and the servers.

* :mod:`~kt_web.app`: the Flask application (``create_app``), JSON in and out through Studio's
  one converter, typed errors mapped to status codes (:mod:`~kt_web.errors`);
* :mod:`~kt_web.routes`, :mod:`~kt_web.sockets`, :mod:`~kt_web.openai_compat`: the routes;
  their docstrings are ``docs/reference/http.md`` and ``/openapi.json`` (:mod:`~kt_web.openapi`);
* :mod:`~kt_web.auth`: the host token, the admin token and the loopback bypass;
* :mod:`~kt_web.host`: Studio on its own trio thread, held by a ``kt_portal`` service and
  called into through the portal; :mod:`~kt_web.feed`: the bounded queues between the engine
  (or the log) and each socket, and their overflow policy;
* :mod:`~kt_web.server` and :mod:`~kt_web.daemon`: ``kt web`` (foreground, gunicorn with
  threads and one worker) and ``kt serve start|stop|restart|status|logs``.

Plugins add routes through the ``kt_web_routes`` hook (:mod:`~kt_web.hookspecs`). Importing
this module is cheap: Flask loads when a server or an app is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kt
import kt.plugins

kt.plugins.require_modules("flask", "flask_sock")  # without the web extra: fail to load, named

kt_requires = ("kt_studio", "kt_portal")  # the facade it serves, and the bridge into trio

if TYPE_CHECKING:
    import click


@kt.hookimpl
def kt_addhookspecs(pm: Any) -> None:
    """Declare ``kt_web_routes``."""
    from kt_web import hookspecs

    pm.add_hookspecs(hookspecs)


@kt.hookimpl(optionalhook=True)  # declared by kt_cli, which may not be loaded
def kt_cli_commands(cli: click.Group) -> None:
    """Add ``kt web``, ``kt serve`` and ``kt admin``."""
    from kt_web.cli import add_commands

    add_commands(cli)
