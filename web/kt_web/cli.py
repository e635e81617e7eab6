"""``kt web``, ``kt serve start|stop|restart|status|logs`` and ``kt admin token``.

``--mode lab-host`` makes the server a Laboratory host: its Studio places new sessions on
``kt worker`` nodes. The server process learns it from its environment (``KT_SERVE_MODE``,
``KT_LAB_REDIS``, ``KT_LAB_PASSWORD_FILE``, ``KT_LAB_PLACE_ON``), the same variables the units
of ``kt service install`` set, and the ``kt_lab`` plugin acts on them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import click

__all__ = ["add_commands", "lab_environment"]

MODES = ("standalone", "lab-host")


def _serve_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind."),
            click.option(
                "--port",
                default=8001,
                show_default=True,
                type=int,
                help="First port to try; busy ports are skipped.",
            ),
            click.option(
                "--threads",
                default=128,
                show_default=True,
                type=int,
                help="Requests and WebSockets served at once.",
            ),
            click.option(
                "--session-dir",
                type=click.Path(file_okay=False),
                help="Where sessions are recorded (default ~/.kt/sessions).",
            ),
            click.option(
                "--insecure-no-auth",
                is_flag=True,
                help="Allow a non-loopback address with every auth layer off.",
            ),
            click.option(
                "--mode",
                type=click.Choice(MODES),
                help="lab-host: place new sessions on Laboratory workers (kt worker). "
                "Default: $KT_SERVE_MODE, else standalone.",
            ),
            click.option(
                "--redis",
                metavar="URL",
                help="lab-host: the Laboratory's Redis (default $KT_LAB_REDIS).",
            ),
            click.option(
                "--password-file",
                type=click.Path(dir_okay=False),
                help="lab-host: a file with the Redis password or user:password.",
            ),
            click.option(
                "--place-on",
                metavar="NODE",
                help="lab-host: where sessions go: a node name, labels:a,b, or * (any; default).",
            ),
        ]
    ):
        command = option(command)
    return command


def lab_environment(
    mode: str | None,
    redis: str | None,
    password_file: str | None,
    place_on: str | None,
    env: Mapping[str, str],
) -> dict[str, str]:
    """The server's environment for *mode*: *env* with the Laboratory's variables set.

    Raises:
        ConfigError: a lab-host without a Redis URL, or Laboratory options without lab-host.
    """
    from kt.errors import ConfigError

    mode = mode or env.get("KT_SERVE_MODE") or "standalone"
    if mode not in MODES:
        raise ConfigError(f"KT_SERVE_MODE={mode!r} is not a mode; use one of {', '.join(MODES)}")
    given = {"--redis": redis, "--password-file": password_file, "--place-on": place_on}
    if mode != "lab-host":
        named = [name for name, value in given.items() if value]
        if named:
            raise ConfigError(f"{', '.join(named)} belong(s) to --mode lab-host; add it")
        return {**env, "KT_SERVE_MODE": mode}
    url = redis or env.get("KT_LAB_REDIS")
    if not url:
        raise ConfigError(
            "--mode lab-host needs the Laboratory's Redis: --redis redis://HOST:6379/0 (or "
            "KT_LAB_REDIS); start workers with `kt worker --redis URL --name NAME`"
        )
    out = {**env, "KT_SERVE_MODE": mode, "KT_LAB_REDIS": url}
    if password_file:
        out["KT_LAB_PASSWORD_FILE"] = os.path.abspath(password_file)
    if place_on:
        out["KT_LAB_PLACE_ON"] = place_on
    return out


def _server_args(
    host: str, port: int, threads: int, session_dir: str | None, insecure_no_auth: bool
) -> list[str]:
    args = ["--host", host, "--port", str(port), "--threads", str(threads)]
    if session_dir:
        args += ["--session-dir", session_dir]
    if insecure_no_auth:
        args.append("--insecure-no-auth")
    return args


def add_commands(cli: click.Group) -> None:
    """Add the commands to *cli*."""

    @cli.command(help="Serve the HTTP/WebSocket API in the foreground (Ctrl+C stops it).")
    @_serve_options
    def web(
        host: str,
        port: int,
        threads: int,
        session_dir: str | None,
        insecure_no_auth: bool,
        **lab: Any,
    ) -> None:
        from kt_web.server import ServeOptions, serve

        os.environ.update(lab_environment(env=os.environ, **lab))  # this process is the server
        options = ServeOptions(
            host=host,
            port=port,
            threads=threads,
            session_dir=session_dir,
            insecure_no_auth=insecure_no_auth,
        )
        raise SystemExit(serve(options))

    @cli.group(help="Run the API server as a background daemon.")
    def serve() -> None:
        pass

    @serve.command("start", help="Start the daemon; returns once it serves.")
    @_serve_options
    def start(**options: Any) -> None:
        from kt_web import daemon

        state = _start_daemon(daemon, **options)
        click.echo(f"serving on {state.url} (pid {state.pid}); log: {state.log}")

    @serve.command("stop", help="Stop the daemon.")
    def stop() -> None:
        from kt_web import daemon

        state = daemon.stop()
        click.echo("no server is running" if state is None else f"stopped pid {state.pid}")

    @serve.command("restart", help="Stop the daemon and start it again.")
    @_serve_options
    def restart(**options: Any) -> None:
        from kt_web import daemon

        daemon.stop()
        state = _start_daemon(daemon, **options)
        click.echo(f"serving on {state.url} (pid {state.pid})")

    @serve.command("status", help="Say whether the daemon runs, and where.")
    def status() -> None:
        from kt_web import daemon

        state, stale = daemon.status()
        if stale:
            click.echo("removed a stale state file (its process was gone)")
        if state is None:
            click.echo("not running")
            raise SystemExit(3)
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.started_at))
        click.echo(f"running: {state.url} (pid {state.pid}, since {since})")

    @serve.command("logs", help="Print the end of the daemon's log.")
    @click.option("--lines", "-n", default=50, show_default=True, type=int)
    @click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl+C ends).")
    def logs(lines: int, follow: bool) -> None:
        from kt_web import daemon

        for line in daemon.read_log(lines=lines):
            click.echo(line)
        if follow:
            _follow(daemon.run_dir() / "serve.log")

    @cli.group(help="Manage the server's auth tokens, users and invitations.")
    def admin() -> None:
        pass

    @admin.command("token", help="Make a new random token and store it in ~/.kt/config.toml.")
    @click.argument("which", type=click.Choice(["host", "admin"]))
    def token(which: str) -> None:
        from kt_web.tokens import new_token

        value, path = new_token(which)
        click.echo(value)
        click.echo(f"stored as [auth] {which}_token in {path}; restart the server", err=True)

    _add_account_commands(admin)


def _start_daemon(
    daemon: Any,
    *,
    mode: str | None,
    redis: str | None,
    password_file: str | None,
    place_on: str | None,
    **server: Any,
) -> Any:
    """Start the daemon with *server*'s arguments, in *mode* (its environment says which)."""
    env = lab_environment(mode, redis, password_file, place_on, os.environ)
    return daemon.start(_server_args(**server), env=env)


