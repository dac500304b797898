"""The GA audio fast path gives exactly what the JSON parser gives (GA dialect).

Large ``response.output_audio.delta`` and ``input_audio_buffer.append``
messages are decoded by cutting the base64 payload out with a byte search
(``rtcore.events.codec``). As tests/test_audio_fast_path.py does for beta,
each message is decoded as written (the fast path when it can) and with a
space after the audio field's colon (the same JSON, never the fast path): both
must give the same event, the same unknown fields, or the same error. The
tolerated beta name ``response.audio.delta`` in a GA stream matches the marker
but not the class, and must come out the same too.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from ga_examples import BIG, audio_bytes, audio_message, ga_server_message
from hypothesis import given
from hypothesis import strategies as st

from rtcore import events as ev
from rtcore.events import DecodeError, ga, unknown_fields

Decoder = Callable[..., Any]
DECODERS: dict[str, Decoder] = {
    "server": functools.partial(ev.decode_server_event, dialect="ga"),
    "client": functools.partial(ev.decode_client_event, dialect="ga"),
}

FAST_KINDS = [
    pytest.param("server", "response.output_audio.delta", "delta", id="output_audio"),
    pytest.param("client", "input_audio_buffer.append", "audio", id="append"),
    # The tolerated beta name: the marker matches, the shell is another class.
    pytest.param("server", "response.audio.delta", "delta", id="beta-name"),
]


def _reference(message: bytes | str, field: str) -> bytes | str:
    if isinstance(message, bytes):
        return message.replace(f'"{field}":"'.encode(), f'"{field}": "'.encode())
    return message.replace(f'"{field}":"', f'"{field}": "')


def _outcome(decode: Decoder, message: bytes | str, strict: bool) -> Any:
    try:
        event = decode(message, strict=strict)
    except DecodeError as err:
        return ("error", err.code, err.path, err.event_id, re.sub(r"byte \d+", "byte N", str(err)))
    return ("event", type(event), event, unknown_fields(event))


def _check(role: str, field: str, message: str) -> Any:
    assert len(message) >= 2048, "too short to take the fast path"
    decode = DECODERS[role]
    for strict in (False, True):
        for form in (message, message.encode()):
            assert _outcome(decode, form, strict) == _outcome(
                decode, _reference(form, field), strict
            )
    return _outcome(decode, message, False)


@pytest.mark.parametrize(("role", "event_type", "field"), FAST_KINDS)
@given(
    audio=st.integers(min_value=1600, max_value=6000).map(lambda n: audio_bytes(n - n % 2)),
    last=st.booleans(),
)
def test_valid_ga_audio_messages_agree(
    role: str, event_type: str, field: str, audio: bytes, last: bool
) -> None:
    text = audio_message(event_type, field, base64.b64encode(audio).decode(), last=last)
    outcome = _check(role, field, text)
    assert outcome[0] == "event" and outcome[1].type == event_type
    assert getattr(outcome[2], field) == audio and outcome[3] == {}


@pytest.mark.parametrize(("role", "event_type", "field"), FAST_KINDS)
@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("escaped slash", lambda t, f: audio_message(t, f, BIG.replace("/", "\\/"))),
        ("bad base64 character", lambda t, f: audio_message(t, f, BIG[:100] + "*" + BIG[101:])),
        ("bad padding", lambda t, f: audio_message(t, f, BIG + "=")),
        ("unknown field", lambda t, f: audio_message(t, f, BIG, extra_field={"x": 1})),
        ("nested marker first", lambda t, f: audio_message(t, f, BIG, a={f: "QUJD"})),
        ("nested marker last", lambda t, f: audio_message(t, f, BIG, last=False, z={f: "QUJD"})),
        ("duplicate field", lambda t, f: audio_message(t, f, BIG)[:-1] + f',"{f}":"QUJD"' + "}"),
        ("non-ASCII elsewhere", lambda t, f: audio_message(t, f, BIG, event_id="évènement")),
        ("wrong field type", lambda t, f: audio_message(t, f, BIG, event_id=7)),
        ("null obfuscation", lambda t, f: audio_message(t, f, BIG, obfuscation=None)),
        ("marker in obfuscation", lambda t, f: audio_message(t, f, BIG, obfuscation=f'"{f}":"')),
        ("not JSON after the payload", lambda t, f: audio_message(t, f, BIG)[:-1] + ",}"),
        ("unterminated payload", lambda t, f: audio_message(t, f, BIG)[:-2]),
    ],
)
def test_unusual_ga_audio_messages_agree(
    role: str, event_type: str, field: str, name: str, make: Callable[[str, str], str]
) -> None:
    _check(role, field, make(event_type, field))


def test_the_ga_fast_path_builds_a_fresh_event_each_time() -> None:
    message = audio_message("response.output_audio.delta", "delta", BIG).encode()
    first, second = DECODERS["server"](message), DECODERS["server"](message)
    assert isinstance(first, ga.ResponseOutputAudioDelta)
    assert first == second and first is not second
    assert first.delta == audio_bytes(3000) and first.obfuscation == "x9Qz"


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_any_bytes_like_input_decodes_as_bytes(dialect: str) -> None:
    audio = audio_message("response.output_audio.delta", "delta", BIG).encode()
    beta_audio = audio.replace(b"output_audio", b"audio")
    messages = [audio, beta_audio, json.dumps(ga_server_message("response.done")).encode()]
    messages += [b'{"type":"input_audio_buffer.cleared","event_id":"e"}', b"{bad", b"[" * 100]
    for data in messages:
        decode = functools.partial(ev.decode_server_event, dialect=dialect)
        expected = _outcome(decode, data, False)
        for form in (bytearray(data), memoryview(data)):
            assert _outcome(decode, form, False) == expected
    for wrong in (None, 5, [b"{}"]):
        with pytest.raises(TypeError):
            ev.decode_client_event(wrong, dialect=dialect)  # type: ignore[arg-type]


@pytest.mark.parametrize("event_type", ["response.output_audio.delta", "response.audio.delta"])
def test_both_audio_delta_names_take_the_ga_fast_path(event_type: str) -> None:
    # A GA stream may carry the beta name (docs/protocol/choices.md#beta-names-in-ga); it must not
    # cost a second parse. The fast path is internal: ask it directly (None means "not taken").
    from rtcore.events import codec

    message = audio_message(event_type, "delta", BIG).encode()
    event = codec._SERVER_TABLES["ga"].bulk(message)
    assert event is not None and event.type == event_type
    assert event == DECODERS["server"](_reference(message, "delta"))
    assert (
        codec._CLIENT_TABLES["ga"].bulk(
            audio_message("input_audio_buffer.append", "audio", BIG).encode()
        )
        is not None
    )
