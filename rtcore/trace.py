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

A trace does not say its dialect; ``detect_dialect`` tells it from the event
names (GA's ``response.output_*``, ``conversation.item.added`` / ``.done``,
MCP events and typed sessions; beta's ``response.text.*``, ``response.audio*``,
``conversation.item.created``, ``transcription_session.*`` and flat sessions).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

import msgspec

from . import events as ev
from .client import ClientSession
from .events import beta, ga

__all__ = ["TraceRecord", "read_trace", "format_record", "replay", "detect_dialect"]

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


_GA_ONLY = frozenset(ga.SERVER_EVENTS) - frozenset(beta.SERVER_EVENTS)
_BETA_ONLY = (frozenset(beta.SERVER_EVENTS) - frozenset(ga.SERVER_EVENTS)) | {
    "conversation.item.created"
}


class _Peek(msgspec.Struct):
    type: str = ""
    session: dict[str, object] | None = None


_peek = msgspec.json.Decoder(_Peek)


def detect_dialect(records: Iterable[TraceRecord]) -> ev.Dialect:
    """The dialect a trace's server events are in, from their names (GA when nothing tells)."""
    for record in records:
        if record.direction != "server":
            continue
        try:
            peek = _peek.decode(record.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        if peek.type in _GA_ONLY:
            return "ga"
        if peek.type in _BETA_ONLY:
            return "beta"
        if peek.type in ("session.created", "session.updated") and peek.session is not None:
            return "ga" if "type" in peek.session else "beta"
    return ev.DEFAULT_DIALECT


def replay(
    records: Iterable[TraceRecord],
    session: ClientSession | None = None,
    *,
    dialect: ev.Dialect | Literal["auto"] = "auto",
) -> ClientSession:
    """Feed a trace to a ``ClientSession`` (a new one unless given) and return it.

    Server messages go through ``receive_message``; client events are noted as
    sent, so that errors naming them are linked, without being checked again.
    A new session speaks ``dialect``; ``"auto"`` detects it (``detect_dialect``).
    """
    if session is None:
        if dialect == "auto":
            records = list(records)
            dialect = detect_dialect(records)
        session = ClientSession(dialect=dialect)
    client = session
    for record in records:
        if record.direction == "server":
            client.receive_message(record.data)
            continue
        try:
            sent = ev.decode_client_event(record.data, dialect=client.dialect)
        except ev.DecodeError:
            continue
        if not isinstance(sent, ev.UnknownEvent):
            client.note_sent(sent)
    return client
