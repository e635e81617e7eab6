"""info, ask_user and show_card: manuals, and questions answered through events."""

from __future__ import annotations

import pytest
import trio
from kt_tools_helpers import drive

import kt
import kt_tools
from kt.events import UserRequestError, from_wire, pending_requests, restore_requests, to_wire
from kt_tools import CardShown, UserQuestion, UserReply

ASK = [
    {"name": "ask_user", "require_manual": False},
    {"name": "show_card", "require_manual": False},
]


async def answer_first(agent, kind, reply):
    """Wait for the first question (or card) event of *agent* and answer it with *reply*."""
    events = agent.subscribe()
    async for event in events:
        if isinstance(event, kind):
            ask_id = event.request_id
            assert kt_tools.pending_questions(agent) == [event]
            await reply(agent, ask_id, event)
            break
    events.close()


async def test_ask_user_waits_for_the_reply_event(work):
    async with drive(work, ASK) as t:
        async with trio.open_nursery() as nursery:

            async def reply(agent, ask_id, event):
                assert event.prompt == "Which branch?" and event.placeholder == "main"
                await kt_tools.answer(agent, ask_id, "  release  ")

            nursery.start_soon(answer_first, t.agent, UserQuestion, reply)
            await trio.testing.wait_all_tasks_blocked()
            record = await t.call("ask_user", question="Which branch?", placeholder="main")
        assert kt_tools.pending_questions(t.agent) == []
    assert record.status == "ok" and record.output == "release"


async def test_a_front_end_answers_with_a_wire_event(work):
    async with drive(work, ASK) as t:
        async with trio.open_nursery() as nursery:

            async def reply(agent, ask_id, event):
                assert to_wire(event)["type"] == "user_question"
                await agent.emit(
                    from_wire({"type": "user_answered", "request_id": ask_id, "answer": ""})
                )

            nursery.start_soon(answer_first, t.agent, UserQuestion, reply)
            await trio.testing.wait_all_tasks_blocked()
            record = await t.call("ask_user", question="Anything else?")
    assert record.output == "(no response)"


async def test_ask_user_times_out(work, autojump_clock):
    async with drive(work, ASK) as t:
        record = await t.call("ask_user", question="Still there?", timeout_s=30)
        assert kt_tools.pending_questions(t.agent) == []
    assert record.status == "ok" and record.output == "(no response within timeout)"


async def test_ask_user_default_timeout_option_and_empty_question(work, autojump_clock):
    async with drive(
        work, [{"name": "ask_user", "require_manual": False, "default_timeout": 5}]
    ) as t:
        waited = await t.call("ask_user", question="?")
        empty = await t.call("ask_user", question=" ")
    assert waited.output == "(no response within timeout)"
    assert "empty" in empty.error


async def test_ask_user_and_show_card_are_gated_by_their_manuals(work):
    async with drive(work, ["ask_user", "show_card", "info"]) as t:
        ask = await t.call("ask_user", question="?")
        card = await t.call("show_card", title="Hi")
        await t.call("info", name="show_card")
        shown = await t.call("show_card", title="Hi")
    assert "requires reading its documentation" in ask.error
    assert "requires reading its documentation" in card.error
    assert shown.output == "card displayed"


async def test_show_card_display_only_publishes_a_cleaned_card(work):
    async with drive(work, ASK) as t:
        events = t.agent.subscribe()
        record = await t.call(
            "show_card",
            title="Build",
            accent="loud",
            fields=[{"label": "tests", "value": "ok"}, {"label": "no value"}],
            wait_for_reply=False,
            actions=[{"id": "open", "style": "weird"}],
        )
        with trio.fail_after(5):
            async for event in events:
                if isinstance(event, CardShown):
                    break
        events.close()
    assert record.output == "card displayed"
    assert event.accent == "" and event.wait_for_reply is False
    assert event.fields == ({"label": "tests", "value": "ok", "inline": False},)
    assert event.actions == ({"id": "open", "label": "open", "style": "secondary"},)
    assert from_wire(to_wire(event)) == event


