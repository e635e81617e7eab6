"""Goal termination: a creature's run ends when its scratchpad says the goal is reached.

Autonomous loops (a worker that repeats until its task list is done) need a way to stop that
the model controls. :class:`GoalTermination` is a creature plugin that checks the creature's
scratchpad (the ``scratchpad`` tool of ``kt_tools``) after each turn; when the flag key
(``goal_achieved`` by default) holds a true value (``true``, ``yes``, ``done``, ``1``), the
creature's run ends as a ``[termination]`` limit would end it: a ``CreatureTerminated`` event
with limit ``goal``, ``serve()`` returns, and further turns are refused with
``AgentTerminatedError``.

The model is told how, in one line of its system prompt: set the flag with the scratchpad tool
once the goal is reached.
"""

from __future__ import annotations

import kt

kt_requires = ("kt_tools",)

__all__ = ["TRUE_WORDS", "GoalTermination"]

TRUE_WORDS = frozenset({"true", "yes", "done", "1", "y", "achieved"})


class GoalTermination:
    """A creature plugin ending the run when a scratchpad flag is set.

    Args:
        key: The scratchpad key to watch.
        tell_model: Add a line to the system prompt saying how to end the run.
    """

    def __init__(self, key: str = "goal_achieved", tell_model: bool = True) -> None:
        self.key = key
        self.tell_model = tell_model

    def reached(self, creature: kt.Agent) -> bool:
        """Whether the creature's scratchpad says the goal is reached."""
        from kt_tools import scratchpad_of  # the scratchpad tool's module, loaded on first use

        value = scratchpad_of(creature).get(self.key, "")
        return str(value).strip().lower() in TRUE_WORDS

    @kt.hookimpl
    def kt_prompt_sections(self, creature: kt.Agent) -> list[kt.PromptSection]:
        """Tell the model how to end the run."""
        if not self.tell_model:
            return []
        text = (
            f'When the goal of this run is fully reached, set the scratchpad key "{self.key}" '
            'to "true" with the scratchpad tool; the run then ends after this turn.'
        )
        return [kt.PromptSection("kt_goal.termination", text, 600)]

    @kt.hookimpl
    async def kt_turn_ended(self, ctx: kt.TurnContext, result: kt.TurnResult) -> None:
        """End the creature's run when the flag is set."""
        if self.reached(ctx.creature):
            await ctx.creature.terminate(
                f"the scratchpad's {self.key} is set: the goal is reached", limit="goal"
            )


@kt.hookimpl
def kt_module_aliases() -> dict[str, str]:
    """kt-biome's goal plugin is this one."""
    return {"kt_biome.plugins.termination_goal:TerminationGoalPlugin": "kt_goal:GoalTermination"}
