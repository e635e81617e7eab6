"""``kt model``, ``kt config key|llm`` and ``kt login``: choose models, store keys, add endpoints.

Every command reads and writes the kt home of the environment (``KT_HOME`` or ``~/.kt``):
``llm.toml`` for the default model and custom endpoints, ``keys.toml`` (mode 0600) for keys.
Keys are only ever shown masked (``sk-a...1234``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from kt.errors import ConfigValidationError, KTError, UnknownNameError
from kt_llm.catalog import Catalog, Provider, close_matches
from kt_llm.checks import model_checks
from kt_llm.keys import KeyStore, mask
from kt_llm.models import ModelCatalog, ModelInfo
from kt_llm.settings import Endpoint, Settings

__all__ = ["config", "login", "model"]


def _kernel() -> Any:
    """The invocation's kernel (``kt``'s state object), or a new default one."""
    state = click.get_current_context().find_root().obj
    if state is not None and callable(getattr(state, "kernel", None)):
        return state.kernel()
    import kt

    return kt.Kernel()


def _catalog() -> Catalog:
    return Catalog(_kernel(), Settings())


def _provider(catalog: Catalog, name: str) -> Provider:
    provider = catalog.providers.get(name)
    if provider is None:
        known = ", ".join(sorted(catalog.providers)) or "none (no model backend is loaded)"
        raise UnknownNameError(
            f"unknown provider '{name}'.{close_matches(name, catalog.providers)} Providers: {known}"
        )
    return provider


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _tokens(count: int | None) -> str:
    if count is None:
        return "?"
    if count >= 1_000_000 and count % 1_000_000 < 50_000:
        return f"{count / 1_000_000:.2g}M"
    return f"{round(count / 1000)}k" if count >= 1000 else str(count)


def _price(value: float | None) -> str:
    return "?" if value is None else f"${value:g}"


def _facts_lines(info: ModelInfo) -> list[tuple[str, str]]:
    """``kt model show``'s lines for the catalog's facts."""
    facts = info.facts
    prices = facts.prices
    capabilities = [
        name for name in ("tools", "vision", "reasoning") if getattr(facts, name) is True
    ]
    lines = [
        ("context window", f"{facts.context_window:,} tokens" if facts.context_window else "?"),
        ("max output", f"{facts.max_output:,} tokens" if facts.max_output else "?"),
        (
            "price per 1M",
            f"input {_price(prices.input)}, output {_price(prices.output)}, cache read "
            f"{_price(prices.cache_read)}, cache write {_price(prices.cache_write)}",
        ),
        ("capabilities", ", ".join(capabilities) or "?"),
        ("facts from", ", ".join(info.sources) or "nothing known: add them to ~/.kt/models.toml"),
    ]
    return lines


# -- kt model -------------------------------------------------------------------------------------


@click.group("model")
def model() -> None:
    """Choose and inspect models: presets, aliases, the default, their keys."""


@model.command("list")
def model_list() -> None:
    """List the models you can select, by provider, with key status and the default (*)."""
    catalog = _catalog()
    keys = KeyStore()
    models = ModelCatalog()
    default = catalog.settings.default
    rows = []
    for provider in catalog.ordered():
        _, source = keys.lookup(provider.name, provider.key_env)
        if provider.name == "codex":
            from kt_llm.codex_auth import TokenStore

            key = "signed in" if TokenStore().load() is not None else "kt login codex"
        elif not provider.key_env and not provider.custom:
            key = "not needed"
        elif source == "env":
            key = f"env {provider.key_env}"
        else:
            key = source
        names = [p.name for p in provider.presets] or [provider.model or "MODEL"]
        for name in names:
            selector = f"{provider.name}/{name}"
            mark = "*" if default in (selector, name) else " "
            info = models.lookup(provider.name, name, backend=provider.backend)
            prices = info.prices
            rows.append(
                (
                    f"{mark} {selector}",
                    _tokens(info.context_window),
                    _price(prices.input),
                    _price(prices.output),
                    key,
                )
            )
    _table(rows, ("  MODEL", "CONTEXT", "IN/1M", "OUT/1M", "KEY"))
    if catalog.aliases:
        click.echo(
            "\naliases: " + ", ".join(f"{a} = {t}" for a, t in sorted(catalog.aliases.items()))
        )
    click.echo(
        "\nAny model of a provider works as PROVIDER/MODEL; add @reasoning=high (or "
        "temperature=, max_tokens=, service_tier=, thinking=) for a variation."
    )
    if not default:
        click.echo("No default set: `kt model default NAME` sets one.")


@model.command("default")
@click.argument("name", required=False)
@click.option("--unset", is_flag=True, help="Remove the default.")
def model_default(name: str | None, unset: bool) -> None:
    """Show the default model, or set it to NAME (any selector `kt model list` accepts)."""
    catalog = _catalog()
    settings = catalog.settings
    if unset:
        settings.set_default(None)
        click.echo("default model removed")
        return
    if name is None:
        if settings.default:
            click.echo(settings.default)
            return
        found = catalog.first_available(KeyStore())
        click.echo(
            "(none set)" + (f"; the first provider with a key gives {found.name}" if found else "")
        )
        return
    choice = catalog.choose(name, path="default")
    settings.set_default(choice.name)
    click.echo(f"default model: {choice.name}")


@model.command("show")
@click.argument("name", required=False)
def model_show(name: str | None) -> None:
    """Show what NAME (default: the default model) resolves to: provider, model, key, options."""
    catalog = _catalog()
    keys = KeyStore()
    if name is None:
        if catalog.settings.default:
            choice = catalog.choose(catalog.settings.default, source="user default")
        else:
            found = catalog.first_available(keys)
            if found is None:
                raise KTError(
                    "no default model and no provider has a key; run `kt login PROVIDER` or "
                    "`kt model default NAME`"
                )
            choice = found
    else:
        choice = catalog.choose(name, path="model")
    profile = catalog.profile(choice, keys)
    key, source = keys.lookup(choice.provider.name, choice.provider.key_env)
    if key:
        where = "stored" if source == "stored" else f"from {choice.provider.key_env}"
        key_text = f"{mask(key)} ({where})"
    elif choice.provider.key_env:
        key_text = (
            f"missing: run `kt login {choice.provider.name}` or set {choice.provider.key_env}"
        )
    else:
        key_text = "none"
    lines = [
        ("selector", choice.name),
        ("chosen by", choice.source),
        (
            "provider",
            choice.provider.name + (" (custom endpoint)" if choice.provider.custom else ""),
        ),
        ("backend", profile.backend),
        ("model", profile.model),
        ("base url", profile.base_url or "(the provider's default)"),
        ("key", key_text),
    ]
    for option, value in sorted(profile.options.items()):
        lines.append((f"option {option}", repr(value)))
    lines += _facts_lines(ModelCatalog().describe(profile))
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"{label.ljust(width)}  {value}")


@model.command("check")
@click.option("--online", is_flag=True, help="Also check that each endpoint answers.")
def model_check(online: bool) -> None:
    """Check the model setup: settings, keys file, default model, each provider in use.

    Prints one OK / WARN / FAIL line per check (as `kt doctor` does); exit code 1 when any
    check fails.
    """
    checks = model_checks(_kernel(), online=online)
    for check in checks:
        click.echo(f"{check.status:<5} {check.subject}: {check.detail}")
        if check.fix and check.status != "OK":
            click.echo(f"      fix: {check.fix}")
    failures = sum(c.status == "FAIL" for c in checks)
    click.get_current_context().exit(1 if failures else 0)


# -- kt config ----------------------------------------------------------------------------------


CONFIG_FILES: dict[str, tuple[str, str]] = {
    "config": ("config.toml", "kt's settings: the plugin set, preferences"),
    "llm": ("llm.toml", "the default model and custom endpoints (kt config llm)"),
    "keys": ("keys.toml", "API keys, mode 0600 (kt config key)"),
    "models": ("models.toml", "your model facts: context windows, prices"),
    "mcp": ("mcp.toml", "MCP servers (kt mcp)"),
    "marketplace": ("marketplace.toml", "your own pack index"),
    "sources": ("marketplaces.toml", "marketplace sources (kt marketplace add)"),
    "logs": ("logs/kt.log", "the log file (--log-level); read it, do not edit it"),
}
"""The files of the kt home ``kt config show|path|edit`` know: name -> (path, what it holds)."""


def _config_path(name: str | None) -> Path:
    from kt.config.home import kt_home

    if name is None:
        return kt_home()
    if name not in CONFIG_FILES:
        raise UnknownNameError(
            f"unknown config file '{name}'.{close_matches(name, CONFIG_FILES)} Known: "
            + ", ".join(CONFIG_FILES)
        )
    return kt_home() / CONFIG_FILES[name][0]


@click.group("config", invoke_without_command=True)
@click.pass_context
def config(ctx: click.Context) -> None:
    """Settings files, API keys and custom endpoints; alone: where the files are."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(config_show)


