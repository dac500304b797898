"""ClientSession: receiving never breaks, sending is checked, and the helpers apps need."""

from __future__ import annotations

import json
from typing import Any

import pytest
from builders import Server, audio_response
from conftest import CAPTURES

from rtcore import (
    ClientSession,
    LocalProtocolError,
    RemoteProtocolError,
    SequentialIds,
    replay_events,
)
from rtcore import events as ev
from rtcore.events import beta, encode_event
from rtcore.state.session import session_from_wire


def feed(client: ClientSession, events: list[Any]) -> list[Any]:
    out: list[Any] = []
    for event in events:
        out.extend(client.receive_message(encode_event(event)))
    return out


def conversation_with_audio(client: ClientSession, seconds: int = 2, done: bool = True) -> None:
    srv = Server()
    events = [srv.session_created(), srv.user_text("u", "hi", None)]
    events += audio_response(srv, "r1", "a", "u", ["Hello", " there"], [bytes(48000)] * seconds)
    if not done:
        events = [
            e for e in events if not isinstance(e, (beta.ResponseAudioDone, beta.ResponseDone))
        ]
        events = [
            e
            for e in events
            if not isinstance(e, (ev.ResponseContentPartDone, beta.ResponseOutputItemDone))
        ]
    feed(client, events)


# -- receiving -------------------------------------------------------------------------


def test_receive_message_returns_typed_events_and_updates_the_state() -> None:
    client = ClientSession(dialect="beta")
    srv = Server()
    [event] = client.receive_message(encode_event(srv.session_created()))
    assert isinstance(event, beta.SessionCreated)
    assert client.state.session == session_from_wire(event.session)
    assert client.reported_session == event.session


def test_malformed_messages_are_returned_as_protocol_errors_and_change_nothing() -> None:
    client = ClientSession(dialect="beta")
    conversation_with_audio(client)
    before = client.state
    for bad in [b"{nope", b"[]", b'{"type":"response.text.delta","event_id":"e9"}', b"\xff"]:
        [error] = client.receive_message(bad)
        assert isinstance(error, RemoteProtocolError)
    after = client.state
    assert len(after.protocol_errors) == 4
    assert after.protocol_errors[2].event_id == "e9"
    assert after.protocol_errors[2].param == "response_id"
    assert after.items == before.items and after.responses == before.responses
    assert after.session == before.session


def test_contradicting_events_are_returned_as_protocol_errors() -> None:
    client = ClientSession(dialect="beta")
    srv = Server()
    delta = srv.part_event(beta.ResponseTextDelta, "r1", "ghost", delta="boo")
    [error] = client.receive_message(encode_event(delta))
    assert isinstance(error, RemoteProtocolError) and error.code == "unknown_response"
    assert client.state.protocol_errors[-1] == error
    assert error.__traceback__ is None


def test_unknown_events_are_returned_and_counted() -> None:
    client = ClientSession(dialect="beta")
    [event] = client.receive_message(b'{"type":"mcp_list_tools.completed","event_id":"e1"}')
    assert isinstance(event, ev.UnknownEvent)
    assert client.state.unknown_events == 1


def test_old_snapshots_never_change() -> None:
    client = ClientSession(dialect="beta")
    srv = Server()
    events = [srv.user_text("u", "hi", None)] + audio_response(
        srv, "r1", "a", "u", ["a", "b", "c"], [b"\x00\x00"] * 3
    )
    snapshots = []
    dumps = []
    for event in events:
        client.receive_message(encode_event(event))
        snapshots.append(client.state)
        dumps.append(json.dumps(client.state.to_dict()))
    assert [json.dumps(s.to_dict()) for s in snapshots] == dumps


# -- sending -----------------------------------------------------------------------------


