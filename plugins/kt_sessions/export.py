"""Exporting a session: the whole log as JSON Lines, or a readable Markdown transcript."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ["to_jsonl", "to_markdown"]


def to_jsonl(reader: Any) -> Iterator[str]:
    """One line per logged event: ``{"id": ..., "type": ..., ...}`` in the kernel's wire shape.

    ``kt.events.from_wire`` rebuilds each event from its line (drop ``id`` first).
    """
    for logged in reader.events():
        yield json.dumps({"id": logged.id, **logged.wire}, ensure_ascii=False)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def to_markdown(reader: Any) -> str:
    """A transcript: per creature, each turn's input, tool calls with results, and reply."""
    info = reader.info()
    lines = [f"# Session {info.name}", ""]
    lines.append(f"- status: {info.status}")
    lines.append(f"- creatures: {', '.join(info.creatures) or 'none'}")
    if info.parent:
        lines.append(
            f"- forked from: {info.parent.get('path')} at event {info.parent.get('event_id')}"
        )
    usage = reader.usage()
    lines.append(
        f"- usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"
    )
    lines.append("")
    for creature in reader.creatures:
        lines += [f"## {creature}", ""]
        for turn in reader.turns(creature):
            lines.append(f"### Turn {turn.index} ({turn.status}, source {turn.source})")
            lines += ["", "**User**", "", _quote(turn.input), ""]
            for call in turn.tool_calls:
                args = json.dumps(call.args, ensure_ascii=False)
                lines.append(f"- tool `{call.name}` {args} → {call.status}")
                result = call.error or call.output
                if result:
                    lines.append("")
                    lines.append("  ```")
                    lines += [f"  {line}" for line in result.splitlines()[:40]]
                    lines.append("  ```")
            if turn.tool_calls:
                lines.append("")
            reply = turn.text or turn.output
            lines += ["**Assistant**", "", _quote(reply), ""]
    return "\n".join(lines).rstrip() + "\n"
