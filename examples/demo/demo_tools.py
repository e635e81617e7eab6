"""The demo creature's custom tool: `word_count`.

The creature names it with `module = "./demo_tools.py"`: a file path in a creature config is
loaded from the creature's own folder, so the creature carries its code with it.
"""

from __future__ import annotations

import kt


@kt.tool
def word_count(text: str) -> str:
    """Count the words in a text (runs of characters between whitespace).

    Args:
        text: The text to count the words of.
    """
    count = len(text.split())
    return f"{count} word{'' if count == 1 else 's'}"
