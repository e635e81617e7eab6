"""Serving the API on gunicorn: threads in one worker, so every request shares one Studio.

flask-sock runs on gunicorn's threaded worker (``gthread``): each open WebSocket holds one
thread, so :data:`DEFAULT_THREADS` bounds the sockets and requests served at once. There is one
worker process because the engine and its creatures live in it; more workers would be more
engines, each with its own sessions. Werkzeug's development server is never used.

``python -m kt_web.server`` is what ``kt serve start`` runs in the background; ``kt web`` calls
:func:`serve` in the foreground.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from collections.abc import Mapping
from typing import Any

import attrs

from kt.errors import ConfigError

__all__ = ["DEFAULT_PORT", "DEFAULT_THREADS", "ServeOptions", "free_port", "serve"]

DEFAULT_PORT = 8001
DEFAULT_THREADS = 128  # requests and WebSockets served at once
PORT_TRIES = 20  # how far a busy port is incremented


@attrs.frozen(kw_only=True)
class ServeOptions:
    """How to serve.

    Attributes:
        host: The address to bind (default loopback).
        port: The first port to try; the next free one up to ``PORT_TRIES`` further is used.
        threads: Threads of the worker.
        session_dir: Where sessions are recorded (default ``~/.kt/sessions``).
        pwd: The creatures' default working directory.
        insecure_no_auth: Allow a non-loopback bind with every auth layer off.
        ready_fd: A pipe to write ``ready URL`` to once serving (``kt serve start``).
        exit_with_fd: A pipe whose other end the parent holds: when it closes (the parent
            ended, however it ended), the server stops (``kt app``'s embedded server).
        auto_port: Try the next ports when *port* is busy.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    threads: int = DEFAULT_THREADS
    session_dir: str | None = None
    pwd: str | None = None
    insecure_no_auth: bool = False
    ready_fd: int | None = None
    exit_with_fd: int | None = None
    auto_port: bool = True


def is_loopback_host(host: str) -> bool:
    """Whether binding *host* exposes the server to this machine only."""
    from kt_web.auth import is_loopback

    return host == "localhost" or is_loopback(host)


def check_exposure(host: str, auth: Any, insecure_no_auth: bool) -> None:
    """Refuse a non-loopback bind with every auth layer off, unless told so explicitly.

    Raises:
        ConfigError: naming the ways out.
    """
    if is_loopback_host(host) or auth.any_layer or insecure_no_auth:
        return
    if auth.multi_user == "required":  # every request needs a user's token
        return
    raise ConfigError(
        f"refusing to serve on {host} with no auth: anyone who can reach it could run "
        "creatures and read sessions; set a host token (KT_AUTH_HOST_TOKEN or [auth] "
        "host_token in ~/.kt/config.toml), bind 127.0.0.1, or pass --insecure-no-auth"
    )


def free_port(host: str, port: int, tries: int = PORT_TRIES) -> int:
    """The first port from *port* that *host* can bind.

    Raises:
        ConfigError: none of *tries* ports is free.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in range(port, port + tries):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, candidate))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise ConfigError(f"cannot bind {host}:{candidate}: {exc.strerror}") from None
                continue
            return candidate
    raise ConfigError(
        f"ports {port}-{port + tries - 1} on {host} are all busy; pass --port with a free one"
    )


def url_of(host: str, port: int) -> str:
    """The URL people open for a bind address."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def serve(options: ServeOptions, env: Mapping[str, str] | None = None) -> int:
    """Serve until stopped (SIGTERM or Ctrl+C); returns the exit code.

    Raises:
        ConfigError: an unsafe bind, a busy port range, or bad ``[auth]`` settings.
    """
    from gunicorn.app.base import BaseApplication

    from kt_web.auth import load_auth

    env = os.environ if env is None else env
    auth = load_auth(env)
    check_exposure(options.host, auth, options.insecure_no_auth)
    port = free_port(options.host, options.port, PORT_TRIES if options.auto_port else 1)
    url = url_of(options.host, port)
    state: dict[str, Any] = {}

    def build_app() -> Any:  # in the worker: the engine's thread must not cross a fork
        from kt.config.home import kt_home
        from kt_studio import Studio
        from kt_web.app import create_app
        from kt_web.host import StudioHost
        from kt_web.logs import LogHub

        host = StudioHost(
            lambda: Studio(session_dir=options.session_dir, pwd=options.pwd, env=env),
            resume_file=kt_home(env) / "run" / "live-sessions.json",
        ).start()
        state["host"] = host
        accounts = None
        if auth.multi_user != "off":
            from kt_web.accounts import Accounts

            accounts = Accounts(kt_home(env))
        return create_app(host, auth, logs=LogHub().install(), accounts=accounts)

    def post_worker_init(worker: Any) -> None:
        print(f"KT Terrarium Studio serving on {url}", flush=True)
        if options.ready_fd is not None:
            os.write(options.ready_fd, f"ready {url}\n".encode())
            os.close(options.ready_fd)

    def worker_exit(server: Any, worker: Any) -> None:
        host = state.get("host")
        if host is not None:
            host.close()

    class Application(BaseApplication):
        def load_config(self) -> None:
            settings = {
                "bind": f"[{options.host}]:{port}"
                if ":" in options.host
                else f"{options.host}:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": options.threads,
                "graceful_timeout": 10,
                "keepalive": 5,
                "errorlog": "-",
                "loglevel": "warning",
                "post_worker_init": post_worker_init,
                "worker_exit": worker_exit,
                "proc_name": "kt-web",
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return build_app()

    if options.exit_with_fd is not None:
        _stop_when_closed(options.exit_with_fd)
    Application().run()
    return 0


def _stop_when_closed(fd: int) -> None:
    """Stop this server (as SIGTERM does: gracefully) once *fd* reads end of file."""
    import signal
    import threading

    def watch() -> None:
        while os.read(fd, 1024):  # the parent never writes: only its end closing wakes this
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="kt-parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """``python -m kt_web.server``: what ``kt serve start`` runs."""
    parser = argparse.ArgumentParser(prog="python -m kt_web.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--session-dir")
    parser.add_argument("--pwd")
    parser.add_argument("--insecure-no-auth", action="store_true")
    parser.add_argument("--ready-fd", type=int)
    parser.add_argument("--exit-with-fd", type=int)
    args = parser.parse_args(argv)
    options = ServeOptions(
        host=args.host,
        port=args.port,
        threads=args.threads,
        session_dir=args.session_dir,
        pwd=args.pwd,
        insecure_no_auth=args.insecure_no_auth,
        ready_fd=args.ready_fd,
        exit_with_fd=args.exit_with_fd,
    )
    try:
        return serve(options)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
