"""Render the hook reference (``docs/reference/hooks.md``) from :mod:`kt.hookspecs`.

Run ``python -m kt.plugins.hookdocs --write`` after changing a hook specification; a test
fails while the file and the specifications differ.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import kt.plugins.hookspecs as hookspecs

__all__ = ["render"]

_INTRO = """# Hook reference

Generated from `kernel/kt/plugins/hookspecs.py` by
`python -m kt.plugins.hookdocs --write`; do not edit by hand.

Implement a hook with `@kt.hookimpl` on a module-level function or a method of a plugin object.
An implementation may take any subset of the arguments listed (by name). See
[Writing a plugin](../guides/writing-a-plugin.md) for a walk-through.
"""


def _specs() -> list[tuple[str, object]]:
    found = [
        (name, fn)
        for name, fn in vars(hookspecs).items()
        if name.startswith("kt_") and inspect.isfunction(fn)
    ]
    return sorted(found, key=lambda item: item[1].__code__.co_firstlineno)  # type: ignore[attr-defined]


def _flags(fn: object) -> str:
    opts = getattr(fn, "kt_spec", {}) or {}
    flags = [flag for flag in ("firstresult", "historic") if opts.get(flag)]
    return f" *({', '.join(flags)})*" if flags else ""


def render() -> str:
    """The markdown text of the hook reference."""
    module_doc = inspect.getdoc(hookspecs) or ""
    parts = [_INTRO, "## How hooks are called\n", module_doc.split("\n", 1)[1].strip(), ""]
    sections = (
        ("Registration hooks", lambda n: n not in hookspecs.RUNTIME_HOOKS),
        ("Runtime hooks", lambda n: n in hookspecs.RUNTIME_HOOKS),
    )
    for title, wanted in sections:
        parts.append(f"## {title}\n")
        for name, fn in _specs():
            if not wanted(name):
                continue
            signature = inspect.signature(fn)  # type: ignore[arg-type]
            params = ", ".join(signature.parameters)
            parts.append(f"### `{name}({params})`{_flags(fn)}\n")
            parts.append((inspect.getdoc(fn) or "").strip() + "\n")
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str]) -> int:
    """Print the reference, or write it to docs/reference/hooks.md with ``--write``."""
    text = render()
    if "--write" in argv:
        target = Path(__file__).resolve().parents[3] / "docs" / "reference" / "hooks.md"
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
