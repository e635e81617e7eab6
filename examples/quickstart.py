"""The smallest complete agent: one tool, a scripted model, one turn with ``run`` and one streamed.

Runs offline: ``ScriptedLLM`` plays the model's replies in order, so no key or network is needed.
From the repository root::

    python examples/quickstart.py

Without installing the project, put its source roots on the path first::

    PYTHONPATH=kernel:plugins:cli python examples/quickstart.py

Walk-through: docs/guides/getting-started.md.
"""

import trio

import kt
from kt.testing import ScriptedLLM, ToolCall


@kt.tool
def count_words(text: str) -> str:
    """Count the words in a text."""
    return str(len(text.split()))


async def main():
    # First reply: ask for the tool. Second reply: answer with its result. A call past the end
    # of the script repeats the last entry, so the streamed turn below answers the same way.
    llm = ScriptedLLM([ToolCall("count_words", {"text": "a b c"}), "There are 3 words."])
    async with await kt.Agent.build(
        {"name": "demo", "system_prompt": "Be brief."}, llm=llm, tools=[count_words]
    ) as agent:
        result = await agent.run("How many words in 'a b c'?", timeout=30)
        print(result.status, result.text, result.usage, result.tool_calls)
        async for event in agent.run_stream("again"):
            print(event)


trio.run(main)
