"""Health checks of the model setup, in ``kt doctor``'s shape (``kt model check``).

Each check is one OK / WARN / FAIL line with a ``fix:`` under problems: the settings file,
the keys file's permissions, the default model, and each provider in use (its key; with
``online``, whether its endpoint answers at all).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Literal

import attrs

from kt.errors import KTError
from kt_llm.catalog import Catalog, Provider
from kt_llm.keys import KeyStore, mask
from kt_llm.settings import Settings

if TYPE_CHECKING:
    from kt import Kernel

__all__ = ["Check", "model_checks"]

Status = Literal["OK", "WARN", "FAIL"]


@attrs.frozen
class Check:
    """One check's outcome (the fields ``kt doctor`` prints).

    Attributes:
        status: ``OK``, ``WARN`` or ``FAIL``.
        subject: What was checked.
        detail: What was found.
        fix: What to do about a problem (``""``: nothing).
    """

    status: Status
    subject: str
    detail: str
    fix: str = ""


def model_checks(
    kernel: Kernel, *, online: bool = False, env: Mapping[str, str] | None = None
) -> list[Check]:
    """Check the model setup of one kernel and kt home.

    Args:
        kernel: Its backends are the providers.
        online: Also check that each provider's endpoint answers (one HTTP request each,
            5 seconds at most; any HTTP status counts as reachable).
        env: The environment (``KT_HOME``, provider key variables); default ``os.environ``.

    Returns:
        The checks, in order.
    """
    env = os.environ if env is None else env
    try:
        settings = Settings(env)
        keys = KeyStore(env)
        keys.stored()
    except KTError as exc:
        return [Check("FAIL", "llm settings", str(exc), "fix or remove the file")]
    checks = [_settings_check(settings), *_keys_file_check(keys)]
    catalog = Catalog(kernel, settings)
    if not catalog.providers:
        checks.append(
            Check(
                "WARN",
                "providers",
                "no model backend is loaded",
                "install or enable kt_openai, kt_anthropic or kt_gemini",
            )
        )
        return checks
    default_provider = None
    if settings.default:
        try:
            choice = catalog.choose(settings.default, source="user default")
        except KTError as exc:
            checks.append(Check("FAIL", "default model", str(exc), "run `kt model default NAME`"))
        else:
            default_provider = choice.provider.name
            checks.append(Check("OK", "default model", f"{choice.name} (kt model default)"))
    else:
        found = catalog.first_available(keys)
        if found is None:
            checks.append(
                Check(
                    "WARN",
                    "default model",
                    "none set, and no provider has a key",
                    "run `kt login codex` (a ChatGPT subscription) or `kt login PROVIDER`, "
                    "or `kt model default NAME`",
                )
            )
        else:
            default_provider = found.provider.name
            checks.append(
                Check("OK", "default model", f"{found.name} (the first provider with a key)")
            )
    for provider in catalog.ordered():
        if provider.name == "codex":
            checks += _codex_checks(keys.env, in_use=default_provider == "codex")
            continue
        key, source = keys.lookup(provider.name, provider.key_env)
        in_use = key or provider.custom or provider.name == default_provider
        if not in_use:
            continue
        checks.append(_key_check(provider, key, source))
        if online:
            checks.append(_reach_check(kernel, catalog, provider, keys))
    return checks


def _codex_checks(env: Mapping[str, str], *, in_use: bool) -> list[Check]:
    """The ChatGPT sign-in: present (and its file private), or missing when it is needed."""
    from kt_llm.codex_auth import TokenStore

    store = TokenStore(env)
    tokens = store.load()
    if tokens is None:
        if not in_use:
            return []
        return [Check("WARN", "provider codex", "not signed in", "run `kt login codex`")]
    account = f" (account {tokens.account_id})" if tokens.account_id else ""
    checks = [Check("OK", "provider codex", f"signed in with ChatGPT{account}")]
    try:
        mode = store.path.stat().st_mode & 0o777
    except OSError:
        return checks  # the Codex CLI's own file: its permissions are its business
    if mode & 0o077:
        checks.append(
            Check(
                "WARN",
                "codex sign-in file",
                f"{store.path} is readable by other users (mode {mode:o})",
                f"run `chmod 600 {store.path}`",
            )
        )
    return checks


def _settings_check(settings: Settings) -> Check:
    if not settings.path.is_file():
        return Check("OK", "llm settings", f"{settings.path} (not created yet)")
    endpoints = ", ".join(settings.endpoints) or "none"
    return Check("OK", "llm settings", f"{settings.path} (custom endpoints: {endpoints})")


def _keys_file_check(keys: KeyStore) -> Iterator[Check]:
    mode = keys.mode()
    if mode is None:
        return
    if mode & 0o077:
        yield Check(
            "WARN",
            "keys file",
            f"{keys.path} is readable by other users (mode {mode:o})",
            f"run `chmod 600 {keys.path}`",
        )
    else:
        yield Check("OK", "keys file", f"{keys.path} (mode {mode:o})")


def _key_check(provider: Provider, key: str | None, source: str) -> Check:
    subject = f"provider {provider.name}"
    if key:
        where = "stored" if source == "stored" else f"from {provider.key_env}"
        return Check("OK", subject, f"key {where} ({mask(key)})")
    if not provider.key_env and not provider.custom:
        return Check("OK", subject, "takes no key")
    if provider.custom and not provider.key_env:
        return Check("OK", subject, "no key configured (the endpoint may not need one)")
    return Check(
        "WARN",
        subject,
        "no key",
        f"run `kt login {provider.name}`"
        + (f" or set {provider.key_env}" if provider.key_env else ""),
    )


def _reach_check(kernel: Kernel, catalog: Catalog, provider: Provider, keys: KeyStore) -> Check:
    subject = f"endpoint {provider.name}"
    try:
        choice = catalog.choose(provider.name) if provider.default_model else None
        base_url = provider.base_url
        if choice is not None:
            profile = catalog.profile(choice, keys)
            llm = kernel.llm_backends[provider.backend].factory(profile)
            base_url = getattr(llm, "base_url", None) or base_url
    except KTError as exc:
        return Check("WARN", subject, f"not checked: {exc}")
    if not base_url:
        return Check("WARN", subject, "not checked: its endpoint is not known")
    return _probe(subject, base_url)


def _probe(subject: str, url: str) -> Check:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 (http(s) only)
            status = reply.status
    except urllib.error.HTTPError as exc:  # any answer means the server is there
        status = exc.code
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check(
            "FAIL",
            subject,
            f"cannot reach {url} ({reason})",
            "check the base URL, the network, and that the server is running",
        )
    return Check("OK", subject, f"{url} answers (HTTP {status})")