def test_send_assigns_event_ids_and_links_errors_to_what_was_sent() -> None:
    client = ClientSession(id_factory=SequentialIds(), dialect="beta")
    data = client.send(beta.ResponseCreate())
    assert json.loads(data) == {"type": "response.create", "event_id": "event_1"}
    kept = client.send(ev.ResponseCancel(event_id="mine"))
    assert json.loads(kept)["event_id"] == "mine"
    error = ev.ErrorEvent(
        event_id="event_s1",
        error=ev.ErrorDetails(
            type="invalid_request_error",
            code="response_cancel_not_active",
            message="no",
            event_id="mine",
        ),
    )
    client.receive_message(encode_event(error))
    record = client.state.errors[-1]
    assert record.client_event == ev.ResponseCancel(event_id="mine")
    assert client.sent_event("event_1") == beta.ResponseCreate(event_id="event_1")


def refused(
    client: ClientSession, event: ev.ClientEvent, code: str, param: str | None = None
) -> None:
    with pytest.raises(LocalProtocolError) as info:
        client.send(event)
    assert info.value.code == code, info.value
    if param is not None:
        assert info.value.param == param, info.value


def test_send_refuses_what_the_server_would_reject() -> None:
    client = ClientSession(dialect="beta")
    conversation_with_audio(client, seconds=2)
    truncate = ev.ConversationItemTruncate
    refused(
        client, truncate(item_id="u", content_index=0, audio_end_ms=0), "unsupported_content_type"
    )
    refused(
        client,
        truncate(item_id="nope", content_index=0, audio_end_ms=0),
        "invalid_value",
        "item_id",
    )
    refused(
        client,
        truncate(item_id="a", content_index=0, audio_end_ms=2001),
        "invalid_value",
        "audio_end_ms",
    )
    client.send(truncate(item_id="a", content_index=0, audio_end_ms=2000))
    refused(client, ev.ConversationItemDelete(item_id="nope"), "invalid_value", "item_id")
    text = (ev.InputTextContent(text="x"),)
    refused(
        client,
        beta.ConversationItemCreate(
            previous_item_id="nope", item=beta.MessageItem(role="user", content=text)
        ),
        "invalid_value",
        "previous_item_id",
    )
    refused(
        client,
        beta.ConversationItemCreate(item=beta.MessageItem(id="u", role="user", content=text)),
        "invalid_value",
        "item.id",
    )
    refused(
        client,
        beta.ConversationItemCreate(item=ev.FunctionCallOutputItem(call_id="call_x", output="1")),
        "invalid_value",
        "item.call_id",
    )
    refused(
        client,
        beta.ConversationItemCreate(
            item=beta.MessageItem(role="assistant", content=(ev.AudioContent(audio=b"\x00\x00"),))
        ),
        "invalid_value",
        "item.content[0].type",
    )
    refused(client, ev.InputAudioBufferAppend(audio=b"\x00\x00\x00"), "invalid_value", "audio")
    refused(
        client,
        beta.SessionUpdate(session=beta.SessionConfig(voice="ash")),
        "cannot_update_voice",
        "session.voice",
    )
    # Allowed: anchors that exist, "root", null; the same voice again.
    for anchor in ("u", "root", None):
        client.send(
            beta.ConversationItemCreate(
                previous_item_id=anchor, item=beta.MessageItem(role="user", content=text)
            )
        )
    client.send(beta.SessionUpdate(session=beta.SessionConfig(voice="alloy")))
    client.send(ev.InputAudioBufferAppend(audio=b"\x00\x00"))


# -- helpers -------------------------------------------------------------------------------


def test_truncate_playback_clamps_to_the_audio_received() -> None:
    client = ClientSession(dialect="beta")
    conversation_with_audio(client, seconds=2, done=False)
    event = client.truncate_playback("a", 5000)
    assert event == ev.ConversationItemTruncate(item_id="a", content_index=0, audio_end_ms=2000)
    assert client.truncate_playback("a", -3) == ev.ConversationItemTruncate(
        item_id="a", content_index=0, audio_end_ms=0
    )
    assert client.truncate_playback("a", 1234).audio_end_ms == 1234  # type: ignore[union-attr]


