"""``web_fetch`` and ``web_search``: reading the web.

``web_fetch`` downloads one page with httpx (timeouts, redirects, a size limit enforced while
streaming, so a huge download is cut off rather than buffered) and turns HTML into Markdown
with markdownify: headings, paragraphs, ordered and nested lists, tables, links as
``[text](url)`` made absolute, code blocks with their indentation; scripts, styles and page
chrome dropped.

``web_search`` asks a search backend. There is no built-in default, because every public
search service needs an account or a key: configure a SearxNG-compatible JSON endpoint with
the ``url`` option or the ``KT_WEB_SEARCH_URL`` environment variable, or pick the ``ddgs``
backend (``pip install ddgs``). Without one, the tool says so and how to set it up.

httpx and markdownify (the ``tools`` extra) are imported when a call runs, not when the plugin
loads; without them the tools answer with an error that names the extra.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

import attrs

import kt
from kt.errors import PluginError
from kt_tools.common import configurable, fail, in_thread

# -- HTML to text -------------------------------------------------------------------------------

_SKIP = ("script", "style", "noscript", "template", "svg", "head", "iframe", "canvas", "form")
_CHROME = ("nav", "footer", "aside")
_NO_LINK = ("#", "javascript:", "mailto:")


def _code_language(pre: Any) -> str | None:
    """``python`` for ``<pre class="language-python">`` or a ``<code>`` inside so marked."""
    code = pre.find("code")
    for tag in (pre, code) if code is not None else (pre,):
        for name in tag.get("class") or ():
            if name.startswith(("language-", "lang-")):
                return name.partition("-")[2] or None
    return None


_MARKDOWN = {
    "heading_style": "atx",
    "bullets": "-",
    "escape_asterisks": False,
    "escape_underscores": False,
    "escape_misc": False,
    "table_infer_header": True,
    "code_language_callback": _code_language,
}
"""markdownify's options: ``#`` headings, ``-`` bullets, text as written (no escapes), and the
first row of a table without ``<th>`` cells as its header."""


_NO_CONVERTER = (
    "html_to_text needs markdownify, which is not installed: `pip install 'kt-terrarium[tools]'`"
)


def html_to_text(html: str, base_url: str = "", *, keep_chrome: bool = False) -> tuple[str, str]:
    """Turn an HTML page into readable Markdown text; return ``(title, text)``.

    markdownify does the conversion, so code blocks keep their indentation and ordered lists,
    nested lists and tables keep their shape. Before it runs, scripts, styles, forms and the
    ``<head>`` are dropped (and navigation, footers and sidebars unless *keep_chrome*), links
    are made absolute against *base_url* (links to anchors, ``javascript:`` and ``mailto:``
    keep only their text), and images become ``[image: ALT]``.

    Args:
        html: The page.
        base_url: For resolving relative links.
        keep_chrome: Keep ``nav``, ``footer`` and ``aside`` content.

    Raises:
        PluginError: markdownify is not installed (the ``tools`` extra).
    """
    try:
        from bs4 import BeautifulSoup, NavigableString
        from markdownify import MarkdownConverter
    except ImportError:
        raise PluginError(_NO_CONVERTER) from None
    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text() if soup.title is not None else ""
    for tag in soup.find_all(_SKIP if keep_chrome else _SKIP + _CHROME):
        tag.extract()  # a tag inside an extracted one goes with it; extracting it again is harmless
    for img in soup.find_all("img"):
        alt = " ".join((img.get("alt") or "").split())
        if alt:
            img.replace_with(NavigableString(f"[image: {alt}]"))
        else:
            img.extract()
    for link in soup.find_all("a"):
        href = (link.get("href") or "").strip()
        if not href or href.startswith(_NO_LINK) or not link.get_text(strip=True):
            link.unwrap()
        else:
            link.attrs = {"href": urljoin(base_url, href)}
    soup.smooth()  # joins the text nodes that removals left side by side
    text = MarkdownConverter(**_MARKDOWN).convert_soup(soup)
    text = re.sub(r"[ \t]+$", "", text, flags=re.M)  # e.g. the two spaces of a <br>
    return " ".join(title.split()), text.strip("\n")


# -- web_fetch ----------------------------------------------------------------------------------


def _missing(tool: str, *modules: str) -> str:
    """Why *tool* cannot run, naming the extra to install; ``""`` when *modules* import.

    The modules are imported here, on the first call of a web tool, not when the plugin loads.
    """
    absent = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            absent.append(module)
    if not absent:
        return ""
    return (
        f"{tool} needs {' and '.join(absent)}, which {'is' if len(absent) == 1 else 'are'} not "
        "installed: `pip install 'kt-terrarium[tools]'`"
    )


USER_AGENT = f"kt-terrarium/{kt.__version__} (web_fetch; +https://pypi.org/project/kt-terrarium/)"


@attrs.frozen
class FetchOptions:
    """Options of ``web_fetch``.

    Attributes:
        request_timeout: Seconds for connecting and for each read.
        max_bytes: Bytes downloaded at most; the rest is not fetched.
        max_chars: Characters of text returned at most.
        user_agent: The User-Agent header.
        headers: Extra request headers.
        keep_chrome: Keep navigation, footers and sidebars of HTML pages.
    """

    request_timeout: float = 30.0
    max_bytes: int = 5_000_000
    max_chars: int = 100_000
    user_agent: str = USER_AGENT
    headers: Mapping[str, str] = attrs.field(factory=dict)
    keep_chrome: bool = False


_TEXTUAL = re.compile(r"^(text/|application/(json|xml|xhtml\+xml|javascript|[\w.+-]*\+(json|xml)))")


def _decode(data: bytes, content_type: str) -> str:
    match = re.search(r"charset=([\w-]+)", content_type, re.I)
    if match is None and "html" in content_type:
        match = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", data[:4096], re.I)
    charset = match.group(1) if match else "utf-8"
    charset = charset.decode("ascii") if isinstance(charset, bytes) else charset
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _fetch(options: FetchOptions) -> kt.ToolSpec:
    @kt.tool(name="web_fetch", body_arg="url")
    async def web_fetch(url: str) -> kt.ToolResult:
        """Fetch a web page and return its readable text (HTML is converted; links kept).

        Args:
            url: The address; "https://" is added when no scheme is given.
        """
        missing = _missing("web_fetch", "httpx", "markdownify")
        if missing:
            return fail(missing)
        import httpx

        url = url.strip()
        if not url:
            return fail("url is required")
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
            url = "https://" + url
        if not url.lower().startswith(("http://", "https://")):
            return fail(f"only http and https addresses can be fetched, not {url}")
        headers = {"User-Agent": options.user_agent, **options.headers}
        timeout = httpx.Timeout(options.request_timeout)
        received = bytearray()
        cut = False
        try:
            async with httpx.AsyncClient(
                timeout=timeout, follow_redirects=True, headers=headers, max_redirects=10
            ) as client:
                async with client.stream("GET", url) as response:
                    async for chunk in response.aiter_bytes():
                        received += chunk
                        if len(received) > options.max_bytes:
                            cut = True
                            del received[options.max_bytes :]
                            break
                    final_url = str(response.url)
                    status = response.status_code
                    content_type = response.headers.get("content-type", "")
        except httpx.TimeoutException:
            return fail(f"fetching {url} timed out after {options.request_timeout:g}s")
        except httpx.TooManyRedirects:
            return fail(f"fetching {url} failed: too many redirects")
        except httpx.HTTPError as exc:
            return fail(f"fetching {url} failed: {type(exc).__name__}: {exc}")
        data = bytes(received)
        if content_type and not _TEXTUAL.match(content_type.lower()):
            return fail(
                f"{final_url} is {content_type.split(';')[0]}, not a text page; web_fetch "
                "reads HTML, text and JSON"
            )
        body = _decode(data, content_type)
        title = ""
        if "html" in content_type.lower() or (not content_type and "<html" in body[:2000].lower()):
            title, body = await in_thread(
                lambda: html_to_text(body, final_url, keep_chrome=options.keep_chrome)
            )
        if status >= 400:
            snippet = body[:500]
            return fail(f"HTTP {status} from {final_url}\n{snippet}", status=status)
        total = len(body)
        if total > options.max_chars:
            body = f"{body[: options.max_chars]}\n\n(truncated, {total} chars total)"
        if cut:
            body += f"\n\n(download stopped at {options.max_bytes} bytes)"
        header = [f"URL: {final_url}"] + ([f"Title: {title}"] if title else [])
        return kt.ToolResult(
            output="\n".join(header) + "\n\n" + body,
            metadata={"url": final_url, "status": status, "bytes": len(data)},
        )

    return web_fetch


web_fetch = configurable(_fetch, FetchOptions(), "web_fetch")

# -- web_search ---------------------------------------------------------------------------------

SEARCH_URL_ENV = "KT_WEB_SEARCH_URL"


@attrs.frozen
class SearchOptions:
    """Options of ``web_search``.

    Attributes:
        backend: ``searxng`` (a SearxNG-compatible JSON endpoint at ``url``) or ``ddgs`` (the
            ddgs package); empty: ``searxng`` when a URL is configured.
        url: The search endpoint, e.g. ``http://localhost:8888/search``; default: the
            ``KT_WEB_SEARCH_URL`` environment variable.
        request_timeout: Seconds for the request.
        headers: Extra request headers (e.g. an API key).
    """

    backend: str = ""
    url: str = ""
    request_timeout: float = 20.0
    headers: Mapping[str, str] = attrs.field(factory=dict)


_NOT_CONFIGURED = (
    "web_search has no search backend configured. Set the KT_WEB_SEARCH_URL environment "
    "variable (or the tool's url option) to a SearxNG-compatible JSON endpoint such as "
    'http://localhost:8888/search, or set the option backend = "ddgs" after '
    "`pip install ddgs`."
)


async def _searxng(
    options: SearchOptions, url: str, query: str, count: int, region: str | None
) -> list[dict[str, str]]:
    import httpx

    params = {"q": query, "format": "json"}
    if region:
        params["language"] = region
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **options.headers}
    async with httpx.AsyncClient(timeout=options.request_timeout, follow_redirects=True) as client:
        response = await client.get(url, params=params, headers=headers)
    response.raise_for_status()
    results = response.json().get("results", [])
    return [
        {"title": r.get("title", ""), "url": r.get("url", ""), "snippet": r.get("content", "")}
        for r in results[:count]
        if isinstance(r, dict)
    ]


def _ddgs(query: str, count: int, region: str | None) -> list[dict[str, str]]:
    from ddgs import DDGS  # optional dependency

    hits = DDGS().text(query, region=region or "wt-wt", max_results=count)
    return [
        {"title": h.get("title", ""), "url": h.get("href", ""), "snippet": h.get("body", "")}
        for h in hits
    ]


def _search(options: SearchOptions) -> kt.ToolSpec:
    @kt.tool(name="web_search", body_arg="query")
    async def web_search(
        query: str, max_results: int = 10, region: str | None = None
    ) -> kt.ToolResult:
        """Search the web; returns titles, addresses and snippets. Read pages with web_fetch.

        Args:
            query: What to search for.
            max_results: How many results to return.
            region: A region or language code, e.g. "us-en" or "de".
        """
        missing = _missing("web_search", "httpx")
        if missing:
            return fail(missing)
        import httpx

        if not query.strip():
            return fail("query is required")
        if max_results < 1:
            return fail("max_results must be at least 1")
        url = options.url or os.environ.get(SEARCH_URL_ENV, "")
        backend = options.backend or ("searxng" if url else "")
        try:
            if backend == "searxng" and url:
                hits = await _searxng(options, url, query, max_results, region)
            elif backend == "ddgs":
                try:
                    hits = await in_thread(_ddgs, query, max_results, region)
                except ImportError:
                    return fail("the ddgs backend needs the ddgs package: `pip install ddgs`")
            elif backend not in ("", "searxng"):
                return fail(f"unknown web_search backend '{backend}'; use searxng or ddgs")
            else:
                return fail(_NOT_CONFIGURED)
        except httpx.HTTPStatusError as exc:
            return fail(f"the search backend answered HTTP {exc.response.status_code} ({url})")
        except httpx.HTTPError as exc:
            return fail(f"the search backend at {url} failed: {type(exc).__name__}: {exc}")
        except (ValueError, json.JSONDecodeError) as exc:
            return fail(f"the search backend's answer is not the expected JSON: {exc}")
        if not hits:
            return kt.ToolResult(output="No results found.", metadata={"count": 0})
        lines = [f"Search results for: {query}", ""]
        for number, hit in enumerate(hits, 1):
            lines += [f"## {number}. {hit['title']}", f"URL: {hit['url']}", hit["snippet"], ""]
        return kt.ToolResult(output="\n".join(lines).rstrip(), metadata={"count": len(hits)})

    return web_search


web_search = configurable(_search, SearchOptions(), "web_search")

__all__ = ["html_to_text", "web_fetch", "web_search"]
