"""web_fetch and web_search against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from kt_tools_helpers import drive

import kt
from kt_tools.web import html_to_text

PAGE = """<!doctype html><html><head><title>The  Page</title><style>p{color:red}</style>
<script>alert('no')</script></head><body><nav>Home | About</nav>
<h1>Welcome</h1><p>First   paragraph with a <a href="/docs">docs link</a>.</p>
<ul><li>one</li><li>two</li></ul><pre>code  keeps   spaces</pre>
<table><tr><th>k</th><td>v</td></tr></table><footer>copyright</footer></body></html>"""

ARTICLE = """<html><head><title>Code</title></head><body><main><h2>Example</h2>
<pre>def f():
    return 1</pre>
<ol><li>first</li><li>second<ul><li>inner</li></ul></li></ol></main></body></html>"""


class Handler(BaseHTTPRequestHandler):
    release = threading.Event()  # lets the slow endpoint finish when the test ends

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status, body, content_type):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/page":
            self._send(200, PAGE, "text/html; charset=utf-8")
        elif url.path == "/article":
            self._send(200, ARTICLE, "text/html")
        elif url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/data.json":
            self._send(200, '{"a": 1}', "application/json")
        elif url.path == "/missing":
            self._send(404, "<html><body><p>Nothing here</p></body></html>", "text/html")
        elif url.path == "/big":
            self._send(200, "z" * 300_000, "text/plain")
        elif url.path == "/image":
            self._send(200, b"\x89PNG\r\n\x1a\n....", "image/png")
        elif url.path == "/slow":
            self.release.wait(10)
            self._send(200, "late", "text/plain")
        elif url.path == "/search":
            query = parse_qs(url.query)
            assert query["format"] == ["json"]
            if query["q"] == ["nothing"]:
                results = []
            elif query["q"] == ["broken"]:
                return self._send(500, "oops", "text/plain")
            else:
                results = [
                    {
                        "title": f"Result {i}",
                        "url": f"https://example.org/{i}",
                        "content": f"about {i}",
                    }
                    for i in range(5)
                ]
                results[0]["content"] += f" lang={query.get('language', ['-'])[0]}"
            self._send(200, json.dumps({"results": results}), "application/json")
        else:
            self._send(404, "no", "text/plain")


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Handler.release.clear()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    Handler.release.set()
    httpd.shutdown()
    httpd.server_close()


def test_html_to_text_keeps_structure_and_drops_chrome():
    title, text = html_to_text(PAGE, "http://site.test/a/")
    assert title == "The Page"
    assert "# Welcome" in text
    assert "First paragraph with a [docs link](http://site.test/docs)." in text
    assert "- one\n- two" in text
    assert "```\ncode  keeps   spaces\n```" in text
    assert "| k | v" in text
    for gone in ("alert", "color:red", "Home | About", "copyright"):
        assert gone not in text
    assert "Home | About" in html_to_text(PAGE, keep_chrome=True)[1]


def test_html_to_text_keeps_indentation_in_code_blocks():
    _, text = html_to_text("<p>Code:</p><pre>def f():\n    return 1</pre><p>after</p>")
    assert text == "Code:\n\n```\ndef f():\n    return 1\n```\n\nafter"
    marked = '<pre><code class="language-python">if x:\n\n\n    y  =  2</code></pre>'
    assert html_to_text(marked)[1] == "```python\nif x:\n\n\n    y  =  2\n```"


def test_html_to_text_keeps_ordered_and_nested_lists():
    html = (
        "<ol><li>one</li><li>two<ul><li>nested a</li><li>nested b<ol><li>deep</li></ol></li>"
        "</ul></li><li>three</li></ol><ul><li>x<ul><li>y</li></ul></li></ul>"
    )
    assert html_to_text(html)[1].splitlines() == [
        "1. one",
        "2. two",
        "   - nested a",
        "   - nested b",
        "     1. deep",
        "3. three",
        "",
        "- x",
        "  - y",
    ]


def test_html_to_text_keeps_tables():
    headed = "<table><thead><tr><th>name</th><th>size</th></tr></thead><tbody><tr><td>a.txt</td><td>3</td></tr><tr><td>b.txt</td><td>14</td></tr></tbody></table>"
    assert html_to_text(headed)[1].splitlines() == [
        "| name | size |",
        "| --- | --- |",
        "| a.txt | 3 |",
        "| b.txt | 14 |",
    ]
    # without <th> cells the first row is the header
    plain = "<table><tr><td>k</td><td>v</td></tr><tr><td>a</td><td>1</td></tr></table>"
    assert html_to_text(plain)[1].splitlines() == ["| k | v |", "| --- | --- |", "| a | 1 |"]


def test_html_to_text_links_images_and_text_as_written():
    html = (
        '<p>See <a href="../up.html" title="t">up</a>, <a href="#top">top</a>, '
        '<a href="mailto:a@b.c">mail</a>, <a href="javascript:go()">go</a>, '
        '<a href="/empty"></a><a href="/logo"><img src="l.png" alt="the  logo"></a> and '
        '<img src="data:image/png;base64,AAAA"> snake_case *stars*.</p>'
    )
    assert html_to_text(html, "http://site.test/a/b.html")[1] == (
        "See [up](http://site.test/up.html), top, mail, go, "
        "[[image: the logo]](http://site.test/logo) and snake_case *stars*."
    )


def test_html_to_text_without_markdownify_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "markdownify", None)  # makes `import markdownify` fail
    with pytest.raises(kt.errors.PluginError, match=r"pip install 'kt-terrarium\[tools\]'"):
        html_to_text(PAGE)


async def test_web_tools_without_their_libraries_name_the_extra(work, monkeypatch):
    monkeypatch.setitem(sys.modules, "markdownify", None)
    async with drive(work, ["web_fetch", "web_search"]) as t:
        fetch = await t.call("web_fetch", url="http://127.0.0.1:9/")
        monkeypatch.setitem(sys.modules, "httpx", None)
        both = await t.call("web_fetch", url="http://127.0.0.1:9/")
        search = await t.call("web_search", query="trio")
    extra = "`pip install 'kt-terrarium[tools]'`"
    assert fetch.error == f"web_fetch needs markdownify, which is not installed: {extra}"
    assert both.error == f"web_fetch needs httpx and markdownify, which are not installed: {extra}"
    assert search.error == f"web_search needs httpx, which is not installed: {extra}"


async def test_web_fetch_converts_code_and_lists(work, server):
    async with drive(work, ["web_fetch"]) as t:
        page = await t.call("web_fetch", url=f"{server}/article")
    assert page.output == (
        f"URL: {server}/article\nTitle: Code\n\n## Example\n\n```\ndef f():\n    return 1\n```"
        "\n\n1. first\n2. second\n   - inner"
    )


async def test_web_fetch_html_redirects_and_json(work, server):
    async with drive(work, ["web_fetch"]) as t:
        page = await t.call("web_fetch", url=f"{server}/redirect")
        data = await t.call("web_fetch", url=f"{server}/data.json")
    assert page.status == "ok"
    assert page.output.startswith(f"URL: {server}/page\nTitle: The Page\n\n# Welcome")
    assert page.metadata["status"] == 200
    assert data.output.endswith('{"a": 1}')


async def test_web_fetch_errors(work, server):
    async with drive(work, ["web_fetch"]) as t:
        missing = await t.call("web_fetch", url=f"{server}/missing")
        image = await t.call("web_fetch", url=f"{server}/image")
        scheme = await t.call("web_fetch", url="ftp://example.org/file")
        refused = await t.call("web_fetch", url="127.0.0.1:9/nothing")  # https:// is added
    assert (
        missing.error.startswith(f"HTTP 404 from {server}/missing")
        and "Nothing here" in missing.error
    )
    assert "image/png, not a text page" in image.error
    assert "only http and https" in scheme.error
    assert refused.status == "error" and "https://127.0.0.1:9/nothing" in refused.error


async def test_web_fetch_size_and_text_limits(work, server):
    options = {"name": "web_fetch", "max_bytes": 100_000, "max_chars": 50_000}
    async with drive(work, [options]) as t:
        record = await t.call("web_fetch", url=f"{server}/big")
    assert "(truncated, 100000 chars total)" in record.output
    assert "(download stopped at 100000 bytes)" in record.output
    assert record.metadata["bytes"] == 100_000


async def test_web_fetch_timeout(work, server):
    async with drive(work, [{"name": "web_fetch", "request_timeout": 0.3}]) as t:
        record = await t.call("web_fetch", url=f"{server}/slow")
    assert "timed out after 0.3s" in record.error


async def test_web_search_needs_a_backend(work, monkeypatch):
    monkeypatch.delenv("KT_WEB_SEARCH_URL", raising=False)
    async with drive(work, ["web_search"]) as t:
        record = await t.call("web_search", query="trio")
        unknown = None
    assert "no search backend configured" in record.error and "KT_WEB_SEARCH_URL" in record.error
    async with drive(work, [{"name": "web_search", "backend": "bing"}]) as t:
        unknown = await t.call("web_search", query="trio")
    assert "unknown web_search backend 'bing'" in unknown.error


async def test_web_search_through_a_searxng_endpoint(work, server, monkeypatch):
    monkeypatch.setenv("KT_WEB_SEARCH_URL", f"{server}/search")
    async with drive(work, ["web_search"]) as t:
        found = await t.call("web_search", query="trio nursery", max_results=2, region="en-US")
        nothing = await t.call("web_search", query="nothing")
        broken = await t.call("web_search", query="broken")
    assert found.output.splitlines() == [
        "Search results for: trio nursery",
        "",
        "## 1. Result 0",
        "URL: https://example.org/0",
        "about 0 lang=en-US",
        "",
        "## 2. Result 1",
        "URL: https://example.org/1",
        "about 1",
    ]
    assert nothing.output == "No results found."
    assert "HTTP 500" in broken.error


async def test_web_search_url_option(work, server, monkeypatch):
    monkeypatch.delenv("KT_WEB_SEARCH_URL", raising=False)
    async with drive(work, [{"name": "web_search", "url": f"{server}/search"}]) as t:
        record = await t.call("web_search", query="x", max_results=1)
    assert record.metadata["count"] == 1
