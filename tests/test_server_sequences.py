"""One test per sequence of docs/protocol/flows.md: exact event order and ids from ServerSession."""

from __future__ import annotations

import json
from typing import Any

import pytest
from serverkit import Harness, errors, silence, tone

from rtcore import events as ev
from rtcore.errors import LocalProtocolError
from rtcore.events import beta
from rtcore.server import (
    AudioChunk,
    CancelResponse,
    Finish,
    FunctionCallChunk,
    ServerSession,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)

USER_TEXT = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "Hello!"}],
}


def create(text: str = "Hello!", **extra: Any) -> dict[str, Any]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item, **extra}


# -- 1. connect -------------------------------------------------------------------------------


def test_1_session_created_comes_first_with_the_default_session() -> None:
    h = Harness()
    [created] = h.new()
    assert isinstance(created, beta.SessionCreated)
    s = created.session
    assert s.object == "realtime.session" and s.id == "sess_1"
    assert s.modalities == ("text", "audio") and s.voice == "alloy"
    assert s.input_audio_format == "pcm16" and s.output_audio_format == "pcm16"
    assert s.input_audio_transcription is None
    assert s.turn_detection == beta.TurnDetection(
        type="server_vad",
        threshold=0.5,
        prefix_padding_ms=300,
        silence_duration_ms=200,
        create_response=True,
        interrupt_response=True,
    )
    assert s.tools == () and s.tool_choice == "auto" and s.temperature == 0.8
    assert s.max_response_output_tokens == "inf"
    assert s.expires_at is ev.UNSET  # no clock in the core unless the adapter gives one


def test_1_conversation_created_is_optional() -> None:
    h = Harness(conversation_created=True, created_at=1_700_000_000)
    assert h.types() == ["session.created", "conversation.created"]
    assert h.client.state.conversation_id == "conv_1"
    assert h.client.state.session.expires_at == 1_700_000_000 + 1800  # type: ignore[union-attr]


# -- 2. session.update --------------------------------------------------------------------------


def test_2_session_update_merges_and_echoes_the_complete_session() -> None:
    h = Harness()
    h.new()
    h.send(
        {
            "type": "session.update",
            "event_id": "u1",
            "session": {
                "instructions": "",
                "voice": "ash",
                "input_audio_transcription": {"model": "whisper-1", "language": "en"},
                "tools": [{"name": "get_weather", "parameters": {"type": "object"}}],
                "tool_choice": {"type": "function", "name": "get_weather"},
                "turn_detection": {"type": "server_vad", "threshold": 0.6},
            },
        }
    )
    [updated] = h.new()
    assert isinstance(updated, beta.SessionUpdated)
    s = updated.session
    assert s.instructions == "" and s.voice == "ash" and s.modalities == ("text", "audio")
    assert s.input_audio_transcription == beta.InputAudioTranscription(
        model="whisper-1", language="en", prompt=None
    )
    assert s.tools == (
        beta.Tool(name="get_weather", type="function", parameters={"type": "object"}),
    )
    assert s.turn_detection == beta.TurnDetection(
        type="server_vad",
        threshold=0.6,
        prefix_padding_ms=300,
        silence_duration_ms=200,
        create_response=True,
        interrupt_response=True,
    )
    h.send(
        {
            "type": "session.update",
            "session": {"turn_detection": None, "input_audio_transcription": None},
        }
    )
    [updated] = h.new()
    assert (
        updated.session.turn_detection is None and updated.session.input_audio_transcription is None
    )  # type: ignore[attr-defined]
    assert updated.session.voice == "ash"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "session,code,param",
    [
        ({"foo": 1}, "unknown_parameter", "session.foo"),
        (
            {"input_audio_transcription": {"enabled": True}},
            "unknown_parameter",
            "session.input_audio_transcription.enabled",
        ),
        ({"voice": 7}, "invalid_type", "session.voice"),
        ({"modalities": ["audio"]}, "invalid_value", "session.modalities"),
        ({"temperature": 2.0}, "invalid_value", "session.temperature"),
        ({"temperature": "hot"}, "invalid_type", "session.temperature"),
        (
            {"max_response_output_tokens": 5000},
            "invalid_value",
            "session.max_response_output_tokens",
        ),
        (
            {"turn_detection": {"threshold": 1.5}},
            "invalid_value",
            "session.turn_detection.threshold",
        ),
        (
            {"turn_detection": {"type": "semantic_vad", "silence_duration_ms": 500}},
            "unknown_parameter",
            "session.turn_detection.silence_duration_ms",
        ),
        (
            {"input_audio_transcription": {"model": "ears-2"}},
            "invalid_value",
            "session.input_audio_transcription.model",
        ),
        ({"tool_choice": "get_time"}, "invalid_value", "session.tool_choice"),
        ({"model": "gpt-5-realtime"}, "invalid_value", "session.model"),
        ({"speed": 3}, "invalid_value", "session.speed"),
        ({"include": ["everything"]}, "invalid_value", "session.include[0]"),
    ],
)
def test_2_invalid_updates_are_errors_and_change_nothing(
    session: dict[str, Any], code: str, param: str
) -> None:
    # The URL named the model, so no update may change it (docs/protocol/flows.md#session-model).
    h = Harness(model="gpt-4o-realtime-preview")
    before = h.server.session
    h.new()
    h.send({"type": "session.update", "event_id": "bad", "session": {"voice": "ash", **session}})
    [error] = h.new()
    assert isinstance(error, ev.ErrorEvent)
    assert (error.error.type, error.error.code, error.error.param, error.error.event_id) == (
        "invalid_request_error",
        code,
        param,
        "bad",
    )
    assert error.error.message
    assert h.server.session == before  # nothing applied, not even the valid voice


