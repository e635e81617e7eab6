"""A tiny MCP server for kt_mcp's tests, built with the SDK's MCPServer (FastMCP in SDK 1.x).

    python toy_server.py [MODE] [PORT]

MODE ``ok`` (default) serves over stdio; ``crash`` writes to stderr and exits at once;
``hang`` never answers (it exits when its stdin closes); ``http`` and ``sse`` serve on
127.0.0.1:PORT. The ``slow`` tool writes ``cancelled`` to the file it is given when the client
cancels it, so a test can see that cancellation reached the server.
It also offers a resource (``toy://readme``), a URI template (``toy://notes/{topic}``) and a
prompt (``review``). ``live_server.py`` is the server whose lists change.
"""

import os
import sys
from pathlib import Path

import anyio

MODE = sys.argv[1] if len(sys.argv) > 1 else "ok"

if MODE == "crash":
    print("toy: cannot open database /nonexistent/toy.sqlite", file=sys.stderr, flush=True)
    sys.exit(3)
if MODE == "hang":
    sys.stdin.read()  # never answers the handshake
    sys.exit(0)

from mcp.server.mcpserver import Context, MCPServer  # noqa: E402
from mcp.server.mcpserver.exceptions import ToolError  # noqa: E402
from mcp.types import ImageContent, ToolAnnotations  # noqa: E402

server = MCPServer("toy", instructions="Toy server for tests: echo is always safe to call.")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def echo(text: str, times: int = 1) -> str:
    """Echo the text back."""
    return " ".join([f"echo: {text}"] * times)


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason."""
    raise ToolError(f"refused: {reason}")


@server.tool()
async def slow(marker: str, ctx: Context) -> str:
    """Wait until cancelled; record the cancellation in the marker file."""
    await ctx.report_progress(0, None, "waiting")  # tells a test the call is running
    try:
        await anyio.sleep(3600)
    except anyio.get_cancelled_exc_class():
        Path(marker).write_text("cancelled")
        raise
    return "finished"


@server.tool()
async def progress(steps: int, ctx: Context) -> str:
    """Report progress in steps, then finish."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
    return f"done after {steps} steps"


@server.tool()
def die() -> str:
    """Exit the server process in the middle of the call."""
    print("toy: dying on purpose", file=sys.stderr, flush=True)
    os._exit(1)


@server.tool()
def picture() -> list:
    """A one-pixel image and a caption."""
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="
    return ["a red pixel", ImageContent(type="image", data=pixel, mime_type="image/png")]


@server.resource("toy://readme", name="readme", description="What the toy server is.")
def readme() -> str:
    return "The toy server answers tests."


@server.resource("toy://notes/{topic}", name="note", description="A note on a topic.")
def note(topic: str) -> str:
    return f"A note about {topic}."


@server.prompt(description="Ask for a review of some code.")
def review(code: str, focus: str = "bugs") -> str:
    return f"Review this code for {focus}:\n{code}"


@server.tool()
def pid() -> str:
    """The server's process id (a test checks that a restart is a new process)."""
    return str(os.getpid())


if MODE == "http":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
elif MODE == "sse":
    server.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
else:
    server.run("stdio")
