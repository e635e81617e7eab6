"""A client written for the official MCP Python SDK 1.x, run by that SDK's own interpreter.

It is not a test module: ``test_mcp_peers.py`` runs it with the Python of a virtualenv holding
``mcp<2`` (a user's 1.x application talking to ``kt mcp serve``), and checks what it prints.

Usage::

    python sdk1_client.py stdio COMMAND [ARGS...]
    python sdk1_client.py http URL TOKEN

It lists the tools, asks the creature ``ask_<name>`` (the first tool) twice, reads the
conversation resource and fetches the first prompt, then prints one JSON object.
"""

import json
import os
import sys
from contextlib import asynccontextmanager

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client


@asynccontextmanager
async def connect(argv):
    if argv[0] == "stdio":
        # The whole environment: the 1.x SDK passes only a few variables by default.
        params = StdioServerParameters(command=argv[1], args=argv[2:], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            yield read, write
    else:
        headers = {"Authorization": f"Bearer {argv[2]}"}
        async with streamablehttp_client(argv[1], headers=headers) as (read, write, _):
            yield read, write


async def main(argv):
    import importlib.metadata

    report = {"sdk": importlib.metadata.version("mcp")}
    async with connect(argv) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        report["server"] = init.serverInfo.name
        report["protocol"] = init.protocolVersion
        tools = (await session.list_tools()).tools
        report["tools"] = [tool.name for tool in tools]
        ask = tools[0].name
        first = await session.call_tool(ask, {"prompt": "Where is the axolotl?"})
        report["answer"] = first.content[0].text
        report["answer_is_error"] = first.isError
        empty = await session.call_tool(ask, {"prompt": ""})
        report["empty"] = [empty.isError, empty.content[0].text]
        resources = (await session.list_resources()).resources
        report["resources"] = [str(r.uri) for r in resources]
        talk = await session.read_resource(resources[-1].uri)
        report["conversation"] = talk.contents[0].text
        prompts = (await session.list_prompts()).prompts
        report["prompts"] = [p.name for p in prompts]
        if prompts:
            got = await session.get_prompt(prompts[0].name, {"log": "pump stopped"})
            report["prompt"] = got.messages[0].content.text
    print(json.dumps(report))


anyio.run(main, sys.argv[1:])