@config.command("show")
def config_show() -> None:
    """Where kt keeps its settings: the kt home and each file, present or not."""
    click.echo(f"{'home':<12} {_config_path(None)}")
    for name, (_, what) in CONFIG_FILES.items():
        path = _config_path(name)
        state = "" if path.exists() else "  (absent)"
        click.echo(f"{name:<12} {path}{state}  # {what}")


@config.command("path")
@click.argument("name", required=False)
def config_path(name: str | None) -> None:
    """Print the path of the settings file NAME (kt config show lists them), or the kt home."""
    click.echo(str(_config_path(name)))


@config.command("edit")
@click.argument("name", default="llm")
def config_edit(name: str) -> None:
    """Open the settings file NAME (default: llm) in $VISUAL or $EDITOR; it is made if absent."""
    if name == "logs":
        raise KTError("the log file is kt's to write; read it with `less $(kt config path logs)`")
    path = _config_path(name)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # keys stay private
        os.close(fd)
    click.edit(filename=str(path))
    click.echo(f"edited {path}")


@config.group("key")
def key() -> None:
    """Store, list and remove API keys (kept in KT_HOME/keys.toml, mode 0600)."""


@key.command("set")
@click.argument("provider")
@click.argument("value", required=False)
def key_set(provider: str, value: str | None) -> None:
    """Store the key of PROVIDER (prompted without echo when VALUE is left out)."""
    found = _provider(_catalog(), provider)
    if value is None:
        value = click.prompt(f"API key for {found.name}", hide_input=True)
    KeyStore().set(found.name, value)
    click.echo(f"stored the key for {found.name} ({mask(value.strip())})")


