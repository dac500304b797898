"""The server's bounds on the size of what a client sends, beyond the memory budget.

The budget (``costs``, ``memory``) bounds what a session holds in bytes; these bound how many
of a thing one event may carry, so that no single request makes per-event work (a scan, an
echo, a listing) large, whatever the budget: content parts per item (``max_parts``), tools per
session or response (``max_tools``), names in an MCP server's ``allowed_tools`` or tool filter
and tools in a listing (``max_mcp_tools``), and the length of the ids a client chooses
(``max_id_length``: item ids, ``call_id``, ``approval_request_id``). Each is a field of
``ServerLimits`` (and a ``rtcore serve`` flag). They are the server's limits, not protocol
rules: a client does not check them (``client_checks.SERVER_ONLY_CODES``).

A list over its bound is refused with ``array_above_max_length``, an id with
``id_above_max_length``; ``param`` names the offending member. Nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..events import ga
from .config import ServerLimits
from .settings import Invalid

__all__ = ["check_item_size", "check_listing_size", "check_tools_size"]

_IDS = ("id", "call_id", "approval_request_id")


def _array(param: str, length: int, limit: int) -> None:
    if length > limit:
        raise Invalid(
            "array_above_max_length",
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{limit}, but got an array with length {length} instead.",
            param,
        )


def check_item_size(item: Any, limits: ServerLimits, param: str) -> None:
    """An item a client sends: its parts, its ids and (``mcp_list_tools``) its tools."""
    for name in _IDS:
        value = getattr(item, name, None)
        if isinstance(value, str) and len(value) > limits.max_id_length:
            raise Invalid(
                "id_above_max_length",
                f"Invalid '{param}.{name}': the id is {len(value)} characters long; this "
                f"server accepts ids of at most {limits.max_id_length}.",
                f"{param}.{name}",
            )
    content = getattr(item, "content", None)
    if isinstance(content, tuple):
        _array(f"{param}.content", len(content), limits.max_parts)
    tools = getattr(item, "tools", None)
    if isinstance(tools, tuple):
        check_listing_size(tools, limits, f"{param}.tools")


def check_listing_size(tools: Sequence[Any], limits: ServerLimits, param: str) -> None:
    """The tools of one MCP listing (a client's ``mcp_list_tools`` item, or the app's answer)."""
    _array(param, len(tools), limits.max_mcp_tools)


def _names(chosen: object) -> int:
    if isinstance(chosen, tuple):
        return len(chosen)
    if isinstance(chosen, ga.McpToolFilter) and isinstance(chosen.tool_names, tuple):
        return len(chosen.tool_names)
    return 0


def check_tools_size(tools: Sequence[Any], limits: ServerLimits, param: str) -> None:
    """The tools of a session or a response: how many, and the names each MCP server selects."""
    _array(param, len(tools), limits.max_tools)
    for i, tool in enumerate(tools):
        if not isinstance(tool, ga.McpTool):
            continue
        where = f"{param}[{i}]"
        _array(f"{where}.allowed_tools", _names(tool.allowed_tools), limits.max_mcp_tools)
        approval = tool.require_approval
        if isinstance(approval, ga.McpApprovalFilter):
            for name in ("always", "never"):
                count = _names(getattr(approval, name))
                _array(f"{where}.require_approval.{name}.tool_names", count, limits.max_mcp_tools)
