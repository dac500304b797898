"""One account per session: every byte a client makes the session hold is charged before it is
held (issue 22, item 1).

One test per hole an attacker used: an item's parts (480 000 empty ``input_text`` parts), its
ids (a 15 MiB ``call_id``), client-made MCP listings (450 000 tools), a re-listing with a huge
``allowed_tools``, a 15 MiB JSON Schema in the session, a 13 MB ``allowed_tools``. Each is refused
by a bound (``rtcore.server.bounds``) or by the budget (``session_memory_exceeded``), and a
refusal changes nothing. With the bounds raised, what is held is charged at about what CPython
really holds (measured here with ``tracemalloc``), so the budget bounds the memory. Sans-IO,
fast and deterministic; one attack runs over a real socket beside a healthy session.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from typing import Any

import pytest
from attackkit import RawClient, healthy, running

from rtcore.events import ga
from rtcore.server import ListMcpTools, ServerLimits, ServerSession
from rtcore.server.costs import ITEM_BYTES, PART_BYTES
from rtcore_trio import RealtimeServer

MIB = 1024 * 1024


def _session(**limits: Any) -> ServerSession:
    session = ServerSession(dialect="ga", limits=ServerLimits(**limits))
    session.events_to_send()  # session.created
    return session


def _send(session: ServerSession, message: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The effects and the events of one client message."""
    effects = session.receive_message(json.dumps(message))[1:]
    return effects, session.events_to_send()


def _refused(session: ServerSession, message: dict[str, Any]) -> Any:
    """Send ``message``; it must be refused with one error and change nothing. The error."""
    state, config, used = session.state, session.session, _used(session)
    effects, events = _send(session, message)
    assert effects == [] and [e.type for e in events] == ["error"], events
    assert session.state.order == state.order and session.state.items == state.items
    assert session.session is config and _used(session) == used
    return events[0].error


def _used(session: ServerSession) -> int:
    return session._holdings.used  # type: ignore[attr-defined, no-any-return]


def _create(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "conversation.item.create", "item": item}


def _update(**session: Any) -> dict[str, Any]:
    return {"type": "session.update", "session": {"type": "realtime", **session}}


def _parts(n: int) -> dict[str, Any]:
    content = [{"type": "input_text", "text": ""}] * n
    return {"type": "message", "role": "user", "content": content}


def _listing(n: int, label: str = "docs") -> dict[str, Any]:
    tools = [{"name": f"tool_{i}", "input_schema": {"type": "object"}} for i in range(n)]
    return {"type": "mcp_list_tools", "server_label": label, "tools": tools}


def _mcp(**fields: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "docs", "server_url": "https://docs.test/mcp", **fields}


def _schema(properties: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "description": "d"} for i in range(properties)},
    }


def _held(session: ServerSession, message: dict[str, Any]) -> tuple[int, int]:
    """(what the session was charged, what it really holds) for one accepted message."""
    data = json.dumps(message)
    before = _used(session)
    gc.collect()
    tracemalloc.start()
    try:
        session.receive_message(data)
        events = session.events_to_send()
        del events
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return _used(session) - before, held


# -- parts --------------------------------------------------------------------------------------


def test_480_000_empty_parts_are_refused_by_the_parts_bound() -> None:
    session = _session()
    error = _refused(session, _create(_parts(480_000)))
    assert error.code == "array_above_max_length" and error.param == "item.content"
    assert "1024" in error.message and "480000" in error.message


def test_parts_are_charged_even_when_empty() -> None:
    session = _session(max_parts=10**6)
    charged, held = _held(session, _create(_parts(20_000)))
    assert charged >= 20_000 * PART_BYTES
    assert held <= 2 * charged, (charged, held)
    # As many parts again do not fit in a budget that has room for half of them.
    small = _session(max_parts=10**6, max_session_bytes=ITEM_BYTES + 10_000 * PART_BYTES)
    assert _refused(small, _create(_parts(20_000))).code == "session_memory_exceeded"


# -- ids ----------------------------------------------------------------------------------------


