"""Terminal input for the ``cli`` mode: raw keys read under trio, and a one-line editor.

Why not ``input()`` with ``readline``: it blocks a thread that cannot be cancelled, so a reply
arriving from a background job could not redraw the prompt, Ctrl+C would have to be a signal
(and could not both clear the line and interrupt a turn), and the terminal could be left in
readline's mode when the process exits mid-read. Instead the terminal is put in a raw-ish mode
(no echo, no line buffering, no signal keys; output processing kept, so a newline still starts a
new line) and the keys are read with ``trio.lowlevel.wait_readable`` in the main task.

:class:`LineEditor` is the editing model: a buffer and a cursor, history, and completion. It
knows nothing about terminals; the ``cli`` front end draws it (:meth:`LineEditor.view`).
"""

from __future__ import annotations

import codecs
import os
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

__all__ = [
    "History",
    "Key",
    "KeyParser",
    "LineEditor",
    "char_width",
    "raw_terminal",
    "text_width",
]


@attrs.frozen
class Key:
    """One key press: a named key (``enter``, ``ctrl-c``, ``up`` ...) or typed text.

    Attributes:
        name: The key's name, or ``"text"`` for typed characters.
        text: The characters, for ``"text"`` keys (a paste may bring several).
    """

    name: str
    text: str = ""


_CONTROL = {
    "\r": "enter",
    "\n": "newline",  # Ctrl+J (Enter sends CR in raw mode)
    "\t": "tab",
    "\x7f": "backspace",
    "\x08": "backspace",
    "\x1b": "escape",
}
_CSI = {
    "A": "up",
    "B": "down",
    "C": "right",
    "D": "left",
    "H": "home",
    "F": "end",
    "1~": "home",
    "7~": "home",
    "4~": "end",
    "8~": "end",
    "3~": "delete",
    "5~": "page-up",
    "6~": "page-down",
    "1;5C": "word-right",
    "1;5D": "word-left",
    "13;2u": "newline",  # Shift+Enter, where the terminal reports modified keys
    "27;2;13~": "newline",
    "13;3u": "newline",  # Alt+Enter, the same way
}
PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


class KeyParser:
    """Turns the bytes a terminal sends into :class:`Key` objects.

    Text is decoded as UTF-8 across reads (a character split between two reads is kept until
    its end arrives). Escape sequences are expected whole within one read, as terminals send
    them; an ``ESC`` at the end of a read is the Escape key, ``ESC`` before Enter is Alt+Enter
    (a ``newline`` key, as Ctrl+J and Shift+Enter are). A bracketed paste (the front end turns
    the mode on) arrives as one ``paste`` key holding the pasted text, newlines included, even
    when it spans several reads.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._paste: list[str] | None = None  # inside a bracketed paste: what came so far

    def feed(self, data: bytes) -> list[Key]:
        """The keys in *data*, in order.

        Args:
            data: Bytes read from the terminal.

        Returns:
            Named keys, runs of typed text, and pastes.
        """
        text = self._decoder.decode(data)
        keys: list[Key] = []
        typed: list[str] = []

        def flush() -> None:
            if typed:
                keys.append(Key("text", "".join(typed)))
                typed.clear()

        i = 0
        while i < len(text):
            if self._paste is not None:
                end = text.find(PASTE_END, i)
                if end < 0:
                    self._paste.append(text[i:])
                    break
                self._paste.append(text[i:end])
                pasted = "".join(self._paste).replace("\r\n", "\n").replace("\r", "\n")
                keys.append(Key("paste", pasted))
                self._paste = None
                i = end + len(PASTE_END)
                continue
            char = text[i]
            if text.startswith(PASTE_START, i):
                flush()
                self._paste = []
                i += len(PASTE_START)
                continue
            if char == "\x1b" and i + 1 < len(text) and text[i + 1] in "\r\n":
                flush()
                keys.append(Key("newline"))
                i += 2
                continue
            if char == "\x1b" and i + 1 < len(text) and text[i + 1] in "[O":
                end = i + 2
                while end < len(text) and not ("@" <= text[end] <= "~" and text[end] != "["):
                    end += 1
                body = text[i + 2 : end + 1]
                flush()
                if not body.startswith("201~"):  # a stray paste end is ignored
                    keys.append(Key(_CSI.get(body, f"unknown:{body}")))
                i = end + 1
                continue
            if char in _CONTROL:
                flush()
                keys.append(Key(_CONTROL[char]))
            elif ord(char) < 32:
                flush()
                keys.append(Key(f"ctrl-{chr(ord(char) + 96)}"))
            else:
                typed.append(char)
            i += 1
        flush()
        return keys


def char_width(char: str) -> int:
    """Columns *char* takes on a terminal: 2 for wide East Asian characters, 0 for combining."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Columns *text* takes on a terminal (see :func:`char_width`)."""
    return sum(char_width(c) for c in text)


