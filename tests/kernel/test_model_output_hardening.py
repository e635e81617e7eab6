"""Whatever a model sends, the turn ends cleanly and the history stays well formed.

Each defect found by attacking the controller has a test here, then property-based fuzzing
(hypothesis) throws arbitrary text, arbitrary tool-call ids, names and arguments at both the
native and the text (bracket) tool-call formats.
"""

from __future__ import annotations

import json

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kt
import kt_formats
from kt.history import is_well_formed
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall


def make_tools():
    runs: list[str] = []

    @kt.tool
    def echo(text: str) -> str:
        """Say *text* back.

        Args:
            text: The text.
        """
        runs.append(text)
        return f"echo: {text}"

    return runs, [echo]


async def run_turn(replies, *, tool_format="native", tools=None):
    runs, default_tools = make_tools()
    kernel = kt.Kernel(plugins=[kt_formats] if tool_format != "native" else [])
    llm = ScriptedLLM(replies)
    config = {"name": "fuzzed", "tool_format": tool_format, "max_iterations": 3}
    agent = await kt.Agent.build(config, llm=llm, tools=tools or default_tools, kernel=kernel)
    async with agent:
        result = await agent.run("go")
    return result, agent, llm, runs


def assert_sendable(messages) -> None:
    """Every string a provider would be sent encodes as UTF-8."""
    for message in messages:
        text = message.content if isinstance(message.content, str) else ""
        text.encode("utf-8")
        json.dumps([c.args for c in message.tool_calls], ensure_ascii=False).encode("utf-8")


# -- Defects -----------------------------------------------------------------------------------


async def test_duplicate_call_ids_each_keep_their_own_result():
    replies = [
        ScriptEntry(
            tool_calls=[
                ToolCall("echo", {"text": "one"}, "same"),
                ToolCall("echo", {"text": "two"}, "same"),
            ]
        ),
        "done",
    ]
    result, agent, llm, runs = await run_turn(replies)
    assert runs == ["one", "two"] or runs == ["two", "one"]
    assert [c.output for c in result.tool_calls] == ["echo: one", "echo: two"]
    sent = llm.calls[1].messages
    (assistant,) = [m for m in sent if m.tool_calls]
    ids = [c.id for c in assistant.tool_calls]
    assert len(set(ids)) == 2 and ids[0] == "same"
    answers = {m.tool_call_id: m.content for m in sent if m.role == "tool"}
    assert answers == {ids[0]: "echo: one", ids[1]: "echo: two"}
    # The provider's own ids stay known: ours -> theirs for each renamed call.
    assert assistant.meta["provider_call_ids"] == {ids[1]: "same"}
    assert is_well_formed(agent.history)


async def test_ids_repeated_in_a_later_round_are_made_unique_too():
    replies = [
        ToolCall("echo", {"text": "one"}, "call_0"),
        ToolCall("echo", {"text": "two"}, "call_0"),
        "done",
    ]
    result, agent, _, _ = await run_turn(replies)
    assert len({c.id for c in result.tool_calls}) == 2
    assert [c.output for c in result.tool_calls] == ["echo: one", "echo: two"]


async def test_a_lone_surrogate_in_a_reply_is_replaced_not_fatal():
    result, agent, llm, _ = await run_turn(["bad \udbff here"])
    assert result.status == "completed" and result.text == "bad \ufffd here"
    assert_sendable(agent.history)


async def test_a_surrogate_pair_split_over_chunks_is_kept_as_one_character():
    result, _, _, _ = await run_turn([ScriptEntry(text="a\U0001f600b", chunk_size=1)])
    assert result.status == "completed"
    assert result.text.encode("utf-8")


async def test_lone_surrogates_in_arguments_reach_the_tool_as_valid_text():
    replies = [
        ToolCall("echo", {"text": "x\udc80y"}),
        ToolCall("echo", '{"text": "raw \\ud800 escape"}'),
        "done",
    ]
    result, agent, _, runs = await run_turn(replies)
    assert runs == ["x\ufffdy", "raw \ufffd escape"]
    assert [c.status for c in result.tool_calls] == ["ok", "ok"]
    assert_sendable(agent.history)


