"""Cassettes: a relayed session written down, one JSON object a line (``--record DIR``).

The first line is the header: the format's version, the two dialects, and
the client's handshake without its credentials (no ``Authorization``,
``api-key`` or ``Cookie`` header, no key subprotocol). Every following line
is one message::

    {"t": 0.0123, "dir": "client", "side": "down", "message": {...}}

``t`` is the time since the session began, in seconds; ``dir`` says who sent
it (``client`` or ``server``); ``side`` is ``down`` between the client and the
relay (in the client's dialect) and ``up`` between the relay and the upstream
(in the upstream's; written only when the two differ). ``message`` is the
event as the engine encodes it. Secrets a message can carry - a beta
session's ``client_secret``, an MCP tool's ``authorization`` and ``headers`` -
are replaced by ``"[redacted]"``.

Lines go through Python's file buffer: a write costs no system call until the
buffer fills, so recording does not stall the event loop on every event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from rtcore.events import Dialect
from rtcore.wire import HandshakeRequest

__all__ = ["CASSETTE_VERSION", "Cassette", "Recorder", "read_cassette"]

CASSETTE_VERSION: Final = 1
REDACTED: Final = "[redacted]"
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
    """Writes one session's cassette; ``close()`` flushes it."""

    def __init__(
        self,
        path: Path,
        request: HandshakeRequest,
        client: Dialect,
        upstream: Dialect,
        started: float,
    ) -> None:
        self.path = path
        self._file = path.open("wb")
        self._started = started
        self.both_sides = client != upstream
        header = {
            "cassette": CASSETTE_VERSION,
            "client_dialect": client,
            "upstream_dialect": upstream,
            "handshake": handshake_record(request),
        }
        self._file.write(msgspec.json.encode(header) + b"\n")

    def write(
        self,
        now: float,
        sender: Literal["client", "server"],
        side: Literal["down", "up"],
        message: bytes,
    ) -> None:
        if side == "up" and not self.both_sides:
            return
        prefix = b'{"t":%.6f,"dir":"%s","side":"%s","message":' % (
            now - self._started,
            sender.encode(),
            side.encode(),
        )
        self._file.write(prefix + redact(message) + b"}\n")

    def close(self) -> None:
        self._file.close()


class Entry(msgspec.Struct, frozen=True):
    """One recorded message."""

    t: float
    dir: Literal["client", "server"]
    side: Literal["down", "up"]
    message: dict[str, Any]

    @property
    def raw(self) -> bytes:
        return msgspec.json.encode(self.message)


class Cassette(msgspec.Struct, frozen=True):
    """A cassette read back: its header members and its messages in order."""

    client_dialect: Dialect
    upstream_dialect: Dialect
    handshake: dict[str, Any]
    entries: tuple[Entry, ...]

    def messages(
        self, sender: Literal["client", "server"], side: Literal["down", "up"] = "down"
    ) -> Iterator[Entry]:
        """The messages one party sent on one side, in order."""
        return (e for e in self.entries if e.dir == sender and e.side == side)


def read_cassette(path: Path) -> Cassette:
    """Read a cassette; raises ``ValueError`` naming the line that is not one."""
    lines = path.read_bytes().splitlines()
    if not lines:
        raise ValueError(f"{path}: empty, not a cassette")
    try:
        header = json.loads(lines[0])
    except ValueError as err:
        raise ValueError(f"{path}:1: not a cassette header ({err})") from None
    if not isinstance(header, dict) or header.get("cassette") != CASSETTE_VERSION:
        raise ValueError(f"{path}:1: not a cassette header (version {CASSETTE_VERSION})")
    entries = []
    for number, line in enumerate(lines[1:], 2):
        try:
            entries.append(msgspec.json.decode(line, type=Entry))
        except msgspec.DecodeError as err:
            raise ValueError(f"{path}:{number}: not a cassette line ({err})") from None
    return Cassette(
        client_dialect=header["client_dialect"],
        upstream_dialect=header["upstream_dialect"],
        handshake=header["handshake"],
        entries=tuple(entries),
    )
