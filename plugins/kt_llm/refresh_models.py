"""Regenerate the shipped model catalog (``kt_llm/models.toml``) from LiteLLM's model metadata.

LiteLLM keeps a large, well-maintained table of models: context windows, output limits,
per-token prices and capabilities for every major provider. Its package ships that table as
``litellm/model_prices_and_context_window_backup.json``; this script reads it from a wheel,
a JSON file or a URL, keeps the chat models of kt's providers, converts prices to dollars per
million tokens, and writes the catalog::

    python -m kt_llm.refresh_models                      # fetch the latest wheel with pip
    python -m kt_llm.refresh_models --source FILE.json   # or a downloaded table / a .whl
    python -m kt_llm.refresh_models --source https://…/model_prices_and_context_window.json

The catalog is generated, never edited: facts LiteLLM lacks go in ``~/.kt/models.toml``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kt_llm.models import CATALOG_FILE, PER_MILLION

__all__ = ["PROVIDERS", "convert", "load_source", "main", "render"]

TABLE_IN_WHEEL = "litellm/model_prices_and_context_window_backup.json"

PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "deepseek": "deepseek",
    "moonshot": "moonshot",
    "zai": "zai",
}
"""LiteLLM's provider names → kt's, for the providers kt ships a backend for."""

PRESETS: dict[str, tuple[str, ...]] = {
    # The first preset of a provider is its default model; keep it stable across refreshes.
    "openai": (
        "gpt-5.4",
        "gpt-5.4-mini",
        "gpt-5.4-nano",
        "gpt-6-sol",
        "gpt-6-luna",
        "gpt-6.1-sol",
        "gpt-5.6",
        "gpt-5.5",
        "gpt-5.2",
        "gpt-5.2-codex",
        "gpt-5.1",
        "gpt-5",
        "gpt-5-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4o",
        "gpt-4o-mini",
        "o3",
        "o4-mini",
    ),
    "anthropic": (
        "claude-sonnet-4-6",
        "claude-opus-4-7",
        "claude-opus-4-6",
        "claude-haiku-4-5",
        "claude-opus-5-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
        "claude-opus-5",
        "claude-sonnet-5",
        "claude-opus-4-8",
        "claude-sonnet-4-5",
        "claude-opus-4-5",
    ),
    "gemini": (
        "gemini-2.5-flash",
        "gemini-2.5-pro",
        "gemini-2.5-flash-lite",
        "gemini-3.1-pro-preview",
        "gemini-3-flash-preview",
        "gemini-3.5-flash",
        "gemini-3.5-flash-lite",
        "gemini-3.8-flash",
        "gemini-4-argon",
        "gemini-4-hydrogen",
    ),
    "deepseek": ("deepseek-chat", "deepseek-reasoner", "deepseek-v4-pro", "deepseek-v4-flash"),
    "moonshot": ("kimi-k2.6", "kimi-k2.7-code", "kimi-k3", "kimi-k3.1-pro"),
    "zai": ("glm-4.6", "glm-4.5-air", "glm-4.7", "glm-5", "glm-5.1", "glm-5.3", "glm-5.3-flash"),
}
"""The models each provider offers by name (``--llm gpt-5.4``), all of them in the catalog."""

_SKIP = re.compile(
    r"ft:|audio|realtime|tts|transcribe|image|computer-use|lyria|robotics|embedding|moderation"
)
_PRICE_FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
}


def _per_million(value: Any) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return round(float(value) * PER_MILLION, 6)


def convert(table: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """LiteLLM's table → ``{"provider/model": facts}`` in the catalog's shape.

    Keeps chat (and Responses-only) models of :data:`PROVIDERS`; the model id loses LiteLLM's
    provider prefix (``gemini/gemini-2.5-pro`` → ``gemini-2.5-pro``). When LiteLLM lists a
    model both with and without its prefix, the prefixed entry wins.
    """
    catalog: dict[str, dict[str, Any]] = {}
    prefixed: set[str] = set()
    for key, entry in table.items():
        if not isinstance(entry, Mapping) or entry.get("mode") not in ("chat", "responses"):
            continue
        provider = PROVIDERS.get(str(entry.get("litellm_provider")))
        if provider is None or _SKIP.search(key):
            continue
        model = key.split("/", 1)[1] if key.startswith(f"{entry['litellm_provider']}/") else key
        name = f"{provider}/{model}"
        if name in prefixed:
            continue
        if model != key:
            prefixed.add(name)
        facts: dict[str, Any] = {}
        window = entry.get("max_input_tokens") or entry.get("max_tokens")
        if isinstance(window, int) and window > 0:
            facts["context_window"] = window
        output = entry.get("max_output_tokens")
        if isinstance(output, int) and output > 0:
            facts["max_output"] = output
        prices = {
            ours: price
            for ours, theirs in _PRICE_FIELDS.items()
            if (price := _per_million(entry.get(theirs))) is not None
        }
        if prices:
            facts["prices"] = prices
        for ours, theirs in (
            ("tools", "supports_function_calling"),
            ("vision", "supports_vision"),
            ("reasoning", "supports_reasoning"),
        ):
            if isinstance(entry.get(theirs), bool):
                facts[ours] = entry[theirs]
        catalog[name] = facts
    return dict(sorted(catalog.items()))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def render(
    catalog: Mapping[str, Mapping[str, Any]],
    *,
    source: str,
    presets: Mapping[str, tuple[str, ...]] | None = None,
) -> str:
    """The catalog file's text.

    Raises:
        ValueError: a preset the catalog does not have (the table dropped or renamed it).
    """
    presets = PRESETS if presets is None else presets
    missing = [
        f"{p}/{m}" for p, models in presets.items() for m in models if f"{p}/{m}" not in catalog
    ]
    if missing:
        raise ValueError(f"presets missing from the source table: {', '.join(missing)}")
    lines = [
        "# The model catalog: context windows, output limits, prices (US dollars per million",
        "# tokens) and capabilities. Generated by `python -m kt_llm.refresh_models`; do not edit.",
        "# Facts of your own go in ~/.kt/models.toml, in the same shape.",
        f"source = {json.dumps(source)}",
        "",
        "[presets]",
        *(f"{p} = {json.dumps(list(models))}" for p, models in presets.items()),
        "",
    ]
    for name, facts in catalog.items():
        lines.append(f"[{json.dumps(name)}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in facts.items()]
        lines.append("")
    return "\n".join(lines)


def _from_wheel(path: Path) -> tuple[dict[str, Any], str]:
    with zipfile.ZipFile(path) as wheel:
        return json.loads(wheel.read(TABLE_IN_WHEEL)), path.name


def load_source(source: str | None) -> tuple[dict[str, Any], str]:
    """The LiteLLM table and a label naming where it came from.

    Args:
        source: A ``.json`` file, a ``.whl`` file, an ``http(s)`` URL of the JSON table, or
            ``None``: download the latest ``litellm`` wheel with pip (no dependencies).
    """
    if source is None:
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "-q",
                    "-d",
                    folder,
                    "litellm",
                ],
                check=True,
            )
            (wheel,) = Path(folder).glob("litellm-*.whl")
            return _from_wheel(wheel)
    if source.startswith(("http://", "https://")):
        import httpx

        reply = httpx.get(source, timeout=60, follow_redirects=True)
        reply.raise_for_status()
        return reply.json(), source
    path = Path(source)
    if path.suffix == ".whl":
        return _from_wheel(path)
    return json.loads(path.read_text(encoding="utf-8")), path.name


def main(argv: list[str] | None = None) -> int:
    """Regenerate the catalog; print how many models each provider has."""
    parser = argparse.ArgumentParser(prog="python -m kt_llm.refresh_models", description=__doc__)
    parser.add_argument("--source", help="a .json table, a litellm .whl, or a URL")
    parser.add_argument("--output", type=Path, default=CATALOG_FILE, help="where to write")
    args = parser.parse_args(argv)
    table, label = load_source(args.source)
    catalog = convert(table)
    args.output.write_text(render(catalog, source=f"LiteLLM model metadata ({label})"), "utf-8")
    counts: dict[str, int] = {}
    for name in catalog:
        counts[name.partition("/")[0]] = counts.get(name.partition("/")[0], 0) + 1
    print(
        f"wrote {len(catalog)} models to {args.output}: "
        + ", ".join(f"{provider} {count}" for provider, count in sorted(counts.items()))
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