async def test_arguments_nested_100000_deep_give_the_model_a_tool_error():
    deep_text = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    deep_dict: dict = {}
    cursor = deep_dict
    for _ in range(100_000):
        cursor["x"] = {}
        cursor = cursor["x"]
    replies = [
        ToolCall("echo", deep_text),
        ToolCall("echo", {"text": "a", "more": deep_dict}),
        "ok",
    ]
    result, agent, llm, runs = await run_turn(replies)
    assert result.status == "completed" and runs == []
    for call in result.tool_calls:
        assert call.status == "error" and call.error_type == "ToolArgumentError"
        assert "nested more than 100 levels deep" in call.error
    assert is_well_formed(agent.history)
    json.dumps([m.tool_calls[0].args for m in agent.history if m.tool_calls])  # recordable


async def test_deep_arguments_in_the_text_format_are_a_tool_error_too():
    value = "[" * 50_000 + "]" * 50_000
    reply = f"Calling.\n[/echo]\n@@text={value}\n[echo/]\n"
    result, agent, _, _ = await run_turn([reply, "ok"], tool_format="bracket")
    assert result.status == "completed"
    assert is_well_formed(agent.history)


# -- Property-based fuzzing -------------------------------------------------------------------

# Every code point, lone surrogates included (what a broken model stream can send).
any_text = st.text(alphabet=st.integers(0, 0x10FFFF).map(chr), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=10,
)
arguments = st.one_of(
    st.dictionaries(st.sampled_from(["text", "other", "run_in_background"]), json_values),
    any_text,  # raw argument text, as a backend passes JSON it could not parse
    st.builds(lambda v: json.dumps({"text": v}), json_values),
)
tool_calls = st.builds(
    ToolCall,
    st.sampled_from(["echo", "echo", "missing", ""]),
    arguments,
    st.sampled_from(["", "same", "same", "call_1"]),
)
replies = st.lists(
    st.builds(
        ScriptEntry,
        text=any_text,
        tool_calls=st.lists(tool_calls, max_size=4),
        chunk_size=st.sampled_from([1, 3, None]),
    ),
    min_size=1,
    max_size=3,
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_turn(result, agent) -> None:
    assert result.status in ("completed", "max_iterations"), (result.status, result.error)
    assert is_well_formed(agent.history)
    assert_sendable(agent.history)
    ids = [c.id for c in result.tool_calls]
    assert len(ids) == len(set(ids))  # every call has its own id, so its own result


@FUZZ
@given(replies=replies)
async def test_fuzz_native_model_output(replies):
    result, agent, _, _ = await run_turn([*replies, "final"])
    check_turn(result, agent)
    answered = [m.tool_call_id for m in agent.history if m.role == "tool"]
    assert sorted(answered) == sorted(c.id for c in result.tool_calls)


bracket_value = any_text.map(lambda t: t.replace("\n", " "))
bracket_block = st.builds(
    lambda name, value, body: f"[/{name}]\n@@text={value}\n{body}\n[{name}/]",
    st.sampled_from(["echo", "missing"]),
    bracket_value,
    any_text,
)
bracket_reply = st.lists(st.one_of(any_text, bracket_block), max_size=4).map("\n".join)


@FUZZ
@given(texts=st.lists(bracket_reply, min_size=1, max_size=3))
async def test_fuzz_text_format_model_output(texts):
    entries = [ScriptEntry(text=t, chunk_size=5) for t in texts]
    result, agent, _, _ = await run_turn([*entries, "final"], tool_format="bracket")
    check_turn(result, agent)


@FUZZ
@given(args=arguments)
async def test_fuzz_tool_arguments_never_escape_the_turn(args):
    async with trio.open_nursery():
        result, agent, _, runs = await run_turn([ToolCall("echo", args), "done"])
    check_turn(result, agent)
    (call,) = result.tool_calls
    assert call.status in ("ok", "error")
    if call.status == "ok":
        assert len(runs) == 1
