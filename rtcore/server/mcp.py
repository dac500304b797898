"""MCP tools of a GA session: the rules of calling one.

docs/protocol/ga.md#tools, docs/protocol/ga.md#items, docs/protocol/ga.md#mcp-events,
docs/protocol/flows.md#mcp. The real service talks to remote MCP servers itself; rtcore never opens
a connection: the app's backend plays every MCP server (it lists the tools and returns the results
of calls), and this module keeps the protocol around it exact. Beta sessions have no MCP tools.

Listing a server's tools (``mcp_list_tools`` items, ``ListMcpTools``) is the
session's part in ``rtcore.server.mcp_listings``; this module holds the
rules of a call, shared by the response writer and by backends.

Calling
-------
``mcp_verdict`` says what a backend's ``McpCallChunk`` becomes; the response
writer applies it and a backend may ask it beforehand (with the snapshot of
its ``StartResponse``):

* the server must be one of the response's MCP tools (else
  ``LocalProtocolError`` ``unknown_mcp_server``), the tool allowed by its
  ``allowed_tools`` (``mcp_tool_not_allowed``), the arguments a JSON object
  (``invalid_arguments``);
* ``require_approval``: ``"never"`` needs none; ``"always"``, ``null`` or
  absent need one (the service's default); a filter object needs one unless
  the tool matches ``never`` and not ``always``. A filter matches a tool when
  every criterion it gives holds (``tool_names`` contains the name;
  ``read_only`` equals the tool's ``annotations.readOnlyHint``, known only
  from the newest completed listing of the server in the conversation); a
  filter that gives none matches nothing;
* an approval is an ``mcp_approval_response`` in the conversation answering
  an ``mcp_approval_request`` of the conversation with the same server label,
  tool name and arguments, that no ``mcp_call`` has used yet
  (``approval_request_id``). The newest such answer decides: ``approve:
  true`` runs the call (``call``), once; ``approve: false`` or none at all
  asks (``denied`` / ``ask``): the chunk becomes a new
  ``mcp_approval_request`` item and the backend should end the response, the
  client answers with an ``mcp_approval_response`` item and a new
  ``response.create``. A denial is not an error: the user, not the backend,
  decides, and a backend that calls again after a denial only asks again.

Costs: the approval scan reads the conversation once (at most ``max_items``
items) and only for calls that need an approval; the listing lookup only for
filters that use ``read_only``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import msgspec

from .. import events as ev
from ..errors import LocalProtocolError
from ..events import ga
from ..state import ItemState

__all__ = ["McpVerdict", "mcp_verdict", "mcp_server", "listed_tool"]


# -- the rules of a call --------------------------------------------------------------------


class McpVerdict(msgspec.Struct, frozen=True):
    """What an MCP call chunk becomes (see the module docstring)."""

    action: Literal["call", "ask", "denied"]
    """``call``: the call runs; ``ask`` / ``denied``: an approval request is made instead."""
    approval_request_id: str | None = None
    """The request whose answer approved (``call``) or denied (``denied``) this call."""


def mcp_server(tools: Iterable[ga.Tool], server_label: str) -> ga.McpTool | None:
    """The MCP tool (server) labelled ``server_label`` among ``tools``."""
    for tool in tools:
        if isinstance(tool, ga.McpTool) and tool.server_label == server_label:
            return tool
    return None


def listed_tool(
    conversation: Sequence[ItemState], server_label: str, name: str
) -> ga.McpListedTool | None:
    """Tool ``name`` as the newest completed listing of ``server_label`` describes it."""
    for item in reversed(conversation):
        if (
            item.type == "mcp_list_tools"
            and item.server_label == server_label
            and item.mcp_status == "completed"
        ):
            for tool in item.tools or ():
                if tool.name == name:
                    return tool
            return None
    return None


def _read_only(listed: ga.McpListedTool | None) -> bool | None:
    """The tool's ``readOnlyHint`` (MCP's default is false); ``None`` for a tool never listed."""
    if listed is None:
        return None
    annotations = listed.annotations
    return isinstance(annotations, dict) and annotations.get("readOnlyHint") is True


class _Tool:
    """A tool being called, with its listing looked up only if a filter needs it."""

    def __init__(self, conversation: Sequence[ItemState], server_label: str, name: str) -> None:
        self.conversation, self.server_label, self.name = conversation, server_label, name
        self._read_only: bool | None = None
        self._looked_up = False

    @property
    def read_only(self) -> bool | None:
        if not self._looked_up:
            listed = listed_tool(self.conversation, self.server_label, self.name)
            self._read_only, self._looked_up = _read_only(listed), True
        return self._read_only


def _matches(chosen: ga.McpToolFilter | ev.UnsetType | None, tool: _Tool) -> bool:
    # A null member is "not set", like an absent one (docs/protocol/connection.md#first-events:
    # echoes carry nulls).
    if not isinstance(chosen, ga.McpToolFilter):
        return False
    criteria: list[bool] = []
    if isinstance(chosen.tool_names, tuple):
        criteria.append(tool.name in chosen.tool_names)
    if isinstance(chosen.read_only, bool):
        known = tool.read_only
        criteria.append(known is not None and known == chosen.read_only)
    return bool(criteria) and all(criteria)


def _allowed(server: ga.McpTool, tool: _Tool) -> bool:
    allowed = server.allowed_tools
    if allowed is None or isinstance(allowed, ev.UnsetType):
        return True
    if isinstance(allowed, tuple):
        return tool.name in allowed
    return _matches(allowed, tool)


def _needs_approval(server: ga.McpTool, tool: _Tool) -> bool:
    rule = server.require_approval
    if rule == "never":
        return False
    if not isinstance(rule, ga.McpApprovalFilter):
        return True  # "always", null or absent: the service asks by default
    if _matches(rule.always, tool):
        return True
    return not _matches(rule.never, tool)


def _check_arguments(arguments: str) -> None:
    try:
        value = msgspec.json.decode(arguments)
    except msgspec.DecodeError:
        value = None
    if not isinstance(value, dict):
        raise LocalProtocolError(
            f"MCP call arguments must be a JSON object, not {arguments[:80]!r}",
            code="invalid_arguments",
        )


def _answer(conversation: Sequence[ItemState], server_label: str, name: str, arguments: str) -> Any:
    """The newest unused answer to a matching approval request, or ``None``."""
    used: set[str] = set()
    requests: dict[str, ItemState] = {}
    answers: list[ItemState] = []
    for item in conversation:
        kind = item.type
        if kind == "mcp_call" and item.approval_request_id is not None:
            used.add(item.approval_request_id)
        elif kind == "mcp_approval_request":
            requests[item.id] = item
        elif kind == "mcp_approval_response":
            answers.append(item)
    for answer in reversed(answers):
        request_id = answer.approval_request_id
        if request_id is None or request_id in used:
            continue
        request = requests.get(request_id)
        if request is None or request.server_label != server_label or request.name != name:
            continue
        asked = request.arguments.value if request.arguments is not None else ""
        if asked == arguments:
            return answer
    return None


def mcp_verdict(
    tools: Iterable[ga.Tool],
    conversation: Sequence[ItemState],
    server_label: str,
    name: str,
    arguments: str,
) -> McpVerdict:
    """What a call of ``name`` on ``server_label`` becomes, given the response's tools.

    ``LocalProtocolError`` for a call that can never be made (see the module
    docstring); nothing is changed either way.
    """
    server = mcp_server(tools, server_label)
    if server is None:
        raise LocalProtocolError(
            f"the response has no MCP server labelled {server_label!r}", code="unknown_mcp_server"
        )
    tool = _Tool(conversation, server_label, name)
    if not _allowed(server, tool):
        raise LocalProtocolError(
            f"tool {name!r} of MCP server {server_label!r} is not in its allowed_tools",
            code="mcp_tool_not_allowed",
        )
    _check_arguments(arguments)
    if not _needs_approval(server, tool):
        return McpVerdict("call")
    answer = _answer(conversation, server_label, name, arguments)
    if answer is None:
        return McpVerdict("ask")
    return McpVerdict("call" if answer.approve else "denied", answer.approval_request_id)
