"""Shared by the request tests of `cli` and `tui`: the local model server and an asking creature.

The model is the local OpenAI-compatible server of the LLM tests (`tests/plugins/kt_llm`),
which streams the real wire format and records every request.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kt_cli_helpers import write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "kt_llm"))
from fake_llm_servers import (  # noqa: E402
    FakeServer,
    anthropic_error,
    openai_error,
    openai_text,
    openai_tool_calls,
    openai_usage,
)

__all__ = [
    "FakeServer",
    "anthropic_error",
    "asking_creature",
    "openai_error",
    "openai_text",
    "openai_tool_calls",
    "openai_usage",
    "tool_results",
]


def asking_creature(folder: Path, server: FakeServer) -> Path:
    """A creature on *server* with ask_user, and bash gated by kt_guard's approvals."""
    write(
        folder / "creature.toml",
        f"""
        name = "asker"
        system_prompt = "You ask before you act."
        [controller]
        llm = "openai/test-model"
        base_url = "{server.url}/v1"
        [[tools]]
        name = "ask_user"
        require_manual = false
        [[tools]]
        name = "bash"
        [[plugins]]
        name = "kt_guard"
        [plugins.permissions]
        ask = ["bash"]
        timeout = 120
        """,
    )
    return folder


def tool_results(request) -> list[str]:
    """The tool results a recorded chat request carried to the model."""
    return [m["content"] for m in request.body["messages"] if m["role"] == "tool"]
