"""A bot-style program: a long-lived task answers messages as they arrive on a queue.

Chat bots (discord.py, Slack, Telegram) hand their messages to a coroutine on their own
asyncio loop; here a queue stands in for the chat service. Run from the repository root:

    python examples/aio/bot.py
"""

import asyncio
from pathlib import Path

from kt_portal import aio

DEMO = Path(__file__).resolve().parents[1] / "demo"


async def answer(creature: aio.Agent, inbox: asyncio.Queue) -> None:
    while True:
        text = await inbox.get()
        result = await creature.run(text)
        print(f"bot: {result.text}")
        inbox.task_done()


async def main() -> None:
    inbox: asyncio.Queue[str] = asyncio.Queue()
    async with await aio.Agent.build(DEMO) as creature:
        worker = asyncio.create_task(answer(creature, inbox))
        for text in ["count the words in 'the quick brown fox'", "summarise our chat"]:
            print(f"user: {text}")
            await inbox.put(text)
            await inbox.join()  # the bot answered
        worker.cancel()  # a turn still running would be cancelled cleanly too


asyncio.run(main())
