"""Cassettes: a relayed session written down as ``rtcore.trace`` traces (``--record DIR``).

A cassette is a trace of the project's JSONL format (``rtcore.trace``): one
envelope a line, ``{"direction": "client" | "server", "time": seconds since
the session began, "event": {...}}``, so ``rtcore replay`` and
``rtcore.trace.replay`` read it as it is. ``NAME.jsonl`` holds the client's
side (between the client and the relay, in the client's dialect); when the
relay translates, ``NAME.upstream.jsonl`` holds the upstream's side too.

The first line of each file is a client-direction envelope whose event has
type ``rtcore.cassette``: the format's version, which side the file holds,
the two dialects, and the client's handshake without its credentials (no
``Authorization``, ``api-key`` or ``Cookie`` header, no key subprotocol). No
dialect has that event, so a replay passes over it.

Events are written as the engine encodes them. Secrets an event can carry -
a beta session's ``client_secret``, an MCP tool's ``authorization`` and
``headers`` - are replaced by ``"[redacted]"``. Lines go through Python's
file buffer: a write costs no system call until the buffer fills.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from rtcore.events import Dialect
from rtcore.trace import TraceRecord, format_record, read_trace
from rtcore.wire import HandshakeRequest

__all__ = ["CASSETTE_TYPE", "CASSETTE_VERSION", "Cassette", "Recorder", "read_cassette", "redact"]

CASSETTE_TYPE: Final = "rtcore.cassette"
CASSETTE_VERSION: Final = 1
REDACTED: Final = "[redacted]"
Side = Literal["down", "up"]
_SECRET_HEADERS: Final = frozenset({"authorization", "api-key", "cookie", "openai-api-key"})
_SECRET_MEMBERS: Final = frozenset({"client_secret", "authorization", "headers"})
_KEY_SUBPROTOCOL: Final = "openai-insecure-api-key."
# The events whose objects can hold a secret (sessions, tools): only these are scrubbed.
_SCRUBBED: Final = (b'"session.', b'"transcription_session.', b'"response.create"')


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in _SECRET_MEMBERS and v is not None else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def redact(message: bytes) -> bytes:
    """``message`` without the secrets an event can carry (see the module docstring)."""
    head = message[:64]
    if not any(marker in head for marker in _SCRUBBED):
        return message
    if not any(member.encode() in message for member in _SECRET_MEMBERS):
        return message
    return msgspec.json.encode(_scrub(msgspec.json.decode(message)))


def handshake_record(request: HandshakeRequest) -> dict[str, Any]:
    """The client's handshake as a cassette keeps it: everything but its credentials."""
    return {
        "path": request.path,
        "query": dict(request.query),
        "headers": [[n, v] for n, v in request.headers if n.lower() not in _SECRET_HEADERS],
        "subprotocols": [p for p in request.subprotocols if not p.startswith(_KEY_SUBPROTOCOL)],
    }


class Recorder:
    """Writes one session's cassette (one file, two when the relay translates); ``close()`` flushes."""

    def __init__(
        self,
        path: Path,
        request: HandshakeRequest,
        client: Dialect,
        upstream: Dialect,
        started: float,
    ) -> None:
        self.path = path
        self._started = started
        header = {
            "type": CASSETTE_TYPE,
            "version": CASSETTE_VERSION,
            "client_dialect": client,
            "upstream_dialect": upstream,
            "handshake": handshake_record(request),
        }
        self._files: dict[Side, Any] = {"down": path.open("wb")}
        if client != upstream:
            self._files["up"] = path.with_suffix(".upstream.jsonl").open("wb")
        for side, file in self._files.items():
            file.write(format_record("client", msgspec.json.encode({**header, "side": side}), 0.0))

    def write(
        self, now: float, sender: Literal["client", "server"], side: Side, message: bytes
    ) -> None:
        file = self._files.get(side)
        if file is not None:
            file.write(format_record(sender, redact(message), round(now - self._started, 6)))

    def close(self) -> None:
        for file in self._files.values():
            file.close()


class Entry(msgspec.Struct, frozen=True):
    """One recorded message: who sent it, when, its bytes, its ``type`` and its line."""

    dir: Literal["client", "server"]
    t: float
    raw: bytes
    type: str
    line: int


class Cassette(msgspec.Struct, frozen=True):
    """One cassette file read back: its header and its messages in order."""

    client_dialect: Dialect
    upstream_dialect: Dialect
    side: Side
    handshake: dict[str, Any]
    entries: tuple[Entry, ...]

    def messages(self, sender: Literal["client", "server"]) -> Iterator[Entry]:
        """The messages one party sent, in order."""
        return (e for e in self.entries if e.dir == sender)


class _Type(msgspec.Struct):
    type: str = ""


_type = msgspec.json.Decoder(_Type)


def _entry(record: TraceRecord) -> Entry:
    try:
        kind = _type.decode(record.data).type
    except (msgspec.DecodeError, msgspec.ValidationError):
        kind = ""
    return Entry(record.direction, record.time or 0.0, record.data, kind, record.line)


def read_cassette(path: Path) -> Cassette:
    """Read one cassette file; raises ``ValueError`` when it does not start with a cassette header."""
    with path.open("rb") as lines:
        records = list(read_trace(lines))
    header: Any = None
    if records and records[0].direction == "client":
        try:
            header = msgspec.json.decode(records[0].data)
        except msgspec.DecodeError:
            header = None
    if not isinstance(header, dict) or header.get("type") != CASSETTE_TYPE:
        raise ValueError(f"{path}:1: not a cassette header (an {CASSETTE_TYPE} event)")
    if header.get("version") != CASSETTE_VERSION:
        raise ValueError(
            f"{path}:1: cassette version {header.get('version')}, not {CASSETTE_VERSION}"
        )
    try:
        fields = msgspec.convert(header, _Header)
    except msgspec.ValidationError as err:
        raise ValueError(f"{path}:1: a cassette header with {err}") from None
    return Cassette(
        client_dialect=fields.client_dialect,
        upstream_dialect=fields.upstream_dialect,
        side=fields.side,
        handshake=fields.handshake,
        entries=tuple(_entry(r) for r in records[1:]),
    )


class _Header(msgspec.Struct):
    """The members of a cassette's header line that playing it back needs."""

    client_dialect: Dialect
    upstream_dialect: Dialect
    side: Side
    handshake: dict[str, Any] = {}
