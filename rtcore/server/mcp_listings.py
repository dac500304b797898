"""MCP tools of a GA session: listing a server's tools (docs/protocol/ga.md#items,
docs/protocol/ga.md#mcp-events, docs/protocol/flows.md#mcp).

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

or ``fail_mcp_listing(L)`` (``mcp_list_tools.failed``, then ``conversation.item.done`` with no
tools). A listing is charged to the session's budget before it is held: one with more tools than
``max_mcp_tools``, or one that does not fit in the budget, fails the same way, followed by an
``error`` event that says why (``array_above_max_length``, ``session_memory_exceeded``). No source settles the order (docs/protocol/choices.md#mcp-listing-order); we chose the
Responses API's listing order (``output_item.added``, ``mcp_list_tools.in_progress``,
``.completed``, ``output_item.done``) with the conversation's item events in place of the
response's: the item exists before any event names it (no client holds an event back, and its id is
taken before a client could take it), and a listing that failed stays visible, ``failed``, in the
conversation. Listing items count toward ``max_items``: a ``session.update`` that would configure
more new servers than the conversation has room for is refused with ``conversation_full`` before
anything changes. Pending listings are at most the listing items still in the conversation (those
the client deleted are forgotten; answering them is a ``LocalProtocolError``, so check
``mcp_listing_pending`` first).
"""

from __future__ import annotations

from collections.abc import Iterable

from msgspec.structs import replace

from .. import events as ev
from ..errors import LocalProtocolError
from ..events import ga
from ..ids import IdFactory
from ..state import ItemState
from ..state.session import SessionState
from .bounds import check_listing_size
from .config import ServerLimits
from .core import Emit, ReportError, SessionView, item_cost
from .edge import Edge
from .effects import Effect, ListMcpTools
from .memory import Holdings
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


def _placeholder(item_id: str, server: ga.McpTool) -> ItemState:
    """The listing item of ``server`` before its tools are known."""
    return ItemState(id=item_id, type="mcp_list_tools", server_label=server.server_label, tools=())


class McpListings:
    """The listings of MCP servers' tools the app owes (see the module docstring)."""

    __slots__ = (
        "_edge",
        "_emit",
        "_error",
        "_holdings",
        "_ids",
        "_limits",
        "_owed",
        "_view",
    )

    def __init__(
        self,
        *,
        view: SessionView,
        emit: Emit,
        error: ReportError,
        ids: IdFactory,
        edge: Edge,
        limits: ServerLimits,
        holdings: Holdings,
    ) -> None:
        self._view = view
        self._emit = emit
        self._error = error
        self._ids = ids
        self._edge = edge
        self._limits = limits
        self._holdings = holdings
        self._owed: dict[str, str | None] = {}
        """Listings the app owes: item id -> the item before it when it was added."""

    def check_room(self, servers: list[ga.McpTool], extra: int) -> None:
        """Refuse (before any change) an update whose listings do not fit in the conversation,
        or in the budget with the ``extra`` bytes the update's configuration adds."""
        limit = self._limits.max_items
        count = len(servers)
        if count and len(self._view.state.order) + count > limit:
            raise Invalid(
                "conversation_full",
                f"Listing the tools of {count} new MCP server(s) needs {count} conversation "
                f"item(s); the conversation holds the maximum of {limit} items.",
                "session.tools",
            )
        items = sum(item_cost(_placeholder("", server)) for server in servers)
        self._holdings.check(extra + items, "session")

    def start(self, servers: list[ga.McpTool]) -> list[Effect]:
        """Add a listing item for each new server; the app lists each (``ListMcpTools``)."""
        if not servers:
            return []
        # Listings of items the client deleted are forgotten: what is owed stays bounded by
        # the conversation's size.
        state = self._view.state
        self._owed = {
            item_id: previous
            for item_id, previous in self._owed.items()
            if state.item(item_id) is not None
        }
        effects: list[Effect] = []
        for server in servers:
            item_id = self._ids("mcpl")
            order = self._view.state.order
            previous = order[-1] if order else None
            item = _placeholder(item_id, server)
            for event in self._edge.item_added(self._ids, previous, item, final=False):
                self._emit(event)
            self._emit(self._edge.mcp_listing_opened(self._ids("event"), item_id))
            self._owed[item_id] = previous
            self._holdings.charge(item_id, item_cost(item))
            effects.append(ListMcpTools(item_id=item_id, tool=server))
        return effects

    def pending(self, item_id: str) -> bool:
        """Whether the listing into item ``item_id`` is still owed (and the item still exists)."""
        return item_id in self._owed and self._view.state.item(item_id) is not None

    def _listing(self, item_id: str, ended: bool) -> tuple[ItemState, str | None]:
        if ended or not self.pending(item_id):
            self._owed.pop(item_id, None)
            raise LocalProtocolError(
                f"no MCP listing is pending for item {item_id!r} (answered already, deleted,"
                " or never started)",
                code="no_mcp_listing",
            )
        item = self._view.state.item(item_id)
        assert item is not None
        return item, self._owed.pop(item_id)

    def complete(self, item_id: str, tools: Iterable[ga.McpListedTool], *, ended: bool) -> None:
        """The tools the server of item ``item_id`` offers (``ended``: the session is over)."""
        item, previous = self._listing(item_id, ended)
        listed = tuple(tools)
        done = replace(item, tools=listed)
        cost = item_cost(done)
        # Charged before it is held: a listing longer than the server's bound, or one that does
        # not fit in the budget, fails (the client learns why from an error event).
        try:
            check_listing_size(listed, self._limits, "tools")
            self._holdings.check(cost - self._holdings.costs.get(item_id, 0), "session.tools")
        except Invalid as refused:
            self._close_failed(item, previous)
            self._error(
                refused.code,
                f"The tools of MCP server {item.server_label!r} were not listed: {refused.message}",
                refused.param,
            )
            return
        self._emit(self._edge.mcp_listing_closed(self._ids("event"), item_id, failed=False))
        for event in self._edge.item_done(self._ids, previous, done):
            self._emit(event)
        final = self._view.state.item(item_id)
        assert final is not None
        self._holdings.charge(item_id, item_cost(final))

    def fail(self, item_id: str, *, ended: bool) -> None:
        """The tools of item ``item_id``'s server could not be listed."""
        item, previous = self._listing(item_id, ended)
        self._close_failed(item, previous)

    def _close_failed(self, item: ItemState, previous: str | None) -> None:
        self._emit(self._edge.mcp_listing_closed(self._ids("event"), item.id, failed=True))
        for event in self._edge.item_done(self._ids, previous, item):
            self._emit(event)
