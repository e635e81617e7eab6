"""Model profiles, presets, keys and the ``kt model`` / ``kt config`` / ``kt login`` commands.

This plugin decides which model a creature runs with (the ``kt_resolve_llm`` hook): it reads
selectors such as ``sonnet``, ``openai/gpt-4o`` or ``gpt-5.4@reasoning=high``, the user's
default model and custom endpoints from ``~/.kt/llm.toml``, and keys from ``~/.kt/keys.toml``
(mode 0600) or the environment. The backends themselves come from other plugins
(``kt_openai``, ``kt_anthropic``, ``kt_gemini``) through the kernel's registry; see
:mod:`kt_llm.catalog` for the selector rules and the resolution order.

Importing this module is cheap: the catalog is loaded when a creature is built, click when
``kt`` asks for commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kt
from kt_llm import cost  # cheap, and registers the cost_updated event type for readers

if TYPE_CHECKING:
    import click

    from kt.config import CreatureConfig


@kt.hookimpl
def kt_resolve_llm(
    selector: str | None, creature: CreatureConfig, kernel: kt.Kernel
) -> kt.LLMProfile | None:
    """Resolve presets, aliases, variations, the user default and stored keys."""
    from kt_llm.catalog import resolve

    return resolve(selector, creature, kernel)


@kt.hookimpl
def kt_turn_started(ctx: kt.TurnContext) -> None:
    """Start the turn's cost total (see :mod:`kt_llm.cost`)."""
    cost.start_turn(ctx)


@kt.hookimpl
async def kt_post_llm_call(result: kt.LLMResult, ctx: kt.TurnContext) -> None:
    """Price every model call and publish ``cost_updated`` (see :mod:`kt_llm.cost`)."""
    await cost.record_call(result, ctx)


@kt.hookimpl
def kt_module_aliases() -> dict[str, str]:
    """kt-biome's cost tracker: cost is tracked for every creature; this adds a budget."""
    return {"kt_biome.plugins.cost_tracker:CostTrackerPlugin": "kt_llm.cost:CostBudget"}


@kt.hookimpl
def kt_cli_commands(cli: click.Group) -> None:
    """Add ``kt model``, ``kt config`` and ``kt login``."""
    from kt_llm.commands import config, login, model

    cli.add_command(model)
    cli.add_command(config)
    cli.add_command(login)


@kt.hookimpl
def kt_doctor_checks(kernel: kt.Kernel, online: bool) -> list[Any]:
    """``kt doctor``: the settings and keys files, and each provider's key (and endpoint)."""
    from kt_llm.checks import model_checks

    return model_checks(kernel, online=online, env=kernel.env)
