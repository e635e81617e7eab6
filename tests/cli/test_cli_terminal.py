"""Terminal input for the cli mode: key parsing, the line editor, input history."""

from __future__ import annotations

from kt_cli.terminal import History, Key, KeyParser, LineEditor, text_width


def keys(data: bytes) -> list[tuple[str, str]]:
    return [(k.name, k.text) for k in KeyParser().feed(data)]


def test_key_parser_names_control_keys_and_escape_sequences():
    assert keys(b"ab\r") == [("text", "ab"), ("enter", "")]
    assert keys(b"\x03\x04\x7f\t\x15") == [
        ("ctrl-c", ""),
        ("ctrl-d", ""),
        ("backspace", ""),
        ("tab", ""),
        ("ctrl-u", ""),
    ]
    assert keys(b"\x1b[A\x1b[B\x1b[C\x1b[D\x1b[H\x1b[F\x1b[3~\x1bOH\x1b[1;5D") == [
        ("up", ""),
        ("down", ""),
        ("right", ""),
        ("left", ""),
        ("home", ""),
        ("end", ""),
        ("delete", ""),
        ("home", ""),
        ("word-left", ""),
    ]
    assert keys(b"\x1b") == [("escape", "")]
    assert keys(b"\x1b[200~pasted\x1b[201~") == [("paste", "pasted")]


def test_key_parser_newline_keys_and_a_paste_across_reads_with_its_newlines():
    parser = KeyParser()
    assert [(k.name, k.text) for k in parser.feed(b"a\nb\x1b\rc\x1b[13;2u")] == [
        ("text", "a"),
        ("newline", ""),
        ("text", "b"),
        ("newline", ""),
        ("text", "c"),
        ("newline", ""),
    ]
    assert parser.feed(b"x\x1b[200~line one\r\nline") == [Key("text", "x")]
    assert parser.feed(b" two\r\x1b[201~\r") == [
        Key("paste", "line one\nline two\n"),
        Key("enter"),
    ]


def test_line_editor_multiline_text_and_its_rows():
    editor = LineEditor()
    editor.feed(Key("text", "first"))
    editor.feed(Key("newline"))
    editor.feed(Key("paste", "second\nthird"))
    assert editor.text == "first\nsecond\nthird"
    rows, row, column = editor.rows("> ", 40)
    assert rows == ["> first", "… second", "… third"]
    assert (row, column) == (2, len("… third"))
    assert editor.feed(Key("enter")) == "submit"


def test_key_parser_keeps_a_character_split_across_reads():
    parser = KeyParser()
    data = "é✓".encode()
    assert parser.feed(data[:1]) == []
    assert [k.text for k in parser.feed(data[1:])] == ["é✓"]


def feed(editor: LineEditor, *names_or_text: str) -> list[str | None]:
    actions = []
    for item in names_or_text:
        key = Key(item[1:]) if item.startswith("@") else Key("text", item)
        actions.append(editor.feed(key))
    return actions


def test_line_editor_edits_in_the_middle_and_submits():
    editor = LineEditor()
    feed(editor, "hello world", "@home", "@word-right", "@ctrl-w", "bye")
    assert (editor.text, editor.cursor) == ("bye world", 3)
    feed(editor, "@end", "@backspace", "@left", "@delete", "!")
    assert editor.text == "bye wor!"
    assert feed(editor, "@enter") == ["submit"]
    assert editor.history.lines == ["bye wor!"]


def test_line_editor_ctrl_d_is_end_of_input_only_on_an_empty_line():
    editor = LineEditor()
    assert feed(editor, "@ctrl-d") == ["eof"]
    feed(editor, "ab", "@home")
    assert feed(editor, "@ctrl-d") == [None]
    assert editor.text == "b"
    assert feed(editor, "@ctrl-c") == ["interrupt"]


def test_line_editor_walks_history_and_restores_the_draft():
    editor = LineEditor(history=History())
    for line in ("one", "two"):
        feed(editor, line, "@enter")
        editor.set_text("")
    feed(editor, "draft", "@up")
    assert editor.text == "two"
    feed(editor, "@up", "@up")
    assert editor.text == "one"
    feed(editor, "@down", "@down")
    assert editor.text == "draft"


def test_line_editor_completes_a_common_prefix_then_lists_candidates():
    names = ["/clear", "/compact", "/status"]
    editor = LineEditor(complete=lambda text: [n for n in names if n.startswith(text)])
    feed(editor, "/s", "@tab")
    assert editor.text == "/status "
    editor.set_text("/c")
    assert feed(editor, "@tab") == ["candidates"]
    assert editor.candidates() == ["/clear", "/compact"]
    feed(editor, "o", "@tab")
    assert editor.text == "/compact "


def test_view_scrolls_a_long_line_sideways_instead_of_wrapping():
    editor = LineEditor()
    editor.set_text("x" * 50 + "END")
    row, column = editor.view("> ", 20)
    assert row.startswith("> ") and row.endswith("END") and text_width(row) <= 20
    assert column == text_width(row)
    editor.feed(Key("home"))
    row, column = editor.view("> ", 20)
    assert row.startswith("> xxx") and column == 2


def test_view_counts_wide_characters_as_two_columns():
    editor = LineEditor()
    editor.set_text("日本")
    assert editor.view("> ", 40) == ("> 日本", 6)


def test_history_file_is_loaded_appended_and_bounded(tmp_path):
    file = tmp_path / "input-history"
    history = History(file, limit=3)
    for line in ("a", "b", "b", " ", "c", "d"):
        history.add(line)
    assert history.lines == ["b", "c", "d"]
    assert History(file, limit=3).lines == ["b", "c", "d"]


def test_history_in_an_unwritable_place_is_kept_for_the_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    history = History(blocker / "history")
    history.add("kept")
    assert history.lines == ["kept"] and history.file is None


def test_ctrl_r_searches_history_newest_first_and_escape_gives_the_draft_back():
    history = History()
    for line in ("git status", "ls -la", "git commit -m x", "make"):
        history.add(line)
    editor = LineEditor(history=history)
    editor.feed(Key("text", "draft"))
    editor.feed(Key("ctrl-r"))
    assert editor.search_label() == "(search ''): "
    editor.feed(Key("text", "git"))
    assert editor.text == "git commit -m x"
    editor.feed(Key("ctrl-r"))
    assert editor.text == "git status"
    editor.feed(Key("escape"))
    assert (editor.text, editor.search) == ("draft", None)
    editor.feed(Key("ctrl-r"))
    editor.feed(Key("text", "ls"))
    assert editor.feed(Key("enter")) == "submit"
    assert editor.text == "ls -la" and editor.search is None
