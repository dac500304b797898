"""MCP tools in GA sessions, end to end (docs/protocol/ga.md#tools, docs/protocol/ga.md#items,
docs/protocol/ga.md#mcp-events, docs/protocol/flows.md#mcp).

Message level: the exact event order of a listing (completed and failed),
an approval round trip, calls with output and with error, ``never``
approvals and filters, denied approvals, the guards of the call chunks, a
call cut by cancellation; each time the GA client rebuilds the server's
snapshot exactly (``pending_approvals`` included) and every message the
server sent validates against the official SDK's GA models. Over sockets:
the script backend plays an MCP server for rtcore's trio client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
from serverkit import Harness, errors

from rtcore import ClientSession
from rtcore import events as ev
from rtcore.errors import LocalProtocolError
from rtcore.events import ga
from rtcore.server import (
    Finish,
    ListMcpTools,
    McpCallChunk,
    McpResultChunk,
    ServerLimits,
    ServerSession,
    TextChunk,
    mcp_verdict,
)
from rtcore_sim import EchoBackend, Scenario, ScriptBackend
from rtcore_trio import RealtimeServer, connect
from rtcore_trio.connection import answer_listing

SEARCH = ga.McpListedTool(
    name="search",
    input_schema={"type": "object", "properties": {"q": {"type": "string"}}},
    description="Search the docs.",
    annotations={"readOnlyHint": True},
)
DELETE = ga.McpListedTool(name="delete", input_schema={"type": "object"})
ARGS = '{"q": "trio"}'


def mcp_tool(label: str = "docs", **fields: Any) -> dict[str, Any]:
    return {
        "type": "mcp",
        "server_label": label,
        "server_url": f"https://{label}.test/mcp",
        **fields,
    }


def configure(h: Harness, *tools: dict[str, Any]) -> list[Any]:
    return h.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "output_modalities": ["text"], "tools": list(tools)},
        }
    )


def listed(
    h: Harness, *tools: dict[str, Any], offer: tuple[ga.McpListedTool, ...] = (SEARCH, DELETE)
) -> None:
    """Configure ``tools`` and answer every listing with ``offer``."""
    for effect in configure(h, *tools):
        assert isinstance(effect, ListMcpTools)
        h.server.complete_mcp_listing(effect.item_id, offer)
    h.pump()
    h.new()


def respond(h: Harness) -> str:
    effects = h.send({"type": "response.create"})
    return h.start(effects).response_id


def sdk_valid(h: Harness) -> None:
    """Every message the server sent validates against the SDK's GA model of its type."""
    pytest.importorskip("openai.types.realtime")
    from test_events_ga_sdk import _sdk_models

    models, _ = _sdk_models()
    for raw in h.raw:
        models[json.loads(raw)["type"]].model_validate_json(raw, strict=True)


def approve(h: Harness, request_id: str, yes: bool = True, reason: str | None = None) -> None:
    item: dict[str, Any] = {
        "type": "mcp_approval_response",
        "id": f"answer_{request_id}_{len(h.log)}",
        "approval_request_id": request_id,
        "approve": yes,
    }
    if reason is not None:
        item["reason"] = reason
    h.send({"type": "conversation.item.create", "item": item})


@pytest.fixture
def h() -> Harness:
    harness = Harness(dialect="ga")
    harness.new()
    return harness


# -- listing ------------------------------------------------------------------------------------


def test_listing_order_and_item(h: Harness) -> None:
    [effect] = configure(h, mcp_tool(require_approval="never"))
    assert isinstance(effect, ListMcpTools)
    assert effect.tool.server_label == "docs" and effect.tool.server_url == "https://docs.test/mcp"
    events = h.new()
    assert [e.type for e in events] == [
        "session.updated",
        "conversation.item.added",
        "mcp_list_tools.in_progress",
    ]
    added = events[1]
    assert isinstance(added, ga.ConversationItemAdded)
    assert added.item == ga.McpListToolsItem(id=effect.item_id, server_label="docs", tools=())
    assert events[2] == ga.McpListToolsInProgress(
        event_id=events[2].event_id, item_id=effect.item_id
    )
    assert h.client.state.item(effect.item_id).mcp_status == "in_progress"  # type: ignore[union-attr]
    assert h.server.mcp_listing_pending(effect.item_id)

    h.server.complete_mcp_listing(effect.item_id, [SEARCH])
    h.pump()
    events = h.new()
    assert [e.type for e in events] == ["mcp_list_tools.completed", "conversation.item.done"]
    done = events[1]
    assert isinstance(done, ga.ConversationItemDone)
    assert done.item == ga.McpListToolsItem(id=effect.item_id, server_label="docs", tools=(SEARCH,))
    item = h.client.state.item(effect.item_id)
    assert item is not None and item.tools == (SEARCH,) and item.mcp_status == "completed"
    assert not h.server.mcp_listing_pending(effect.item_id)
    with pytest.raises(LocalProtocolError) as exc:
        h.server.complete_mcp_listing(effect.item_id, [SEARCH])
    assert exc.value.code == "no_mcp_listing"
    assert h.in_step()
    sdk_valid(h)


