"""MCP servers played by the simulated models (sans-IO; no network, ever).

In a GA session the real service lists a remote MCP server's tools and calls
them itself. ``rtcore serve`` never opens a connection: the backend plays
every MCP server. The engine's rules (``rtcore.server.mcp``: approvals,
``allowed_tools``, the event order) stay the engine's; this module holds
what the backends decide.

* Listing: ``rtcore_trio``'s server answers a ``ListMcpTools`` effect by
  asking the backend's ``list_mcp_tools(tool)`` (plain or async; raising
  ``McpListingFailed`` - or anything else - fails the listing). A backend
  without that method lists no tools.
* The echo backend's servers (``echo_listing``): the names of the tool's
  ``allowed_tools`` when it gives a list, else one tool named ``echo``; each
  takes ``{"text": string}``. A call returns ``echo_output``, a fixed text
  made of the server, the tool and the arguments.
* A scenario's servers (``ScriptMcpServer``), in the script JSON::

      "mcp_servers": {"docs": {"tools": [{"name": "search", "input_schema": {...},
                                          "description": "...", "annotations": {...}}],
                               "results": {"search": "3 pages",
                                           "delete": {"error": {"type": "http_error",
                                                                "code": 503, "message": "down"}}},
                               "fail": false}}

  and a turn's ``"mcp_calls": [{"server_label": "docs", "name": "search",
  "arguments": {...}}]``. A scenario that declares servers lists only those
  (another label, or ``"fail": true``, fails its listing); one that declares
  none lists like the echo. A call without a scripted result returns
  ``echo_output``.
* Calls (``call_chunks``): the backend asks ``mcp_verdict`` with the snapshot
  of its ``StartResponse``. Approved, or needing no approval: the call and its
  result. Needing an approval: the call chunk alone (it becomes the
  ``mcp_approval_request``), after which the backend ends the response; the
  script then plays the same turn again for the next response, so the
  client's answer decides it. Denied: no call at all.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any, Literal

import msgspec

from rtcore import events as ev
from rtcore.events import ga
from rtcore.server import (
    McpCallChunk,
    McpResultChunk,
    OutputChunk,
    StartResponse,
    mcp_verdict,
)
from rtcore.state import ItemState

from .backend import McpListingFailed

__all__ = [
    "MAX_TOOLS_LOOKED_AT",
    "ScriptMcpCall",
    "ScriptMcpServer",
    "ScriptMcpTool",
    "call_chunks",
    "echo_listing",
    "echo_output",
    "named_mcp_tool",
    "script_calls",
    "script_listing",
    "script_result",
]

MAX_TOOLS_LOOKED_AT = 1024
"""The most tools the echo considers when it looks for a tool the user named: the first this many
of the session's tools and of its MCP listings' tools (a bounded scan, on the event loop)."""
ECHO_TOOL = "echo"
_ECHO_SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}}


# -- the echo's servers -----------------------------------------------------------------------


def echo_listing(tool: ga.McpTool) -> tuple[ga.McpListedTool, ...]:
    """The echo's tools for MCP server ``tool`` (see the module docstring)."""
    names = tool.allowed_tools if isinstance(tool.allowed_tools, tuple) else (ECHO_TOOL,)
    return tuple(
        ga.McpListedTool(
            name=name,
            input_schema=_ECHO_SCHEMA,
            description=f"Echoes its text ({tool.server_label}).",
        )
        for name in names
    )


def echo_output(server_label: str, name: str, arguments: str) -> str:
    """The fixed result of a call no scenario scripts."""
    return f"{server_label}.{name} received {arguments}"


def named_mcp_tool(
    text: str, tools: Iterable[ga.Tool], conversation: Iterable[ItemState]
) -> tuple[str, str] | None:
    """The first listed tool of the session's MCP servers whose name ``text`` says: (label, name).

    A bounded scan: the servers among the first ``MAX_TOOLS_LOOKED_AT`` tools, and the first
    ``MAX_TOOLS_LOOKED_AT`` tools their listings offer, however many a client configured.
    """
    labels = {
        t.server_label
        for t in itertools.islice(tools, MAX_TOOLS_LOOKED_AT)
        if isinstance(t, ga.McpTool)
    }
    if not labels:
        return None
    lowered = text.lower()
    left = MAX_TOOLS_LOOKED_AT
    for item in conversation:
        if item.type != "mcp_list_tools" or item.server_label not in labels:
            continue
        for listed in itertools.islice(item.tools or (), left):
            if listed.name.lower() in lowered:
                assert item.server_label is not None
                return item.server_label, listed.name
        left -= min(left, len(item.tools or ()))
        if not left:
            return None
    return None


