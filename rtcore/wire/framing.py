"""WebSocket messaging shared by both roles, on top of wsproto.

The rules of the protocol's transport (EVENTS.md section 1, RFC 6455) that this
module enforces once for both roles:

* Every message is one text frame (or a fragmented text message) holding one
  JSON object. Binary messages are not part of the protocol: the connection
  is closed with 1003.
* Messages larger than ``max_message_size`` bytes (default 16 MiB) close the
  connection with 1009, as soon as the limit is crossed, without buffering
  the rest.
* Invalid UTF-8 closes with 1007 and framing violations with 1002 (wsproto
  detects them; this module answers them).
* A ping is answered with a pong; a close frame from the peer is answered with
  the same code, completing the close handshake.

Replies are never sent behind the caller's back: they are queued as bytes
for ``data_to_send()``. After this side has failed a connection (1002, 1003,
1007, 1009) it reads nothing more from the peer; the caller should send the
queued close frame and close the transport.
"""

from __future__ import annotations

from collections.abc import Iterator

from wsproto import WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from .events import ConnectionClosed, PongReceived

__all__ = ["MessageSocket", "DEFAULT_MAX_MESSAGE_SIZE"]

DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024


class MessageSocket:
    """Text messages in and out of a wsproto connection, with the limits above."""

    def __init__(self, ws: WSConnection, max_message_size: int) -> None:
        self._ws = ws
        self.max_message_size = max_message_size
        self._out = bytearray()
        self._parts: list[str] = []
        self._size = 0
        self._failed = False
        self._closed = False
        self._close_sent = False

    # -- bytes in and out -------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """The bytes queued for the peer (handshake, pongs, close frames); clears the queue."""
        if not self._out:
            return b""
        data = bytes(self._out)
        self._out.clear()
        return data

    @property
    def closed(self) -> bool:
        """No more messages will come: the connection ended or this side failed it."""
        return self._closed or self._failed

    @property
    def open(self) -> bool:
        """Messages can be exchanged."""
        return not self.closed and self._ws.state is ConnectionState.OPEN and not self._close_sent

    def _feed(self, data: bytes | bytearray | None) -> None:
        if self._failed or self._closed or self._ws.state is ConnectionState.CLOSED:
            return  # nothing more is read once the connection is over
        self._ws.receive_data(bytes(data) if data else None)

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        """Start the close handshake; returns the close frame (empty if already closing)."""
        if (
            self._close_sent
            or self._closed
            or self._ws.state
            not in (
                ConnectionState.OPEN,
                ConnectionState.REMOTE_CLOSING,
            )
        ):
            return b""
        self._close_sent = True
        return self._ws.send(CloseConnection(code=code, reason=reason))

    def _fail(self, code: int, reason: str) -> ConnectionClosed:
        """Close because the peer broke the protocol; nothing more will be read."""
        self._out += self.close(code, reason)
        self._failed = True
        self._parts.clear()
        return ConnectionClosed(code=code, reason=reason, initiator="local")

    # -- messages in ------------------------------------------------------------------

    def ping(self, payload: bytes = b"") -> bytes:
        """A ping frame (for keep-alive); the peer's answer arrives as ``PongReceived``."""
        if not self.open:
            return b""
        return self._ws.send(Ping(payload=payload))

    def _messages(self) -> Iterator[str | ConnectionClosed | PongReceived]:
        """Complete text messages and the end of the connection, as wsproto reports them."""
        if self._failed or self._closed:
            return
        for event in self._ws.events():
            if isinstance(event, TextMessage):
                chunk = event.data
                self._size += len(chunk) if chunk.isascii() else len(chunk.encode("utf-8"))
                if self._size > self.max_message_size:
                    yield self._fail(1009, f"message larger than {self.max_message_size} bytes")
                    return
                if event.message_finished:
                    if self._parts:
                        self._parts.append(chunk)
                        chunk = "".join(self._parts)
                        self._parts.clear()
                    self._size = 0
                    yield chunk
                else:
                    self._parts.append(chunk)
            elif isinstance(event, BytesMessage):
                yield self._fail(1003, "binary frames are not part of the Realtime protocol")
                return
            elif isinstance(event, Ping):
                self._out += self._ws.send(event.response())
            elif isinstance(event, Pong):
                yield PongReceived(payload=bytes(event.payload))
            elif isinstance(event, CloseConnection):
                yield self._closing(event)
                return

    def _closing(self, event: CloseConnection) -> ConnectionClosed:
        state = self._ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            # The peer closed first: complete the handshake with its code.
            self._out += self._ws.send(event.response())
            self._closed = True
            return ConnectionClosed(
                code=int(event.code), reason=event.reason or "", initiator="peer"
            )
        if state is ConnectionState.CLOSED:
            self._closed = True
            if self._close_sent and event.code != 1006:
                return ConnectionClosed(
                    code=int(event.code), reason=event.reason or "", initiator="local"
                )
            return ConnectionClosed(
                code=1006, reason=event.reason or "connection lost", initiator="abnormal"
            )
        # Still OPEN: wsproto found a protocol violation (1002, 1007, ...).
        return self._fail(int(event.code), event.reason or "protocol error")