@key.command("list")
def key_list() -> None:
    """List each provider's key: where it comes from (stored, env, missing), masked."""
    catalog = _catalog()
    keys = KeyStore()
    rows = []
    for provider in catalog.ordered():
        if not provider.key_env and not provider.custom:
            continue
        value, source = keys.lookup(provider.name, provider.key_env)
        rows.append((provider.name, provider.key_env or "-", source, mask(value) if value else ""))
    _table(rows, ("PROVIDER", "ENV VAR", "SOURCE", "KEY"))


@key.command("remove")
@click.argument("provider")
def key_remove(provider: str) -> None:
    """Forget the stored key of PROVIDER (its environment variable still counts)."""
    if KeyStore().remove(provider):
        click.echo(f"removed the stored key for {provider}")
    else:
        raise KTError(f"no key is stored for '{provider}'; `kt config key list` shows them")


@config.group("llm")
def llm() -> None:
    """Add, change, list and remove custom model endpoints (OpenAI-compatible servers...)."""


@llm.command("add")
@click.argument("name")
@click.option("--base-url", required=True, help="The endpoint, up to the API version (…/v1).")
@click.option("--model", "model_name", default="", help="The model used by --llm NAME.")
@click.option("--key-env", default=None, help="Environment variable holding its key.")
@click.option(
    "--backend",
    default="openai",
    show_default=True,
    help="The wire format: an installed backend (openai for OpenAI-compatible servers).",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A generation or backend option (repeatable); VALUE is read as TOML when it can be.",
)
def llm_add(
    name: str,
    base_url: str,
    model_name: str,
    key_env: str | None,
    backend: str,
    options: tuple[str, ...],
) -> None:
    """Add (or replace) the custom endpoint NAME; select it with --llm NAME or NAME/MODEL."""
    endpoint = Endpoint(
        name=name,
        base_url=base_url.rstrip("/"),
        backend=backend,
        model=model_name,
        api_key_env=key_env,
        options=_options(options),
    )
    _check_endpoint(endpoint)
    Settings().add_endpoint(endpoint)
    click.echo(f"added endpoint {name}: {endpoint.base_url} ({backend} format)")


@llm.command("edit")
@click.argument("name")
@click.option("--base-url", default=None, help="A new endpoint URL.")
@click.option("--model", "model_name", default=None, help="A new default model.")
@click.option("--key-env", default=None, help="A new key variable ('' removes it).")
@click.option("--backend", default=None, help="A new wire format.")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set an option (repeatable); VALUE is read as TOML when it can be.",
)
@click.option("--unset", "unset", multiple=True, metavar="KEY", help="Remove an option.")
def llm_edit(
    name: str,
    base_url: str | None,
    model_name: str | None,
    key_env: str | None,
    backend: str | None,
    options: tuple[str, ...],
    unset: tuple[str, ...],
) -> None:
    """Change the custom endpoint NAME: what is given changes, the rest (and its key) stays."""
    import attrs

    settings = Settings()
    current = settings.endpoints.get(name)
    if current is None:
        raise KTError(f"no custom endpoint named '{name}'; `kt config llm list` shows them")
    merged = {k: v for k, v in current.options.items() if k not in unset}
    merged.update(_options(options))
    changed = attrs.evolve(
        current,
        base_url=(base_url or current.base_url).rstrip("/"),
        model=current.model if model_name is None else model_name,
        api_key_env=current.api_key_env if key_env is None else (key_env or None),
        backend=backend or current.backend,
        options=merged,
    )
    _check_endpoint(changed)
    settings.add_endpoint(changed)
    click.echo(
        f"changed endpoint {name}: {changed.base_url} ({changed.backend} format, model "
        f"{changed.model or '-'}, key {changed.api_key_env or 'stored'})"
    )


