"""No work proportional to a client's input on the event loop (issue 22, item 4).

The echo backend looks for a tool the user named with a bounded scan (``MAX_TOOLS_LOOKED_AT``
function tools and listed MCP tools), so a response in a session configured with 300 000 tools
(limits raised to let them in) costs about what it costs with ten. Each test measures both in
the same run and compares them: no wall-clock absolute.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rtcore.server import ServerLimits, ServerSession, StartResponse
from rtcore_sim import EchoBackend, ResponseRequest
from rtcore_sim.mcp import MAX_TOOLS_LOOKED_AT

MANY = 300_000
ROOMY = ServerLimits(max_session_bytes=2**33, max_tools=MANY, max_mcp_tools=MANY)
"""Limits that let a huge configuration in, so that only the lookup's cost is measured."""


def _session(
    tools: list[dict[str, Any]], conversation: tuple[dict[str, Any], ...] = ()
) -> ServerSession:
    session = ServerSession(dialect="ga", limits=ROOMY)
    update = {"type": "realtime", "output_modalities": ["text"], "tools": tools}
    session.receive_message(json.dumps({"type": "session.update", "session": update}))
    for item in [*conversation, _user("please say hello")]:
        session.receive_message(json.dumps({"type": "conversation.item.create", "item": item}))
    assert not [e for e in session.events_to_send() if e.type == "error"]
    return session


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _functions(n: int) -> list[dict[str, Any]]:
    return [{"type": "function", "name": f"fn{i}x", "parameters": {}} for i in range(n)]


async def _response_seconds(session: ServerSession) -> float:
    """The fastest of a few whole responses: ``response.create`` and the echo's answer."""
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        effects = session.receive_message(json.dumps({"type": "response.create"}))
        [start] = [e for e in effects if isinstance(e, StartResponse)]
        async for chunk in EchoBackend().respond(ResponseRequest(start)):
            session.produce(start.response_id, chunk)
        best = min(best, time.perf_counter() - began)
        assert [type(e).__name__ for e in session.events_to_send()][-1] == "ResponseDone"
    return best


async def test_a_response_costs_the_same_with_300_000_function_tools() -> None:
    few = await _response_seconds(_session(_functions(10)))
    many = await _response_seconds(_session(_functions(MANY)))
    assert many < 20 * few + 0.002, (few, many)


async def test_a_response_costs_the_same_with_300_000_listed_mcp_tools() -> None:
    server = {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://docs.test/mcp",
        "require_approval": "never",
    }

    def listing(n: int) -> dict[str, Any]:
        tools = [{"name": f"tool_{i}", "input_schema": {"type": "object"}} for i in range(n)]
        return {"type": "mcp_list_tools", "server_label": "docs", "tools": tools}

    few = await _response_seconds(_session([server], (listing(10),)))
    many = await _response_seconds(_session([server], (listing(MANY // 3),) * 3))
    assert many < 20 * few + 0.002, (few, many)


def test_the_echo_still_finds_a_tool_named_within_the_scan() -> None:
    from rtcore_sim.echo import tool_named

    session = _session(_functions(MAX_TOOLS_LOOKED_AT + 5))
    [start] = [
        e
        for e in session.receive_message(json.dumps({"type": "response.create"}))
        if isinstance(e, StartResponse)
    ]
    last = f"fn{MAX_TOOLS_LOOKED_AT - 1}x"
    assert tool_named(f"call {last} now", start.settings) == last
    assert tool_named(f"call fn{MAX_TOOLS_LOOKED_AT + 2}x now", start.settings) is None