def test_2_the_voice_cannot_change_after_assistant_audio() -> None:
    h = Harness()
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_audio(start.response_id, tone(100))
    h.server.finish_response(start.response_id)
    h.flush()
    h.new()
    h.send({"type": "session.update", "event_id": "v", "session": {"voice": "echo"}})
    [error] = errors(h.new())
    assert (error.code, error.event_id) == ("cannot_update_voice", "v")
    h.send({"type": "session.update", "session": {"voice": "alloy"}})  # the same voice is fine
    assert h.types() == ["session.updated"]


# -- 3. append ------------------------------------------------------------------------------------


def test_3_append_is_never_answered_and_bad_audio_is_an_error() -> None:
    h = Harness()
    h.no_vad()
    h.send(ev.InputAudioBufferAppend(audio=tone(100)))
    assert h.new() == []
    h.send('{"type":"input_audio_buffer.append","event_id":"a1","audio":"not base64!!"}')
    h.send(
        {"type": "input_audio_buffer.append", "event_id": "a2", "audio": "AA=="}
    )  # one byte: odd
    h.send(ev.InputAudioBufferAppend(event_id="a3", audio=b"\x00\x01\x02"))
    found = [(e.code, e.param, e.event_id) for e in errors(h.new())]
    assert found == [
        ("invalid_value", "audio", "a1"),
        ("invalid_value", "audio", "a2"),
        ("invalid_value", "audio", "a3"),
    ]


def test_3_append_and_buffer_limits() -> None:
    from rtcore.server import ServerLimits

    h = Harness(limits=ServerLimits(max_append_bytes=1000, max_buffer_bytes=3000))
    h.no_vad()
    h.send(ev.InputAudioBufferAppend(event_id="big", audio=bytes(1002)))
    for i in range(3):
        h.send(ev.InputAudioBufferAppend(event_id=f"ok{i}", audio=bytes(1000)))
    h.send(ev.InputAudioBufferAppend(event_id="full", audio=bytes(2)))
    assert [(e.code, e.event_id) for e in errors(h.new())] == [
        ("invalid_value", "big"),
        ("input_audio_buffer_full", "full"),
    ]


# -- 4. server VAD -----------------------------------------------------------------------------------


def test_4_a_server_vad_turn() -> None:
    h = Harness()
    h.new()
    effects = h.append_audio(silence(500) + tone(1000) + silence(300))
    events = h.new()
    assert [e.type for e in events] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
        "response.created",
    ]
    started, stopped, committed, created, response = events
    assert isinstance(started, ev.InputAudioBufferSpeechStarted)
    assert started.audio_start_ms == 500 - 300  # includes prefix_padding_ms
    assert isinstance(stopped, ev.InputAudioBufferSpeechStopped)
    assert stopped.audio_end_ms == 1500 + 200  # includes the silence window
    assert isinstance(committed, ev.InputAudioBufferCommitted) and isinstance(
        created, beta.ConversationItemCreated
    )
    item_id = started.item_id
    assert stopped.item_id == committed.item_id == created.item.id == item_id
    assert committed.previous_item_id is None and created.previous_item_id is None
    assert created.item == beta.MessageItem(
        id=item_id,
        object="realtime.item",
        status="completed",
        role="user",
        content=(ev.InputAudioContent(transcript=None),),
    )
    start = h.start(effects)
    assert isinstance(response, beta.ResponseCreated) and response.response.id == start.response_id
    assert start.trigger == "vad" and start.items[-1].id == item_id
    assert len(start.input_audio[item_id]) == 1500 * 48  # 200 ms prefix .. 1700 ms, pcm16 at 24 kHz
    assert h.in_step()


def test_4_without_create_response_the_turn_stops_at_the_item() -> None:
    h = Harness()
    h.send({"type": "session.update", "session": {"turn_detection": {"create_response": False}}})
    h.new()
    effects = h.append_audio(tone(600) + silence(300))
    assert h.types() == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
    ]
    assert effects == []


def test_4_audio_clock_runs_over_the_whole_session_in_g711() -> None:
    h = Harness()
    h.send(
        {
            "type": "session.update",
            "session": {
                "input_audio_format": "g711_ulaw",
                "turn_detection": {"create_response": False},
            },
        }
    )
    h.new()
    h.append_audio(
        tone(400, rate=8000, fmt="g711_ulaw") + silence(300, rate=8000, fmt="g711_ulaw"), frame=160
    )
    h.append_audio(
        silence(500, rate=8000, fmt="g711_ulaw") + tone(400, rate=8000, fmt="g711_ulaw"), frame=160
    )
    starts = [e.audio_start_ms for e in h.new() if isinstance(e, ev.InputAudioBufferSpeechStarted)]
    # 8000 samples a second; the second turn is dated from the start of the session.
    assert starts == [0, 1200 - 300]


def test_4_transcription_follows_the_commit() -> None:
    h = Harness()
    h.send(
        {"type": "session.update", "session": {"input_audio_transcription": {"model": "whisper-1"}}}
    )
    h.new()
    effects = h.append_audio(tone(600) + silence(300))
    transcribe = next(e for e in effects if isinstance(e, Transcribe))
    assert transcribe.audio_format == "pcm16" and transcribe.settings.model == "whisper-1"
    h.server.complete_transcription(transcribe.item_id, "Hello.\n")
    h.flush()
    [done] = [
        e for e in h.new() if isinstance(e, ev.ConversationItemInputAudioTranscriptionCompleted)
    ]
    assert (done.item_id, done.content_index, done.transcript) == (
        transcribe.item_id,
        0,
        "Hello.\n",
    )
    assert done.usage == ev.TranscriptionUsageDuration(seconds=0.8)
    with pytest.raises(LocalProtocolError):  # exactly one result per item
        h.server.complete_transcription(transcribe.item_id, "again")
    item = h.client.state.item(transcribe.item_id)
    assert item is not None and item.content[0].transcript.value == "Hello.\n"  # type: ignore[union-attr]