def test_a_failed_listing_stays_in_the_conversation(h: Harness) -> None:
    [effect] = configure(h, mcp_tool())
    h.new()
    h.server.fail_mcp_listing(effect.item_id)
    h.pump()
    assert h.types() == ["mcp_list_tools.failed", "conversation.item.done"]
    item = h.client.state.item(effect.item_id)
    assert item is not None and item.mcp_status == "failed" and item.tools == ()
    assert effect.item_id in h.client.state.order
    assert h.in_step()
    sdk_valid(h)


def test_only_a_new_server_or_address_is_listed(h: Harness) -> None:
    listed(h, mcp_tool())
    # Approval rules and the description change no listing.
    assert configure(h, mcp_tool(require_approval="never", server_description="Docs")) == []
    assert h.types() == ["session.updated"]
    # A new label and a changed address each list again; a removed server lists nothing.
    effects = configure(h, mcp_tool(server_url="https://elsewhere.test/mcp"), mcp_tool("wiki"))
    assert [e.tool.server_label for e in effects] == ["docs", "wiki"]
    assert configure(h, mcp_tool("wiki")) == []
    assert h.in_step()


def test_listings_need_room_in_the_conversation() -> None:
    h = Harness(dialect="ga", limits=ServerLimits(max_items=2))
    h.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            },
        }
    )
    h.new()
    before = h.server.session
    assert configure(h, mcp_tool("a"), mcp_tool("b")) == []
    events = h.new()
    assert [e.code for e in errors(events)] == ["conversation_full"]
    assert [e.type for e in events] == ["error"]
    assert h.server.session == before  # refused before anything changed
    assert len(configure(h, mcp_tool("a"))) == 1  # one fits
    assert h.in_step()


def test_a_deleted_listing_is_forgotten(h: Harness) -> None:
    [effect] = configure(h, mcp_tool())
    h.send({"type": "conversation.item.delete", "item_id": effect.item_id})
    h.new()
    assert not h.server.mcp_listing_pending(effect.item_id)
    # A later update forgets it (what is owed stays bounded by the conversation) ...
    configure(h, mcp_tool("wiki"))
    assert effect.item_id not in h.server._listings._owed
    # ... and an answer that comes anyway is refused without a trace.
    h.new()
    with pytest.raises(LocalProtocolError):
        h.server.fail_mcp_listing(effect.item_id)
    assert h.server.events_to_send() == []
    assert h.in_step()


def test_beta_sessions_have_no_mcp_tools() -> None:
    h = Harness(dialect="beta")
    h.new()
    effects = h.send({"type": "session.update", "session": {"tools": [mcp_tool()]}})
    assert effects == []
    assert errors(h.new())


# -- calls ----------------------------------------------------------------------------------------