def _check_endpoint(endpoint: Endpoint) -> None:
    """Refuse an endpoint named like a built-in provider, or with a bad name, backend or URL."""
    kernel = _kernel()
    name, backend, base_url = endpoint.name, endpoint.backend, endpoint.base_url
    if name in kernel.llm_backends:
        raise ConfigValidationError(
            f"'{name}' is a built-in provider; choose another name for the endpoint", path="name"
        )
    if "/" in name or "@" in name or ":" in name or not name.strip():
        raise ConfigValidationError(
            f"endpoint name '{name}' may not contain '/', '@' or ':'", path="name"
        )
    if backend not in kernel.llm_backends or backend == "scripted":
        raise UnknownNameError(
            f"unknown backend '{backend}'.{close_matches(backend, kernel.llm_backends)} Installed: "
            + ", ".join(sorted(b for b in kernel.llm_backends if b != "scripted"))
        )
    if not base_url.startswith(("http://", "https://")):
        raise ConfigValidationError(
            f"base URL '{base_url}' must start with http:// or https://", path="base_url"
        )


def _options(pairs: tuple[str, ...]) -> dict[str, Any]:
    import tomlkit

    options: dict[str, Any] = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        if not equals or not key.strip():
            raise ConfigValidationError(f"--option '{pair}' is not KEY=VALUE", path="option")
        try:
            value = tomlkit.parse(f"v = {text}").unwrap()["v"]
        except Exception:
            value = text
        options[key.strip()] = value
    return options


@llm.command("list")
def llm_list() -> None:
    """List the custom endpoints."""
    settings = Settings()
    if not settings.endpoints:
        click.echo("no custom endpoints; `kt config llm add NAME --base-url URL` adds one")
        return
    rows = [
        (e.name, e.backend, e.base_url, e.model or "-", e.api_key_env or "-")
        for e in settings.endpoints.values()
    ]
    _table(rows, ("NAME", "BACKEND", "BASE URL", "MODEL", "KEY ENV"))


@llm.command("remove")
@click.argument("name")
def llm_remove(name: str) -> None:
    """Remove the custom endpoint NAME (its stored key too)."""
    if not Settings().remove_endpoint(name):
        raise KTError(f"no custom endpoint named '{name}'; `kt config llm list` shows them")
    KeyStore().remove(name)
    click.echo(f"removed endpoint {name}")


# -- kt login -----------------------------------------------------------------------------------


def _login_codex(*, device: bool, issuer: str | None, port: int | None) -> None:
    import webbrowser

    import trio

    from kt_llm.codex_auth import CALLBACK_PORT, Issuer, TokenStore, login

    store = TokenStore()
    tokens = trio.run(
        lambda: login(
            Issuer(url=issuer) if issuer else Issuer(),
            store,
            open_browser=None if device else webbrowser.open,
            port=CALLBACK_PORT if port is None else port,
            say=click.echo,
        )
    )
    account = f" (account {tokens.account_id})" if tokens.account_id else ""
    click.echo(f"signed in with ChatGPT{account}; the tokens are in {store.path}")
    click.echo("use it with --llm codex/gpt-5.4, or `kt model default codex/gpt-5.4`")


@click.command("login")
@click.argument("provider")
@click.option("--device", is_flag=True, help="codex: sign in with a device code only (no browser).")
@click.option("--issuer", default=None, hidden=True, help="codex: another authorization server.")
@click.option("--port", default=None, type=int, hidden=True, help="codex: the callback port.")
def login(provider: str, device: bool, issuer: str | None, port: int | None) -> None:
    """Store an API key for PROVIDER, typed without echo (replaces a stored one).

    `kt login codex` signs in with a ChatGPT subscription instead: in the browser, or with a
    device code on another device, whichever finishes first (--device: the code alone).
    """
    if provider == "codex":
        _login_codex(device=device, issuer=issuer, port=port)
        return
    found = _provider(_catalog(), provider)
    keys = KeyStore()
    current, source = keys.lookup(found.name, found.key_env)
    if current:
        where = "stored" if source == "stored" else f"from {found.key_env}"
        click.echo(f"current key for {found.name}: {mask(current)} ({where})")
    value = click.prompt(f"API key for {found.name}", hide_input=True)
    keys.set(found.name, value)
    click.echo(f"stored the key for {found.name} ({mask(value.strip())}) in {keys.path}")
    if os.environ.get(found.key_env or "") and source != "stored":
        click.echo(f"the stored key now wins over {found.key_env}")
