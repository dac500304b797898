"""The codec's audio fast path gives exactly what the JSON parser gives.

Large ``response.audio.delta`` and ``input_audio_buffer.append`` messages are
decoded by cutting the base64 payload out with a byte search (see
``rtcore.events.codec``). Each test decodes a message twice: as written, which
takes the fast path when it can, and with a space after the field's colon,
which is the same JSON but never matches the fast path's marker. Both must
give the same event, the same unknown fields, or the same error.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcore import events as _events
from rtcore import events as ev
from rtcore.events import DecodeError, beta, unknown_fields

# These tests speak the beta dialect (docs/protocol/beta.md); tests/test_events_ga.py covers GA.
decode_server_event = functools.partial(_events.decode_server_event, dialect="beta")
decode_client_event = functools.partial(_events.decode_client_event, dialect="beta")

Decoder = Callable[..., Any]

# (decoder, event type, name of the base64 field)
KINDS = [
    pytest.param(decode_server_event, "response.audio.delta", "delta", id="server"),
    pytest.param(decode_client_event, "input_audio_buffer.append", "audio", id="client"),
]

SERVER_FIELDS = {
    "event_id": "event_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
}
CLIENT_FIELDS = {"event_id": "evt_1"}


def _message(event_type: str, field: str, b64: str, *, last: bool = True, **extra: Any) -> str:
    fields = SERVER_FIELDS if event_type == "response.audio.delta" else CLIENT_FIELDS
    body = {"type": event_type, **fields, **extra}
    head = json.dumps(body, separators=(",", ":"))[:-1]  # without the closing brace
    audio = f'"{field}":"{b64}"'
    if last:
        return head + "," + audio + "}"
    return (
        '{"type":"'
        + event_type
        + '",'
        + audio
        + ","
        + head[len('{"type":"') + len(event_type) + 2 :]
        + "}"
    )


def _reference(message: bytes | str, field: str) -> bytes | str:
    """The same message, written so that the fast path's marker never matches."""
    if isinstance(message, bytes):
        return message.replace(f'"{field}":"'.encode(), f'"{field}": "'.encode())
    return message.replace(f'"{field}":"', f'"{field}": "')


def _outcome(decode: Decoder, message: bytes | str, strict: bool) -> Any:
    try:
        event = decode(message, strict=strict)
    except DecodeError as err:
        # The reference message is one byte longer, so positions are left out.
        return ("error", err.code, err.path, err.event_id, re.sub(r"byte \d+", "byte N", str(err)))
    return ("event", event, unknown_fields(event))


def _check(decode: Decoder, field: str, message: bytes | str) -> Any:
    assert len(message) >= 2048, "too short to take the fast path"
    for strict in (False, True):
        for form in (message, message.encode() if isinstance(message, str) else message):
            fast = _outcome(decode, form, strict)
            assert fast == _outcome(decode, _reference(form, field), strict)
    return _outcome(decode, message, False)


def _audio(n: int) -> bytes:
    return bytes((i * 7 + 3) % 256 for i in range(n))


@pytest.mark.parametrize(("decode", "event_type", "field"), KINDS)
@given(
    audio=st.integers(min_value=1600, max_value=6000).map(lambda n: _audio(n - n % 2)),
    last=st.booleans(),
    as_bytes=st.booleans(),
)
def test_valid_audio_messages_agree(
    decode: Decoder, event_type: str, field: str, audio: bytes, last: bool, as_bytes: bool
) -> None:
    text = _message(event_type, field, base64.b64encode(audio).decode(), last=last)
    kind, event, unknown = _check(decode, field, text.encode() if as_bytes else text)
    assert kind == "event"
    assert getattr(event, field) == audio
    assert unknown == {}


BIG = base64.b64encode(_audio(3000)).decode()


@pytest.mark.parametrize(("decode", "event_type", "field"), KINDS)
@pytest.mark.parametrize(
    ("name", "make"),
    [
        # JSON may escape "/" as "\/": the payload then holds a backslash.
        ("escaped slash", lambda t, f: _message(t, f, BIG.replace("/", "\\/"))),
        ("bad base64 character", lambda t, f: _message(t, f, BIG[:100] + "*" + BIG[101:])),
        ("bad padding", lambda t, f: _message(t, f, BIG + "=")),
        ("unknown field", lambda t, f: _message(t, f, BIG, extra_field={"x": 1})),
        # The marker first appears inside an unknown nested object.
        ("nested marker first", lambda t, f: _message(t, f, BIG, last=True, a={f: "QUJD"})),
        ("nested marker last", lambda t, f: _message(t, f, BIG, last=False, z={f: "QUJD"})),
        ("duplicate field", lambda t, f: _message(t, f, BIG)[:-1] + f',"{f}":"QUJD"' + "}"),
        ("non-ASCII elsewhere", lambda t, f: _message(t, f, BIG, event_id="évènement")),
        ("wrong field type", lambda t, f: _message(t, f, BIG, event_id=7)),
        ("not JSON after the payload", lambda t, f: _message(t, f, BIG)[:-1] + ",}"),
        ("unterminated payload", lambda t, f: _message(t, f, BIG)[:-2]),
    ],
)
def test_unusual_audio_messages_agree(
    decode: Decoder, event_type: str, field: str, name: str, make: Callable[[str, str], str]
) -> None:
    _check(decode, field, make(event_type, field))


def test_audio_marker_in_another_event_is_left_to_the_parser() -> None:
    # Another event type carrying a field of the same name: the fast path builds
    # the wrong class from the shell and hands the message back.
    message = json.dumps({"type": "input_audio_buffer.clear", "event_id": "e", "audio": BIG})
    kind, event, unknown = _check(decode_client_event, "audio", message)
    assert kind == "event" and isinstance(event, ev.InputAudioBufferClear)
    assert unknown == {"audio": BIG}


def test_lone_surrogate_in_text_input_is_an_error_not_a_crash() -> None:
    message = _message("response.audio.delta", "delta", BIG, event_id="\ud800")
    with pytest.raises(DecodeError):
        decode_server_event(message)


def test_fast_path_fills_the_field_of_the_event_it_built() -> None:
    message = _message("response.audio.delta", "delta", BIG).encode()
    first = decode_server_event(message)
    second = decode_server_event(message)
    assert isinstance(first, beta.ResponseAudioDelta)
    assert first == second and first is not second
    assert first.delta == _audio(3000)


def test_audio_inside_a_created_item_is_left_to_the_parser() -> None:
    # conversation.item.create with input audio: the marker matches the nested
    # content's field, and the shell decodes to another class.
    message = json.dumps(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": BIG}],
            },
        },
        separators=(",", ":"),
    )
    kind, event, _ = _check(decode_client_event, "audio", message)
    assert kind == "event" and isinstance(event, beta.ConversationItemCreate)
    content = event.item.content
    assert not isinstance(content, ev.UnsetType)
    assert content[0].audio == _audio(3000)
