"""Manuals the ``info`` tool shows: one Markdown file per tool, read with importlib.resources."""