def test_a_call_without_approval_continues_the_response(h: Harness) -> None:
    listed(h, mcp_tool(require_approval="never"))
    rid = respond(h)
    h.server.produce(rid, McpCallChunk(server_label="docs", name="search", arguments=ARGS))
    h.pump()
    opened = h.new()
    assert [e.type for e in opened] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
    ]
    added = opened[1]
    assert isinstance(added, ga.ResponseOutputItemAdded)
    call_id = added.item.id
    assert added.item == ga.McpCallItem(
        id=call_id,
        server_label="docs",
        name="search",
        arguments="",
        approval_request_id=None,
        output=None,
        error=None,
    )
    assert isinstance(opened[3], ga.ResponseMcpCallArgumentsDelta) and opened[3].delta == ARGS
    assert isinstance(opened[4], ga.ResponseMcpCallArgumentsDone) and opened[4].arguments == ARGS
    assert h.client.state.item(call_id).mcp_status == "in_progress"  # type: ignore[union-attr]

    h.server.produce(rid, McpResultChunk(output="3 pages about trio"))
    h.server.produce(rid, TextChunk("Found 3 pages."))
    h.server.produce(rid, Finish())
    h.pump()
    events = h.new()
    assert [e.type for e in events] == [
        "response.mcp_call.completed",
        "response.output_item.done",
        "conversation.item.done",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "rate_limits.updated",
        "response.done",
    ]
    done = events[1]
    assert isinstance(done, ga.ResponseOutputItemDone)
    assert done.item == ga.McpCallItem(
        id=call_id,
        server_label="docs",
        name="search",
        arguments=ARGS,
        approval_request_id=None,
        output="3 pages about trio",
        error=None,
    )
    item = h.client.state.item(call_id)
    assert (
        item is not None and item.output == "3 pages about trio" and item.mcp_status == "completed"
    )
    response = events[-1]
    assert isinstance(response, ga.ResponseDone) and response.response.status == "completed"
    assert [o.type for o in response.response.output] == ["mcp_call", "message"]  # type: ignore[union-attr]
    assert h.in_step()
    sdk_valid(h)


def test_a_call_that_fails(h: Harness) -> None:
    listed(h, mcp_tool(require_approval="never"))
    rid = respond(h)
    error = ga.McpHttpError(code=503, message="upstream down")
    h.server.produce(rid, McpCallChunk(server_label="docs", name="search", arguments=ARGS))
    h.server.produce(rid, McpResultChunk(error=error))
    h.server.produce(rid, Finish())
    h.pump()
    events = h.new()
    types = [e.type for e in events]
    assert types[types.index("response.mcp_call.in_progress") :] == [
        "response.mcp_call.in_progress",
        "response.mcp_call.failed",
        "response.output_item.done",
        "conversation.item.done",
        "rate_limits.updated",
        "response.done",
    ]
    done = events[types.index("response.output_item.done")]
    assert isinstance(done, ga.ResponseOutputItemDone)
    assert (
        isinstance(done.item, ga.McpCallItem)
        and done.item.error == error
        and done.item.output is None
    )
    item = h.client.state.item(done.item.id)
    assert item is not None and item.error == error and item.mcp_status == "failed"
    assert h.in_step()
    sdk_valid(h)


def test_approval_round_trip(h: Harness) -> None:
    listed(h, mcp_tool(require_approval="always"))
    rid = respond(h)
    h.server.produce(rid, McpCallChunk(server_label="docs", name="search", arguments=ARGS))
    h.server.produce(rid, Finish())
    h.pump()
    events = h.new()
    assert [e.type for e in events] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.output_item.done",
        "conversation.item.done",
        "rate_limits.updated",
        "response.done",
    ]
    added = events[1]
    assert isinstance(added, ga.ResponseOutputItemAdded)
    request = added.item
    assert request == ga.McpApprovalRequestItem(
        id=request.id, server_label="docs", name="search", arguments=ARGS
    )
    assert dict(h.client.state.pending_approvals) == {request.id: request.id}
    assert h.in_step()

    approve(h, request.id, reason="fine")
    assert h.types() == ["conversation.item.added", "conversation.item.done"]
    assert dict(h.client.state.pending_approvals) == {}
    # The backend sees the approval in its StartResponse's snapshot.
    effects = h.send({"type": "response.create"})
    start = h.start(effects)
    verdict = mcp_verdict(start.settings.tools, start.snapshot.conversation, "docs", "search", ARGS)
    assert (verdict.action, verdict.approval_request_id) == ("call", request.id)
    h.server.produce(
        start.response_id, McpCallChunk(server_label="docs", name="search", arguments=ARGS)
    )
    h.server.produce(start.response_id, McpResultChunk(output="ok"))
    h.server.produce(start.response_id, Finish())
    h.pump()
    call = [e for e in h.new() if isinstance(e, ga.ResponseOutputItemDone)][0].item
    assert isinstance(call, ga.McpCallItem) and call.approval_request_id == request.id
    # An approval runs one call: the same call again asks again.
    rid = respond(h)
    h.server.produce(rid, McpCallChunk(server_label="docs", name="search", arguments=ARGS))
    h.pump()
    again = [e for e in h.new() if isinstance(e, ga.ResponseOutputItemAdded)][0].item
    assert isinstance(again, ga.McpApprovalRequestItem) and again.id != request.id
    assert list(h.client.state.pending_approvals) == [again.id]
    assert h.in_step()
    sdk_valid(h)


