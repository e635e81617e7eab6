"""Fixtures for the dashboard tests: a real server, and one headless Chromium per session.

The server is ``kt_web``'s, started exactly as its own tests start it (a child process on a
loopback port, ready on a pipe). The browser is the Debian Chromium driven by its
chromedriver through selenium; without them the browser tests skip (CI installs them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))  # kt_web's test helpers

from browsing import launch_chromium  # noqa: E402
from kt_web_helpers import Server, write, write_helper_and_team  # noqa: E402

THREE = ("first answer", "second answer", "edited answer")  # replies of three.toml, in order


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Path:
    """Creatures and reply scripts: plain, Markdown, a tool call, slow, hostile, a team."""
    root = tmp_path_factory.mktemp("dashboard")
    write_helper_and_team(root)
    markdown = (
        '[[replies]]\ntext = """Here is **bold** text and a list:\n\n- apple\n- pear\n\n'
        '```python\nprint(\'hi\')\n```\n"""\nchunk_size = 7\n'
    )
    tool = (
        '[[replies]]\n[[replies.tool_calls]]\nname = "scratchpad"\n'
        'args = { action = "set", key = "plan", value = "walk the dog" }\n'
        '[[replies]]\ntext = "Noted the plan."\n'
    )
    hostile = (
        "[[replies]]\ntext = '''Careful: <script>window.__pwned = 1</script> and "
        "<img src=x onerror=\"window.__pwned = 2\"> stay text.'''\n"
    )
    write(root / "markdown.toml", markdown)
    write(root / "tool.toml", tool)
    write(root / "tool-then-text.toml", tool + '[[replies]]\ntext = "Still noted."\n')
    write(root / "tool-twice.toml", tool + tool)
    write(root / "hostile.toml", hostile)
    write(
        root / "creatures" / "asker" / "creature.toml",
        'name = "asker"\nsystem_prompt = "You ask."\n'
        '[[tools]]\nname = "ask_user"\nrequire_manual = false\n',
    )
    ask = (
        '[[replies]]\n[[replies.tool_calls]]\nname = "ask_user"\n'
        'args = { question = "Which **colour** should the shed be?" }\n'
        '[[replies]]\ntext = "Painting it now."\n'
    )
    write(root / "ask.toml", ask)
    write(
        root / "creatures" / "guarded" / "creature.toml",
        'name = "guarded"\nsystem_prompt = "You ask first."\n[[tools]]\nname = "scratchpad"\n'
        '[[plugins]]\nname = "kt_guard"\npermissions = { ask = ["scratchpad"] }\n',
    )
    slow = (
        '[[replies]]\ntext = "a very slow reply that goes on and on"\nchunk_size = 1\ndelay = 0.2\n'
    )
    write(root / "slow.toml", slow * 5)
    write(root / "three.toml", "".join(f'[[replies]]\ntext = "{t}"\n' for t in THREE))
    write(
        root / "creatures" / "delegator" / "creature.toml",
        'name = "delegator"\nsystem_prompt = "You delegate."\nsubagents = ["explore"]\n'
        '[[tools]]\nname = "glob"\n',
    )
    delegate = (  # the parent calls explore; the child (same script) globs, answers; parent ends
        '[[replies]]\n[[replies.tool_calls]]\nname = "explore"\n'
        'args = { task = "find the configs", run_in_background = false }\n'
        '[[replies]]\n[[replies.tool_calls]]\nname = "glob"\nargs = { pattern = "*.toml" }\n'
        '[[replies]]\ntext = "The child found them."\n'
        '[[replies]]\ntext = "All *done*."\n'
    )
    write(root / "delegate.toml", delegate)
    return root


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A dashboard server with every auth layer off."""
    running = Server(tmp_path_factory.mktemp("home"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """One headless Chromium for the whole test session (skips when it is not installed)."""
    pytest.importorskip("selenium.webdriver")
    driver = launch_chromium(tmp_path_factory.mktemp("chromium-profile"))
    if driver is None:
        pytest.skip("needs the Debian packages chromium and chromium-driver (CI installs them)")
    yield driver
    driver.quit()