# -- 5, 6, 7. manual commit, empty commit, clear ---------------------------------------------------------


def test_5_manual_commit_creates_the_item_and_no_response() -> None:
    h = Harness()
    h.no_vad()
    h.send(create())
    h.new()
    h.send(ev.InputAudioBufferAppend(audio=tone(150)))
    effects = h.send({"type": "input_audio_buffer.commit", "event_id": "c1"})
    committed, created = h.new()
    assert isinstance(committed, ev.InputAudioBufferCommitted) and isinstance(
        created, beta.ConversationItemCreated
    )
    assert committed.previous_item_id == created.previous_item_id == "item_1"
    assert created.item.id == committed.item_id
    assert effects == []  # no transcription configured, no response
    assert h.server.item_audio(committed.item_id) == tone(150)


@pytest.mark.parametrize("ms", [0, 99])
def test_6_a_commit_shorter_than_100_ms_is_an_error(ms: int) -> None:
    h = Harness()
    h.no_vad()
    if ms:
        h.send(ev.InputAudioBufferAppend(audio=tone(ms)))
    h.send({"type": "input_audio_buffer.commit", "event_id": "c1"})
    [error] = h.new()
    assert isinstance(error, ev.ErrorEvent)
    assert (error.error.code, error.error.event_id) == ("input_audio_buffer_commit_empty", "c1")
    assert f"buffer only has {ms:.2f}ms of audio" in error.error.message
    assert h.client.state.order == []


def test_7_clear_always_succeeds() -> None:
    h = Harness()
    h.no_vad()
    h.send({"type": "input_audio_buffer.clear"})
    h.send(ev.InputAudioBufferAppend(audio=tone(500)))
    h.send({"type": "input_audio_buffer.clear"})
    h.send({"type": "input_audio_buffer.commit", "event_id": "c"})
    assert h.types() == ["input_audio_buffer.cleared", "input_audio_buffer.cleared", "error"]


# -- 8. conversation.item.create ------------------------------------------------------------------------


def test_8_items_append_insert_and_go_first() -> None:
    h = Harness()
    h.new()
    h.send(create("one", event_id="e1"))
    h.send(
        {
            "type": "conversation.item.create",
            "item": {**USER_TEXT, "id": "simulated-user-1748018990549"},
        }
    )
    h.send(create("inserted", previous_item_id="item_1"))
    h.send(create("first", previous_item_id="root"))
    h.send(create("last", previous_item_id=None))
    created = [e for e in h.new() if isinstance(e, beta.ConversationItemCreated)]
    assert [e.previous_item_id for e in created] == [
        None,
        "item_1",
        "item_1",
        None,
        "simulated-user-1748018990549",
    ]
    assert created[1].item.id == "simulated-user-1748018990549"  # a client-chosen id is kept
    assert created[0].item == beta.MessageItem(
        id="item_1",
        object="realtime.item",
        status="completed",
        role="user",
        content=(ev.InputTextContent(text="one"),),
    )
    order = [item.id for item in h.client.state.items]
    # A client-chosen id uses no id of the server's own.
    assert order == ["item_3", "item_1", "item_2", "simulated-user-1748018990549", "item_4"]
    assert h.in_step()


@pytest.mark.parametrize(
    "message,code,param",
    [
        (create(previous_item_id="nope"), "invalid_value", "previous_item_id"),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "call_x", "output": "1"},
            },
            "invalid_value",
            "item.call_id",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "audio", "audio": "AAAA"}],
                },
            },
            "invalid_value",
            "item.content[0].type",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
            },
            "missing_required_parameter",
            "item.content[0].text",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "system",
                    "content": [{"type": "input_audio", "audio": "AAAA"}],
                },
            },
            "invalid_value",
            "item.content[0].type",
        ),
        (
            {"type": "conversation.item.create", "item": {"type": "message", "role": "user"}},
            "missing_required_parameter",
            "item.content",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call", "name": "f", "arguments": "{}"},
            },
            "missing_required_parameter",
            "item.call_id",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_audio", "audio": "AA=="}],
                },
            },
            "invalid_value",
            "item.content[0].audio",
        ),
    ],
)
def test_8_invalid_items_are_errors_and_nothing_is_inserted(
    message: dict[str, Any], code: str, param: str
) -> None:
    h = Harness()
    h.new()
    h.send({**message, "event_id": "bad"})
    [error] = h.new()
    assert isinstance(error, ev.ErrorEvent)
    assert (error.error.code, error.error.param, error.error.event_id) == (code, param, "bad")
    assert h.client.state.order == []


def test_8_duplicate_ids_are_refused() -> None:
    h = Harness()
    h.send({"type": "conversation.item.create", "item": {**USER_TEXT, "id": "mine"}})
    h.new()
    h.send(
        {"type": "conversation.item.create", "event_id": "d", "item": {**USER_TEXT, "id": "mine"}}
    )
    [error] = errors(h.new())
    assert (error.code, error.param) == ("invalid_value", "item.id")


def function_call_turn(h: Harness) -> tuple[str, str]:
    start = h.start(h.send({"type": "response.create"}))
    call_id = h.server.start_function_call(start.response_id, "get_weather")
    h.server.add_arguments(start.response_id, '{"city":"Paris"}')
    h.server.finish_response(start.response_id)
    h.flush()
    return start.response_id, call_id


def test_8_5_a_function_result_then_a_new_response() -> None:
    h = Harness()
    h.no_vad()
    _, call_id = function_call_turn(h)
    h.new()
    assert dict(h.client.state.pending_calls) == {call_id: "item_1"}
    effects = h.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call_id, "output": '{"t":21}'},
        }
    )
    assert effects == []  # the output alone triggers nothing
    [created] = h.new()
    assert (
        isinstance(created, beta.ConversationItemCreated) and created.previous_item_id == "item_1"
    )
    assert dict(h.client.state.pending_calls) == {}
    start = h.start(h.send({"type": "response.create"}))
    assert [i.type for i in start.items] == ["function_call", "function_call_output"]


