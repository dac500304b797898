"""MCP listings answered by the backend: ``answer_listing`` carries out a ``ListMcpTools`` effect.

A backend that plays MCP servers has ``list_mcp_tools(tool)``, plain or async (``rtcore_sim``'s
contract); a backend without it lists no tools. The session charges the listing to its budget
before it holds it (``rtcore.server.mcp_listings``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from rtcore.events import ga
from rtcore.server import ListMcpTools, ServerSession
from rtcore_sim import McpListingFailed

__all__ = ["answer_listing", "list_tools"]


async def list_tools(backend: object, tool: ga.McpTool) -> tuple[ga.McpListedTool, ...]:
    """The backend's listing of ``tool`` (none for a backend without ``list_mcp_tools``)."""
    method = getattr(backend, "list_mcp_tools", None)
    if method is None:
        return ()
    found = method(tool)
    if inspect.isawaitable(found):
        found = await found
    return tuple(found)


async def answer_listing(
    session: ServerSession,
    backend: object,
    effect: ListMcpTools,
    flush: Callable[[], Awaitable[None]],
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Answer a ``ListMcpTools`` effect from the backend, then send what it produced.

    ``McpListingFailed`` fails the listing quietly; any other exception fails
    it too and goes to ``on_error`` (a broken backend fails the listing, not
    the connection).
    """
    tools: tuple[ga.McpListedTool, ...] | None = None
    try:
        tools = await list_tools(backend, effect.tool)
    except McpListingFailed:
        pass
    except Exception as exc:
        if on_error is not None:
            on_error(exc)
    # The client may have deleted the item, or left, meanwhile: then nothing is owed.
    if session.mcp_listing_pending(effect.item_id):
        if tools is None:
            session.fail_mcp_listing(effect.item_id)
        else:
            session.complete_mcp_listing(effect.item_id, tools)
    await flush()
