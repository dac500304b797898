"""Property tests of the codec: generated events round-trip, mutations never crash it."""

from __future__ import annotations

import functools
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from examples import client_message, server_message
from rtcore import events as _events
from rtcore.events import DecodeError, beta, encode_event
from rtcore.testing import events_of, mutations

# These tests speak the beta dialect (docs/protocol/beta.md); tests/test_events_ga.py covers GA.
decode_server_event = functools.partial(_events.decode_server_event, dialect="beta")
decode_client_event = functools.partial(_events.decode_client_event, dialect="beta")

SERVER_CLASSES = sorted(beta.SERVER_EVENTS.values(), key=lambda c: c.type)
CLIENT_CLASSES = sorted(beta.CLIENT_EVENTS.values(), key=lambda c: c.type)
ANY_SERVER_EVENT = st.one_of([events_of(c) for c in SERVER_CLASSES])
ANY_CLIENT_EVENT = st.one_of([events_of(c) for c in CLIENT_CLASSES])


@given(ANY_SERVER_EVENT)
def test_generated_server_events_survive_encode_decode(event: Any) -> None:
    data = encode_event(event)
    assert decode_server_event(data, strict=True) == event
    assert encode_event(decode_server_event(data)) == data


@given(ANY_CLIENT_EVENT)
def test_generated_client_events_survive_encode_decode(event: Any) -> None:
    data = encode_event(event)
    assert decode_client_event(data, strict=True) == event
    assert encode_event(decode_client_event(data)) == data


# -- mutations of valid payloads ---------------------------------------------------------


SERVER_MESSAGES = [server_message(t) for t in beta.SERVER_EVENTS]
CLIENT_MESSAGES = [client_message(t) for t in beta.CLIENT_EVENTS]


@given(mutations(SERVER_MESSAGES), st.booleans())
def test_mutated_server_messages_decode_or_raise_decode_error(message: Any, strict: bool) -> None:
    data = json.dumps(message)
    try:
        event = decode_server_event(data, strict=strict)
    except DecodeError as err:
        assert str(err)
        return
    # Whatever decodes re-encodes to the same JSON (unknown fields included).
    assert json.loads(encode_event(event)) == json.loads(data)


@given(mutations(CLIENT_MESSAGES), st.booleans())
def test_mutated_client_messages_decode_or_raise_decode_error(message: Any, strict: bool) -> None:
    data = json.dumps(message)
    try:
        event = decode_client_event(data, strict=strict)
    except DecodeError:
        return
    assert json.loads(encode_event(event)) == json.loads(data)


@given(st.binary(max_size=200))
def test_random_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    for decode in (decode_server_event, decode_client_event):
        try:
            decode(data)
        except DecodeError:
            pass


@given(st.sampled_from(SERVER_MESSAGES + CLIENT_MESSAGES), st.data())
def test_truncated_messages_raise_decode_error(
    message: dict[str, Any], data: st.DataObject
) -> None:
    raw = json.dumps(message).encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    for decode in (decode_server_event, decode_client_event):
        try:
            decode(raw[:cut])
        except DecodeError:
            continue
        raise AssertionError("a truncated message decoded")
