"""A two-creature pipeline in a terrarium: a writer's turn-end text goes to an editor.

    python examples/terrariums/pipeline.py

Both creatures play scripted replies (no network). The writer is wired to the editor, so each
time the writer finishes a turn, the editor gets a turn of its own with the writer's final
text; the writer never waits for it. Then the editor is lent to a third creature as a tool
("agent as tool"), and the two hosted creatures are chained as a `kt_compose` pipeline.
"""

import trio

import kt
import kt_terrarium
from kt.testing import ScriptedLLM, ToolCall


def edit(request: kt.LLMRequest) -> str:
    """The editor's scripted model: it shouts the last message back."""
    last = request.messages[-1].content
    return f"EDITED: {last.upper()}"


async def main():
    kernel = kt.Kernel(plugins=[])  # the engine is part of the kernel: no plugin needed
    async with kt_terrarium.Terrarium(kernel=kernel) as engine:
        deliveries = engine.subscribe(types={"output_wire"})
        writer = await engine.add_creature(
            {"name": "writer", "system_prompt": "You write haiku."},
            llm=ScriptedLLM(["nurseries hold tasks", "no orphan threads"]),
        )
        editor = await engine.add_creature(
            {"name": "editor", "system_prompt": "You edit haiku."}, llm=ScriptedLLM([edit])
        )
        wire = await engine.wire("writer", "editor")
        print("wired:", wire.edge_id)

        result = await writer.run("A haiku about trio, please.")
        print("writer:", result.text)
        await engine.wait_idle()  # the editor's turn, started by the wire, has run too
        print("editor got:", deliveries.receive_nowait().text)
        print("editor:", editor.agent.history[-1].content)
        print("graphs:", [g.creature_ids for g in engine.graphs()])

        # The editor as a tool of a third creature.
        boss_llm = ScriptedLLM(
            [ToolCall("ask_editor", {"task": "check this line"}), "The editor answered."]
        )
        boss = await engine.add_creature({"name": "boss"}, llm=boss_llm, tools=[editor.as_tool()])
        answer = await boss.run("Ask the editor.")
        call = answer.tool_calls[0]
        print(f"boss: {call.name} -> {call.output}")

        # The hosted creatures as compose steps: str in, final text out.
        await engine.unwire("writer", "editor")  # from here on, only the pipeline feeds it
        pipeline = writer.step() >> (lambda text: f"polish: {text}") >> editor.step()
        print("pipeline:", await pipeline("Another one."))


trio.run(main)
