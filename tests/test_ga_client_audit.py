"""The GA client role against shapes the official SDK accepts (docs/protocol/ga.md#response-object,
docs/protocol/ga.md#transcription-extras, docs/protocol/ga.md#server-events,
docs/protocol/ga.md#sdk-types).

Each test feeds a GA server message that ``openai.types.realtime`` (3.57.0)
validates in strict mode and that docs/protocol/ga.md documents as valid, and checks that the
codec reads it losslessly and that ``ClientSession`` folds it without a
protocol error. A message refused here is worse than a lost field: a refused
``response.done`` leaves its response in progress forever.
"""

from __future__ import annotations

import functools
import json
import typing
from typing import Any

import pytest

from rtcore import ClientSession
from rtcore import events as ev
from rtcore.events import encode_event

# -- helpers -----------------------------------------------------------------------------


@functools.cache
def _sdk_server_models() -> dict[str, Any]:
    realtime = pytest.importorskip("openai.types.realtime")
    (members, *_) = typing.get_args(realtime.RealtimeServerEvent)
    out = {}
    for model in typing.get_args(members):
        (event_type,) = typing.get_args(model.model_fields["type"].annotation)
        out[event_type] = model
    return out


def sdk_accepts(message: dict[str, Any]) -> None:
    """The official SDK's GA model for this type validates the message (strict mode)."""
    _sdk_server_models()[message["type"]].model_validate_json(json.dumps(message), strict=True)


def decodes_losslessly(message: dict[str, Any]) -> Any:
    data = json.dumps(message).encode()
    event = ev.decode_server_event(data, dialect="ga", strict=True)
    assert not isinstance(event, ev.UnknownEvent)
    assert json.loads(encode_event(event)) == message
    return event


def feed(client: ClientSession, *messages: dict[str, Any]) -> None:
    for message in messages:
        for out in client.receive_message(json.dumps(message)):
            assert not isinstance(out, Exception), (message["type"], out)


_n = iter(range(1, 1_000_000))


def msg(event_type: str, **fields: Any) -> dict[str, Any]:
    return {"type": event_type, "event_id": f"event_{next(_n)}", **fields}


SESSION = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_1",
    "model": "gpt-realtime",
}


def response(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "object": "realtime.response",
        "id": "resp_1",
        "status": status,
        "status_details": None,
        "output": [],
        "conversation_id": "conv_1",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "usage": None,
        "metadata": None,
        **fields,
    }


def a_response_ending_with(done: dict[str, Any]) -> ClientSession:
    client = ClientSession()
    feed(client, msg("session.created", session=SESSION))
    feed(client, msg("response.created", response=response("in_progress")))
    feed(client, done)
    return client


# -- response.done: status_details, usage and effective settings
# (docs/protocol/ga.md#response-object) ---

FAILED_DETAILS = [
    # "error": {"type", "code", "message"} - "all optional strings"
    # (docs/protocol/ga.md#response-object).
    {"type": "failed", "error": {"code": "server_error", "message": "The server had an error."}},
    {"type": "failed", "error": {"type": "server_error", "code": None, "message": None}},
    {"type": "failed", "error": None},
    {"type": "incomplete", "reason": None},
    {"reason": "max_output_tokens"},
]


@pytest.mark.parametrize("details", FAILED_DETAILS, ids=lambda d: json.dumps(d)[:60])
def test_a_response_done_with_sparse_status_details_closes_the_response(
    details: dict[str, Any],
) -> None:
    status = details.get("type") or "incomplete"
    done = msg("response.done", response=response(status, status_details=details))
    sdk_accepts(done)
    event = decodes_losslessly(done)
    client = a_response_ending_with(done)
    r = client.state.response("resp_1")
    assert r is not None and r.status == status and r.done
    assert r.status_details == event.response.status_details
    assert client.state.active_response is None
    assert not client.state.protocol_errors


USAGES = [
    {"total_tokens": 3},
    {"total_tokens": 3, "input_tokens": 1, "output_tokens": 2, "input_token_details": None},
    {
        "total_tokens": None,
        "input_tokens": 1,
        "output_tokens": 2,
        "input_token_details": {
            "text_tokens": None,
            "cached_tokens_details": None,
        },
        "output_token_details": {"audio_tokens": None, "text_tokens": 2},
    },
]


@pytest.mark.parametrize("usage", USAGES, ids=lambda u: json.dumps(u)[:60])
def test_a_response_done_with_sparse_usage_closes_the_response(usage: dict[str, Any]) -> None:
    done = msg("response.done", response=response("completed", usage=usage))
    sdk_accepts(done)
    event = decodes_losslessly(done)
    client = a_response_ending_with(done)
    r = client.state.response("resp_1")
    assert r is not None and r.status == "completed"
    assert r.usage == event.response.usage
    assert not client.state.protocol_errors


