"""Streamed Markdown cut into blocks, and blocks rendered for a terminal."""

from __future__ import annotations

import pytest

from kt_cli.markdown import BlockSplitter, render


def split(chunks: list[str]) -> list[str]:
    splitter = BlockSplitter()
    blocks = []
    for chunk in chunks:
        blocks += splitter.feed(chunk)
    return blocks + splitter.flush()


def test_blocks_end_at_blank_lines_headings_and_closing_fences_whatever_the_chunks():
    text = "## Plan\nFirst **bold**\nstill first\n\n```sh\necho a\n\necho b\n```\n- x\n- y"
    expected = [
        "## Plan\n",
        "First **bold**\nstill first\n",
        "",
        "```sh\necho a\n\necho b\n```\n",  # a blank line inside a fence does not end it
        "- x\n- y",
    ]
    assert split([text]) == expected
    assert split(list(text)) == expected  # one character at a time


def test_the_tail_is_what_no_finished_block_holds():
    splitter = BlockSplitter()
    assert splitter.feed("Hello wor") == [] and splitter.tail == "Hello wor"
    assert splitter.feed("ld\n\nNext") == ["Hello world\n", ""]
    assert splitter.tail == "Next"


def test_an_unclosed_fence_is_flushed_at_the_end():
    assert split(["```py\nprint(1)\n"]) == ["```py\nprint(1)\n"]


def test_render_drops_the_markup_and_keeps_the_layout():
    pytest.importorskip("rich")
    assert render("## Summary\n", 40, colors=False) == "Summary"
    assert render("Some **bold** and `code`.\n", 40, colors=False) == "Some bold and code."
    assert render("- a\n- b\n", 40, colors=False).splitlines() == [" • a", " • b"]
    assert render("", 40) == ""
    coloured = render("**bold**\n", 40, colors=True)
    assert "\x1b[1m" in coloured and "bold" in coloured
