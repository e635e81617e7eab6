"""Helpers shared by the session tests."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write(path: Path, text: str) -> Path:
    """Write *text* (dedented) to *path*, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def crash_image(path: Path, target: Path) -> Path:
    """Copy a live session file as a killed process leaves it (owner gone)."""
    import json
    import shutil
    import socket
    import sqlite3

    shutil.copyfile(path, target)
    shutil.copyfile(f"{path}-wal", f"{target}-wal")
    connection = sqlite3.connect(target)
    dead = {"pid": -1, "host": socket.gethostname()}
    recording = json.loads(
        connection.execute("SELECT value FROM meta WHERE key = 'recording'").fetchone()[0]
    )
    connection.execute("UPDATE meta SET value = ? WHERE key = 'owner'", (json.dumps(dead),))
    connection.execute(
        "UPDATE meta SET value = ? WHERE key = 'recording'",
        (json.dumps(dict.fromkeys(recording, dead)),),
    )
    connection.commit()
    connection.close()
    return target