# -- 9, 10. truncate and delete -------------------------------------------------------------------------


def audio_turn(h: Harness, ms: int = 2000) -> str:
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_transcript(start.response_id, "Hi there")
    h.server.add_audio(start.response_id, tone(ms))
    h.server.finish_response(start.response_id)
    h.flush()
    [item] = h.client.state.response_items(start.response_id)
    return item.id


def test_9_truncate_cuts_the_audio_and_drops_the_transcript() -> None:
    h = Harness()
    h.no_vad()
    item_id = audio_turn(h, 2000)
    h.new()
    h.send(
        {
            "type": "conversation.item.truncate",
            "event_id": "t",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 1500,
        }
    )
    [truncated] = h.new()
    assert truncated == ev.ConversationItemTruncated(
        event_id=truncated.event_id, item_id=item_id, content_index=0, audio_end_ms=1500
    )
    part = h.server.state.item(item_id).content[0]  # type: ignore[union-attr]
    assert (
        part.audio_ms == 1500
        and part.transcript.value == ""
        and part.generated_transcript == "Hi there"
    )  # type: ignore[union-attr]
    h.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 0,
        }
    )
    assert h.types() == ["conversation.item.truncated"]  # 0 is accepted
    assert h.in_step()


def test_9_truncate_errors() -> None:
    h = Harness()
    h.no_vad()
    item_id = audio_turn(h, 1000)
    h.send(create())
    h.new()
    h.send(
        {
            "type": "conversation.item.truncate",
            "event_id": "a",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 1500,
        }
    )
    h.send(
        {
            "type": "conversation.item.truncate",
            "event_id": "b",
            "item_id": "item_2",
            "content_index": 0,
            "audio_end_ms": 0,
        }
    )
    h.send(
        {
            "type": "conversation.item.truncate",
            "event_id": "c",
            "item_id": "ghost",
            "content_index": 0,
            "audio_end_ms": 0,
        }
    )
    h.send(
        {
            "type": "conversation.item.truncate",
            "event_id": "d",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": -5,
        }
    )
    found = errors(h.new())
    assert [(e.code, e.event_id) for e in found] == [
        ("invalid_value", "a"),
        ("unsupported_content_type", "b"),
        ("invalid_value", "c"),
        ("invalid_value", "d"),
    ]
    assert found[0].message == "Audio content of 1000ms is already shorter than 1500ms"
    assert found[1].message == "Only model output audio messages can be truncated"


def test_10_delete_and_its_error() -> None:
    h = Harness()
    h.send(create())
    h.new()
    h.send({"type": "conversation.item.delete", "event_id": "d1", "item_id": "item_1"})
    h.send({"type": "conversation.item.delete", "event_id": "d2", "item_id": "item_1"})
    deleted, error = h.new()
    assert isinstance(deleted, ev.ConversationItemDeleted) and deleted.item_id == "item_1"
    assert isinstance(error, ev.ErrorEvent) and error.error.event_id == "d2"
    assert h.client.state.order == []


def test_retrieve_returns_the_full_item_with_audio() -> None:
    h = Harness()
    h.no_vad()
    h.send(ev.InputAudioBufferAppend(audio=tone(200)))
    h.send({"type": "input_audio_buffer.commit"})
    item_id = audio_turn(h, 100)
    h.new()
    h.send({"type": "conversation.item.retrieve", "item_id": "item_1"})
    h.send({"type": "conversation.item.retrieve", "item_id": item_id})
    h.send({"type": "conversation.item.retrieve", "event_id": "r", "item_id": "ghost"})
    user, assistant, error = h.new()
    assert isinstance(user, beta.ConversationItemRetrieved) and isinstance(
        user.item, beta.MessageItem
    )
    assert user.item.content[0].audio == tone(200)  # type: ignore[index, union-attr]
    assert isinstance(assistant, beta.ConversationItemRetrieved)
    assert assistant.item.content[0].audio == tone(100)  # type: ignore[union-attr, index]
    assert isinstance(error, ev.ErrorEvent) and error.error.event_id == "r"


# -- 11. response lifecycles ---------------------------------------------------------------------------


