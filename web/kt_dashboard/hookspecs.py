"""Hook specifications ``kt_dashboard`` adds to every kernel it is part of."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from kt_dashboard.panels import Panel

hookspec = pluggy.HookspecMarker("kt")


@hookspec
def kt_dashboard_panels(page: str, context: Mapping[str, Any]) -> Panel | list[Panel] | None:
    """Add panels to a page of the dashboard.

    Called each time the server renders a dashboard page, for each plugin of the kernel Studio
    runs with, in registration order; the panels are shown in that order, after the page's own
    content, each under its title as a heading. A plugin that raises is left out of that page
    (the page says so and the server logs the error); the other panels are shown.

    Args:
        page: Which page: ``home``, ``chat``, ``terrarium``, ``saved``, ``session``,
            ``settings`` (the template's name without ``.html``).
        context: What the page's template gets, read-only: ``session`` and ``creature``
            (Studio's views) on ``chat``, ``session`` and ``drawing`` on ``terrarium``,
            ``entry`` and ``turns`` on ``session`` ... and ``user`` when accounts are on.

    Returns:
        A :class:`kt_dashboard.Panel`, a list of them, or ``None`` for none on this page.
        ``Panel.html`` is put in the page as it is: escape what you did not write
        (``markupsafe.escape``), and render text from models or tools with
        ``kt_dashboard.markdown.render``. ``Panel.script`` names an ES module to load with
        the page (serve it from a route or blueprint of your ``kt_web_routes``).

    Use in creature plugins:
        Not called: creature plugins are loaded after the server has started.
    """