def _call(call_id: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": "f", "arguments": "{}"}


def test_a_15_mib_call_id_is_refused_by_the_id_bound() -> None:
    session = _session()
    error = _refused(session, _create(_call("c" * 15 * MIB)))
    assert error.code == "id_above_max_length" and error.param == "item.call_id"
    error = _refused(session, _create({**_parts(1), "id": "i" * 129}))
    assert error.code == "id_above_max_length" and error.param == "item.id"
    _send(session, _create({**_call("c" * 128), "id": "i" * 128}))  # at the bound: accepted
    assert session.state.item("i" * 128) is not None


def test_call_ids_are_charged() -> None:
    session = _session(max_id_length=10 * MIB)
    charged, _ = _held(session, _create(_call("c" * MIB)))
    assert charged >= MIB
    full = _session(max_id_length=10 * MIB, max_session_bytes=MIB)
    assert _refused(full, _create(_call("c" * MIB))).code == "session_memory_exceeded"


# -- client-made MCP listings -------------------------------------------------------------------


def test_a_client_listing_of_450_000_tools_is_refused_by_the_listing_bound() -> None:
    session = _session()
    error = _refused(session, _create(_listing(450_000)))
    assert error.code == "array_above_max_length" and error.param == "item.tools"


def test_a_client_listing_is_charged_by_its_decoded_size() -> None:
    session = _session(max_mcp_tools=10**6)
    charged, held = _held(session, _create(_listing(20_000)))
    assert held <= 2 * charged, (charged, held)
    assert charged <= 4 * held, (charged, held)  # and not absurdly more
    full = _session(max_mcp_tools=10**6, max_session_bytes=charged // 2)
    assert _refused(full, _create(_listing(20_000))).code == "session_memory_exceeded"


# -- the session's configuration ----------------------------------------------------------------


def test_a_15_mib_json_schema_is_charged_and_refused_over_the_budget() -> None:
    session = _session()
    tool = {"type": "function", "name": "f", "parameters": _schema(312_000)}
    assert len(json.dumps(tool)) > 15 * MIB
    error = _refused(session, _update(tools=[tool]))
    assert error.code == "session_memory_exceeded"


def test_configuration_is_charged_at_what_it_holds_and_given_back_when_replaced() -> None:
    session = _session()
    tool = {"type": "function", "name": "f", "parameters": _schema(20_000)}
    charged, held = _held(session, _update(tools=[tool], instructions="x" * MIB))
    assert charged >= MIB
    assert held <= 2 * charged, (charged, held)
    _send(session, _update(tools=[], instructions="Be brief."))
    assert _used(session) < 1000


def test_15_mib_instructions_fit_but_four_times_as_much_does_not() -> None:
    session = _session()
    _send(session, _update(instructions="x" * 15 * MIB))
    assert _used(session) >= 15 * MIB
    # The same field again replaces its cost, it does not add to it.
    _send(session, _update(instructions="y" * 15 * MIB))
    assert _used(session) < 16 * MIB
    error = _refused(
        session, _update(tools=[{"type": "function", "name": "f", "description": "d" * 50 * MIB}])
    )
    assert error.code == "session_memory_exceeded"


def test_a_huge_allowed_tools_is_refused_by_the_names_bound() -> None:
    session = _session()
    names = [f"n{i}" for i in range(1_000_000)]
    error = _refused(session, _update(tools=[_mcp(allowed_tools=names)]))
    assert error.code == "array_above_max_length"
    assert error.param == "session.tools[0].allowed_tools"
    filtered = _mcp(require_approval={"never": {"tool_names": names[:2000]}})
    error = _refused(session, _update(tools=[filtered]))
    assert error.param == "session.tools[0].require_approval.never.tool_names"


def test_tools_per_session_and_per_response_are_bounded() -> None:
    session = _session()
    tools = [{"type": "function", "name": f"f{i}"} for i in range(129)]
    assert _refused(session, _update(tools=tools)).param == "session.tools"
    error = _refused(session, {"type": "response.create", "response": {"tools": tools}})
    assert error.code == "array_above_max_length" and error.param == "response.tools"
    _send(session, _update(tools=tools[:128]))
    assert len(session.session.tools) == 128


# -- a listing the app makes ----------------------------------------------------------------------


def _relisted(session: ServerSession, names: int) -> tuple[str, list[Any]]:
    """Configure an MCP server with ``names`` allowed tools; the echo lists them; the events."""
    from rtcore_sim.mcp import echo_listing

    effects, _ = _send(
        session, _update(tools=[_mcp(allowed_tools=[f"n{i}" for i in range(names)])])
    )
    [listing] = [e for e in effects if isinstance(e, ListMcpTools)]
    session.complete_mcp_listing(listing.item_id, echo_listing(listing.tool))
    return listing.item_id, session.events_to_send()


def test_a_listing_over_the_budget_fails_before_it_is_held() -> None:
    session = _session(max_mcp_tools=10**6, max_session_bytes=8 * MIB)
    used = _used(session)
    item_id, events = _relisted(session, 100_000)
    assert [e.type for e in events][-3:] == [
        "mcp_list_tools.failed",
        "conversation.item.done",
        "error",
    ]
    assert events[-1].error.code == "session_memory_exceeded"
    item = session.state.item(item_id)
    assert item is not None and item.mcp_status == "failed" and item.tools == ()
    assert session._holdings.costs[item_id] < 2000  # type: ignore[attr-defined]
    assert (
        _used(session) < used + 100_000 * 100
    )  # the names are held (and charged), not the listing


def test_a_listing_longer_than_the_bound_fails() -> None:
    session = _session(max_mcp_tools=1000)
    effects, _ = _send(session, _update(tools=[_mcp()]))
    [listing] = effects
    assert isinstance(listing, ListMcpTools)
    tools = [ga.McpListedTool(name=f"t{i}", input_schema={}) for i in range(1001)]
    session.complete_mcp_listing(listing.item_id, tools)
    events = session.events_to_send()
    assert events[0].type == "mcp_list_tools.failed"
    assert events[-1].error.code == "array_above_max_length"


def test_a_listing_within_the_bounds_is_charged() -> None:
    session = _session()
    before = _used(session)
    item_id, events = _relisted(session, 1000)
    assert "error" not in [e.type for e in events]
    item = session.state.item(item_id)
    assert item is not None and item.tools is not None and len(item.tools) == 1000
    assert _used(session) - before >= 1000 * 100


# -- over a real socket -----------------------------------------------------------------------------


@pytest.mark.parametrize("attack", ["parts", "schema", "budget"])
async def test_over_a_socket_the_attacks_are_refused_beside_a_healthy_session(attack: str) -> None:
    server = RealtimeServer()
    if attack in ("parts", "schema"):
        # Refused before it is decoded: its structure is over the connection's bound.
        code = "message_above_max_values"
        tool = {"type": "function", "name": "f", "parameters": _schema(250_000)}
        message: dict[str, Any] = (
            _create(_parts(450_000))
            if attack == "parts"
            else {"type": "session.update", "session": {"tools": [tool]}}  # beta
        )
    else:
        # Within that bound, a schema is charged as it is held.
        server = RealtimeServer(limits=ServerLimits(max_session_bytes=4 * MIB))
        schema = _schema(8000)
        for member in schema["properties"].values():
            member["description"] = "d" * 300
        tools = [{"type": "function", "name": f"f{i}", "parameters": schema} for i in range(2)]
        message = {"type": "session.update", "session": {"tools": tools}}
        code = "session_memory_exceeded"
    async with running(server), healthy(server) as other:
        attacker = await RawClient.open(server.port)  # type: ignore[arg-type]
        await attacker.send_json(json.dumps(message))
        await other.turn()
        await attacker.send_json({"type": "response.cancel", "event_id": "last"})
        await _errors_until(attacker, "last")
        errors = [e["error"]["code"] for e in attacker.events() if e["type"] == "error"]
        assert errors[0] == code, errors
        [connection] = [c for c in server._live if not c.session.state.order]
        assert connection.session._holdings.used < MIB  # type: ignore[attr-defined]
        await attacker.aclose()


async def _errors_until(client: RawClient, event_id: str) -> None:
    import trio

    with trio.fail_after(30):
        while not any(
            e["type"] == "error" and e["error"].get("event_id") == event_id for e in client.events()
        ):
            data = await client.stream.receive_some(65536)
            assert data, "the server closed the connection"
            client.received += data


def test_errors_the_session_keeps_hold_at_most_a_few_hundred_characters_of_a_client_s() -> None:
    from rtcore.server.core import HELD_ERROR_TEXT

    session = ServerSession(dialect="beta")  # beta: an event_id has no length limit
    session.events_to_send()
    big = "e" * 4 * MIB
    session.receive_message(json.dumps({"type": "response.cancel", "event_id": big}))
    session.receive_message(json.dumps({"type": "response.cancel", "k" * MIB: 1}))
    sent = [e.error for e in session.events_to_send()]
    assert sent[0].event_id == big and len(sent[1].message) > MIB  # the client gets them whole
    held = [record.error for record in session.state.errors]
    assert [len(e.event_id or "") for e in held] == [HELD_ERROR_TEXT, 0]
    assert all(len(e.message) <= HELD_ERROR_TEXT for e in held)
    assert all(len(e.param or "") <= HELD_ERROR_TEXT for e in held)


def test_call_ids_outlive_their_items_and_stay_charged() -> None:
    from rtcore.server.costs import CALL_ID_BYTES

    session = _session(max_session_bytes=ITEM_BYTES + 400 + 10 * (CALL_ID_BYTES + 128))
    created = 0
    while True:
        call = {**_call(f"{created:0128d}"), "id": f"i{created}"}
        effects, events = _send(session, _create(call))
        if events[-1].type == "error":
            assert events[-1].error.code == "session_memory_exceeded"
            break
        created += 1
        _send(session, {"type": "conversation.item.delete", "item_id": f"i{created - 1}"})
        assert created < 100, "deleting the items gave back what their call ids hold"
    assert 5 <= created <= 11
    # An output may still name a deleted call: that is why its id is kept.
    assert f"{0:0128d}" in session._writer.call_ids  # type: ignore[attr-defined]