def test_11_1_an_audio_response() -> None:
    h = Harness()
    h.no_vad()
    h.send(create())
    h.new()
    start = h.start(h.send({"type": "response.create", "event_id": "rc"}))
    assert start.event_id == "rc" and start.trigger == "client"
    for chunk in [
        TranscriptChunk("Hi"),
        AudioChunk(tone(100)),
        TranscriptChunk(" there"),
        AudioChunk(tone(100)),
        Finish(),
    ]:
        h.server.produce(start.response_id, chunk)
    h.flush()
    events = h.new()
    assert [e.type for e in events] == [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        "response.audio_transcript.delta",
        "response.audio.delta",
        "response.audio_transcript.delta",
        "response.audio.delta",
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    created, _, added, item_created, part_added, *_, transcript_done, part_done, item_done, done = (
        events
    )
    assert isinstance(created, beta.ResponseCreated)
    r = created.response
    assert (r.status, r.status_details, r.output, r.usage, r.conversation_id) == (
        "in_progress",
        None,
        (),
        None,
        "conv_1",
    )
    assert (
        r.modalities,
        r.voice,
        r.output_audio_format,
        r.temperature,
        r.max_output_tokens,
        r.metadata,
    ) == (("text", "audio"), "alloy", "pcm16", 0.8, "inf", None)
    assert isinstance(added, beta.ResponseOutputItemAdded) and isinstance(
        item_created, beta.ConversationItemCreated
    )
    item_id = added.item.id
    assert added.item == beta.MessageItem(
        id=item_id, object="realtime.item", status="in_progress", role="assistant", content=()
    )
    assert item_created.item == added.item and item_created.previous_item_id == "item_1"
    assert isinstance(
        part_added, ev.ResponseContentPartAdded
    ) and part_added.part == ev.AudioContent(transcript="")
    for e in events[4:12]:
        assert (e.response_id, e.item_id, e.output_index) == (start.response_id, item_id, 0)  # type: ignore[attr-defined]
    assert (
        isinstance(transcript_done, beta.ResponseAudioTranscriptDone)
        and transcript_done.transcript == "Hi there"
    )
    assert isinstance(part_done, ev.ResponseContentPartDone) and part_done.part == ev.AudioContent(
        transcript="Hi there"
    )
    final = beta.MessageItem(
        id=item_id,
        object="realtime.item",
        status="completed",
        role="assistant",
        content=(ev.AudioContent(transcript="Hi there"),),
    )
    assert isinstance(item_done, beta.ResponseOutputItemDone) and item_done.item == final
    assert isinstance(done, beta.ResponseDone)
    assert (done.response.status, done.response.status_details, done.response.output) == (
        "completed",
        None,
        (final,),
    )
    assert isinstance(done.response.usage, ev.Usage)
    assert h.in_step()


def test_11_2_a_text_only_response() -> None:
    h = Harness()
    h.send({"type": "session.update", "session": {"modalities": ["text"], "turn_detection": None}})
    h.new()
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_text(start.response_id, "Bon")
    h.server.add_text(start.response_id, "jour")
    with pytest.raises(LocalProtocolError):
        h.server.add_audio(start.response_id, tone(10))  # audio output is off
    h.server.finish_response(start.response_id)
    h.flush()
    events = h.new()
    assert [e.type for e in events] == [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        "response.text.delta",
        "response.text.delta",
        "response.text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    assert events[4].part == ev.TextContent(text="")  # type: ignore[attr-defined]
    assert events[7].text == "Bonjour"  # type: ignore[attr-defined]
    assert events[3].previous_item_id is None  # type: ignore[attr-defined]


def test_11_3_a_function_call_only_response() -> None:
    h = Harness()
    h.no_vad()
    h.new()
    start = h.start(h.send({"type": "response.create"}))
    h.server.produce(start.response_id, FunctionCallChunk(name="get_weather", call_id="call_K"))
    h.server.add_arguments(start.response_id, '{"')
    h.server.add_arguments(start.response_id, 'city":"Paris"}')
    h.server.finish_response(start.response_id)
    h.flush()
    events = h.new()
    assert [e.type for e in events] == [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.created",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
    ]
    added, done_args, item_done = events[2], events[6], events[7]
    assert added.item == ev.FunctionCallItem(  # type: ignore[attr-defined]
        id=added.item.id,
        object="realtime.item",
        status="in_progress",
        name="get_weather",
        call_id="call_K",
        arguments="",  # type: ignore[attr-defined]
    )
    assert all(e.call_id == "call_K" for e in events[4:7])  # type: ignore[attr-defined]
    assert (done_args.name, done_args.arguments) == ("get_weather", '{"city":"Paris"}')  # type: ignore[attr-defined]
    assert item_done.item.status == "completed" and item_done.item.arguments == '{"city":"Paris"}'  # type: ignore[attr-defined]


def test_11_4_a_message_then_a_function_call() -> None:
    h = Harness()
    h.no_vad()
    h.new()
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_transcript(start.response_id, "Let me check.")
    h.server.add_audio(start.response_id, tone(100))
    h.server.produce(start.response_id, FunctionCallChunk(name="get_weather", arguments="{}"))
    h.server.finish_response(start.response_id)
    h.flush()
    types = h.types()
    first_done = types.index("response.output_item.done")
    assert (
        types.index("response.output_item.added", first_done) > first_done
    )  # closed before the second opens
    done = h.log[-1]
    assert isinstance(done, beta.ResponseDone)
    assert [i.type for i in done.response.output] == ["message", "function_call"]
    created = [e for e in h.log if isinstance(e, beta.ConversationItemCreated)]
    assert created[-1].previous_item_id == done.response.output[0].id


@pytest.mark.parametrize(
    "status,details",
    [
        ("incomplete", ev.StatusDetails(type="incomplete", reason="max_output_tokens")),
        ("incomplete", ev.StatusDetails(type="incomplete", reason="content_filter")),
        (
            "failed",
            ev.StatusDetails(type="failed", error=ev.StatusError(type="server_error", code="boom")),
        ),
    ],
)
def test_11_5_incomplete_and_failed_responses(status: Any, details: ev.StatusDetails) -> None:
    h = Harness()
    h.no_vad()
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_transcript(start.response_id, "Cut sh")
    h.server.produce(start.response_id, Finish(status=status, details=details))
    h.flush()
    item_done, done = h.log[-2], h.log[-1]
    assert (
        isinstance(item_done, beta.ResponseOutputItemDone) and item_done.item.status == "incomplete"
    )
    assert isinstance(done, beta.ResponseDone)
    assert (done.response.status, done.response.status_details) == (status, details)
    with pytest.raises(LocalProtocolError):
        h.server.add_text(
            start.response_id, "late"
        )  # nothing for a response after its response.done


# -- 12. response.create variants ---------------------------------------------------------------------


def test_12_overrides_apply_to_one_response_only() -> None:
    h = Harness()
    h.no_vad()
    start = h.start(
        h.send(
            {
                "type": "response.create",
                "response": {
                    "modalities": ["text"],
                    "instructions": "Be French.",
                    "voice": "sage",
                    "output_audio_format": "g711_alaw",
                    "temperature": 0.7,
                    "max_response_output_tokens": 300,
                    "metadata": {"topic": "weather"},
                },
            }
        )
    )
    [created] = h.new()
    assert isinstance(created, beta.ResponseCreated)
    r = created.response
    assert (
        r.modalities,
        r.voice,
        r.output_audio_format,
        r.temperature,
        r.max_output_tokens,
        r.metadata,
    ) == (("text",), "sage", "g711_alaw", 0.7, 300, {"topic": "weather"})
    assert start.settings.instructions == "Be French."
    assert h.server.session.voice == "alloy"  # the session is unchanged, no session.updated
    h.server.finish_response(start.response_id)
    h.flush()
    assert h.log[-1].response.metadata == {"topic": "weather"}  # type: ignore[attr-defined]


def test_12_out_of_band_responses_stay_out_of_the_conversation() -> None:
    h = Harness()
    h.no_vad()
    h.send(create())
    h.new()
    conversation = h.start(h.send({"type": "response.create"}))
    oob = h.start(
        h.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "modalities": ["text"],
                    "metadata": {"kind": "summary"},
                },
            }
        )
    )
    h.server.add_text(oob.response_id, "summary")
    h.server.finish_response(oob.response_id)
    h.server.finish_response(conversation.response_id)
    h.flush()
    events = h.new()
    oob_created = next(
        e
        for e in events
        if isinstance(e, beta.ResponseCreated) and e.response.id == oob.response_id
    )
    assert oob_created.response.conversation_id is None
    oob_item = next(
        e
        for e in events
        if isinstance(e, beta.ResponseOutputItemAdded) and e.response_id == oob.response_id
    ).item
    assert not any(
        isinstance(e, beta.ConversationItemCreated) and e.item.id == oob_item.id for e in events
    )
    assert [i.id for i in h.client.state.items] == ["item_1"]
    assert h.in_step()