def test_a_denied_approval_asks_again(h: Harness) -> None:
    listed(h, mcp_tool())  # require_approval absent: the service asks
    rid = respond(h)
    h.server.produce(rid, McpCallChunk(server_label="docs", name="search", arguments=ARGS))
    h.server.produce(rid, Finish())
    h.pump()
    [request_id] = list(h.client.state.pending_approvals)
    approve(h, request_id, yes=False, reason="not now")
    h.new()
    effects = h.send({"type": "response.create"})
    start = h.start(effects)
    verdict = mcp_verdict(start.settings.tools, start.snapshot.conversation, "docs", "search", ARGS)
    assert (verdict.action, verdict.approval_request_id) == ("denied", request_id)
    # A backend that calls anyway only asks the user again; the tool does not run.
    h.server.produce(
        start.response_id, McpCallChunk(server_label="docs", name="search", arguments=ARGS)
    )
    h.server.produce(start.response_id, Finish())
    h.pump()
    items = [e.item for e in h.new() if isinstance(e, ga.ResponseOutputItemDone)]
    assert [type(i) for i in items] == [ga.McpApprovalRequestItem]
    # Another call (other arguments) is not covered by the approval.
    assert (
        mcp_verdict(
            start.settings.tools, start.snapshot.conversation, "docs", "search", '{"q": "x"}'
        ).action
        == "ask"
    )
    assert h.in_step()


def test_approval_filters(h: Harness) -> None:
    rules = {"never": {"read_only": True}, "always": {"tool_names": ["search"]}}
    listed(
        h,
        mcp_tool(require_approval=rules),
        mcp_tool("wiki", require_approval={"never": {"tool_names": ["delete"]}}),
    )
    conversation, tools = h.server.state.conversation, h.server.session.tools
    # "always" wins over "never"; read_only comes from the listing's annotations.
    assert mcp_verdict(tools, conversation, "docs", "search", "{}").action == "ask"
    assert mcp_verdict(tools, conversation, "docs", "delete", "{}").action == "ask"
    assert mcp_verdict(tools, conversation, "wiki", "delete", "{}").action == "call"
    assert mcp_verdict(tools, conversation, "wiki", "search", "{}").action == "ask"
    listed(h, mcp_tool(require_approval={"never": {"read_only": True}}), mcp_tool("wiki"))
    conversation, tools = h.server.state.conversation, h.server.session.tools
    assert mcp_verdict(tools, conversation, "docs", "search", "{}").action == "call"
    # A tool never listed is not known to be read-only: it needs approval.
    assert mcp_verdict(tools, conversation, "docs", "unlisted", "{}").action == "ask"
    # An empty filter matches nothing.
    listed(h, mcp_tool(require_approval={"never": {}}))
    assert (
        mcp_verdict(
            h.server.session.tools, h.server.state.conversation, "docs", "search", "{}"
        ).action
        == "ask"
    )


@pytest.mark.parametrize(
    ("chunk", "code"),
    [
        (McpCallChunk(server_label="nope", name="search", arguments="{}"), "unknown_mcp_server"),
        (McpCallChunk(server_label="docs", name="delete", arguments="{}"), "mcp_tool_not_allowed"),
        (McpCallChunk(server_label="docs", name="search", arguments="[1]"), "invalid_arguments"),
        (McpCallChunk(server_label="docs", name="search", arguments="{"), "invalid_arguments"),
        (McpResultChunk(output="x"), "no_mcp_call"),
    ],
)
def test_calls_that_can_never_be_made_change_nothing(h: Harness, chunk: Any, code: str) -> None:
    listed(h, mcp_tool(require_approval="never", allowed_tools=["search"]))
    rid = respond(h)
    h.server.produce(rid, TextChunk("Let me look."))
    h.pump()
    h.new()
    before = h.server.state
    with pytest.raises(LocalProtocolError) as exc:
        h.server.produce(rid, chunk)
    assert exc.value.code == code
    assert h.server.state is before and h.server.events_to_send() == []


