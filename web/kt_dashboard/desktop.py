"""``kt app``: the dashboard in a native window, over a server of its own on a free port.

The server is the one ``kt serve`` runs (``python -m kt_web.server``), started as a child
process bound to loopback; it reports its URL on a pipe once it serves. The window is
pywebview's; closing it stops the server. Without pywebview or a GUI toolkit for it, the
command says what to install and offers to open the dashboard in the browser instead.
"""

from __future__ import annotations

import importlib.util
import os
import select
import subprocess
import sys
from typing import Any

import click

__all__ = ["EmbeddedServer", "app_command", "missing_gui"]

READY_TIMEOUT = 60  # seconds the server may take to start Studio
# What pywebview needs on each system, as people install it.
GUI_HINTS = {
    "linux": "pip install 'kt-terrarium[app]' and a toolkit for it: the GTK one "
    "(apt-get install python3-gi gir1.2-webkit2-4.1, with a Python that sees them) or "
    "the Qt one (pip install 'pywebview[qt]')",
    "darwin": "pip install 'kt-terrarium[app]' (it uses the system's WebKit)",
    "win32": "pip install 'kt-terrarium[app]' (it uses Edge WebView2)",
}
_TOOLKIT_MODULES = ("gi", "qtpy", "PyQt6", "PyQt5", "PySide6")


def missing_gui(env: dict[str, str] | None = None) -> str | None:
    """Why no native window can open here, with what to install; ``None``: it can."""
    env = dict(os.environ) if env is None else env
    hint = GUI_HINTS.get(sys.platform, GUI_HINTS["linux"])
    if importlib.util.find_spec("webview") is None:
        return f"pywebview is not installed: {hint}"
    if sys.platform.startswith("linux"):
        if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
            return "no display (DISPLAY and WAYLAND_DISPLAY are unset)"
        if not any(importlib.util.find_spec(name) for name in _TOOLKIT_MODULES):
            return f"pywebview has no GUI toolkit here: {hint}"
    return None


class EmbeddedServer:
    """A dashboard server in a child process on a free loopback port; ``url``, ``stop()``."""

    def __init__(self, port: int = 0, extra_args: tuple[str, ...] = ()) -> None:
        from kt_web.server import free_port

        read_end, write_end = os.pipe()
        # The server stops when this process's end of `watch` closes, even if this process
        # is killed or its window toolkit aborts it: no server is ever left behind.
        watched, self._watch = os.pipe()
        chosen = port or free_port("127.0.0.1", 8100)
        command = [sys.executable, "-m", "kt_web.server", "--host", "127.0.0.1"]
        command += ["--port", str(chosen), "--ready-fd", str(write_end)]
        command += ["--exit-with-fd", str(watched), *extra_args]
        # Its log goes to stderr: stdout is for what the command itself says (the URL).
        self.process = subprocess.Popen(command, pass_fds=(write_end, watched), stdout=sys.stderr)
        os.close(write_end)
        os.close(watched)
        try:
            readable, _, _ = select.select([read_end], [], [], READY_TIMEOUT)
            line = os.read(read_end, 200).decode() if readable else ""
        finally:
            os.close(read_end)
        if not line.startswith("ready "):
            self.stop()
            raise click.ClickException("the dashboard server did not start; see its output above")
        self.url = line.split()[1]

    def stop(self) -> None:
        """Stop the server (its creatures stop; their sessions stay resumable)."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        if self._watch is not None:
            os.close(self._watch)
            self._watch = None

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@click.command("app", help="Open the dashboard in a desktop window (closing it stops the server).")
@click.option("--port", default=0, type=int, help="Port of the embedded server (default: free).")
@click.option(
    "--session-dir", type=click.Path(file_okay=False), help="Where sessions are recorded."
)
@click.option(
    "--browser/--no-browser",
    default=None,
    help="Without a desktop toolkit: open the browser (default: ask).",
)
def app_command(port: int, session_dir: str | None, browser: bool | None) -> None:
    """``kt app``."""
    extra = ("--session-dir", session_dir) if session_dir else ()
    reason = missing_gui()
    if reason is not None:
        click.echo(f"No desktop window: {reason}.", err=True)
        if browser is None:
            browser = click.confirm("Open the dashboard in your browser instead?", default=True)
        if not browser:
            raise SystemExit(1)
        with EmbeddedServer(port, extra) as server:
            _serve_in_browser(server)
        return
    with EmbeddedServer(port, extra) as server:
        import webview

        click.echo(f"Dashboard: {server.url}  (in a desktop window; closing it stops the server)")
        webview.create_window("KT Terrarium", server.url, width=1200, height=800)
        webview.start()  # returns when the window closes; leaving the block stops the server


def _serve_in_browser(server: EmbeddedServer) -> None:
    """Open *server* in the browser and serve until Ctrl+C or the server ends."""
    import webbrowser

    click.echo(f"Dashboard: {server.url}  (Ctrl+C stops it)")
    webbrowser.open(server.url)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        click.echo("stopping")
