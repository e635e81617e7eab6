"""Markdown from models and tools, turned into HTML that is safe to put in a page.

Three steps, each done by a well-kept library: markdown-it-py parses CommonMark with raw HTML
*off* (a ``<script>`` in a reply becomes text, not a tag), Pygments colours fenced code, and
nh3 removes whatever tag or attribute is not on the allow-list below, as a second wall should
a renderer ever let markup through. What comes out may be given to ``innerHTML``.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["render"]

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "div": {"class"},
    "span": {"class"},
    "pre": {"class"},
    "td": {"style"},
    "th": {"style"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def render(text: str) -> str:
    """Sanitized HTML for the Markdown *text*."""
    import nh3

    html = _parser().render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


@functools.cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "highlight": _highlight}).enable("table")


def _highlight(code: str, language: str, _attrs: str) -> str:
    """Pygments' HTML for a fenced block (``""``: markdown-it escapes it as plain code)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    if not language:
        return ""
    try:
        lexer = get_lexer_by_name(language)
    except ClassNotFound:
        return ""
    colored = highlight(code, lexer, HtmlFormatter(nowrap=True))
    return f'<pre class="highlight"><code>{colored}</code></pre>\n'


def highlight_css() -> str:
    """The Pygments rules for the light theme and, under ``[data-theme=dark]``, the dark one."""
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="friendly").get_style_defs(".highlight")
    dark = HtmlFormatter(style="monokai").get_style_defs("[data-theme=dark] .highlight")
    return f"{light}\n{dark}\n"
