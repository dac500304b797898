"""The lean decode of ``input_audio_buffer.append`` gives exactly what the full decode gives.

The client events' ``decode`` (``rtcore.events.bulk``) cuts an
append's base64 string out of the message and lets msgspec read only the
rest. Each test here decodes a message with it and with the full decode it
sits in front of (a client table made without the lean path): the same event
and unknown fields, or the same error, for well-formed appends written every
way a client may write them, for byte-level mutations of them, and for other
events that carry an ``audio`` member. A spy checks that the lean path really
answers the common forms, so the comparisons compare two different paths.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcore.events import DecodeError, beta, codec, ga, unknown_fields
from rtcore.events.bulk import lean_appends
from rtcore.events.client import InputAudioBufferAppend

DIALECTS = ("ga", "beta")


def _full(dialect: str) -> Any:
    """The full decode of the dialect's client events, without the lean path in front."""
    types = ga.CLIENT_EVENT_TYPES if dialect == "ga" else beta.CLIENT_EVENT_TYPES
    table = codec._Table(codec._classes(types), ((InputAudioBufferAppend,), "audio"))
    return table.decode


FULL = {dialect: _full(dialect) for dialect in DIALECTS}
LEAN = {dialect: codec._CLIENT_TABLES[dialect].decode for dialect in DIALECTS}


def _outcome(decode: Any, message: bytes | str, strict: bool, max_values: int | None) -> Any:
    try:
        event = decode(message, strict, max_values)
    except DecodeError as err:
        return ("error", str(err), err.code, err.path, err.event_id, err.event_type)
    return ("event", type(event), event, unknown_fields(event))


def _agree(dialect: str, message: bytes | str, max_values: int | None = None) -> Any:
    for strict in (False, True):
        lean = _outcome(LEAN[dialect], message, strict, max_values)
        assert lean == _outcome(FULL[dialect], message, strict, max_values), message[:200]
    return _outcome(LEAN[dialect], message, True, max_values)


def _append(
    audio: bytes, *, event_id: str | None, first: bool, colon: str, comma: str, ascii_only: bool
) -> str:
    members = [f'"type"{colon}"input_audio_buffer.append"']
    if event_id is not None:
        members.append(f'"event_id"{colon}{json.dumps(event_id, ensure_ascii=ascii_only)}')
    audio_member = f'"audio"{colon}"{base64.b64encode(audio).decode()}"'
    members.insert(0 if first else len(members), audio_member)
    return "{" + comma.join(members) + "}"


SPACING = st.sampled_from(["", " ", "\n", " \t "])
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def appends(draw: st.DrawFn) -> str:
    # Half of them in the two layouts clients use (compact, and ``json.dumps``'s), which
    # the lean path recognises by their first and last bytes.
    layout = draw(st.sampled_from(["compact", "dumps", "any"]))
    if layout == "any":
        colon = draw(SPACING) + ":" + draw(SPACING)
        comma = draw(SPACING) + "," + draw(SPACING)
    else:
        colon, comma = (":", ",") if layout == "compact" else (": ", ", ")
    return _append(
        draw(st.binary(max_size=3000)),
        event_id=draw(
            st.none() | st.none() | TEXT | st.sampled_from(["e", "evt_1", 'a"audio"', "\\"])
        ),
        first=draw(st.booleans()),
        colon=colon,
        comma=comma,
        ascii_only=draw(st.booleans()),
    )


MAX_VALUES = st.sampled_from([None, 1, 2, 3, 64, 65536])


@settings(max_examples=300)
@given(
    dialect=st.sampled_from(DIALECTS),
    message=appends(),
    as_bytes=st.booleans(),
    max_values=MAX_VALUES,
)
def test_appends_agree(dialect: str, message: str, as_bytes: bool, max_values: int | None) -> None:
    _agree(dialect, message.encode() if as_bytes else message, max_values)


EDITS = st.sampled_from(list(b'"\\:,{}[] aA=/+\x00\xff\xc3') + [ord("\n")])