def test_a_waiting_call_takes_only_its_result(h: Harness) -> None:
    listed(h, mcp_tool(require_approval="never"))
    rid = respond(h)
    h.server.produce(rid, McpCallChunk(server_label="docs", name="search", arguments=ARGS))
    h.pump()
    h.new()
    for chunk in (
        TextChunk("too early"),
        McpCallChunk(server_label="docs", name="search", arguments=ARGS),
        McpResultChunk(),
        McpResultChunk(output="x", error=ga.McpToolExecutionError(message="y")),
    ):
        with pytest.raises(LocalProtocolError) as exc:
            h.server.produce(rid, chunk)
        assert exc.value.code in ("mcp_call_pending", "invalid_mcp_result")
    assert h.server.events_to_send() == []
    h.server.produce(rid, McpResultChunk(output=""))  # an empty output is an output
    h.pump()
    assert h.types()[:2] == ["response.mcp_call.completed", "response.output_item.done"]


def test_a_call_cut_by_cancel_fails(h: Harness) -> None:
    listed(h, mcp_tool(require_approval="never"))
    rid = respond(h)
    h.server.produce(rid, McpCallChunk(server_label="docs", name="search", arguments=ARGS))
    h.pump()
    h.new()
    h.send({"type": "response.cancel"})
    events = h.new()
    assert [e.type for e in events] == [
        "response.mcp_call.failed",
        "response.output_item.done",
        "conversation.item.done",
        "rate_limits.updated",
        "response.done",
    ]
    done = events[1]
    assert isinstance(done, ga.ResponseOutputItemDone) and isinstance(done.item, ga.McpCallItem)
    assert isinstance(done.item.error, ga.McpToolExecutionError)
    response = events[-1]
    assert isinstance(response, ga.ResponseDone) and response.response.status == "cancelled"
    with pytest.raises(LocalProtocolError):
        h.server.produce(rid, McpResultChunk(output="late"))
    assert h.in_step()
    sdk_valid(h)


def test_calls_in_an_out_of_band_response(h: Harness) -> None:
    listed(h, mcp_tool(require_approval="never"))
    effects = h.send({"type": "response.create", "response": {"conversation": "none"}})
    rid = h.start(effects).response_id
    h.server.produce(rid, McpCallChunk(server_label="docs", name="search", arguments=ARGS))
    h.server.produce(rid, McpResultChunk(output="ok"))
    h.server.produce(rid, Finish())
    h.pump()
    types = h.types()
    assert "conversation.item.added" not in types and "conversation.item.done" not in types
    assert types.count("response.mcp_call.completed") == 1
    assert h.in_step()
    sdk_valid(h)


def test_a_full_conversation_ends_the_response_at_the_call() -> None:
    h = Harness(dialect="ga", limits=ServerLimits(max_items=1))
    listed(h, mcp_tool(require_approval="never"))
    rid = respond(h)
    h.server.produce(rid, McpCallChunk(server_label="docs", name="search", arguments=ARGS))
    h.pump()
    done = h.new()[-1]
    assert isinstance(done, ga.ResponseDone) and done.response.status == "failed"
    assert h.in_step()


def test_events_are_exact_json(h: Harness) -> None:
    listed(h, mcp_tool(require_approval="never"))
    rid = respond(h)
    h.server.produce(rid, McpCallChunk(server_label="docs", name="search", arguments=ARGS))
    h.pump()
    wire = [json.loads(m) for m in h.raw[-3:]]
    item_id = wire[0]["item_id"]
    assert wire[2] == {
        "type": "response.mcp_call.in_progress",
        "event_id": wire[2]["event_id"],
        "item_id": item_id,
        "output_index": 0,
    }
    assert wire[0]["response_id"] == rid and wire[0]["delta"] == ARGS
    assert (
        ev.decode_server_event(h.raw[-1], dialect="ga", strict=True).type
        == "response.mcp_call.in_progress"
    )


# -- over sockets -----------------------------------------------------------------------------


@asynccontextmanager
async def running(server: RealtimeServer) -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        yield f"ws://127.0.0.1:{server.port}/v1/realtime?model=gpt-realtime"
        server.shutdown()


def client_event(message: dict[str, Any]) -> Any:
    return ev.decode_client_event(json.dumps(message), dialect="ga")


async def until(rt: Any, kind: type[Any]) -> Any:
    with trio.fail_after(10):
        async for event, _ in rt:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"no {kind.__name__}")


