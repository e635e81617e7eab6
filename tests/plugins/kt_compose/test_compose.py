"""The composition algebra: operators, helpers, effects, and agents as pipeline steps."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import kt_compose as compose
from kt.errors import AgentNotStartedError, AgentStoppedError
from kt_compose import (
    ComposeError,
    Effects,
    Fallback,
    Product,
    Pure,
    Retry,
    Router,
    Runnable,
    Sequence,
    as_runnable,
)


async def inc(x: int) -> int:
    await trio.lowlevel.checkpoint()
    return x + 1


async def dbl(x: int) -> int:
    await trio.lowlevel.checkpoint()
    return x * 2


class Flaky(Runnable):
    """Fails until its *succeed_on*-th call, then returns ``("ok", input)``."""

    def __init__(self, succeed_on: int) -> None:
        self.succeed_on = succeed_on
        self.calls = 0

    async def run(self, input):
        self.calls += 1
        if self.calls < self.succeed_on:
            raise RuntimeError(f"attempt {self.calls} failed")
        return ("ok", input)


# -- Scenario 17 ---------------------------------------------------------------------------------


async def test_product_then_join_sums_both_branches():
    pipeline = (Pure(inc) & dbl) >> (lambda t: sum(t))
    assert await pipeline(3) == 10


async def test_retry_succeeds_on_third_attempt_with_three_attempts():
    flaky = Flaky(succeed_on=3)
    assert await (flaky * 3)("x") == ("ok", "x")
    assert flaky.calls == 3


async def test_retry_with_two_attempts_raises_the_last_error():
    flaky = Flaky(succeed_on=3)
    with pytest.raises(RuntimeError, match="attempt 2 failed"):
        await (flaky * 2)("x")
    assert flaky.calls == 2


async def test_fallback_runs_backup_on_the_original_input():
    seen = []

    async def boom(x):
        seen.append(("boom", x))
        raise ValueError("boom")

    async def backup(x):
        seen.append(("backup", x))
        return f"backup:{x}"

    pipeline = Pure(inc) >> (Pure(boom) | backup)
    assert await pipeline(1) == "backup:2"
    assert seen == [("boom", 2), ("backup", 2)]
    assert await (Pure(boom) | backup)(7) == "backup:7"


async def test_and_binds_looser_than_rshift():
    a, b, c = Pure(inc), Pure(dbl), Pure(lambda x: x - 100)
    loose = a & b >> c
    explicit = a & (b >> c)
    assert isinstance(loose, Product)
    assert repr(loose) == repr(explicit)
    assert await loose(5) == await explicit(5) == (6, -90)
    assert await ((a & b) >> sum)(5) == 16


async def test_iterate_feeds_outputs_back_and_feed_overrides_once():
    steps = Pure(inc).iterate(1)
    seen = []
    async for value in steps:
        seen.append(value)
        if len(seen) == 3:
            break
    assert seen == [2, 3, 4]
    steps.feed(10)
    assert await steps.__anext__() == 11
    assert await steps.__anext__() == 12


# -- Operators and flattening --------------------------------------------------------------------


async def test_plain_callables_wrap_on_either_side_of_rshift():
    pipeline = (lambda x: x + 1) >> Pure(dbl) >> (lambda x: x - 1)
    assert isinstance(pipeline, Sequence)
    assert len(pipeline.stages) == 3
    assert await pipeline(2) == 5


async def test_callables_wrap_on_both_sides_of_and_and_or():
    def fail(x):
        raise RuntimeError("no")

    assert await (inc & Pure(dbl))(4) == (5, 8)
    assert await (fail | Pure(dbl))(4) == 8
    assert await (Pure(fail) | dbl)(4) == 8


async def test_sequence_product_and_fallback_flatten():
    a, b, c = Pure(inc), Pure(dbl), Pure(str)
    assert len((a >> b >> c).stages) == 3
    assert len((a & b & c).branches) == 3
    assert await (a & b & c)(1) == (2, 2, "1")
    assert len((a | b | c).options) == 3


async def test_map_post_processes_and_contramap_pre_processes():
    assert await Pure(inc).map(dbl)(3) == 8  # (3 + 1) * 2
    assert await Pure(inc).contramap(dbl)(3) == 7  # 3 * 2 + 1


async def test_pure_awaits_awaitables_returned_by_sync_functions():
    def returns_coroutine(x):
        return dbl(x)

    assert await Pure(returns_coroutine)(21) == 42


def test_pure_rejects_non_callables():
    with pytest.raises(TypeError, match="callable"):
        Pure(42)


def test_composing_with_a_non_callable_raises_type_error():
    with pytest.raises(TypeError):
        Pure(inc) >> 42
    with pytest.raises(TypeError, match="cannot compose"):
        as_runnable(3.5)


async def test_fails_when_turns_bad_output_into_value_error_for_fallback_and_retry():
    short = Pure(lambda text: text[:3]).fails_when(lambda out: len(out) < 3)
    with pytest.raises(ValueError, match="rejects"):
        await short("ab")
    assert await short("abcdef") == "abc"
    assert await (short | (lambda text: "fallback"))("ab") == "fallback"

    calls = []

    async def counter(x):
        calls.append(x)
        return len(calls)

    assert await (Pure(counter).fails_when(lambda n: n < 3) * 5)("go") == 3
    assert calls == ["go", "go", "go"]


# -- Retry ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3", True, None])
def test_retry_count_must_be_a_positive_int(bad):
    with pytest.raises(TypeError):
        Pure(inc) * bad
    with pytest.raises(TypeError):
        Retry(Pure(inc), bad)


async def test_retry_commutes_and_counts_total_attempts():
    flaky = Flaky(succeed_on=2)
    assert await (2 * flaky)("y") == ("ok", "y")
    once = Flaky(succeed_on=2)
    with pytest.raises(RuntimeError):
        await (once * 1)("y")
    assert once.calls == 1


# -- Product: concurrency and failure ------------------------------------------------------------


async def test_product_branches_run_concurrently():
    both_started = trio.Event()
    started = []

    async def branch(name):
        started.append(name)
        if len(started) == 2:
            both_started.set()
        await both_started.wait()  # deadlocks unless the other branch runs at the same time
        return name

    assert await (Pure(branch) & branch)("x") == ("x", "x")


async def test_failing_branch_cancels_its_sibling_and_the_error_propagates_unwrapped(
    autojump_clock,
):
    sibling_entered = trio.Event()
    sibling_cleaned_up = False
    sibling_finished = False

    async def slow(x):
        nonlocal sibling_cleaned_up, sibling_finished
        try:
            sibling_entered.set()
            await trio.sleep_forever()
            sibling_finished = True
        finally:
            sibling_cleaned_up = True

    async def failing(x):
        await sibling_entered.wait()
        raise LookupError("branch failed")

    with trio.fail_after(60), pytest.raises(LookupError, match="branch failed"):
        await (Pure(slow) & failing)("x")
    assert sibling_cleaned_up
    assert not sibling_finished


async def test_product_returns_tuple_in_branch_order_not_completion_order():
    second_done = trio.Event()

    async def first(x):
        await second_done.wait()
        return "first"

    async def second(x):
        second_done.set()
        return "second"

    assert await (Pure(first) & second)(None) == ("first", "second")


# -- Fallback and cancellation -------------------------------------------------------------------


async def test_fallback_does_not_catch_cancellation(autojump_clock):
    backup_ran = False

    async def slow(x):
        await trio.sleep(100)
        return "slow"

    async def backup(x):
        nonlocal backup_ran
        backup_ran = True
        return "backup"

    with trio.move_on_after(1) as scope:
        await (Pure(slow) | backup)("x")
    assert scope.cancelled_caught
    assert not backup_ran


async def test_retry_does_not_retry_cancellation(autojump_clock):
    attempts = 0

    async def slow(x):
        nonlocal attempts
        attempts += 1
        await trio.sleep(100)

    with trio.move_on_after(1):
        await (Pure(slow) * 5)("x")
    assert attempts == 1


async def test_fallback_raises_the_last_error_when_every_option_fails():
    def first(x):
        raise ValueError("first")

    def second(x):
        raise KeyError("second")

    with pytest.raises(KeyError, match="second"):
        await Fallback(first, second)("x")


# -- Router --------------------------------------------------------------------------------------


async def test_router_routes_a_key_payload_pair_by_str_key():
    router = Pure(lambda x: x) >> {"1": lambda p: f"one:{p}", "two": lambda p: f"two:{p}"}
    assert await router((1, "payload")) == "one:payload"
    assert await router(("two", "p")) == "two:p"


async def test_router_uses_the_input_as_key_and_payload_otherwise():
    router = Router({"hello": lambda p: p.upper()})
    assert await router("hello") == "HELLO"


async def test_router_default_catches_unknown_keys_with_the_payload():
    router = Router({"a": lambda p: "a", "_default": lambda p: f"default:{p}"})
    assert await router(("zzz", 5)) == "default:5"
    assert await router("other") == "default:other"


async def test_router_unknown_key_without_default_lists_known_keys():
    router = Router({"alpha": inc, "beta": dbl})
    with pytest.raises(KeyError, match="alpha") as info:
        await router(("gamma", 1))
    assert "beta" in str(info.value) and "gamma" in str(info.value)


async def test_router_three_tuple_is_a_key_not_a_pair():
    router = Router({"(1, 2, 3)": lambda p: p, "_default": lambda p: "default"})
    assert await router((1, 2, 3)) == (1, 2, 3)


def test_router_rejects_non_callable_routes():
    with pytest.raises(TypeError, match="'bad'"):
        Router({"bad": 42})


# -- Effects -------------------------------------------------------------------------------------


def test_effects_sequential_adds_cost_and_latency_and_multiplies_reliability():
    combined = Effects(1.0, 2.0, 0.9) >> Effects(3.0, 4.0, 0.5)
    assert attrs.astuple(combined) == pytest.approx((4.0, 6.0, 0.45))


def test_effects_parallel_adds_cost_takes_max_latency():
    combined = Effects(1.0, 2.0, 0.9) & Effects(3.0, 4.0, 0.5)
    assert attrs.astuple(combined) == pytest.approx((4.0, 4.0, 0.45))


def test_effects_none_propagates():
    combined = Effects(cost=1.0, latency=None, reliability=0.5).then(Effects(2.0, 3.0, None))
    assert combined == Effects(cost=3.0, latency=None, reliability=None)


def test_effects_validate_ranges():
    with pytest.raises(ValueError, match="reliability"):
        Effects(reliability=1.5)
    with pytest.raises(ValueError, match="cost"):
        Effects(cost=-1)


def test_pipeline_effects_combine_annotated_stages():
    a = Pure(inc).with_effects(cost=1.0, latency=2.0, reliability=0.9)
    b = Pure(dbl).with_effects(Effects(cost=3.0, latency=4.0, reliability=0.5))
    assert Pure(inc).effects is None
    assert attrs.astuple((a >> b).effects) == pytest.approx((4.0, 6.0, 0.45))
    assert attrs.astuple((a & b).effects) == pytest.approx((4.0, 4.0, 0.45))
    # an unannotated glue step is neutral
    assert attrs.astuple(((a & b) >> sum).effects) == pytest.approx((4.0, 4.0, 0.45))
    fallback = (a | b).effects
    assert fallback.cost == pytest.approx(1.0 + 0.1 * 3.0)
    assert fallback.reliability == pytest.approx(1 - 0.1 * 0.5)
    assert (a * 2).effects.reliability == pytest.approx(0.99)
    assert (Pure(inc) >> dbl).effects is None


async def test_with_effects_returns_an_annotated_copy_that_still_runs():
    plain = Pure(inc)
    annotated = plain.with_effects(cost=1.0)
    assert plain.effects is None
    assert annotated.effects == Effects(cost=1.0)
    assert await annotated(1) == 2
    with pytest.raises(TypeError):
        plain.with_effects(Effects(), cost=1.0)


# -- Agent stages: misuse that needs no agent ---------------------------------------------------


async def test_agent_stage_outside_async_with_raises_agent_not_started():
    stage = compose.agent({"name": "idle"})
    with pytest.raises(AgentNotStartedError, match="async with"):
        await stage("hello")


async def test_agent_stage_rejects_a_tuple_with_a_join_hint():
    stage = compose.factory({"name": "joiner"})
    with pytest.raises(ComposeError, match="join") as info:
        await stage(("a", "b"))
    assert isinstance(info.value, TypeError)
    with pytest.raises(ComposeError, match="string"):
        await stage(42)


def test_factory_rejects_llm_and_llm_factory_together():
    with pytest.raises(TypeError, match="llm_factory"):
        compose.factory({"name": "x"}, llm=object(), llm_factory=object)


# -- Agent stages with scripted agents ------------------------------------------------------------


def _creature(name: str) -> dict:
    return {"name": name, "system_prompt": f"You are {name}."}


def _user_messages(llm) -> list[str]:
    """The last user text of each call a ScriptedLLM received, in call order."""
    return [call.last_user_text for call in llm.calls]


async def test_agent_then_agent_passes_the_first_agents_final_text():
    from kt.testing import ScriptedLLM

    llm_a = ScriptedLLM(["  draft from A  "])
    llm_b = ScriptedLLM(["B reviewed it"])
    async with (
        compose.agent(_creature("a"), llm=llm_a) as a,
        compose.agent(_creature("b"), llm=llm_b) as b,
    ):
        assert await (a >> b)("write something") == "B reviewed it"
    assert _user_messages(llm_a) == ["write something"]
    assert _user_messages(llm_b) == ["draft from A"]


async def test_agent_stage_keeps_one_conversation_and_stops_on_exit():
    from kt.testing import ScriptedLLM

    llm = ScriptedLLM(["one", "two"])
    stage = compose.agent(_creature("chatty"), llm=llm)
    async with stage:
        assert await stage("first") == "one"
        assert await stage("second") == "two"
    last_request_roles = [m.role for m in llm.calls[-1].messages]
    assert last_request_roles.count("user") == 2  # the second turn saw the first
    with pytest.raises(AgentStoppedError):
        await stage("third")


async def test_failed_turn_raises_so_fallback_takes_over():
    from kt.errors import LLMConnectionError
    from kt.testing import ScriptedLLM

    async with compose.agent(
        _creature("broken"), llm=ScriptedLLM([LLMConnectionError("down")])
    ) as broken:
        with pytest.raises(LLMConnectionError):
            await broken("hi")
    async with compose.agent(
        _creature("broken"), llm=ScriptedLLM([LLMConnectionError("down")])
    ) as broken:
        assert await (broken | (lambda text: f"backup:{text}"))("hi") == "backup:hi"


async def test_tuple_into_agent_stage_raises_compose_error_and_join_fixes_it():
    from kt.testing import ScriptedLLM

    llm = ScriptedLLM(["joined ok"])
    async with compose.agent(_creature("j"), llm=llm) as stage:
        with pytest.raises(ComposeError, match="join"):
            await ((Pure(str) & str) >> stage)(1)
        assert await ((Pure(str) & str) >> (lambda t: "\n".join(t)) >> stage)(1) == "joined ok"
    assert _user_messages(llm) == ["1\n1"]


async def test_factory_builds_a_fresh_agent_per_call():
    from kt.testing import ScriptedLLM

    made = []

    def make_llm():
        llm = ScriptedLLM([f"reply {len(made) + 1}"])
        made.append(llm)
        return llm

    fresh = compose.factory(_creature("fresh"), llm_factory=make_llm)
    assert await fresh("first") == "reply 1"
    assert await fresh("second") == "reply 2"
    assert len(made) == 2
    for llm, text in zip(made, ["first", "second"], strict=True):
        users = [m for m in llm.calls[0].messages if m.role == "user"]
        assert len(users) == 1, "a factory agent must not see earlier calls' history"
        assert _user_messages(llm) == [text]
