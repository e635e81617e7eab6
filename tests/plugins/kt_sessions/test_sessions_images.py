"""Images in a session: the log keeps them, resume sends them again, exports stay bounded.

A read screenshot and an image the user attached are recorded as the parts the model saw;
resuming rebuilds them exactly and the next call carries them. The log stores an image's
data where the message enters the log (the appended message and its turn's result), never
again in later turns; text views (Markdown export, search, turn inputs) show ``[image]``.
"""

from __future__ import annotations

import base64
import sqlite3

import kt
import kt_sessions
import kt_tools
from kt.llm import ContentPart
from kt.testing import ScriptedLLM, ToolCall
from kt_sessions.export import to_jsonl, to_markdown

# A real PNG (1x1, then 30 KB of trailing bytes, which readers of PNG ignore) so its data is
# easy to count in the file: a chunk of its base64 appears nowhere else.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)
SCREEN = PNG + bytes(range(256)) * 120
SCREEN_MARK = base64.b64encode(SCREEN).decode()[-4000:]  # the trailing bytes' base64 only
CONFIG = {"name": "eyes", "tools": [{"name": "read"}]}


def occurrences(path, needle: str) -> int:
    """How many event rows hold *needle* (the snapshot is a cache, counted apart)."""
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT count(*) FROM event WHERE instr(data, ?) > 0", (needle,)
        ).fetchone()[0]


async def test_images_survive_the_log_and_resume(tmp_path, session_dir):
    (tmp_path / "screen.png").write_bytes(SCREEN)
    kernel = kt.Kernel(plugins=[kt_sessions, kt_tools])
    first = ScriptedLLM([ToolCall("read", {"path": "screen.png"}), "A screen.", "You are welcome."])
    agent = await kt.Agent.build(
        CONFIG, llm=first, kernel=kernel, session=True, session_dir=session_dir, pwd=tmp_path
    )
    attached = [ContentPart("text", text="Compare with this:"), ContentPart.image(PNG)]
    async with agent:
        await agent.run(attached)
        await agent.run("thanks")
    path = agent.session.path
    (tool_message,) = [m for m in agent.history if m.role == "tool"]
    assert tool_message.content[1] == ContentPart.image(SCREEN)

    second = ScriptedLLM(["Still a screen."])
    resumed = await kt.Agent.resume(path, kernel=kernel, llm=second, pwd=tmp_path)
    assert resumed.history == agent.history
    async with resumed:
        await resumed.run("and now?")
    sent = second.calls[0].messages
    assert tuple(attached) in [m.content for m in sent]  # the user's image, as attached
    assert tool_message in sent  # the screenshot, as read

    with kt.SessionReader(path, kernel=kernel) as reader:
        turns = reader.turns()
        markdown = to_markdown(reader)
        jsonl = "\n".join(to_jsonl(reader))
    assert turns[0].input == "Compare with this:[image]"
    assert SCREEN_MARK not in markdown and "Image: " in markdown
    # Stored where the message entered the log: message_appended and turn_completed, and
    # not again for the later turns (two of which came after it).
    assert occurrences(path, SCREEN_MARK) == 2
    assert jsonl.count(SCREEN_MARK) == 2
    assert len(jsonl) < 3 * len(base64.b64encode(SCREEN)) + 20_000