def text_session(*tools: dict[str, Any]) -> Any:
    return client_event(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "output_modalities": ["text"],
                "audio": {"input": {"turn_detection": None}},
                "tools": list(tools),
            },
        }
    )


def user_says(text: str) -> Any:
    return client_event(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )


SCENARIO = {
    "mcp_servers": {
        "docs": {
            "tools": [
                {
                    "name": "search",
                    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
                    "description": "Search the docs.",
                },
                {"name": "delete"},
            ],
            "results": {
                "search": "3 pages about trio",
                "delete": {"error": {"type": "http_error", "code": 503, "message": "down"}},
            },
        }
    },
    "turns": [
        {
            "mcp_calls": [{"server_label": "docs", "name": "search", "arguments": {"q": "trio"}}],
            "text": "Found 3 pages.",
        },
        {
            "mcp_calls": [{"server_label": "docs", "name": "delete", "arguments": {}}],
            "text": "Sorry.",
        },
    ],
}


async def test_the_script_backend_plays_an_mcp_server_over_sockets() -> None:
    backend = ScriptBackend(msgspec.convert(SCENARIO, Scenario))
    async with running(RealtimeServer(backend)) as url:
        async with connect(url, dialect="ga") as rt:
            await rt.send(
                text_session(
                    mcp_tool(require_approval={"never": {"tool_names": ["delete"]}}),
                    mcp_tool("wiki"),  # undeclared by the scenario: its listing fails
                )
            )
            outcomes = {}
            for _ in range(2):
                event = await until(rt, (ga.McpListToolsCompleted, ga.McpListToolsFailed))
                outcomes[rt.state.item(event.item_id).server_label] = event.type
                await until(rt, ga.ConversationItemDone)
            assert outcomes == {"docs": "mcp_list_tools.completed", "wiki": "mcp_list_tools.failed"}
            listing = [i for i in rt.state.conversation if i.server_label == "docs"][0]
            assert [t.name for t in listing.tools or ()] == ["search", "delete"]

            # The first turn needs an approval: the response ends with the request.
            await rt.send(user_says("search the docs for trio"))
            await rt.send(client_event({"type": "response.create"}))
            done = await until(rt, ga.ResponseDone)
            [request] = rt.state.response_items(done.response.id)
            assert request.type == "mcp_approval_request" and request.name == "search"
            assert list(rt.state.pending_approvals) == [request.id]

            # Approved, the same turn plays again: the call, its result, then the answer.
            await rt.send(
                client_event(
                    {
                        "type": "conversation.item.create",
                        "item": {
                            "type": "mcp_approval_response",
                            "id": "answer_1",
                            "approval_request_id": request.id,
                            "approve": True,
                        },
                    }
                )
            )
            await rt.send(client_event({"type": "response.create"}))
            done = await until(rt, ga.ResponseDone)
            call, answer = rt.state.response_items(done.response.id)
            assert (call.type, call.output, call.approval_request_id) == (
                "mcp_call",
                "3 pages about trio",
                request.id,
            )
            assert json.loads(call.arguments.value) == {"q": "trio"}
            assert (
                call.mcp_status == "completed" and answer.content[0].text.value == "Found 3 pages."
            )
            assert not rt.state.pending_approvals

            # The second turn's tool needs no approval; its call fails as scripted.
            await rt.send(client_event({"type": "response.create"}))
            done = await until(rt, ga.ResponseDone)
            call, answer = rt.state.response_items(done.response.id)
            assert call.mcp_status == "failed" and call.error == ga.McpHttpError(
                code=503, message="down"
            )
            assert answer.content[0].text.value == "Sorry."
            assert done.response.status == "completed"


async def test_the_echo_backend_calls_a_named_mcp_tool() -> None:
    async with running(RealtimeServer(EchoBackend())) as url:
        async with connect(url, dialect="ga") as rt:
            await rt.send(
                text_session(mcp_tool(allowed_tools=["lookup"], require_approval="never"))
            )
            await until(rt, ga.McpListToolsCompleted)
            await until(rt, ga.ConversationItemDone)
            await rt.send(user_says("please lookup x"))
            await rt.send(client_event({"type": "response.create"}))
            done = await until(rt, ga.ResponseDone)
            call, answer = rt.state.response_items(done.response.id)
            arguments = '{"text": "please lookup x"}'
            assert (call.type, call.server_label, call.name) == ("mcp_call", "docs", "lookup")
            assert call.output == f"docs.lookup received {arguments}"
            assert (
                answer.content[0].text.value
                == f"The tool returned: docs.lookup received {arguments}"
            )