# -- a scenario's servers ---------------------------------------------------------------------


class ScriptMcpTool(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    input_schema: Any = msgspec.field(default_factory=lambda: {"type": "object"})
    description: str | None = None
    annotations: Any = None


class ScriptMcpError(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["protocol_error", "tool_execution_error", "http_error"] = "tool_execution_error"
    code: int = 500
    message: str = "The tool failed."


class ScriptMcpResult(msgspec.Struct, forbid_unknown_fields=True):
    output: str | None = None
    error: ScriptMcpError | None = None


class ScriptMcpServer(msgspec.Struct, forbid_unknown_fields=True):
    """One MCP server of a scenario: its tools, the results of calls by tool name, or a failure."""

    tools: list[ScriptMcpTool] = msgspec.field(default_factory=list)
    results: dict[str, str | ScriptMcpResult] = msgspec.field(default_factory=dict)
    fail: bool = False


class ScriptMcpCall(msgspec.Struct, forbid_unknown_fields=True):
    server_label: str
    name: str
    arguments: Any = msgspec.field(default_factory=dict)


def script_listing(
    servers: dict[str, ScriptMcpServer], tool: ga.McpTool
) -> tuple[ga.McpListedTool, ...]:
    """A scenario's listing of ``tool`` (``McpListingFailed`` for an undeclared or failing one)."""
    if not servers:
        return echo_listing(tool)
    server = servers.get(tool.server_label)
    if server is None or server.fail:
        raise McpListingFailed(f"the scenario lists no MCP server {tool.server_label!r}")
    return tuple(
        ga.McpListedTool(
            name=t.name,
            input_schema=t.input_schema,
            description=t.description if t.description is not None else ev.UNSET,
            annotations=t.annotations if t.annotations is not None else ev.UNSET,
        )
        for t in server.tools
    )


def script_result(
    servers: dict[str, ScriptMcpServer], server_label: str, name: str, arguments: str
) -> McpResultChunk:
    server = servers.get(server_label)
    scripted = None if server is None else server.results.get(name)
    if scripted is None:
        return McpResultChunk(output=echo_output(server_label, name, arguments))
    if isinstance(scripted, str):
        return McpResultChunk(output=scripted)
    if scripted.error is not None:
        err = scripted.error
        error: ga.McpError
        if err.type == "tool_execution_error":
            error = ga.McpToolExecutionError(message=err.message)
        elif err.type == "http_error":
            error = ga.McpHttpError(code=err.code, message=err.message)
        else:
            error = ga.McpProtocolError(code=err.code, message=err.message)
        return McpResultChunk(error=error)
    return McpResultChunk(output=scripted.output or "")


# -- calls --------------------------------------------------------------------------------------


def call_chunks(
    tools: Iterable[ga.Tool],
    conversation: Any,
    server_label: str,
    name: str,
    arguments: Any,
    result: Callable[[str, str, str], McpResultChunk],
) -> tuple[list[OutputChunk], Literal["call", "ask", "denied"]]:
    """The chunks of one MCP call as the conversation's approvals allow, and what happened.

    ``arguments`` is a JSON object (or its text); ``result(label, name, arguments)`` makes the
    call's result. ``ask``: the one chunk becomes an approval request; end the response after it.
    """
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    verdict = mcp_verdict(tools, conversation, server_label, name, text)
    call = McpCallChunk(server_label=server_label, name=name, arguments=text)
    if verdict.action == "call":
        return [call, result(server_label, name, text)], "call"
    if verdict.action == "ask":
        return [call], "ask"
    return [], "denied"


def script_calls(
    calls: Iterable[ScriptMcpCall], start: StartResponse, servers: dict[str, ScriptMcpServer]
) -> tuple[list[OutputChunk], bool]:
    """A turn's MCP calls, in order, up to the first that needs an approval (then ``True``)."""
    out: list[OutputChunk] = []
    conversation = start.snapshot.conversation
    for call in calls:
        chunks, happened = call_chunks(
            start.settings.tools,
            conversation,
            call.server_label,
            call.name,
            call.arguments,
            lambda label, name, arguments: script_result(servers, label, name, arguments),
        )
        out += chunks
        if happened == "ask":
            return out, True
    return out, False