class History:
    """Input lines entered so far, oldest first, optionally kept in a file between runs.

    Args:
        file: Where to load from and append to (``None``: this run only). Lines that cannot
            be read or written are skipped silently: history is a convenience.
        limit: How many lines to keep.
    """

    def __init__(self, file: Path | None = None, *, limit: int = 1000) -> None:
        self.file = file
        self.limit = limit
        self.lines: list[str] = []
        if file is not None:
            try:
                self.lines = file.read_text(encoding="utf-8").splitlines()[-limit:]
            except (OSError, UnicodeDecodeError):
                self.lines = []

    def add(self, line: str) -> None:
        """Remember *line* (blank lines and repeats of the last line are not kept)."""
        if not line.strip() or (self.lines and self.lines[-1] == line):
            return
        self.lines.append(line)
        del self.lines[: -self.limit]
        if self.file is not None:
            try:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                with self.file.open("a", encoding="utf-8") as out:
                    out.write(line.replace("\n", " ") + "\n")
            except OSError:
                self.file = None  # not writable: keep history for this run only


@attrs.define
class LineEditor:
    """The line being typed: a buffer, a cursor, history browsing and completion.

    Args:
        history: Earlier lines, browsed with Up and Down.
        complete: Given the text before the cursor, the candidates that could follow
            (``/co`` -> ``["/compact"]``); Tab completes their common prefix.

    Attributes:
        buffer: The characters of the line.
        cursor: Index in *buffer* of the insertion point.
    """

    history: History = attrs.Factory(History)
    complete: Callable[[str], list[str]] | None = None
    buffer: list[str] = attrs.Factory(list)
    cursor: int = 0
    _browse: int | None = None  # index into history.lines while browsing
    _draft: str = ""  # what was typed before browsing or searching started
    search: str | None = None  # the query while searching history (Ctrl+R), else None
    _hit: int | None = None  # index into history.lines of the current search match

    @property
    def text(self) -> str:
        """The whole line."""
        return "".join(self.buffer)

    def set_text(self, text: str) -> None:
        """Replace the line and put the cursor at its end."""
        self.buffer = list(text)
        self.cursor = len(self.buffer)

    def feed(self, key: Key) -> str | None:
        """Apply *key*.

        Args:
            key: A key press.

        Returns:
            ``"submit"`` (Enter; Ctrl+J, Alt+Enter and Shift+Enter insert a newline, a
            bracketed paste is inserted whole, newlines included), ``"eof"`` (Ctrl+D on an
            empty line), ``"interrupt"`` (Ctrl+C), ``"candidates"`` (Tab found several
            completions: see :meth:`candidates`), ``"redraw"`` (Ctrl+L) or ``None``.
        """
        name = key.name
        if self.search is not None:
            handled = self._search_key(key)
            if handled is not False:
                return handled
        if name == "ctrl-r":
            self.search, self._hit, self._draft = "", None, self.text
            return None
        if name in ("text", "paste", "newline"):
            text = "\n" if name == "newline" else key.text
            self.buffer[self.cursor : self.cursor] = list(text)
            self.cursor += len(text)
        elif name == "enter":
            self.history.add(self.text)
            self._browse = None
            return "submit"
        elif name == "ctrl-c":
            self._browse = None
            return "interrupt"
        elif name == "ctrl-d":
            if not self.buffer:
                return "eof"
            self._delete(self.cursor)
        elif name == "backspace":
            if self.cursor > 0:
                self.cursor -= 1
                self._delete(self.cursor)
        elif name == "delete":
            self._delete(self.cursor)
        elif name in ("left", "ctrl-b"):
            self.cursor = max(0, self.cursor - 1)
        elif name in ("right", "ctrl-f"):
            self.cursor = min(len(self.buffer), self.cursor + 1)
        elif name in ("home", "ctrl-a"):
            self.cursor = 0
        elif name in ("end", "ctrl-e"):
            self.cursor = len(self.buffer)
        elif name == "word-left":
            self.cursor = self._word_start(self.cursor)
        elif name == "word-right":
            while self.cursor < len(self.buffer) and self.buffer[self.cursor].isspace():
                self.cursor += 1
            while self.cursor < len(self.buffer) and not self.buffer[self.cursor].isspace():
                self.cursor += 1
        elif name == "ctrl-u":
            del self.buffer[: self.cursor]
            self.cursor = 0
        elif name == "ctrl-k":
            del self.buffer[self.cursor :]
        elif name == "ctrl-w":
            start = self._word_start(self.cursor)
            del self.buffer[start : self.cursor]
            self.cursor = start
        elif name in ("up", "ctrl-p"):
            self._walk_history(-1)
        elif name in ("down", "ctrl-n"):
            self._walk_history(1)
        elif name == "tab":
            return self._complete()
        elif name == "ctrl-l":
            return "redraw"
        return None

    def _search_key(self, key: Key) -> str | None | bool:
        """A key while searching history; ``False``: it ends the search and edits as usual."""
        assert self.search is not None
        name = key.name
        if name == "ctrl-r":
            self._find(self.search, before=self._hit)
        elif name == "text":
            self.search += key.text
            self._find(self.search, before=None if self._hit is None else self._hit + 1)
        elif name == "backspace":
            self.search = self.search[:-1]
            self._find(self.search, before=None)
        elif name in ("escape", "ctrl-g", "ctrl-c"):
            self.search = None
            self.set_text(self._draft)
            return "interrupt" if name == "ctrl-c" else None
        else:
            self.search = None  # the match stays in the line; the key then acts on it
            return False
        return None

    def _find(self, query: str, *, before: int | None) -> None:
        """Show the newest history line containing *query* above index *before*."""
        lines = self.history.lines
        end = len(lines) if before is None else before
        for index in range(end - 1, -1, -1):
            if query in lines[index]:
                self._hit = index
                self.set_text(lines[index])
                return

    def search_label(self) -> str:
        """The prompt while searching (``(search 'git'): ``), or ``""`` when not searching."""
        return "" if self.search is None else f"(search '{self.search}'): "

    def candidates(self) -> list[str]:
        """The completions of the text before the cursor (for listing after Tab)."""
        if self.complete is None:
            return []
        return self.complete("".join(self.buffer[: self.cursor]))

    def view(self, prompt: str, width: int) -> tuple[str, int]:
        """What to draw on one terminal row of *width* columns, and where the cursor goes.

        A line longer than the row scrolls sideways, so it never wraps (a wrapped line could
        not be redrawn with a carriage return).

        Args:
            prompt: Drawn before the text.
            width: Columns available.

        Returns:
            The row's text and the cursor's column.
        """
        room = max(width - text_width(prompt) - 1, 8)
        start = 0
        while text_width("".join(self.buffer[start : self.cursor])) > room - 1:
            start += 1
        shown: list[str] = []
        used = 0
        for char in self.buffer[start:]:
            used += char_width(char)
            if used > room:
                break
            shown.append(char)
        column = text_width(prompt) + text_width("".join(self.buffer[start : self.cursor]))
        return prompt + "".join(shown), column

    def rows(self, prompt: str, width: int) -> tuple[list[str], int, int]:
        """The terminal rows of a text that may hold newlines, and where the cursor goes.

        The first row starts with *prompt*, the others with ``…`` padded to its width; each
        row scrolls sideways as :meth:`view` does (only the cursor's row follows the cursor).

        Returns:
            The rows, the cursor's row index and its column.
        """
        lines = self.text.split("\n")
        before = "".join(self.buffer[: self.cursor])
        cursor_row = before.count("\n")
        cursor_col = len(before) - (before.rfind("\n") + 1)
        pad = "… ".rjust(text_width(prompt)) if text_width(prompt) >= 2 else ""
        rows: list[str] = []
        column = 0
        for index, line in enumerate(lines):
            lead = prompt if index == 0 else pad
            at = cursor_col if index == cursor_row else 0
            editor = LineEditor(buffer=list(line), cursor=at)
            row, col = editor.view(lead, width)
            rows.append(row)
            if index == cursor_row:
                column = col
        return rows, cursor_row, column

    def _delete(self, index: int) -> None:
        if index < len(self.buffer):
            del self.buffer[index]

    def _word_start(self, index: int) -> int:
        while index > 0 and self.buffer[index - 1].isspace():
            index -= 1
        while index > 0 and not self.buffer[index - 1].isspace():
            index -= 1
        return index

    def _walk_history(self, step: int) -> None:
        lines = self.history.lines
        if not lines:
            return
        if self._browse is None:
            if step > 0:
                return
            self._draft = self.text
            self._browse = len(lines)
        position = self._browse + step
        if position < 0:
            return
        if position >= len(lines):
            self._browse = None
            self.set_text(self._draft)
            return
        self._browse = position
        self.set_text(lines[position])

    def _complete(self) -> str | None:
        found = self.candidates()
        if not found:
            return None
        before = "".join(self.buffer[: self.cursor])
        common = os.path.commonprefix(found)
        if len(found) == 1 and not common.endswith("/"):
            common += " "
        if len(common) > len(before):
            addition = common[len(before) :]
            self.buffer[self.cursor : self.cursor] = list(addition)
            self.cursor += len(addition)
            return None
        return "candidates" if len(found) > 1 else None


@contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Put the terminal at *fd* in the mode :class:`KeyParser` expects; restore it on exit.

    Echo, line buffering, signal keys (Ctrl+C, Ctrl+Z), flow control (Ctrl+S/Q) and
    CR-to-NL translation are switched off, so every key arrives as bytes; output processing
    stays on. The previous settings come back when the block is left, however it is left.

    Args:
        fd: A terminal's file descriptor (standard input).
    """
    import termios

    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[0] &= ~(termios.IXON | termios.ICRNL | termios.INLCR | termios.IGNCR)
    mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
    mode[6][termios.VMIN] = 1
    mode[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSADRAIN, mode)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