@settings(max_examples=500)
@given(
    dialect=st.sampled_from(DIALECTS),
    message=appends(),
    edits=st.lists(
        st.tuples(st.sampled_from(["put", "insert", "delete"]), st.floats(0, 1), EDITS),
        min_size=1,
        max_size=4,
    ),
    max_values=MAX_VALUES,
)
def test_mutated_appends_agree(
    dialect: str, message: str, edits: list[tuple[str, float, int]], max_values: int | None
) -> None:
    data = bytearray(message.encode())
    for how, where, byte in edits:
        # Most edits land in the envelope (the first 60 bytes), where the lean path reads.
        limit = min(len(data), 60) if where < 0.7 else len(data)
        at = int(where * limit) % max(1, len(data))
        if how == "put" and data:
            data[at] = byte
        elif how == "insert":
            data.insert(at, byte)
        elif data:
            del data[at]
    _agree(dialect, bytes(data), max_values)


AUDIO = base64.b64encode(bytes(range(256)) * 4).decode()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "message",
    [
        # A later member of the same name: JSON's last one wins, in both paths.
        '{"type":"input_audio_buffer.append","audio":"' + AUDIO + '","audio":""}',
        '{"type":"input_audio_buffer.append","audio":"","audio":"' + AUDIO + '"}',
        # A key spelled with an escape is the same key.
        '{"type":"input_audio_buffer.append","audio":"' + AUDIO + '","\\u0061udio":""}',
        '{"type":"input_audio_buffer.append","\\u0061udio":"QUJD","audio":"' + AUDIO + '"}',
        # JSON may escape "/" as "\/": the payload then holds a backslash.
        '{"type":"input_audio_buffer.append","audio":"' + AUDIO.replace("/", "\\/") + '"}',
        '{"type":"input_audio_buffer.append","audio":"' + AUDIO + '=","event_id":"e"}',
        '{"type":"input_audio_buffer.append","audio":"' + AUDIO + '","x":1}',
        '{"type":"input_audio_buffer.append","x":{"audio":"QUJD"},"audio":"' + AUDIO + '"}',
        '{"type":"input_audio_buffer.append","audio" :"' + AUDIO + '"}',
        '{"type":"input_audio_buffer.append","audio":"' + AUDIO + '"',
        '{"type":"input_audio_buffer.append","audio":"' + AUDIO,
        '{"type":"input_audio_buffer.clear","audio":"' + AUDIO + '"}',
        '{"type":"input_audio_buffer.append","event_id":7,"audio":"' + AUDIO + '"}',
        '{"type":"input_audio_buffer.append","event_id":"audio","audio":"' + AUDIO + '"}',
        '{"type":"input_audio_buffer.append","event_id":"\ud800","audio":"' + AUDIO + '"}',
        '{"type":"conversation.item.create","item":{"type":"message","role":"user","content":'
        '[{"type":"input_audio","audio":"' + AUDIO + '"}]}}',
        '{"type":"input_audio_buffer.append","audio":""}',
        '{"type":"input_audio_buffer.append"}',
        # The quote before the closing brace opens the audio's string: it never closes.
        '{"type":"input_audio_buffer.append","audio":"}',
        '{"type": "input_audio_buffer.append", "audio": "}',
        '{"type":"input_audio_buffer.append","event_id":"e","audio":"}',
    ],
    ids=lambda message: message.replace(AUDIO, "...").replace(AUDIO.replace("/", "\\/"), "...")[
        :80
    ],
)
def test_unusual_messages_agree(dialect: str, message: str) -> None:
    _agree(dialect, message)
    if "\ud800" not in message:
        _agree(dialect, message.encode())


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("colon", [":", ": "])
@pytest.mark.parametrize("event_id", [None, "evt_1"])
def test_the_lean_path_answers_plain_appends(
    dialect: str, colon: str, event_id: str | None
) -> None:
    calls: list[Any] = []

    def full(data: Any, strict: bool = False, max_values: int | None = None) -> Any:
        calls.append(data)
        return FULL[dialect](data, strict, max_values)

    decode = lean_appends(full, codec._CLIENT_TABLES[dialect].decoder, codec._MARKER_WITHIN)
    audio = bytes(range(256)) * 4
    for first in (True, False):
        message = _append(
            audio, event_id=event_id, first=first, colon=colon, comma=", ", ascii_only=True
        )
        for data in (message, message.encode()):
            event = decode(data, True, 65536)
            assert isinstance(event, InputAudioBufferAppend)
            assert event.audio == audio
            assert event == FULL[dialect](data, True)
    assert calls == []
    # What it leaves to the full decode reaches it.
    decode(b'{"type":"input_audio_buffer.commit"}', True)
    decode(b'{"type":"input_audio_buffer.append","audio":"QUJD","x":1}', False)
    assert len(calls) == 2


