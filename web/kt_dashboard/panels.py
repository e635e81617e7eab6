"""Panels that plugins add to the dashboard's pages (the ``kt_dashboard_panels`` hook)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Panel", "collect"]

log = logging.getLogger("kt_dashboard.panels")


@attrs.frozen
class Panel:
    """One panel on a page.

    Attributes:
        title: Its heading.
        html: Its content, put in the page as it is (escape what you did not write).
        script: The URL of an ES module the page loads for it, if any.
        plugin: Which plugin added it (filled in by the dashboard).
    """

    title: str
    html: str = ""
    script: str | None = None
    plugin: str = ""


def collect(kernel: Any, page: str, context: Mapping[str, Any]) -> list[Panel]:
    """Every plugin's panels for *page*; a plugin that fails gives a panel saying so.

    Each implementation is called on its own so that one failing plugin does not take the
    others' panels (or the page) with it.
    """
    hook = getattr(getattr(kernel, "pm", None), "hook", None)
    caller = getattr(hook, "kt_dashboard_panels", None)
    if caller is None:
        return []
    values = {"page": page, "context": context}
    panels: list[Panel] = []
    for impl in caller.get_hookimpls():  # in registration order (pluggy calls them reversed)
        name = impl.plugin_name
        try:
            found = impl.function(**{arg: values[arg] for arg in impl.argnames})
        except Exception:
            log.exception("the dashboard panel of plugin %s failed on the %s page", name, page)
            panels.append(Panel(title=f"{name}: this panel failed", plugin=name))
            continue
        if found is None:
            continue
        for panel in found if isinstance(found, list | tuple) else [found]:
            panels.append(attrs.evolve(panel, plugin=name))
    return panels
