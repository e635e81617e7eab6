"""The Laboratory: creatures hosted on other machines, over Redis Streams.

Contributes the ``redis`` transport (``engine.add_creature(config, transport="redis",
node="gpu-1")``) and the ``kt worker`` and ``kt service`` commands. Workers connect outward to
Redis; only Redis must be reachable. Each creature is owned by one worker through a lease; every
append to its event stream is fenced by that lease; a lost worker's creatures move to another
worker, rebuilt from their event streams. The design: ``docs/concepts/laboratory.md``.

Modules: :mod:`~kt_lab.keys` (the key layout), :mod:`~kt_lab.redis_io` (Redis from trio, the
fenced scripts), :mod:`~kt_lab.host` (the transport), :mod:`~kt_lab.worker` (the worker loop),
:mod:`~kt_lab.recovery` (rebuilding from the log), :mod:`~kt_lab.status` (nodes and readiness
for a lab host's API), :mod:`~kt_lab.service` (systemd units), :mod:`~kt_lab.lab_host`
(a ``kt serve --mode lab-host`` server), :mod:`~kt_lab.cli` (the commands).

The ``redis`` package (the ``lab`` extra) is imported only when a transport, worker or view is
made, so loading the plugin costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kt

if TYPE_CHECKING:
    import click

__all__ = ["kt_cli_commands", "kt_transports"]

kt_requires = ("kt_terrarium",)  # the transport protocol and the worker loop it serves


def _redis_transport(**options: Any) -> Any:
    """The transport, its ``url`` and ``password_file`` defaulting to the environment.

    ``KT_LAB_REDIS`` and ``KT_LAB_PASSWORD_FILE``: what a lab host's Studio, which passes no
    options, runs with.
    """
    import os

    from kt_lab.host import RedisTransport

    for option, variable in (("url", "KT_LAB_REDIS"), ("password_file", "KT_LAB_PASSWORD_FILE")):
        if option not in options and os.environ.get(variable):
            options[option] = os.environ[variable]
    return RedisTransport(**options)


@kt.hookimpl
def kt_transports() -> list[kt.TransportSpec]:
    """Contribute ``redis``: creatures on ``kt worker`` nodes, over Redis Streams."""
    return [
        kt.TransportSpec(
            "redis", _redis_transport, "creatures on kt worker nodes, over Redis Streams"
        )
    ]


@kt.hookimpl
def kt_web_routes(app: Any, host: Any) -> None:
    """``GET /api/nodes``: the Laboratory's workers, when the server knows its Redis.

    The server reads the Redis URL from ``KT_LAB_REDIS`` (and a password file from
    ``KT_LAB_PASSWORD_FILE``), as ``kt service install`` writes them into the units. With
    ``KT_SERVE_MODE=lab-host`` (``kt serve start --mode lab-host``) the server becomes a lab
    host: :mod:`kt_lab.lab_host`.

    Raises:
        LabConfigError: lab-host mode without ``KT_LAB_REDIS``.
    """
    import os

    from kt_lab.lab_host import LAB_HOST

    url = os.environ.get("KT_LAB_REDIS")
    lab_host = os.environ.get("KT_SERVE_MODE") == LAB_HOST
    if not url:
        if lab_host:
            from kt_lab.errors import LabConfigError

            raise LabConfigError(
                "KT_SERVE_MODE=lab-host needs KT_LAB_REDIS (kt serve start --mode lab-host "
                "--redis URL)"
            )
        return
    from flask import jsonify

    from kt_lab.status import Lab

    lab = Lab(url, password_file=os.environ.get("KT_LAB_PASSWORD_FILE"))

    def nodes() -> Any:
        """The Laboratory's worker nodes: name, status (alive or lost), labels and creatures.

        Returns:
            ``{"nodes": [...]}``; 503 when Redis cannot be reached.
        """
        from kt_lab.errors import LabError

        try:
            found = host.run(lab.nodes)
        except LabError as exc:
            response = jsonify({"error": {"type": type(exc).__name__, "message": str(exc)}})
            response.status_code = 503
            return response
        return jsonify({"nodes": [node.as_dict() for node in found]})

    app.add_url_rule("/api/nodes", "lab_nodes", nodes)
    if lab_host and host.studio is not None:
        from kt_lab.lab_host import install

        install(app, host, lab, os.environ)


@kt.hookimpl
def kt_cli_commands(cli: click.Group) -> None:
    """Add ``kt worker`` and ``kt service``."""
    from kt_lab.cli import service, worker

    cli.add_command(worker)
    cli.add_command(service)
