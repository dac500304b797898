"""MCP tools of a GA session: listing a server's tools (GA.md 2.7, 4.5, 10.14).

The real service lists a remote MCP server's tools itself; in rtcore the
app's backend plays the server and answers a ``ListMcpTools`` effect, never
over a network.

When a ``session.update`` configures an MCP server that was not configured
before - a new ``server_label``, or a label whose address changed
(``server_url``, ``connector_id``, ``tunnel_id``, ``authorization``,
``headers`` or ``allowed_tools``; ``require_approval`` and the description
change no listing) - the session sends, after ``session.updated``::

    conversation.item.added    {item: {type: "mcp_list_tools", id: L, server_label, tools: []}}
    mcp_list_tools.in_progress {item_id: L}

and returns a ``ListMcpTools(item_id=L, tool)`` effect. The app answers with
``complete_mcp_listing(L, tools)``::

    mcp_list_tools.completed   {item_id: L}
    conversation.item.done     {item: {..., tools: [...]}}

or ``fail_mcp_listing(L)`` (``mcp_list_tools.failed``, then
``conversation.item.done`` with no tools). GA.md 12.11 leaves the order open
(GA.md 10.14 guesses the item after ``completed``); we chose the Responses
API's listing order (``output_item.added``, ``mcp_list_tools.in_progress``,
``.completed``, ``output_item.done``) with the conversation's item events in
place of the response's: the item exists before any event names it (no
client holds an event back, and its id is taken before a client could take
it), and a listing that failed stays visible, ``failed``, in the conversation.
Listing items count toward ``max_items``: a ``session.update`` that would
configure more new servers than the conversation has room for is refused
with ``conversation_full`` before anything changes. Pending listings are at
most the listing items still in the conversation (those the client deleted
are forgotten; answering them is a ``LocalProtocolError``, so check
``mcp_listing_pending`` first).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from msgspec.structs import replace

from .. import events as ev
from ..errors import LocalProtocolError
from ..events import ga
from ..state import ItemState
from ..state.session import SessionState
from .core import SessionCore, item_cost
from .effects import Effect, ListMcpTools
from .settings import Invalid

__all__ = ["McpListings", "new_mcp_servers"]


def _address(tool: ga.McpTool) -> ga.McpTool:
    """What names the server and the tools it lists (a change means a new listing)."""
    return replace(
        tool,
        server_description=ev.UNSET,
        require_approval=ev.UNSET,
        allowed_callers=ev.UNSET,
        defer_loading=ev.UNSET,
    )


def new_mcp_servers(before: SessionState, after: SessionState) -> list[ga.McpTool]:
    """The MCP servers ``after`` configures that ``before`` did not (by address)."""
    known = [_address(t) for t in before.tools if isinstance(t, ga.McpTool)]
    return [t for t in after.tools if isinstance(t, ga.McpTool) and _address(t) not in known]


class McpListings(SessionCore):
    """The MCP-listing part of ``ServerSession`` (see the module docstring)."""

    _listings: dict[str, str | None]
    """Listings the app owes: item id -> the item before it when it was added."""

    def _check_listing_room(self, count: int) -> None:
        """Refuse (before any change) an update whose listings do not fit in the conversation."""
        if count and len(self._state.order) + count > self.limits.max_items:
            raise Invalid(
                "conversation_full",
                f"Listing the tools of {count} new MCP server(s) needs {count} conversation "
                f"item(s); the conversation holds the maximum of {self.limits.max_items} items.",
                "session.tools",
            )

    def _start_listings(self, servers: list[ga.McpTool]) -> list[Effect]:
        if not servers:
            return []
        # Listings of items the client deleted are forgotten: what is owed stays bounded by
        # the conversation's size.
        self._listings = {
            item_id: previous
            for item_id, previous in self._listings.items()
            if self._state.item(item_id) is not None
        }
        effects: list[Effect] = []
        for server in servers:
            item_id = self._ids("mcpl")
            order = self._state.order
            previous = order[-1] if order else None
            item = ItemState(
                id=item_id, type="mcp_list_tools", server_label=server.server_label, tools=()
            )
            for event in self._edge.item_added(self._ids, previous, item, final=False):
                self._emit(event)
            self._emit(ga.McpListToolsInProgress(event_id=self._ids("event"), item_id=item_id))
            self._listings[item_id] = previous
            self._charge(item_id, item_cost(item))
            effects.append(ListMcpTools(item_id=item_id, tool=server))
        return effects

    def mcp_listing_pending(self, item_id: str) -> bool:
        """Whether the listing into item ``item_id`` is still owed (and the item still exists)."""
        return (
            not self._ended and item_id in self._listings and self._state.item(item_id) is not None
        )

    def _listing(self, item_id: str) -> tuple[ItemState, str | None]:
        if not self.mcp_listing_pending(item_id):
            self._listings.pop(item_id, None)
            raise LocalProtocolError(
                f"no MCP listing is pending for item {item_id!r} (answered already, deleted,"
                " or never started)",
                code="no_mcp_listing",
            )
        item = self._state.item(item_id)
        assert item is not None
        return item, self._listings.pop(item_id)

    def complete_mcp_listing(self, item_id: str, tools: Iterable[ga.McpListedTool]) -> None:
        """The tools the MCP server of item ``item_id`` offers (the answer to ``ListMcpTools``)."""
        item, previous = self._listing(item_id)
        listed = tuple(tools)
        self._emit(ga.McpListToolsCompleted(event_id=self._ids("event"), item_id=item_id))
        for event in self._edge.item_done(self._ids, previous, replace(item, tools=listed)):
            self._emit(event)
        final = self._state.item(item_id)
        assert final is not None
        self._charge(item_id, item_cost(final) + len(msgspec.json.encode(listed)))

    def fail_mcp_listing(self, item_id: str) -> None:
        """The tools of item ``item_id``'s MCP server could not be listed."""
        item, previous = self._listing(item_id)
        self._emit(ga.McpListToolsFailed(event_id=self._ids("event"), item_id=item_id))
        for event in self._edge.item_done(self._ids, previous, item):
            self._emit(event)
