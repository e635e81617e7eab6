"""``kt app``: a real window under Xvfb; without a desktop toolkit, the browser instead.

The window test runs pywebview's GTK window (PyGObject built for this Python against Debian's
GTK and WebKitGTK, which ``.ci/run`` installs, with Xvfb and xdotool) and saves a screenshot.
"""

from __future__ import annotations

import importlib.util
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kt_dashboard.desktop import missing_gui

HEADLESS = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}


def run_kt(args, home, extra_env=None, stderr=subprocess.PIPE):
    env = {**os.environ, "KT_HOME": str(home), **HEADLESS, **(extra_env or {})}
    env.pop("KT_AUTH_HOST_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from kt_cli.main import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.PIPE,
        text=True,
    )


def test_missing_gui_names_what_is_missing():
    if importlib.util.find_spec("webview") is None:
        assert missing_gui({}).startswith("pywebview is not installed: pip install")
        return
    assert missing_gui({}) == "no display (DISPLAY and WAYLAND_DISPLAY are unset)"
    toolkits = [importlib.util.find_spec(n) for n in ("gi", "qtpy", "PyQt6", "PyQt5", "PySide6")]
    reason = missing_gui({"DISPLAY": ":99"})
    if any(toolkits):
        assert reason is None
    else:
        assert reason.startswith(
            "pywebview has no GUI toolkit here: pip install 'kt-terrarium[app]'"
        )


def descendants(pid: int) -> list[int]:
    """The processes *pid* started, and theirs (the dashboard server: gunicorn and its worker)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [grand for child in map(int, children) for grand in (child, *descendants(child))]


def wait_gone(pids: list[int], timeout: float) -> None:
    """Wait for every process of *pids* to end (pidfds: an event, whatever the port does now).

    Checking the port instead would race with any other server that takes it next.
    """
    fds = []
    for pid in pids:
        try:
            fds.append(os.pidfd_open(pid))
        except ProcessLookupError:
            pass  # gone already
    try:
        deadline = time.monotonic() + timeout
        while fds:
            ended, _, _ = select.select(fds, [], [], max(0.0, deadline - time.monotonic()))
            assert ended, f"processes {pids} of the server outlived kt app"
            for fd in ended:
                fds.remove(fd)
                os.close(fd)
    finally:
        for fd in fds:
            os.close(fd)


def test_declining_the_browser_exits_with_the_reason(tmp_path):
    process = run_kt(["app"], tmp_path)
    out, err = process.communicate("n\n", timeout=60)
    assert process.returncode == 1
    assert "No desktop window:" in err
    assert "Open the dashboard in your browser instead?" in out + err


def test_the_browser_fallback_serves_the_dashboard_until_stopped(tmp_path):
    opened = tmp_path / "opened.txt"
    # webbrowser runs $BROWSER with the URL; this one records it instead of opening a window
    browser = f"{sys.executable} -c \"import sys; open('{opened}', 'w').write(sys.argv[1])\" %s"
    log = (tmp_path / "stderr.log").open("w")  # the server's log; never a pipe left unread
    process = run_kt(["app", "--browser"], tmp_path, {"BROWSER": browser}, stderr=log)
    try:
        line = process.stdout.readline()  # printed once the server serves
        assert line.startswith("Dashboard: http://127.0.0.1:"), line
        url = line.split()[1]
        page = httpx.get(url + "/", timeout=30)
        assert page.status_code == 200 and "Start creature" in page.text
        server = descendants(process.pid)
        assert server, "the dashboard server runs in a child process"
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl+C
        process.wait(timeout=60)
        log.close()
    assert opened.read_text() == url
    wait_gone(server, timeout=30)


@pytest.fixture
def screen(tmp_path):
    """A virtual X screen (Xvfb); its DISPLAY."""
    missing = [tool for tool in ("Xvfb", "xdotool", "import") if shutil.which(tool) is None]
    if missing or importlib.util.find_spec("gi") is None or not importlib.util.find_spec("webview"):
        pytest.skip(
            f"needs Xvfb, xdotool, ImageMagick, PyGObject and pywebview (.ci/run): {missing}"
        )
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as display:
        number = display.readline().strip()  # written once the screen is up
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait(timeout=30)


def colours(path) -> int:
    from PIL import Image

    with Image.open(path) as picture:
        return len(picture.convert("RGB").getcolors(maxcolors=1 << 20) or ())


def test_kt_app_opens_the_dashboard_in_a_window_and_takes_its_server_along(screen, tmp_path):
    log = (tmp_path / "stderr.log").open("w")
    process = run_kt(["app"], tmp_path, {"DISPLAY": screen, "GDK_BACKEND": "x11"}, stderr=log)
    try:
        line = process.stdout.readline()  # printed once the server serves
        assert line.startswith("Dashboard: http://127.0.0.1:"), line
        server = descendants(process.pid)
        assert server, "the dashboard server runs in a child process"
        find = ["xdotool", "search", "--sync", "--name", "KT Terrarium"]  # blocks until it maps
        window = subprocess.run(
            find, env={**os.environ, "DISPLAY": screen}, capture_output=True, text=True, timeout=60
        ).stdout.split()[0]
        shot = tmp_path / "kt-app.png"
        deadline = time.monotonic() + 60
        while True:  # until the page is painted: a blank window has a handful of colours
            subprocess.run(["import", "-display", screen, "-window", "root", str(shot)], check=True)
            if colours(shot) > 50 or time.monotonic() > deadline:
                break
        assert colours(shot) > 50, f"the window stayed blank: {shot}"
        # Closing the window (here: destroying it, as a crash would) ends kt app, and its
        # server with it.
        subprocess.run(["xdotool", "windowclose", window], env={**os.environ, "DISPLAY": screen})
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        log.close()
    wait_gone(server, timeout=60)  # a crash leaves it to the server to notice, at once
