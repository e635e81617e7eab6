"""The dashboard's costs: first paint of its pages, and bytes on the wire per streamed token.

Run with ``python -m pytest tests/benchmarks/test_dashboard_bench.py -m benchmark -s``. A real
server on a loopback port with a zero-latency scripted model; the Debian Chromium headless.

* first contentful paint of the chat page, and of a saved session's viewer with 10 and with
  1,000 turns (the viewer shows 50 turns a page): the ratio says whether paging holds;
* chat WebSocket bytes per streamed token (one ``text`` frame per delta, one-character deltas);
* the frame rate of one tab holding ten chat pages while their ten creatures stream at once,
  against the same tab idle.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.benchmark

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web_dashboard"))
from browsing import launch_chromium, wait_for  # noqa: E402
from kt_web_helpers import Server, connect, write  # noqa: E402

LONG = 1000
PAINTS = 5


@pytest.fixture
def served(tmp_path):
    """A server and a headless Chromium of its own, for one measurement (skips without it)."""
    server = Server(tmp_path / "home")
    browser = launch_chromium(tmp_path / "profile")
    if browser is None:
        server.stop()
        pytest.skip("needs chromium and chromium-driver")
    yield server, browser
    browser.quit()
    server.stop()


def world(root: Path) -> Path:
    write(root / "creatures" / "bench" / "creature.toml", 'name = "bench"\nsystem_prompt = "B."\n')
    replies = ", ".join(['"ok *fine*"'] * (LONG + 20))
    write(root / "replies.toml", f"replies = [{replies}]\n")
    write(root / "stream.toml", '[[replies]]\ntext = "' + "word " * 200 + '"\nchunk_size = 1\n')
    return root


def start(server: Server, root: Path, script: str) -> dict:
    body = {"config_path": str(root / "creatures" / "bench"), "llm": f"scripted:{root / script}"}
    answer = server.client.post("/api/sessions/active/creature", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def saved_with_turns(server: Server, root: Path, turns: int) -> str:
    session = start(server, root, "replies.toml")
    for n in range(turns):
        server.client.post(
            f"/api/sessions/{session['session_id']}/creatures/root/chat",
            json={"message": f"question {n}"},
        ).raise_for_status()
    return Path(session["store_paths"][0]).name.removesuffix(".ktsession")


def first_paint(browser, url: str) -> float:
    """Median first contentful paint of *url* in milliseconds."""
    paints = []
    for _ in range(PAINTS):
        browser.get(url)
        paints.append(
            wait_for(  # painting may come after the load event get() waits for
                browser,
                lambda b: b.execute_script(
                    "const p = performance.getEntriesByName('first-contentful-paint')[0];"
                    "return p ? p.startTime : null"
                ),
            )
        )
    return statistics.median(paints)


def test_first_paint_and_bytes_per_token(served, tmp_path):
    root = world(tmp_path)
    server, browser = served
    short = saved_with_turns(server, root, 10)
    long = saved_with_turns(server, root, LONG)
    chat = start(server, root, "replies.toml")
    chat_ms = first_paint(browser, f"{server.url}/chat/{chat['session_id']}/root")
    short_ms = first_paint(browser, f"{server.url}/saved/{short}")
    long_ms = first_paint(browser, f"{server.url}/saved/{long}")
    print(f"\nfirst contentful paint: chat page {chat_ms:.0f} ms")
    print(f"saved session viewer: 10 turns {short_ms:.0f} ms, {LONG} turns {long_ms:.0f} ms")
    print(f"  ratio {LONG} / 10 turns: {long_ms / short_ms:.2f}")

    streaming = start(server, root, "stream.toml")
    sid = streaming["session_id"]
    with connect(f"{server.ws_url}/ws/sessions/{sid}/creatures/root/chat") as ws:
        ws.send(json.dumps({"type": "input", "content": "go"}))
        text_bytes = deltas = 0
        while True:
            raw = ws.recv(timeout=30)
            frame = json.loads(raw)
            if frame["type"] == "text":
                text_bytes += len(raw.encode())
                deltas += 1
            if frame["type"] == "processing_end":
                break
    print(f"chat socket: {text_bytes / deltas:.0f} bytes per streamed token ({deltas} deltas)")


STREAMS = 10
FRAME_COUNTER = """
window.__frames = [];
const tick = (t) => { window.__frames.push(t); requestAnimationFrame(tick); };
requestAnimationFrame(tick);
"""
FRAME_RATE = """
const frames = window.__frames.splice(0);
const gaps = frames.slice(1).map((t, i) => t - frames[i]);
return [frames.length, frames[frames.length - 1] - frames[0], Math.max(...gaps)];
"""


def frame_rate(browser, until) -> tuple[float, float]:
    """Frames per second and the longest frame (ms) of the page while *until(browser)* is false."""
    browser.execute_script("window.__frames.length = 0")
    wait_for(browser, until)
    count, span, longest = browser.execute_script(FRAME_RATE)
    return (count - 1) * 1000 / span, longest


def test_frame_rate_while_ten_creatures_stream(served, tmp_path):
    """One page holding ten chat pages (375 px frames) while all ten creatures stream at once."""
    root = world(tmp_path)
    write(  # about 3 s of streaming: 600 chunks of 2 characters, 5 ms apart
        root / "ten.toml",
        '[[replies]]\ntext = "' + "word " * 240 + '"\nchunk_size = 2\ndelay = 0.005\n',
    )
    server, browser = served
    chats = [start(server, root, "ten.toml") for _ in range(STREAMS)]
    browser.get(server.url + "/saved")  # any page of the server: the frames are same-origin
    browser.execute_script(
        "document.body.replaceChildren(...arguments[0].map((src) => {"
        "  const f = document.createElement('iframe');"
        "  f.src = src; f.width = 375; f.height = 300; return f; }));",
        [f"/chat/{c['session_id']}/root" for c in chats],
    )
    frames = "[...document.querySelectorAll('iframe')].map((f) => f.contentDocument)"
    wait_for(
        browser,
        lambda b: b.execute_script(
            f"return {frames}.every((d) => d && d.querySelector('#chat-form')"
            "?.dataset.connected === 'true')"
        ),
    )
    browser.execute_script(FRAME_COUNTER)
    idle_fps, idle_longest = frame_rate(
        browser, lambda b: b.execute_script("return window.__frames.length > 120")
    )
    browser.execute_script(
        f"for (const d of {frames}) {{"
        "  d.getElementById('message').value = 'stream please';"
        "  d.getElementById('chat-form').requestSubmit(); }"
    )
    done = (
        f"return {frames}.every((d) => "
        "d.querySelector('#transcript li.msg.assistant[data-status]'))"
    )
    busy_fps, busy_longest = frame_rate(browser, lambda b: b.execute_script(done))
    print(
        f"\nframe rate, {STREAMS} chat pages in one tab: idle {idle_fps:.0f} fps "
        f"(longest frame {idle_longest:.0f} ms)"
    )
    print(
        f"  while {STREAMS} creatures stream: {busy_fps:.0f} fps "
        f"(longest frame {busy_longest:.0f} ms), ratio {busy_fps / idle_fps:.2f}"
    )
