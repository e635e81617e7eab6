"""``web_fetch`` and ``web_search``: reading the web.

``web_fetch`` downloads one page with httpx (timeouts, redirects, a size limit enforced while
streaming, so a huge download is cut off rather than buffered) and turns HTML into readable
text: headings, paragraphs, lists, links as ``[text](url)``, code blocks kept as they are;
scripts, styles and page chrome dropped.

``web_search`` asks a search backend. There is no built-in default, because every public
search service needs an account or a key: configure a SearxNG-compatible JSON endpoint with
the ``url`` option or the ``KT_WEB_SEARCH_URL`` environment variable, or pick the ``ddgs``
backend (``pip install ddgs``). Without one, the tool says so and how to set it up.

httpx is imported when a call runs, not when the plugin loads.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from urllib.parse import urljoin

import attrs

import kt
from kt_tools.common import configurable, fail, in_thread

# -- HTML to text -------------------------------------------------------------------------------

_SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "canvas", "form"}
_CHROME = {"nav", "footer", "aside"}
_BLOCKS = {
    "p", "div", "section", "article", "main", "header", "blockquote", "figure", "figcaption",
    "table", "tr", "ul", "ol", "dl", "dt", "dd", "hr", "details", "summary", "address",
}  # fmt: skip
_HEADINGS = {"h1": "#", "h2": "##", "h3": "###", "h4": "####", "h5": "#####", "h6": "######"}


class _TextExtractor(HTMLParser):
    """Collects readable text from HTML; see :func:`html_to_text`."""

    def __init__(self, base_url: str, keep_chrome: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.skip = set(_SKIP) | (set() if keep_chrome else _CHROME)
        self.parts: list[str] = []
        self.title = ""
        self._in_title = False
        self._skipping = 0
        self._pre = 0
        self._link: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs_: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if self._skipping or tag in self.skip:
            if tag in self.skip:
                self._skipping += 1
            return
        if tag in _HEADINGS:
            self.parts.append(f"\n\n{_HEADINGS[tag]} ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "br":
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag == "pre":
            self._pre += 1
            self.parts.append("\n\n```\n")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a":
            href = dict(attrs_).get("href") or ""
            if href and not href.startswith(("#", "javascript:", "mailto:")):
                self._link, self._link_text = urljoin(self.base_url, href), []
        elif tag == "img":
            alt = dict(attrs_).get("alt")
            if alt:
                self.parts.append(f"[image: {alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self.skip:
            self._skipping = max(0, self._skipping - 1)
            return
        if self._skipping:
            return
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
            self.parts.append("\n```\n\n")
        elif tag == "a" and self._link is not None:
            text = " ".join("".join(self._link_text).split())
            self.parts.append(f"[{text}]({self._link})" if text else "")
            self._link = None
        elif tag in _HEADINGS or tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._skipping:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
        if self._link is not None:
            self._link_text.append(data)
        else:
            self.parts.append(data)


def html_to_text(html: str, base_url: str = "", *, keep_chrome: bool = False) -> tuple[str, str]:
    """Turn an HTML page into readable text; return ``(title, text)``.

    Args:
        html: The page.
        base_url: For resolving relative links.
        keep_chrome: Keep ``nav``, ``footer`` and ``aside`` content.
    """
    parser = _TextExtractor(base_url, keep_chrome)
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [line.rstrip() for line in text.split("\n")]
    cleaned = "\n".join(line if line.strip() else "" for line in lines)
    cleaned = re.sub(r"[ \t]+\n", "\n", cleaned)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned).strip()
    cleaned = re.sub(r"(?m)^ +(?!\|)", "", cleaned)
    return " ".join(parser.title.split()), cleaned


# -- web_fetch ----------------------------------------------------------------------------------

_NO_HTTPX = "the web tools need httpx: `pip install 'kt-terrarium[tools]'` (or `pip install httpx`)"


def _httpx():
    """The httpx module, imported on first use; ``None`` when it is not installed."""
    try:
        import httpx
    except ImportError:
        return None
    return httpx


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
        httpx = _httpx()  # imported when a page is fetched, not when the plugin loads
        if httpx is None:
            return fail(_NO_HTTPX)
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
        httpx = _httpx()
        if httpx is None:
            return fail(_NO_HTTPX)
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
