"""Acme's ticket service client.

A real pack would talk to a web service here (and import its HTTP client in this module only,
so that loading the plugin stays cheap). This stand-in answers from a table, so the example runs
offline.
"""

from __future__ import annotations

import kt
import trio

_TICKETS = {
    "T-1042": ("Printer on floor 3 jams on duplex jobs", "open", "Replacement roller ordered."),
    "T-1043": ("VPN drops every 30 minutes", "closed", "Fixed by the client update to 4.2."),
}


async def fetch(ticket_id: str) -> kt.ToolResult:
    """Return one ticket as text, or an error result the model can act on.

    Args:
        ticket_id: A normalised ticket key such as ``T-1042``.

    Returns:
        The ticket's title, status and last comment; an error result for an unknown key.
    """
    await trio.lowlevel.checkpoint()  # where the network round trip would be
    ticket = _TICKETS.get(ticket_id)
    if ticket is None:
        known = ", ".join(sorted(_TICKETS))
        return kt.ToolResult(error=f"no ticket {ticket_id!r}; known tickets: {known}")
    title, status, comment = ticket
    return kt.ToolResult(output=f"{ticket_id}: {title} [{status}]\nLast comment: {comment}")
