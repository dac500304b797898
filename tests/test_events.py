"""The vocabulary and its codec: every event type, real traffic, and bad input."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from conftest import CAPTURES
from examples import CLIENT_EXAMPLES, SERVER_EXAMPLES, client_message, server_message

from rtcore import events as _events
from rtcore import events as ev
from rtcore.events import DecodeError, beta, encode_event

# These tests speak the beta dialect (docs/protocol/beta.md); tests/test_events_ga.py covers GA.
decode_server_event = functools.partial(_events.decode_server_event, dialect="beta")
decode_client_event = functools.partial(_events.decode_client_event, dialect="beta")


def camel(event_type: str) -> str:
    if event_type == "error":
        return "ErrorEvent"
    return "".join(w[:1].upper() + w[1:] for w in event_type.replace(".", "_").split("_"))


def roundtrip(message: dict[str, Any], decode: Any) -> Any:
    data = json.dumps(message).encode()
    event = decode(data)
    assert json.loads(encode_event(event)) == message
    return event


# -- coverage of the vocabulary ------------------------------------------------

BETA_CLIENT_EVENTS = {
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
}
BETA_SERVER_EVENTS = {
    "error",
    "session.created",
    "session.updated",
    "conversation.created",
    "conversation.item.created",
    "conversation.item.input_audio_transcription.completed",
    "conversation.item.input_audio_transcription.failed",
    "conversation.item.truncated",
    "conversation.item.deleted",
    "input_audio_buffer.committed",
    "input_audio_buffer.cleared",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "response.created",
    "response.done",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.text.delta",
    "response.text.done",
    "response.audio_transcript.delta",
    "response.audio_transcript.done",
    "response.audio.delta",
    "response.audio.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "rate_limits.updated",
}
LATER_ADDITIONS = {
    "conversation.item.retrieve",
    "conversation.item.retrieved",
    "conversation.item.input_audio_transcription.delta",
    "input_audio_buffer.timeout_triggered",
    "output_audio_buffer.started",
    "output_audio_buffer.stopped",
    "output_audio_buffer.cleared",
    "output_audio_buffer.clear",
    "transcription_session.update",
    "transcription_session.updated",
}


def test_the_vocabulary_has_every_event_of_the_protocol() -> None:
    assert len(BETA_CLIENT_EVENTS) == 9 and len(BETA_SERVER_EVENTS) == 28
    known = set(beta.CLIENT_EVENTS) | set(beta.SERVER_EVENTS)
    assert BETA_CLIENT_EVENTS <= set(beta.CLIENT_EVENTS)
    assert BETA_SERVER_EVENTS <= set(beta.SERVER_EVENTS)
    assert LATER_ADDITIONS <= known


def test_class_names_are_the_type_in_camel_case() -> None:
    for table in (beta.CLIENT_EVENTS, beta.SERVER_EVENTS):
        for event_type, cls in table.items():
            assert cls.__name__ == camel(event_type)
            assert cls.type == event_type
            assert getattr(beta, cls.__name__) is cls


def test_every_event_type_has_a_full_example() -> None:
    assert set(SERVER_EXAMPLES) == set(beta.SERVER_EVENTS)
    assert set(CLIENT_EXAMPLES) == set(beta.CLIENT_EVENTS)


@pytest.mark.parametrize("event_type", sorted(SERVER_EXAMPLES))
def test_server_example_decodes_to_its_class_and_round_trips(event_type: str) -> None:
    event = roundtrip(server_message(event_type), decode_server_event)
    assert type(event) is beta.SERVER_EVENTS[event_type]
    assert event.type == event_type
    assert ev.unknown_fields(event) == {}
    # Strict decoding accepts every field of the full example: none is unknown.
    assert decode_server_event(json.dumps(server_message(event_type)), strict=True) == event


@pytest.mark.parametrize("event_type", sorted(CLIENT_EXAMPLES))
def test_client_example_decodes_to_its_class_and_round_trips(event_type: str) -> None:
    event = roundtrip(client_message(event_type), decode_client_event)
    assert type(event) is beta.CLIENT_EVENTS[event_type]
    assert decode_client_event(json.dumps(client_message(event_type)), strict=True) == event


@pytest.mark.parametrize("event_type", sorted(CLIENT_EXAMPLES))
def test_client_events_need_no_event_id(event_type: str) -> None:
    message = client_message(event_type)
    del message["event_id"]
    event = roundtrip(message, decode_client_event)
    assert event.event_id is ev.UNSET


def test_server_events_require_an_event_id() -> None:
    message = server_message("response.text.delta")
    del message["event_id"]
    with pytest.raises(DecodeError) as info:
        decode_server_event(json.dumps(message))
    assert info.value.path == "event_id"
    assert info.value.code == "missing_required_parameter"


def test_typed_values_are_what_the_json_says() -> None:
    event = decode_server_event(json.dumps(server_message("response.done")))
    assert isinstance(event, beta.ResponseDone)
    response = event.response
    assert response.status == "failed"
    assert isinstance(response.status_details, ev.StatusDetails)
    assert isinstance(response.status_details.error, ev.StatusError)
    assert response.status_details.error.code == "boom"
    message, call = response.output
    assert isinstance(message, beta.MessageItem) and isinstance(call, ev.FunctionCallItem)
    assert isinstance(message.content, tuple)
    assert isinstance(message.content[0], ev.AudioContent)
    assert message.content[0].audio is ev.UNSET
    assert call.call_id == "call_4k2lq9fG7xP0aB1c"
    assert isinstance(response.usage, ev.Usage)
    assert isinstance(response.usage.input_token_details, ev.InputTokenDetails)
    assert response.usage.input_token_details.cached_tokens == 64

    audio = decode_server_event(json.dumps(server_message("response.audio.delta")))
    assert isinstance(audio, beta.ResponseAudioDelta)
    assert audio.delta == bytes(range(256)) * 2  # base64 on the wire, bytes in Python


def test_both_named_tool_choice_shapes_decode() -> None:
    flat = decode_client_event(json.dumps(client_message("session.update")))
    assert isinstance(flat, beta.SessionUpdate)
    assert isinstance(flat.session.tool_choice, beta.ToolChoiceFunction)
    assert flat.session.tool_choice.function_name == "get_weather"
    nested = decode_client_event(json.dumps(client_message("response.create")))
    assert isinstance(nested, beta.ResponseCreate)
    assert not isinstance(nested.response, ev.UnsetType)
    assert isinstance(nested.response.tool_choice, beta.ToolChoiceFunction)
    assert nested.response.tool_choice.function_name == "get_weather"


# -- absent versus null ----------------------------------------------------------


def test_absent_and_null_stay_different() -> None:
    off = decode_client_event(b'{"type":"session.update","session":{"turn_detection":null}}')
    unchanged = decode_client_event(b'{"type":"session.update","session":{"voice":"ash"}}')
    assert isinstance(off, beta.SessionUpdate) and isinstance(unchanged, beta.SessionUpdate)
    assert off.session.turn_detection is None
    assert unchanged.session.turn_detection is ev.UNSET
    assert encode_event(off) == b'{"type":"session.update","session":{"turn_detection":null}}'
    assert encode_event(unchanged) == b'{"type":"session.update","session":{"voice":"ash"}}'


def test_previous_item_id_null_absent_and_set_round_trip() -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    for extra in ({}, {"previous_item_id": None}, {"previous_item_id": "root"}):
        roundtrip({"type": "conversation.item.create", "item": item, **extra}, decode_client_event)


# -- real traffic and the seed documents -------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["banyan-landing__log_1.server-events.jsonl", "banyan-landing__log_2.server-events.jsonl"],
)
def test_recorded_traffic_decodes_losslessly(name: str) -> None:
    lines = (CAPTURES / name).read_bytes().splitlines()
    assert lines
    for line in lines:
        event = decode_server_event(line, strict=True)
        assert not isinstance(event, ev.UnknownEvent), line
        assert json.loads(encode_event(event)) == json.loads(line)


SEED_EXAMPLES = [
    # The API reference's example of conversation.item.input_audio_transcription.failed
    # (docs/protocol/errors.md#transcription-failed)
    (
        decode_server_event,
        {
            "event_id": "event_2324",
            "type": "conversation.item.input_audio_transcription.failed",
            "item_id": "msg_003",
            "content_index": 0,
            "error": {
                "type": "transcription_error",
                "code": "audio_unintelligible",
                "message": "The audio could not be transcribed.",
                "param": None,
            },
        },
    ),
    # The API reference's example of conversation.item.create
    # (docs/protocol/ga.md#conversation-item-create)
    (
        decode_client_event,
        {
            "event_id": "event_345",
            "type": "conversation.item.create",
            "previous_item_id": None,
            "item": {
                "id": "msg_001",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello, how are you?"}],
            },
        },
    ),
    # The API reference's example of response.function_call_arguments.done
    # (docs/protocol/beta.md#server-events)
    (
        decode_server_event,
        {
            "event_id": "event_5556",
            "type": "response.function_call_arguments.done",
            "response_id": "resp_002",
            "item_id": "fc_001",
            "output_index": 0,
            "call_id": "call_001",
            "arguments": '{"location": "San Francisco"}',
        },
    ),
]


@pytest.mark.parametrize("decode,message", SEED_EXAMPLES)
def test_seed_examples_decode(decode: Any, message: dict[str, Any]) -> None:
    event = roundtrip(message, decode)
    assert event.type == message["type"]


# -- unknown events and unknown fields ---------------------------------------------


def test_unknown_event_type_keeps_the_payload() -> None:
    data = b'{"type":"mcp_list_tools.in_progress","event_id":"event_1","item_id":"x"}'
    event = decode_server_event(data)
    assert isinstance(event, ev.UnknownEvent)
    assert event.type == "mcp_list_tools.in_progress"
    assert event.event_id == "event_1"
    assert event.payload == {
        "type": "mcp_list_tools.in_progress",
        "event_id": "event_1",
        "item_id": "x",
    }
    assert json.loads(encode_event(event)) == json.loads(data)


def test_a_client_event_type_is_unknown_to_the_server_event_decoder() -> None:
    event = decode_server_event(b'{"type":"response.create"}')
    assert isinstance(event, ev.UnknownEvent)


def test_unknown_fields_are_kept_aside_and_written_back() -> None:
    message = server_message("response.done")
    message["future_top"] = {"x": 1}
    message["response"]["output"][1]["future_nested"] = [1, 2]
    message["response"]["usage"]["input_token_details"]["future_deep"] = "y"
    event = decode_server_event(json.dumps(message))
    assert isinstance(event, beta.ResponseDone)
    assert ev.unknown_fields(event) == {
        "future_top": {"x": 1},
        "response.output[1].future_nested": [1, 2],
        "response.usage.input_token_details.future_deep": "y",
    }
    assert json.loads(encode_event(event)) == message
    # The typed value is the value without them.
    assert event == decode_server_event(json.dumps(server_message("response.done")))


def test_strict_mode_reports_unknown_fields_with_the_dotted_path() -> None:
    message = client_message("session.update")
    message["session"]["tools"][0]["strict"] = True
    with pytest.raises(DecodeError) as info:
        decode_client_event(json.dumps(message), strict=True)
    err = info.value
    assert (err.code, err.path, err.event_id) == (
        "unknown_parameter",
        "session.tools[0].strict",
        "evt_client_1",
    )
    assert str(err) == "session.tools[0].strict: unknown field"


def test_the_withdrawn_enabled_flag_is_an_unknown_parameter() -> None:
    # docs/protocol/beta.md#input-audio-transcription: the live server rejects
    # input_audio_transcription.enabled.
    data = b'{"type":"session.update","session":{"input_audio_transcription":{"enabled":true}}}'
    with pytest.raises(DecodeError) as info:
        decode_client_event(data, strict=True)
    assert info.value.path == "session.input_audio_transcription.enabled"
    assert info.value.code == "unknown_parameter"


# -- bad input ---------------------------------------------------------------------

BAD_INPUTS: list[tuple[bytes | str, str | None, str, str]] = [
    # (message, path, code, words the message must contain)
    (b"{not json", None, "invalid_event", "invalid JSON"),
    (b"", None, "invalid_event", "invalid JSON"),
    (b'{"type":"input_audio_buffer.commit"} trailing', None, "invalid_event", "invalid JSON"),
    (b"[1, 2]", None, "invalid_event", "expected a JSON object, got array"),
    (b'"session.update"', None, "invalid_event", "expected a JSON object, got string"),
    (b"\xff\xfe{}", None, "invalid_event", "invalid UTF-8"),
    (
        b'{"type":"input_audio_buffer.append","audio":"\xc3("}',
        None,
        "invalid_event",
        "invalid UTF-8",
    ),
    (
        '{"type":"input_audio_buffer.commit","event_id":"\ud800"}',
        None,
        "invalid_event",
        "invalid text",
    ),
    (b'{"event_id":"e1"}', "type", "invalid_event", "missing required field"),
    (b'{"type":42}', "type", "invalid_type", "expected string, got integer"),
    (
        b'{"type":"session.update","event_id":"e1","session":{"turn_detection":{"threshold":"high"}}}',
        "session.turn_detection.threshold",
        "invalid_type",
        "expected number, got string",
    ),
    (
        b'{"type":"session.update","session":{"input_audio_format":"mp3"}}',
        "session.input_audio_format",
        "invalid_value",
        "invalid value 'mp3'; supported values are: 'g711_alaw'",
    ),
    (
        b'{"type":"session.update","session":{"modalities":["text","video"]}}',
        "session.modalities[1]",
        "invalid_value",
        "'video'",
    ),
    (
        b'{"type":"session.update","session":{"input_audio_format":"mp3"}}',
        "session.input_audio_format",
        "invalid_value",
        "'g711_ulaw'",
    ),
    (
        b'{"type":"session.update"}',
        "session",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        b'{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_text"}]}}',
        "item.content[0].text",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        b'{"type":"conversation.item.create","item":{"type":"note"}}',
        "item.type",
        "invalid_value",
        "supported values are: 'message', 'function_call', 'function_call_output'",
    ),
    (
        b'{"type":"conversation.item.truncate","item_id":"i","content_index":0,"audio_end_ms":1.5}',
        "audio_end_ms",
        "invalid_type",
        "expected integer, got number",
    ),
    (
        b'{"type":"input_audio_buffer.append","audio":"***"}',
        "audio",
        "invalid_value",
        "invalid base64",
    ),
    (
        b'{"type":"input_audio_buffer.append","audio":null}',
        "audio",
        "invalid_type",
        "expected string, got null",
    ),
    (
        b'{"type":"response.create","response":{"max_response_output_tokens":"lots"}}',
        "response.max_response_output_tokens",
        "invalid_value",
        "supported values are: 'inf'",
    ),
    (
        b'{"type":"response.cancel","event_id":7}',
        "event_id",
        "invalid_type",
        "expected string, got integer",
    ),
]


@pytest.mark.parametrize("data,path,code,words", BAD_INPUTS)
def test_bad_client_input_raises_decode_error_naming_the_path(
    data: bytes | str, path: str | None, code: str, words: str
) -> None:
    with pytest.raises(DecodeError) as info:
        decode_client_event(data)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.path, err.code) == (path, code)
    assert words in str(err)
    if path is not None:
        assert str(err).startswith(f"{path}: ")


def test_decode_error_carries_the_event_id_when_readable() -> None:
    with pytest.raises(DecodeError) as info:
        decode_client_event(b'{"type":"session.update","event_id":"evt_9","session":{"voice":1}}')
    assert info.value.event_id == "evt_9"
    assert info.value.event_type == "session.update"
    with pytest.raises(DecodeError) as info:
        decode_client_event(b'{"type":"session.update","event_id":9,"session":{}}')
    assert info.value.event_id is None


def test_bad_server_input_raises_decode_error() -> None:
    data = json.dumps({**server_message("response.audio.delta"), "delta": "not base64!"})
    with pytest.raises(DecodeError) as info:
        decode_server_event(data)
    assert info.value.path == "delta"
    assert info.value.event_id == "event_000000000000000000001"


# -- building events in Python ------------------------------------------------------


def test_events_are_pleasant_to_build_and_frozen() -> None:
    create = beta.ConversationItemCreate(
        item=beta.MessageItem(role="user", content=(ev.InputTextContent(text="Hi"),))
    )
    assert encode_event(create) == (
        b'{"type":"conversation.item.create","item":'
        b'{"type":"message","role":"user","content":[{"type":"input_text","text":"Hi"}]}}'
    )
    assert encode_event(beta.ResponseCreate()) == b'{"type":"response.create"}'
    append = ev.InputAudioBufferAppend(audio=b"\x00\x01", event_id="a1")
    assert (
        encode_event(append)
        == b'{"type":"input_audio_buffer.append","event_id":"a1","audio":"AAE="}'
    )
    with pytest.raises(AttributeError):
        create.previous_item_id = "x"  # type: ignore[misc]
    assert repr(beta.ResponseCreate()) == "ResponseCreate()"