def test_12_input_replaces_the_prompt() -> None:
    h = Harness()
    h.no_vad()
    h.send(create("history"))
    start = h.start(h.send({"type": "response.create", "response": {"input": []}}))
    assert start.items == ()
    h.server.finish_response(start.response_id)
    start = h.start(
        h.send(
            {
                "type": "response.create",
                "response": {
                    "input": [
                        {"type": "item_reference", "id": "item_1"},
                        {
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": "extra"}],
                        },
                    ]
                },
            }
        )
    )
    assert [i.id for i in start.items][0] == "item_1"
    assert start.items[1].content[0].text.value == "extra"  # type: ignore[union-attr]
    h.server.finish_response(start.response_id)
    h.new()
    h.send(
        {
            "type": "response.create",
            "event_id": "x",
            "response": {"input": [{"type": "item_reference", "id": "ghost"}]},
        }
    )
    [error] = errors(h.new())
    assert (error.code, error.param, error.event_id) == (
        "invalid_value",
        "response.input[0].id",
        "x",
    )


def test_12_a_second_response_is_refused_while_one_is_active() -> None:
    h = Harness()
    h.no_vad()
    first = h.start(h.send({"type": "response.create"}))
    h.new()
    assert h.send({"type": "response.create", "event_id": "second"}) == []
    [error] = h.new()
    assert isinstance(error, ev.ErrorEvent)
    assert (error.error.code, error.error.event_id) == (
        "conversation_already_has_active_response",
        "second",
    )
    assert first.response_id in error.error.message
    h.server.finish_response(first.response_id)
    h.flush()
    assert h.types() == ["response.done"]  # no response.created for the refused one


def test_12_invalid_response_parameters() -> None:
    h = Harness()
    h.no_vad()
    h.new()
    h.send({"type": "response.create", "event_id": "t", "response": {"temperature": 0.1}})
    h.send(
        {
            "type": "response.create",
            "event_id": "m",
            "response": {"metadata": {f"k{i}": "v" for i in range(17)}},
        }
    )
    h.send({"type": "response.create", "event_id": "c", "response": {"conversation": "other"}})
    assert [(e.code, e.event_id) for e in errors(h.new())] == [
        ("invalid_value", "t"),
        ("invalid_value", "m"),
        ("invalid_value", "c"),
    ]


# -- 13. cancel ---------------------------------------------------------------------------------------