def test_truncate_playback_has_nothing_to_send_when_everything_was_played() -> None:
    client = ClientSession(dialect="beta")
    conversation_with_audio(client, seconds=2, done=True)
    assert client.truncate_playback("a", 2000) is None
    assert client.truncate_playback("a", 1999) is not None
    with pytest.raises(LocalProtocolError):
        client.truncate_playback("u", 10)


def test_replay_events_rebuild_the_conversation_as_text() -> None:
    client = ClientSession(dialect="beta")
    with (CAPTURES / "banyan-landing__log_1.server-events.jsonl").open("rb") as lines:
        for line in lines:
            client.receive_message(line)
    events = replay_events(client.state, dialect="beta")
    kinds = [(e.item.type, getattr(e.item, "role", None)) for e in events]
    # 21 items: the text turn, 11 transcribed user turns, 8 assistant turns, 1 tool call.
    assert len(events) == 21
    assert kinds[0] == ("message", "user") and kinds[-1] == ("function_call", None)
    first_answer = events[1].item
    assert isinstance(first_answer, beta.MessageItem) and first_answer.role == "assistant"
    # WebRTC carried no audio bytes, so the heard share is unknown: the whole transcript is kept.
    assert isinstance(first_answer.content, tuple)
    assert first_answer.content[0] == ev.TextContent(
        text="Hi there! Thank you for calling. My name is Sarah. How can I assist you with your billing issue today?"
    )
    user = events[2].item
    assert isinstance(user, beta.MessageItem) and user.content == (
        ev.InputTextContent(text="Go with that."),
    )
    # A new session accepts them: the client checks pass for each in turn.
    fresh = ClientSession(dialect="beta")
    for event in events:
        fresh.send(event) if not isinstance(event.item, ev.FunctionCallOutputItem) else None
    # The same conversation for a GA session: assistant text is output_text.
    ga_events = replay_events(client.state)
    assert [(e.type, e.item.type) for e in ga_events] == [(e.type, e.item.type) for e in events]
    assert ga_events[1].item == ev.ga.MessageItem(
        id=first_answer.id,
        role="assistant",
        content=(ev.ga.OutputTextContent(text=first_answer.content[0].text),),  # type: ignore[union-attr]
    )
    ga_session = ClientSession()
    for event in ga_events:
        ga_session.send(event) if not isinstance(event.item, ev.FunctionCallOutputItem) else None


def test_replay_events_drop_the_unheard_part_of_truncated_audio() -> None:
    client = ClientSession(dialect="beta")
    conversation_with_audio(client, seconds=2)
    srv = Server()
    srv.n = 100
    client.receive_message(
        encode_event(
            srv(ev.ConversationItemTruncated, item_id="a", content_index=0, audio_end_ms=1000)
        )
    )
    heard = replay_events(client.state, dialect="beta")[1].item
    kept = replay_events(client.state, unheard="keep", dialect="beta")[1].item
    assert isinstance(heard, beta.MessageItem) and isinstance(kept, beta.MessageItem)
    assert heard.content == (ev.TextContent(text="Hello"),)
    assert kept.content == (ev.TextContent(text="Hello there"),)
    assert replay_events(client.state, keep_ids=False)[0].item.id is ev.UNSET


def test_a_session_resumed_from_a_snapshot_keeps_the_voice_lock_and_the_calls() -> None:
    spoken = ClientSession(dialect="beta")
    conversation_with_audio(spoken, seconds=1)
    resumed = ClientSession(dialect="beta", state=spoken.state)
    refused(
        resumed,
        beta.SessionUpdate(session=beta.SessionConfig(voice="ash")),
        "cannot_update_voice",
        "session.voice",
    )
    fresh = ClientSession(dialect="beta", state=ClientSession(dialect="beta").state)
    conversation_with_audio(fresh, seconds=0)
    fresh.send(beta.SessionUpdate(session=beta.SessionConfig(voice="ash")))