def _add_account_commands(admin: click.Group) -> None:
    @admin.group(help="Manage user accounts ([auth] multi_user).")
    def user() -> None:
        pass

    @user.command("add", help="Create a user; asks for the password.")
    @click.argument("name")
    @click.option("--admin", "is_admin", is_flag=True, help="Make the user an administrator.")
    @click.password_option()
    def add(name: str, is_admin: bool, password: str) -> None:
        made = _accounts().create_user(name, password, is_admin=is_admin)
        click.echo(f"created user {made.name}{' (admin)' if made.is_admin else ''}")

    @user.command("list", help="List the users.")
    def list_() -> None:
        for found in _accounts().users():
            click.echo(f"{found.name}{'  admin' if found.is_admin else ''}")

    @user.command("remove", help="Delete a user and their tokens.")
    @click.argument("name")
    def remove(name: str) -> None:
        removed = _accounts().remove_user(name)
        click.echo(f"removed {name}" if removed else f"no user {name}")
        raise SystemExit(0 if removed else 1)

    @user.command("token", help="Issue an API token for a user (shown once).")
    @click.argument("name")
    @click.option("--label", default="cli")
    def token(name: str, label: str) -> None:
        click.echo(_accounts().issue_token(name, label=label))

    @admin.command(help="Make a single-use invitation code for invite-only registration.")
    def invite() -> None:
        click.echo(_accounts().invite())


def _accounts() -> Any:
    from kt.config.home import kt_home
    from kt_web.accounts import Accounts

    return Accounts(kt_home())


def _follow(path: Any) -> None:
    """Print lines appended to *path* until Ctrl+C (a person watching, so a short poll)."""
    with open(path, encoding="utf-8", errors="replace") as log:
        log.seek(0, 2)
        try:
            while True:
                line = log.readline()
                if line:
                    click.echo(line, nl=False)
                else:
                    time.sleep(0.5)
        except KeyboardInterrupt:
            return
