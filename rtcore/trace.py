"""Recorded sessions: a JSONL trace format, and replaying a trace into a ``ClientSession``.

A trace holds one event per line. A line is either a bare server event
(``{"type": "response.text.delta", ...}``) - the shape of the recorded traffic
in the tests - or an envelope that also says who sent it and when::

    {"direction": "server", "time": 1.25, "event": {"type": "session.created", ...}}
    {"direction": "client", "time": 1.31, "event": {"type": "session.update", ...}}

``time`` (seconds since the start of the recording) is optional. Blank lines
are skipped. A line that is not valid JSON is still passed on as a server
message, so that replaying a damaged trace records protocol errors instead of
stopping.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

import msgspec

from . import events as ev
from .client import ClientSession

__all__ = ["TraceRecord", "read_trace", "format_record", "replay"]

Direction = Literal["server", "client"]


class TraceRecord(msgspec.Struct, frozen=True):
    """One line of a trace: who sent the message, when (if known), and its bytes."""

    direction: Direction
    data: bytes
    time: float | None = None
    line: int = 0


class _Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    direction: Direction
    event: msgspec.Raw
    time: float | None = None


_envelope = msgspec.json.Decoder(_Envelope)
_encoder = msgspec.json.Encoder()


def read_trace(lines: Iterable[bytes | str]) -> Iterator[TraceRecord]:
    """The records of a trace, in order."""
    for number, raw in enumerate(lines, start=1):
        line = raw.encode() if isinstance(raw, str) else raw
        if not line.strip():
            continue
        try:
            envelope = _envelope.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            yield TraceRecord("server", line.strip(), None, number)
            continue
        yield TraceRecord(envelope.direction, bytes(envelope.event), envelope.time, number)


def format_record(direction: Direction, data: bytes, time: float | None = None) -> bytes:
    """One trace line (with its newline) for a message of ``data`` bytes."""
    envelope = _Envelope(direction=direction, event=msgspec.Raw(data), time=time)
    return _encoder.encode(envelope) + b"\n"


def replay(records: Iterable[TraceRecord], session: ClientSession | None = None) -> ClientSession:
    """Feed a trace to a ``ClientSession`` (a new one unless given) and return it.

    Server messages go through ``receive_message``; client events are noted as
    sent, so that errors naming them are linked, without being checked again.
    """
    client = session if session is not None else ClientSession()
    for record in records:
        if record.direction == "server":
            client.receive_message(record.data)
            continue
        try:
            sent = ev.decode_client_event(record.data)
        except ev.DecodeError:
            continue
        if not isinstance(sent, ev.UnknownEvent):
            client.note_sent(sent)
    return client
