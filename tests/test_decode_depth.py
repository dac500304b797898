"""The nesting limit after the typed decode: schemas bound the depth, free-form JSON is measured."""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from rtcore import events as ev
from rtcore.events import DecodeError, beta, ga
from rtcore.events.codec import _schema_depth

LIMIT = ev.MAX_NESTING_DEPTH


def _schema(depth: int) -> str:
    out = "1"
    for _ in range(depth):
        out = '{"k":' + out + "}"
    return out


SESSION_UPDATED = {
    # Levels: message, session, tools, tool, parameters; the schema below starts at 6.
    "ga": '{"type":"session.updated","event_id":"e","session":{"type":"realtime",'
    '"tools":[{"type":"function","name":"f","parameters":{"x":%s}}]}}',
    "beta": '{"type":"session.updated","event_id":"e","session":{"id":"s",'
    '"tools":[{"type":"function","name":"f","parameters":{"x":%s}}]}}',
}


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_free_form_json_in_a_small_server_event_counts(dialect: str) -> None:
    template = SESSION_UPDATED[dialect]
    fits = template % _schema(LIMIT - 5)
    assert len(fits) < 2048  # the ordinary path, not the audio one
    event = ev.decode_server_event(fits, dialect=dialect, strict=True)  # type: ignore[arg-type]
    assert event.type == "session.updated"
    for data in (template % _schema(LIMIT - 4), (template % _schema(LIMIT - 4)).encode()):
        with pytest.raises(DecodeError, match="nested deeper"):
            ev.decode_server_event(data, dialect=dialect)  # type: ignore[arg-type]


class Free(msgspec.Struct, forbid_unknown_fields=True):
    x: Any


class Skips(msgspec.Struct):
    x: int


class Loop(msgspec.Struct, forbid_unknown_fields=True):
    next: Loop | None = None


class Fixed(msgspec.Struct, forbid_unknown_fields=True):
    x: list[dict[str, int]]
    y: str | None = None


def test_what_bounds_a_schema() -> None:
    assert _schema_depth(mi.type_info(Free)) is None
    assert _schema_depth(mi.type_info(dict[str, Any])) is None
    assert _schema_depth(mi.type_info(Skips)) is None  # skipped unknown fields nest freely
    assert _schema_depth(mi.type_info(Loop)) is None
    assert _schema_depth(mi.type_info(Fixed)) == 3


def test_the_events_measured_after_decoding_are_those_holding_free_form_json() -> None:
    from rtcore.events.codec import _SERVER_TABLES

    assert beta.SessionUpdated in _SERVER_TABLES["beta"].free_form
    assert ga.SessionUpdated in _SERVER_TABLES["ga"].free_form
    # The streaming events every response is made of are bounded by their schema.
    assert beta.ResponseAudioTranscriptDelta not in _SERVER_TABLES["beta"].free_form
    assert ga.ResponseOutputAudioDelta not in _SERVER_TABLES["ga"].free_form
