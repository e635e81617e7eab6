"""The dashboard's costs: first paint of its pages, and bytes on the wire per streamed token.

Run with ``python -m pytest tests/benchmarks/test_dashboard_bench.py -m benchmark -s``. A real
server on a loopback port with a zero-latency scripted model; the Debian Chromium headless.

* first contentful paint of the chat page, and of a saved session's viewer with 10 and with
  1,000 turns (the viewer shows 50 turns a page): the ratio says whether paging holds;
* chat WebSocket bytes per streamed token (one ``text`` frame per delta, one-character deltas).
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


def test_first_paint_and_bytes_per_token(tmp_path):
    root = world(tmp_path)
    server = Server(tmp_path / "home")
    browser = launch_chromium(tmp_path / "profile")
    if browser is None:
        server.stop()
        pytest.skip("needs chromium and chromium-driver")
    try:
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
    finally:
        browser.quit()
        server.stop()