BASE64ISH = st.text(st.sampled_from('ABCDQRwxyz0189+/=-_ \n*"\\é'), max_size=40)


@settings(max_examples=500)
@given(
    dialect=st.sampled_from(DIALECTS),
    audio=BASE64ISH,
    layout=st.sampled_from(
        [
            '{"type":"input_audio_buffer.append","audio":"%s"}',
            '{"type": "input_audio_buffer.append", "audio": "%s"}',
            '{"audio":"%s","type":"input_audio_buffer.append","event_id":"e"}',
        ]
    ),
)
def test_base64_strings_agree(dialect: str, audio: str, layout: str) -> None:
    # The SIMD decoder must accept exactly what msgspec accepts, with the same bytes:
    # padding, stray characters, URL-safe letters, whitespace, escapes.
    _agree(dialect, (layout % audio).encode())


def _without_fast_paths(table: Any) -> Any:
    """The decode of ``table``'s vocabulary with no audio fast path: msgspec, then the slow path."""
    plain = codec._Table(tuple(table.by_tag.values()), ((InputAudioBufferAppend,), "audio"))
    plain.bulk = lambda data: None
    return plain._fast_path()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("size", [20, 3000])
@pytest.mark.parametrize("second", ['""', '"AAAA"', "null"])
@pytest.mark.parametrize("where", ["after", "escaped after", "escaped before"])
def test_a_second_audio_key_is_read_as_json_reads_it(
    dialect: str, size: int, second: str, where: str
) -> None:
    # JSON's last value wins. The audio fast paths (the lean append decode, and the
    # shell decode of large audio in both directions) once took the first string.
    audio = base64.b64encode(bytes(range(256)) * (size // 256 + 1)).decode()
    kind = "response.output_audio.delta" if dialect == "ga" else "response.audio.delta"
    ids = '"event_id":"e","response_id":"r","item_id":"i","output_index":0,"content_index":0'
    cases = []
    for table, head, field, spelled in (
        (
            codec._CLIENT_TABLES[dialect],
            '"type":"input_audio_buffer.append"',
            "audio",
            "au\\u0064io",
        ),
        (codec._SERVER_TABLES[dialect], f'"type":"{kind}",{ids}', "delta", "d\\u0065lta"),
    ):
        if where == "after":
            members = f'"{field}":"{audio}","{field}":{second}'
        elif where == "escaped after":
            members = f'"{field}":"{audio}","{spelled}":{second}'
        else:
            members = f'"{spelled}":{second},"{field}":"{audio}"'
        cases.append((table, f"{{{head},{members}}}".encode(), field))
    for table, message, field in cases:
        try:
            expected: Any = getattr(_without_fast_paths(table)(message), field)
        except DecodeError:
            expected = DecodeError
        try:
            got: Any = getattr(table.decode(message), field)
        except DecodeError:
            got = DecodeError
        assert got == expected, (message[:120], size)
        if where == "escaped before":
            assert len(got) >= size  # the plain key comes last: its audio is the value
        elif second == '""':
            assert got == b""