async def test_show_card_with_actions_returns_the_chosen_action(work):
    async with drive(work, ASK) as t:
        async with trio.open_nursery() as nursery:

            async def reply(agent, card_id, event):
                assert event.wait_for_reply and event.actions[0]["id"] == "approve"
                await kt_tools.answer(agent, card_id, action_id="approve", values={"note": "ok"})

            nursery.start_soon(answer_first, t.agent, CardShown, reply)
            await trio.testing.wait_all_tasks_blocked()
            record = await t.call(
                "show_card",
                title="Deploy?",
                actions=[{"id": "approve", "label": "Approve", "style": "primary"}, {"id": "deny"}],
            )
    assert record.output == 'action: approve\nvalues: {"note": "ok"}'


async def test_show_card_times_out(work, autojump_clock):
    async with drive(work, ASK) as t:
        record = await t.call("show_card", title="Deploy?", actions=[{"id": "go"}], timeout_s=10)
    assert record.output == "card timed out without reply"


async def test_an_answer_to_nobody_is_a_typed_error_naming_the_pending_ones(work):
    async with drive(work, ASK) as t:
        with pytest.raises(UserRequestError, match="no pending request 'q_unknown'"):
            await kt_tools.answer(t.agent, "q_unknown", "hello")
    assert UserReply(request_id="x").type == "user_answered"


async def test_a_card_answer_must_be_one_of_its_actions(work):
    async with drive(work, ASK) as t:
        async with trio.open_nursery() as nursery:

            async def reply(agent, card_id, event):
                assert [c.id for c in event.choices] == ["go", "stop"]
                with pytest.raises(UserRequestError, match="answer with one of go, stop"):
                    await kt_tools.answer(agent, card_id, action_id="maybe")
                await kt_tools.answer(agent, card_id, action_id="stop")

            nursery.start_soon(answer_first, t.agent, CardShown, reply)
            await trio.testing.wait_all_tasks_blocked()
            record = await t.call("show_card", title="Go?", actions=[{"id": "go"}, {"id": "stop"}])
    assert record.output == "action: stop"


async def test_timeouts_and_interrupts_close_the_request_in_the_log(work, autojump_clock):
    async with drive(work, ASK) as t:
        events = t.agent.subscribe()
        await t.call("ask_user", question="Still there?", timeout_s=30)
        seen = []
        while not seen or seen[-1].type != "user_answered":
            seen.append(events.receive_nowait())
        events.close()
    asked = next(e for e in seen if isinstance(e, UserQuestion))
    assert asked.deadline is not None and asked.choices == ()
    assert (seen[-1].request_id, seen[-1].reason) == (asked.request_id, "timeout")
    assert open_requests_after(seen) == []


def open_requests_after(logged):
    """The requests an agent restored from *logged* would have pending."""

    class Stub:  # restore_requests needs only the stash of an agent
        stash = kt.Stash()

    stub = Stub()
    restore_requests(stub, [to_wire(e) for e in logged])
    return pending_requests(stub)


async def test_info_lookup_order_and_errors(work):
    local = work / "prompts" / "tools"
    local.mkdir(parents=True)
    (local / "grep.md").write_text("---\nsummary: x\n---\nOur team's grep rules.\n")
    async with drive(work, ["info", "grep", "glob", "bash"]) as t:
        override = await t.call("info", name="grep")
        packaged = await t.call("info", name="bash")
        generated = await t.call("info", name="glob")
        unknown = await t.call("info", name="nope")
    assert override.output.startswith("# grep\n\nOur team's grep rules.")
    assert "summary: x" not in override.output
    assert "Parameters:" in override.output and "- pattern (string, required)" in override.output
    assert "Never wait with `sleep`" in packaged.output
    assert "Find files by name pattern" in generated.output
    assert "- limit (integer, default 100)" in generated.output
    assert "no tool or sub-agent named 'nope'" in unknown.error and "grep" in unknown.error


@pytest.mark.parametrize(
    "event",
    [UserQuestion(request_id="q", prompt="?"), UserReply(request_id="q", values={"a": 1})],
)
def test_events_round_trip_on_the_wire(event):
    assert from_wire(to_wire(event)) == event