def test_a_response_done_with_null_effective_settings_closes_the_response() -> None:
    done = msg(
        "response.done",
        response=response("completed", audio=None, output_modalities=None, max_output_tokens=None),
    )
    sdk_accepts(done)
    decodes_losslessly(done)
    client = a_response_ending_with(done)
    r = client.state.response("resp_1")
    assert r is not None and r.status == "completed"
    assert r.output_modalities is None and r.max_output_tokens is None and r.voice is None
    assert not client.state.protocol_errors


# -- rate limits and the conversation (docs/protocol/ga.md#rate-limits,
# docs/protocol/ga.md#session-events) ---


def test_rate_limit_entries_may_leave_members_out() -> None:
    limits = [
        {"name": "tokens", "limit": 40000, "remaining": 38490},
        {"name": "requests", "reset_seconds": None},
        {},
    ]
    message = msg("rate_limits.updated", rate_limits=limits)
    sdk_accepts(message)
    event = decodes_losslessly(message)
    client = ClientSession()
    feed(client, message)
    assert client.state.rate_limits == event.rate_limits
    assert client.state.rate_limits[0].remaining == 38490
    assert client.state.rate_limits[1].limit is ev.UNSET


@pytest.mark.parametrize(
    "conversation", [{}, {"object": "realtime.conversation"}, {"id": None, "object": None}]
)
def test_conversation_created_without_an_id(conversation: dict[str, Any]) -> None:
    # docs/protocol/ga.md#session-events: conversation {id opt, object opt}.
    message = msg("conversation.created", conversation=conversation)
    sdk_accepts(message)
    decodes_losslessly(message)
    client = ClientSession()
    feed(client, msg("session.created", session=SESSION), message)
    assert client.state.conversation_id is None
    assert client.state.events_applied == 2
    # The id still arrives with the first response.
    feed(client, msg("response.created", response=response("in_progress")))
    assert client.state.conversation_id == "conv_1"


def test_conversation_created_with_an_id_still_sets_it() -> None:
    client = ClientSession()
    feed(client, msg("conversation.created", conversation={"id": "conv_9"}))
    assert client.state.conversation_id == "conv_9"


# -- input transcription deltas (docs/protocol/ga.md#item-events) --------------------------


def test_an_input_transcription_delta_with_null_index_and_delta() -> None:
    user = {
        "id": "item_U",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    deltas = [
        msg(
            "conversation.item.input_audio_transcription.delta",
            item_id="item_U",
            content_index=None,
            delta="Hel",
        ),
        msg(
            "conversation.item.input_audio_transcription.delta",
            item_id="item_U",
            content_index=0,
            delta=None,
        ),
        msg("conversation.item.input_audio_transcription.delta", item_id="item_U", delta="lo"),
    ]
    for message in deltas:
        sdk_accepts(message)
        decodes_losslessly(message)
    client = ClientSession()
    feed(client, msg("session.created", session=SESSION))
    feed(client, msg("conversation.item.added", previous_item_id=None, item=user))
    feed(client, *deltas)
    item = client.state.item("item_U")
    assert item is not None
    transcript = item.content[0].transcript
    assert transcript is not None and transcript.value == "Hello"
    assert not client.state.protocol_errors


# -- the snapshot's plain and text views show GA items (rtcore replay) ---------------------


def test_the_views_show_mcp_items_and_images() -> None:
    from rtcore.state import snapshot_to_text

    listing = {
        "type": "mcp_list_tools",
        "id": "item_L",
        "server_label": "docs",
        "tools": [{"name": "search", "input_schema": {}}],
    }
    request = {
        "type": "mcp_approval_request",
        "id": "item_Q",
        "server_label": "docs",
        "name": "search",
        "arguments": "{}",
    }
    image = {
        "id": "item_I",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [
            {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"}
        ],
    }
    client = ClientSession()
    feed(
        client,
        msg("session.created", session=SESSION),
        msg("mcp_list_tools.completed", item_id="item_L"),
        msg("conversation.item.added", previous_item_id=None, item=listing),
        msg("conversation.item.added", item=request),
        msg("conversation.item.added", item=image),
        {"type": "input_audio_buffer.dtmf_event_received", "event": "7", "received_at": 1},
    )
    plain = client.state.to_dict()
    items: Any = plain["items"]
    assert items[0]["server_label"] == "docs" and items[0]["mcp_status"] == "completed"
    assert items[0]["tools"] == [{"name": "search", "input_schema": {}}]
    assert items[2]["content"][0]["image_url"] == "data:image/png;base64,AA"
    assert items[2]["content"][0]["detail"] == "low"
    assert plain["pending_approvals"] == {"item_Q": "item_Q"}
    assert plain["dtmf"] == [["7", 1]]
    text = snapshot_to_text(client.state)
    assert "None:" not in text
    assert "mcp tools of docs: search [completed]" in text
    assert "mcp approval request docs.search (owed an answer)" in text
    assert "image 'data:image/png;base64,AA', detail low" in text
