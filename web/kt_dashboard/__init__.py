"""``kt_dashboard``: the web dashboard served by ``kt_web`` at ``/``, and ``kt app``.

* :mod:`~kt_dashboard.pages`: the pages (home, chat, terrarium, saved sessions, settings),
  server-rendered Jinja templates with small ES modules (``static/``) for the live parts;
* :mod:`~kt_dashboard.markdown`: Markdown from models and tools rendered to sanitized HTML;
* :mod:`~kt_dashboard.desktop`: ``kt app``, the dashboard in a native window.

The pages are added through ``kt_web``'s ``kt_web_routes`` hook, the same way any plugin adds
pages; plugins add panels to these pages with the ``kt_dashboard_panels`` hook
(:mod:`~kt_dashboard.hookspecs`, :class:`Panel`). No Node toolchain is involved: the templates
and modules ship as package data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kt
import kt.plugins

# The dashboard extra. nh3 first: its import name is its distribution's name, so the loader
# can name the extra when (as in a lean install) all three are missing.
kt.plugins.require_modules("nh3", "pygments", "markdown_it")

from kt_dashboard.panels import Panel  # noqa: E402  (after the check that names the extra)

__all__ = ["Panel"]

kt_requires = ("kt_web", "kt_studio")  # served by kt_web's application, over Studio

if TYPE_CHECKING:
    import click


@kt.hookimpl
def kt_addhookspecs(pm: Any) -> None:
    """Declare ``kt_dashboard_panels``, the hook plugins add panels to pages with."""
    from kt_dashboard import hookspecs

    pm.add_hookspecs(hookspecs)


@kt.hookimpl(optionalhook=True)  # declared by kt_web, loaded first (kt_requires)
def kt_web_routes(app: Any, host: Any) -> None:
    """Add the dashboard's pages and its Markdown route."""
    from kt_dashboard.pages import register

    register(app, host)


@kt.hookimpl(optionalhook=True)  # declared by kt_cli, which may not be loaded
def kt_cli_commands(cli: click.Group) -> None:
    """Add ``kt app``."""
    from kt_dashboard.desktop import app_command

    cli.add_command(app_command)