async def test_the_echo_asks_for_the_approval_the_session_requires() -> None:
    async with running(RealtimeServer(EchoBackend())) as url:
        async with connect(url, dialect="ga") as rt:
            await rt.send(text_session(mcp_tool()))  # the echo lists one tool, "echo"
            await until(rt, ga.McpListToolsCompleted)
            await rt.send(user_says("echo this"))
            await rt.send(client_event({"type": "response.create"}))
            done = await until(rt, ga.ResponseDone)
            [request] = rt.state.response_items(done.response.id)
            assert (request.type, request.name) == ("mcp_approval_request", "echo")
            answer = {"type": "mcp_approval_response", "approval_request_id": request.id}
            await rt.send(
                client_event(
                    {
                        "type": "conversation.item.create",
                        "item": {**answer, "id": "no", "approve": False},
                    }
                )
            )
            await rt.send(client_event({"type": "response.create"}))
            done = await until(rt, ga.ResponseDone)
            [said] = rt.state.response_items(done.response.id)
            assert said.content[0].text.value == "The call of echo was not approved."


async def test_listings_come_from_the_backend_and_a_broken_one_fails() -> None:
    class Broken:
        async def list_mcp_tools(self, tool: ga.McpTool) -> list[ga.McpListedTool]:
            raise RuntimeError("no such server")

    update = {
        "type": "session.update",
        "session": {"type": "realtime", "tools": [mcp_tool()]},
    }
    flushed: list[int] = []

    async def flush() -> None:
        flushed.append(1)

    for backend, outcome in (
        (Broken(), "mcp_list_tools.failed"),
        (object(), "mcp_list_tools.completed"),
    ):
        session = ServerSession(dialect="ga")
        [effect] = session.receive_message(json.dumps(update))[1:]
        assert isinstance(effect, ListMcpTools)
        session.events_to_send()
        broken: list[BaseException] = []
        await answer_listing(session, backend, effect, flush, broken.append)
        assert [e.type for e in session.events_to_send()] == [outcome, "conversation.item.done"]
        assert session.state.item(effect.item_id).tools == ()  # type: ignore[union-attr]
        assert [str(e) for e in broken] == (
            ["no such server"] if outcome.endswith("failed") else []
        )
    assert flushed == [1, 1]


def test_null_members_of_an_mcp_tool_mean_not_set(h: Harness) -> None:
    """docs/protocol/connection.md#first-events: a server echoes every nullable member as null; the
    SDK types them Optional.

    A client (or a relay) that sends the echo back must get the same tool, and a GA
    client must read such an echo from a real server without a protocol error.
    """
    nulls = {
        "connector_id": None,
        "tunnel_id": None,
        "authorization": None,
        "headers": None,
        "server_description": None,
        "defer_loading": None,
        "allowed_tools": {"tool_names": None, "read_only": None},
        "require_approval": {
            "always": None,
            "never": {"tool_names": ["search"], "read_only": None},
        },
    }
    listed(h, mcp_tool(**nulls))
    assert not [e for e in h.log if e.type == "error"]
    conversation, tools = h.server.state.conversation, h.server.session.tools
    # An allowed_tools filter with nothing set matches nothing, like an empty one.
    with pytest.raises(LocalProtocolError):
        mcp_verdict(tools, conversation, "docs", "search", "{}")
    listed(h, mcp_tool(**{**nulls, "allowed_tools": None}))
    conversation, tools = h.server.state.conversation, h.server.session.tools
    assert mcp_verdict(tools, conversation, "docs", "search", "{}").action == "call"
    assert mcp_verdict(tools, conversation, "docs", "delete", "{}").action == "ask"
    sdk_valid(h)
    assert h.in_step()

    client = ClientSession()
    echo = {
        "type": "session.updated",
        "event_id": "event_1",
        "session": {
            "type": "realtime",
            "tools": [{"type": "mcp", "server_label": "x", "server_url": None, **nulls}],
        },
    }
    client.receive_message(json.dumps(echo))
    assert client.state.protocol_errors == []
