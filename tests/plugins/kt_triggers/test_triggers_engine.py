"""watch_channel and the channel trigger against the real terrarium engine (kt_terrarium.Terrarium)."""

from __future__ import annotations

import kt
import kt_terrarium
import kt_triggers
from kt.events import TurnStarted
from kt.testing import ScriptedLLM, ToolCall

RECIPE = {
    "creatures": [
        {"name": n, "channels": {"listen": ["team"], "can_send": ["team"]}} for n in ("a", "b")
    ],
    "channels": {"team": {"kind": "broadcast"}, "review": {"kind": "broadcast"}},
}


def watcher_llm():
    def reply(request):
        last = request.messages[-1]
        if last.role == "tool":
            return "watching"
        if last.content == "watch":
            return ToolCall(
                "watch_channel",
                {"channel_name": "team", "name": "w", "prompt": "{sender} said {content}"},
            )
        return f"b saw: {last.content}"

    return ScriptedLLM([reply])


async def test_watch_channel_on_an_engine_channel_fires_for_others_only():
    recipe = {
        **RECIPE,
        "creatures": [
            {"name": "a", "channels": {"listen": ["team"], "can_send": ["team"]}},
            {
                "name": "b",
                "tools": ["watch_channel"],
                "channels": {"listen": ["team"], "can_send": ["team"]},
            },
        ],
    }
    kernel = kt.Kernel(plugins=[kt_triggers])
    async with kt_terrarium.Terrarium(kernel=kernel) as engine:
        await engine.apply_recipe(recipe, llm={"a": ScriptedLLM(["a ok"]), "b": watcher_llm()})
        b = engine["b"].agent
        watched = (await engine["b"].run("watch")).tool_calls[0]
        assert watched.status == "ok", watched.error
        events = b.subscribe()
        await engine["a"].send("team", {"build": 7})
        await engine["b"].send("team", "b's own message")
        await engine.wait_idle()
        started = []
        while True:
            try:
                event = events.receive_nowait()
            except Exception:
                break
            if isinstance(event, TurnStarted):
                started.append((event.source, event.input))
        assert b.cancel_job("w")
    assert started == [("channel", 'a said {"build":7}')]


async def test_watch_channel_names_the_engines_channels_when_refused():
    recipe = {
        **RECIPE,
        "creatures": [
            {"name": "a", "channels": {"listen": ["team"], "can_send": ["team"]}},
            {"name": "b", "tools": ["watch_channel"], "channels": {"listen": ["team"]}},
        ],
    }
    llm = ScriptedLLM([ToolCall("watch_channel", {"channel_name": "nope"}), "ok"])
    async with kt_terrarium.Terrarium(kernel=kt.Kernel(plugins=[kt_triggers])) as engine:
        await engine.apply_recipe(recipe, llm={"a": ScriptedLLM(["x"]), "b": llm})
        call = (await engine["b"].run("go")).tool_calls[0]
    assert call.status == "error" and "cannot watch channel 'nope'" in call.error
