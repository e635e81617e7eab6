"""Stream a turn's events, interrupt a turn, and leave a stream early.

Three short scenes with one agent, all offline (``ScriptedLLM`` plays the model):

1. Print assistant text as it streams and tool activity as it happens.
2. Interrupt a reply halfway: the turn ends ``interrupted`` and the partial reply is kept in the
   history, marked, so the conversation stays valid.
3. Break out of a stream: the turn is cancelled (``cancelled``) and the agent takes the next
   turn as usual. ``agent.subscribe()`` sees every event, including that turn's last one.

From the repository root::

    python examples/streaming.py

Reference: docs/reference/events.md and docs/concepts/turns.md.
"""

import trio

import kt
from kt.events import TextDelta, ToolCallCompleted, ToolCallStarted, TurnCompleted
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall

POPULATIONS = {"oslo": 709_000, "bergen": 291_000}


@kt.tool
async def city_population(city: str) -> str:
    """Look up the population of a Norwegian city.

    Args:
        city: The city's name, e.g. "Oslo".
    """
    await trio.sleep(0.01)  # pretend to ask a service
    return str(POPULATIONS.get(city.lower(), "unknown"))


SCRIPT = [
    # Scene 1: some text, then a native tool call in the same reply; then the answer.
    ScriptEntry(
        text="Let me look that up. ",
        tool_calls=[ToolCall("city_population", {"city": "Oslo"})],
    ),
    "Oslo has about 709,000 people.",
    # Scene 2: a long reply, streamed slowly, that we interrupt.
    ScriptEntry(text="Bergen is known for rain, fish markets and wooden houses. " * 3, delay=0.05),
    # Scene 3: another slow reply that we walk away from; then a normal one.
    ScriptEntry(text="A very long story begins here and goes on and on.", delay=0.05),
    "Short answer: yes.",
]


async def scene_stream(agent: kt.Agent) -> None:
    print("== 1. streaming ==")
    async for event in agent.run_stream("How many people live in Oslo?"):
        match event:
            case TextDelta(text=text):
                print(text, end="", flush=True)
            case ToolCallStarted(name=name, args=args):
                print(f"\n[calling {name} {dict(args)}]")
            case ToolCallCompleted(name=name, status=status, output=output):
                print(f"[{name} -> {status}: {output}]")
            case TurnCompleted(result=result):
                print(f"\n-> {result.status} after {result.iterations} model calls")


async def scene_interrupt(agent: kt.Agent) -> None:
    print("== 2. interrupt ==")
    deltas = 0
    async for event in agent.run_stream("Tell me about Bergen."):
        if isinstance(event, TextDelta):
            deltas += 1
            if deltas == 3:
                agent.interrupt()  # returns at once; callable from any task or thread
        elif isinstance(event, TurnCompleted):
            print(f"-> {event.result.status}")
    last = agent.history[-1]
    print(f"kept in history: {last.role}, interrupted={last.meta.get('interrupted')}")
    print(f"partial reply: {last.content!r}")


async def scene_leave_early(agent: kt.Agent) -> None:
    print("== 3. leaving early ==")
    everything = agent.subscribe()  # every event of this agent from now on
    async with agent.run_stream("Tell me a long story.") as events:
        async for event in events:
            if isinstance(event, TextDelta):
                break  # leaving the block cancels the turn
    async for event in everything:
        if isinstance(event, TurnCompleted):
            print(f"-> the abandoned turn ended {event.result.status}")
            break
    everything.close()
    result = await agent.run("Is the agent still usable?")
    print(f"-> next turn: {result.status}: {result.text}")


async def main() -> None:
    llm = ScriptedLLM(SCRIPT, chunk_size=8)
    config = {"name": "guide", "system_prompt": "Answer questions about Norway."}
    async with await kt.Agent.build(config, llm=llm, tools=[city_population]) as agent:
        await scene_stream(agent)
        await scene_interrupt(agent)
        await scene_leave_early(agent)


trio.run(main)
