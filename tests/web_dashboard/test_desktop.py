"""``kt app``: without a desktop toolkit it says what to install and offers the browser.

pywebview needs GTK (through PyGObject) or Qt for its window on Linux; neither is importable
by the Python the project runs on here, so these tests cover the fallback (see the guide).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys

import httpx

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
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl+C
        process.wait(timeout=60)
        log.close()
    assert opened.read_text() == url
    try:
        httpx.get(url + "/healthz", timeout=5)
        raise AssertionError("the server outlived the command")
    except httpx.ConnectError:
        pass
