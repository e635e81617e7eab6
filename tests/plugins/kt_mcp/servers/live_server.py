"""An MCP server whose lists change while a client is connected, for kt_mcp's tests.

    python live_server.py

``unlock`` adds the tool ``secret``, the resource ``live://secret`` and the prompt ``secret``;
``lock`` removes the tool and ``reshape`` changes ``echo``'s schema. Each announces the change
both ways a server can: on the ``subscriptions/listen`` bus (2026-07-28 clients) and as a
``notifications/*/list_changed`` notification (handshake-era clients). ``roots`` answers with
the client's roots.
"""

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    ElicitRequest,
    ElicitRequestFormParams,
    InputRequiredResult,
    SamplingMessage,
    TextContent,
)
from pydantic import BaseModel

server = MCPServer("live")


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.resource("live://readme", name="readme")
def readme() -> str:
    return "A server whose lists change."


def secret() -> str:
    """The secret tool, offered only after unlock."""
    return "the secret is 42"


def secret_file() -> str:
    return "secret resource text"


def secret_prompt() -> str:
    return "Tell me the secret."


async def announce(ctx: Context, *kinds: str) -> None:
    """Tell every client of either protocol era that lists changed."""
    for kind in kinds:
        await getattr(ctx, f"notify_{kind}_changed")()
        legacy = {"tools": "tool", "resources": "resource", "prompts": "prompt"}[kind]
        await getattr(ctx.session, f"send_{legacy}_list_changed")()


@server.tool()
async def unlock(ctx: Context) -> str:
    """Add the secret tool, resource and prompt, and announce the change."""
    server.add_tool(secret, name="secret")
    server.resource("live://secret", name="secret")(secret_file)
    server.prompt(name="secret")(secret_prompt)
    await announce(ctx, "tools", "resources", "prompts")
    return "unlocked"


@server.tool()
async def lock(ctx: Context) -> str:
    """Remove the secret tool and announce the change."""
    server.remove_tool("secret")
    await announce(ctx, "tools")
    return "locked"


@server.tool()
async def reshape(ctx: Context) -> str:
    """Give echo another schema (a required 'loud' argument) and announce the change."""

    def echo(text: str, loud: bool) -> str:
        """Echo the text back, loudly or not."""
        return text.upper() if loud else text

    server.remove_tool("echo")
    server.add_tool(echo, name="echo")
    await announce(ctx, "tools")
    return "reshaped"


@server.tool()
async def roots(ctx: Context) -> str:
    """The client's roots, one URI a line (handshake-era clients only)."""
    listed = await ctx.session.list_roots()
    return "\n".join(str(root.uri) for root in listed.roots)


class Name(BaseModel):
    name: str


MODERN = "2026-07-28"  # from here on, a server asks for input by answering "input required"


@server.tool()
async def greet(ctx: Context) -> str | InputRequiredResult:
    """Ask the user's name (elicitation), then greet them."""
    if ctx.protocol_version != MODERN:
        answer = await ctx.elicit("Who is there?", Name)
        if answer.action != "accept":
            return f"no name ({answer.action})"
        return f"Hello, {answer.data.name}!"
    answers = ctx.input_responses or {}
    if "name" not in answers:
        form = ElicitRequestFormParams(
            message="Who is there?", requested_schema=Name.model_json_schema()
        )
        return InputRequiredResult(input_requests={"name": ElicitRequest(params=form)})
    answer = answers["name"]
    if answer.action != "accept":
        return f"no name ({answer.action})"
    return f"Hello, {answer.content['name']}!"


@server.tool()
async def haiku(topic: str, ctx: Context) -> str | InputRequiredResult:
    """Ask the client's model for a haiku (sampling)."""
    message = SamplingMessage(role="user", content=TextContent(type="text", text=topic))
    if ctx.protocol_version != MODERN:
        try:
            result = await ctx.session.create_message([message], max_tokens=50)
        except Exception as exc:  # refused: say so
            return f"refused: {exc}"
        return f"the model wrote: {result.content.text}"
    answers = ctx.input_responses or {}
    if "haiku" not in answers:
        params = CreateMessageRequestParams(messages=[message], max_tokens=50)
        return InputRequiredResult(input_requests={"haiku": CreateMessageRequest(params=params)})
    return f"the model wrote: {answers['haiku'].content.text}"


server.run("stdio")
