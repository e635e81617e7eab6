"""kt.testing: ScriptedLLM and script files behave as documented."""

from __future__ import annotations

import pytest
import trio

import kt
from kt.llm import LLMDone, LLMRequest, Message, TextChunk, ToolSchema, Usage
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall, load_script


async def collect(llm, request=None):
    request = request or LLMRequest(messages=(Message("user", "hi"),))
    return [chunk async for chunk in llm.stream(request)]


async def test_text_is_chunked_and_ends_with_done():
    chunks = await collect(ScriptedLLM(["abcdefg"], chunk_size=3))
    assert chunks[:3] == [TextChunk("abc"), TextChunk("def"), TextChunk("g")]
    assert isinstance(chunks[-1], LLMDone)


async def test_tool_calls_get_ids_and_finish_reason():
    chunks = await collect(ScriptedLLM([ToolCall("t", {"a": 1})]))
    call, done = chunks
    assert call.name == "t" and call.id
    assert done.finish_reason == "tool_calls"


async def test_usage_errors_and_exhaustion():
    llm = ScriptedLLM(
        [ScriptEntry(text="x", usage=Usage(5, 1, 6)), kt.LLMTimeoutError("late")], exhausted="raise"
    )
    assert (await collect(llm))[-1].usage == Usage(5, 1, 6)
    with pytest.raises(kt.LLMTimeoutError):
        await collect(llm)
    with pytest.raises(kt.ScriptExhaustedError, match="3"):
        await collect(llm)


async def test_repeat_last_is_the_default():
    llm = ScriptedLLM(["only"])
    for _ in range(3):
        assert (await collect(llm))[0] == TextChunk("only")
    assert llm.call_count == 3


async def test_callable_entries_see_the_request():
    llm = ScriptedLLM([lambda req: f"you said {req.messages[-1].content}"])
    assert (await collect(llm))[0] == TextChunk("you said hi")


async def test_call_log_keeps_the_request_as_sent_and_copies_its_options():
    options = {"temperature": 0.2}
    messages = (Message("assistant", "", tool_calls=(ToolCall("t", {"k": 1}, "c"),)),)
    request = LLMRequest(
        messages=messages, tools=(ToolSchema("t", "d", {"type": "object"}),), options=options
    )
    llm = ScriptedLLM(["ok"])
    await collect(llm, request)
    options["temperature"] = 0.9  # a caller reusing its options dict
    logged = llm.last_call
    assert logged.request.options == {"temperature": 0.2}
    assert logged.messages is messages  # the history is shared, never copied per call
    assert logged.tools[0].name == "t"


async def test_usage_estimate_counts_the_whole_prompt_as_it_grows_and_when_edited():
    def estimate(messages):
        return sum(len(m.content) for m in messages) // 4 + 1

    llm = ScriptedLLM(["reply"])
    history: list[Message] = [Message("system", "s" * 7)]
    for i in range(30):
        history.append(Message("user", "x" * (i + 3)))
        done = (await collect(llm, LLMRequest(messages=tuple(history))))[-1]
        assert done.usage.prompt_tokens == estimate(history)
        history.append(Message("assistant", "y" * 11))
    compacted = [history[0], Message("user", "summary " * 5), *history[-3:]]
    done = (await collect(llm, LLMRequest(messages=tuple(compacted))))[-1]
    assert done.usage.prompt_tokens == estimate(compacted)
    shorter = (history[0], Message("user", "z" * 40))  # another conversation, same model
    done = (await collect(llm, LLMRequest(messages=shorter)))[-1]
    assert done.usage.prompt_tokens == estimate(shorter)


async def test_delays_use_trio_time(autojump_clock):
    llm = ScriptedLLM([ScriptEntry(text="abcd", chunk_size=1, delay=0.5)])
    t0 = trio.current_time()
    await collect(llm)
    assert trio.current_time() - t0 == pytest.approx(2.0)


async def test_fail_after_chunks():
    llm = ScriptedLLM(
        [ScriptEntry(text="abcdef", chunk_size=2, fail_after_chunks=2, error=kt.LLMError("cut"))]
    )
    seen = []
    with pytest.raises(kt.LLMError):
        async for chunk in llm.stream(LLMRequest(messages=())):
            seen.append(chunk)
    assert seen == [TextChunk("ab"), TextChunk("cd")]


def test_bad_entries_and_options_are_rejected():
    with pytest.raises(ValueError):
        ScriptedLLM([], exhausted="loop")
    with pytest.raises(TypeError):
        trio.run(collect, ScriptedLLM([42]))


def test_load_script_toml_and_json(tmp_path):
    toml = tmp_path / "r.toml"
    toml.write_text(
        '[[replies]]\ntext = "Let me count."\n'
        'tool_calls = [{ name = "count_words", args = { text = "a b c" } }]\n'
        '[[replies]]\ntext = "3 words"\nusage = { prompt_tokens = 3, completion_tokens = 1, total_tokens = 4 }\n'
        '[[replies]]\nerror = "boom"\n'
    )
    entries = load_script(toml)
    assert entries[0].tool_calls[0] == ToolCall("count_words", {"text": "a b c"})
    assert entries[1].usage == Usage(3, 1, 4)
    assert isinstance(entries[2].error, kt.LLMError)
    js = tmp_path / "r.json"
    js.write_text(
        '{"replies": ["hi", {"text": "x", "tool_calls": [{"name": "t", "args": "{raw"}]}]}'
    )
    entries = load_script(js)
    assert entries[0].text == "hi" and entries[1].tool_calls[0].args == "{raw"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("replies = []", "non-empty"),
        ('[[replies]]\ntxt = "x"', "unknown keys"),
        ("[[replies]]\ntool_calls = [{ args = {} }]", "name"),
        ("not toml [", "cannot parse"),
    ],
)
def test_load_script_errors_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(kt.ConfigError, match=message):
        load_script(path)


def test_load_script_missing_file(tmp_path):
    with pytest.raises(kt.ConfigNotFoundError, match="scripted:PATH"):
        load_script(tmp_path / "none.toml")


async def test_scripted_backend_from_a_selector(tmp_path):
    script = tmp_path / "replies.toml"
    script.write_text('replies = ["from the file"]\n')
    config = {"name": "t", "controller": {"llm": f"scripted:{script}"}}
    async with await kt.Agent.build(config, kernel=kt.Kernel(plugins=[])) as agent:
        assert (await agent.run("hi")).text == "from the file"
        result = await agent.run("again")
    assert result.status == "error" and isinstance(result.error, kt.ScriptExhaustedError)