def test_13_1_cancel_while_streaming_closes_everything() -> None:
    h = Harness()
    h.no_vad()
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_transcript(start.response_id, "I was say")
    h.server.add_audio(start.response_id, tone(100))
    h.flush()
    h.new()
    effects = h.send({"type": "response.cancel", "event_id": "c"})
    assert effects == [CancelResponse(response_id=start.response_id, reason="client_cancelled")]
    events = h.new()
    assert [e.type for e in events] == [
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    assert events[1].transcript == "I was say"  # type: ignore[attr-defined]
    assert events[3].item.status == "incomplete"  # type: ignore[attr-defined]
    done = events[4]
    assert isinstance(done, beta.ResponseDone)
    assert done.response.status == "cancelled"
    assert done.response.status_details == ev.StatusDetails(
        type="cancelled", reason="client_cancelled"
    )
    assert not h.server.is_active(start.response_id)
    with pytest.raises(LocalProtocolError):
        h.server.add_audio(start.response_id, tone(10))


def test_13_cancel_by_id_and_cancel_with_nothing_in_progress() -> None:
    h = Harness()
    h.no_vad()
    h.new()
    h.send({"type": "response.cancel", "event_id": "c1"})
    start = h.start(h.send({"type": "response.create"}))
    h.send({"type": "response.cancel", "event_id": "c2", "response_id": "resp_other"})
    h.send({"type": "response.cancel", "event_id": "c3", "response_id": start.response_id})
    events = h.new()
    first, _, second, done = events
    assert isinstance(first, ev.ErrorEvent)
    assert (first.error.code, first.error.message, first.error.event_id) == (
        "response_cancel_not_active",
        "Cancellation failed: no active response found",
        "c1",
    )
    assert isinstance(second, ev.ErrorEvent) and second.error.event_id == "c2"
    assert isinstance(done, beta.ResponseDone) and done.response.status == "cancelled"


# -- 14. interruption -------------------------------------------------------------------------------------


def test_14_1_speech_interrupts_a_response_producing_output() -> None:
    h = Harness()
    h.send(create())
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_transcript(start.response_id, "Long answer")
    h.server.add_audio(start.response_id, tone(300))
    h.flush()
    h.new()
    effects = h.append_audio(tone(600) + silence(300))
    types = [e.type for e in h.new()]
    assert types[:6] == [
        "input_audio_buffer.speech_started",
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    assert types[6:] == [
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
        "response.created",
    ]
    assert CancelResponse(response_id=start.response_id, reason="turn_detected") in effects
    done = next(e for e in h.log if isinstance(e, beta.ResponseDone))
    assert done.response.status_details == ev.StatusDetails(
        type="cancelled", reason="turn_detected"
    )
    committed = next(e for e in h.log if isinstance(e, ev.InputAudioBufferCommitted))
    assert (
        committed.previous_item_id == h.client.state.response(start.response_id).output_item_ids[0]
    )  # type: ignore[union-attr]
    assert h.in_step()


def test_14_2_speech_before_any_output_cancels_with_zero_usage() -> None:
    h = Harness()
    h.send(create())
    start = h.start(h.send({"type": "response.create"}))
    h.new()
    h.append_audio(tone(100))
    started, done = h.new()[:2]
    assert isinstance(started, ev.InputAudioBufferSpeechStarted)
    assert isinstance(done, beta.ResponseDone) and done.response.id == start.response_id
    assert done.response.output == () and done.response.status == "cancelled"
    assert done.response.usage is not None and done.response.usage.total_tokens == 0
    assert not any(isinstance(e, ev.RateLimitsUpdated) for e in h.log)  # none before any output


def test_14_5_without_interrupt_response_the_response_goes_on() -> None:
    h = Harness()
    h.send({"type": "session.update", "session": {"turn_detection": {"interrupt_response": False}}})
    start = h.start(h.send({"type": "response.create"}))
    h.new()
    effects = h.append_audio(tone(600) + silence(300))
    types = h.types()
    assert (
        "response.done" not in types and "response.created" not in types
    )  # no second response either
    assert types[0] == "input_audio_buffer.speech_started"
    assert not any(isinstance(e, StartResponse) for e in effects)
    assert h.server.is_active(start.response_id)


# -- 15. transcription failure -----------------------------------------------------------------------------


def test_15_a_failed_transcription() -> None:
    h = Harness()
    h.send(
        {
            "type": "session.update",
            "session": {
                "input_audio_transcription": {"model": "whisper-1"},
                "turn_detection": None,
            },
        }
    )
    h.send(ev.InputAudioBufferAppend(audio=tone(200)))
    [transcribe] = h.send({"type": "input_audio_buffer.commit"})
    assert isinstance(transcribe, Transcribe)
    error = ev.TranscriptionError(
        type="transcription_error",
        code="audio_unintelligible",
        message="The audio could not be transcribed.",
    )
    h.new()
    h.server.fail_transcription(transcribe.item_id, error)
    h.flush()
    [failed] = h.new()
    assert failed == ev.ConversationItemInputAudioTranscriptionFailed(
        event_id=failed.event_id, item_id=transcribe.item_id, content_index=0, error=error
    )
    with pytest.raises(LocalProtocolError):
        h.server.complete_transcription(transcribe.item_id, "too late")


# -- 16, 17. errors and the end of a session -----------------------------------------------------------------


@pytest.mark.parametrize(
    "data,code,param",
    [
        (b"{oops", "invalid_event", None),
        (b"[1]", "invalid_event", None),
        (b'{"event_id":"x1"}', "invalid_event", "type"),
        (b'{"type":"response.explode","event_id":"x1"}', "invalid_value", "type"),
        (b'{"type":"output_audio_buffer.clear","event_id":"x1"}', "invalid_value", "type"),
        (
            b'{"type":"transcription_session.update","event_id":"x1","session":{}}',
            "invalid_value",
            "type",
        ),
    ],
)
def test_16_bad_messages_get_one_error_and_change_nothing(
    data: bytes, code: str, param: str | None
) -> None:
    h = Harness()
    h.send(create())
    before = h.server.state
    h.new()
    assert h.send(data) == []
    [error] = h.new()
    assert isinstance(error, ev.ErrorEvent)
    assert (error.error.type, error.error.code, error.error.param) == (
        "invalid_request_error",
        code,
        param,
    )
    assert error.error.event_id == ("x1" if b"x1" in data else None)
    assert h.server.state.items == before.items and h.server.state.order == before.order


def test_16_the_type_field_message_matches_the_service() -> None:
    h = Harness()
    h.new()
    h.send(b"{}")
    assert errors(h.new())[0].message == "The 'type' field is missing."


def test_17_expiry_ends_responses_then_reports_session_expired() -> None:
    h = Harness()
    h.no_vad()
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_text(start.response_id, "partial")
    effects = h.server.expire(30)
    h.flush()
    events = h.new()
    assert events[-1] == ev.ErrorEvent(
        event_id=events[-1].event_id,
        error=ev.ErrorDetails(
            type="invalid_request_error",
            code="session_expired",
            message="Your session hit the maximum duration of 30 minutes.",
            param=None,
            event_id=None,
        ),
    )
    assert isinstance(events[-2], beta.ResponseDone) and events[-2].response.status == "failed"
    assert effects == [CancelResponse(response_id=start.response_id, reason="shutdown")]
    assert h.server.ended and h.send(create()) == [] and h.new() == []


def test_shutdown_and_disconnect_close_every_open_response() -> None:
    for end in ("shutdown", "disconnect"):
        h = Harness()
        h.no_vad()
        conversation = h.start(h.send({"type": "response.create"}))
        oob = h.start(h.send({"type": "response.create", "response": {"conversation": "none"}}))
        h.server.add_text(conversation.response_id, "a")
        h.server.add_text(oob.response_id, "b")
        effects = getattr(h.server, end)()
        h.flush()
        assert {e.response_id for e in effects} == {conversation.response_id, oob.response_id}
        done = [e for e in h.log if isinstance(e, beta.ResponseDone)]
        assert len(done) == 2
        assert h.server.active_responses == ()
        assert h.in_step()


# -- transcription sessions -------------------------------------------------------------------------------------


def test_a_transcription_session() -> None:
    h = Harness(intent="transcription")
    [created] = h.new()
    assert isinstance(created, beta.TranscriptionSessionCreated)
    assert created.session.input_audio_transcription == beta.InputAudioTranscription(
        model="whisper-1", language=None, prompt=None
    )
    h.send(
        {
            "type": "transcription_session.update",
            "session": {
                "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "fr"}
            },
        }
    )
    [updated] = h.new()
    assert isinstance(updated, beta.TranscriptionSessionUpdated)
    assert updated.session.input_audio_transcription.language == "fr"  # type: ignore[union-attr]
    effects = h.append_audio(silence(100) + tone(500) + silence(300))
    assert [type(e) for e in effects] == [Transcribe]  # no response in a transcription session
    h.send({"type": "response.create", "event_id": "r"})
    h.send({"type": "session.update", "event_id": "s", "session": {}})
    assert [(e.code, e.event_id) for e in errors(h.new())] == [
        ("invalid_value", "r"),
        ("invalid_value", "s"),
    ]


# -- determinism -----------------------------------------------------------------------------------------------


def test_the_same_input_gives_byte_identical_output() -> None:
    def run() -> list[bytes]:
        h = Harness()
        h.send(create())
        start = h.start(h.append_audio(silence(300) + tone(700) + silence(400)))
        h.server.add_transcript(start.response_id, "Hello")
        h.server.add_audio(start.response_id, tone(200))
        h.send({"type": "response.create", "event_id": "x"})  # refused: one is active
        h.server.finish_response(start.response_id)
        h.flush()
        return h.raw

    first, second = run(), run()
    assert first == second and len(first) > 10
    assert json.loads(first[0])["type"] == "session.created"


def test_other_clients_rebuild_the_same_conversation_from_the_bytes() -> None:
    h = Harness()
    h.send(create())
    effects = h.append_audio(tone(600) + silence(300))
    start = h.start(effects)
    h.server.produce(start.response_id, TextChunk("x"))
    h.server.produce(start.response_id, Finish())
    h.flush()
    assert ServerSession.__name__ == "ServerSession"
    from rtcore import ClientSession

    other = ClientSession(dialect="beta")
    for message in h.raw:
        other.receive_message(message)
    assert other.state == h.server.state


def test_4_the_audio_clock_goes_on_across_a_format_change() -> None:
    h = Harness()
    h.send({"type": "session.update", "session": {"turn_detection": {"create_response": False}}})
    h.append_audio(silence(1000))  # one second of pcm16
    h.send({"type": "session.update", "session": {"input_audio_format": "g711_alaw"}})
    h.new()
    h.append_audio(
        silence(500, rate=8000, fmt="g711_alaw") + tone(400, rate=8000, fmt="g711_alaw"), frame=160
    )
    [started] = [e for e in h.new() if isinstance(e, ev.InputAudioBufferSpeechStarted)]
    assert started.audio_start_ms == 1500 - 300  # counted from the start of the session


def test_an_idle_timeout_commits_the_silence_and_starts_a_response() -> None:
    h = Harness()
    h.send({"type": "session.update", "session": {"turn_detection": {"idle_timeout_ms": 5000}}})
    h.new()
    assert h.append_audio(silence(4900)) == []
    effects = h.append_audio(silence(200))
    events = h.new()
    assert [e.type for e in events] == [
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.committed",
        "conversation.item.created",
        "response.created",
    ]
    triggered = events[0]
    assert isinstance(triggered, ev.InputAudioBufferTimeoutTriggered)
    assert (triggered.audio_start_ms, triggered.audio_end_ms) == (0, 5000)
    assert triggered.item_id == events[1].item_id  # type: ignore[attr-defined]
    start = h.start(effects)
    # No second timeout while the response runs, and the silence counts again from its end.
    h.append_audio(silence(6000))
    assert h.types() == []
    h.server.finish_response(start.response_id)
    h.flush()
    h.new()
    h.append_audio(silence(4000))
    assert h.types() == []
    h.append_audio(silence(1000))
    assert h.types()[0] == "input_audio_buffer.timeout_triggered"
    # Speech resets it too.
    h.append_audio(tone(600) + silence(300))
    assert "input_audio_buffer.timeout_triggered" not in h.types()
    assert h.in_step()


def test_idle_timeouts_are_checked_for_range() -> None:
    h = Harness()
    h.new()
    h.send(
        {
            "type": "session.update",
            "event_id": "i",
            "session": {"turn_detection": {"idle_timeout_ms": 1000}},
        }
    )
    [error] = errors(h.new())
    assert (error.code, error.param) == ("invalid_value", "session.turn_detection.idle_timeout_ms")


@pytest.mark.parametrize(
    ("minutes", "said"), [(30, "30 minutes"), (0.5, "30 seconds"), (1.5, "90 seconds")]
)
def test_17_the_expiry_message_says_the_real_duration(minutes: float, said: str) -> None:
    h = Harness()
    h.new()
    h.server.expire(minutes)
    h.flush()
    [error] = errors(h.new())
    assert error.message == f"Your session hit the maximum duration of {said}."
