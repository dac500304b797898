"""WebSocket messaging shared by both roles, on top of wsproto.

The rules of the protocol's transport (EVENTS.md section 1, RFC 6455) that this
module enforces once for both roles:

* Every message is one text frame (or a fragmented text message) holding one
  JSON object. Binary messages are not part of the protocol: the connection
  is closed with 1003.
* Messages larger than ``max_message_size`` bytes (default 16 MiB) close the
  connection with 1009, as soon as a frame header announces it.
* Invalid UTF-8 closes with 1007 and framing violations with 1002.
* A ping is answered with a pong; a close frame from the peer is answered with
  the same code, completing the close handshake.

Replies are never sent behind the caller's back: they are queued as bytes
for ``data_to_send()``. After this side has failed a connection (1002, 1003,
1007, 1009) it reads nothing more from the peer; the caller should send the
queued close frame and close the transport.

Speed: almost every frame of a Realtime session is one complete, unfragmented
text frame. Those are parsed here directly - header, unmasking, UTF-8 - which
is several times cheaper than wsproto's general parser. Every other frame
(control frames, fragments, anything malformed) is handed to wsproto whole,
so wsproto's parser always sits at a frame boundary and decides, with its
own errors, everything the fast path does not.
"""

from __future__ import annotations

from collections.abc import Iterator

from wsproto import WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from .events import ConnectionClosed, PongReceived

__all__ = ["MessageSocket", "DEFAULT_MAX_MESSAGE_SIZE", "unmask"]

DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
_TEXT = 0x1


def unmask(payload: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """``payload`` XOR the repeating 4-byte masking ``key`` (RFC 6455 section 5.3)."""
    n = len(payload)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")
    return value.to_bytes(n, "little")


class MessageSocket:
    """Text messages in and out of a wsproto connection, with the limits above.

    ``masked`` says whether incoming frames must be masked: true on the server
    (clients mask), false on the client.
    """

    def __init__(
        self, ws: WSConnection, max_message_size: int, *, masked: bool, fast: bool = True
    ) -> None:
        self._ws = ws
        self._fast = fast  # False: every frame goes through wsproto (for differential tests)
        self.max_message_size = max_message_size
        self._masked = masked
        self._out = bytearray()
        self._in = bytearray()
        self._eof = False
        self._eof_passed = False
        self._parts: list[str] = []
        self._size = 0
        self._fragmented = False
        self._owed = 0
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
        if self._failed or self._closed or self._eof:
            return  # nothing more is read once the connection is over
        if data:
            self._in += data
        else:
            self._eof = True  # passed on to wsproto once the buffered frames are read

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

    def ping(self, payload: bytes = b"") -> bytes:
        """A ping frame (for keep-alive); the peer's answer arrives as ``PongReceived``."""
        if not self.open:
            return b""
        return self._ws.send(Ping(payload=payload))

    def _fail(self, code: int, reason: str) -> ConnectionClosed:
        """Close because the peer broke the protocol; nothing more will be read."""
        self._out += self.close(code, reason)
        self._failed = True
        self._parts.clear()
        self._in.clear()
        return ConnectionClosed(code=code, reason=reason, initiator="local")

    # -- messages in ------------------------------------------------------------------

    def _messages(self) -> Iterator[bytes | str | ConnectionClosed | PongReceived]:
        """Complete text messages (UTF-8 checked; ``bytes`` or ``str``) and the end of the connection."""
        buf = self._in
        while not (self._failed or self._closed):
            if self._owed:
                # A frame wsproto is reading: pass it exactly its bytes, as they come.
                take = min(self._owed, len(buf))
                if take == 0:
                    break
                chunk = bytes(buf[:take])
                del buf[:take]
                self._owed -= take
                self._ws.receive_data(chunk)
                yield from self._from_wsproto()
                continue
            frame = _frame_at(buf)
            if frame is None:
                break
            opcode, fin, rsv, masked, header, length = frame
            if opcode < 0x8 and length > self.max_message_size:
                yield self._fail(1009, f"message larger than {self.max_message_size} bytes")
                return
            total = header + length
            fast = (
                self._fast
                and opcode == _TEXT
                and fin
                and not rsv
                and masked == self._masked
                and not self._fragmented
                and not self._close_sent  # open: the loop stops once the peer's close arrives
            )
            if not fast:
                self._owed = total  # control frames, fragments, anything odd: wsproto decides
                continue
            if len(buf) < total:
                break  # wait for the rest of the frame
            view = memoryview(buf)
            try:
                if masked:
                    payload = unmask(view[header:total], bytes(view[header - 4 : header]))
                else:
                    payload = bytes(view[header:total])
            finally:
                view.release()
            del buf[:total]
            if payload.isascii():
                yield payload  # ASCII is valid UTF-8; JSON from the service almost always is
                continue
            try:
                yield payload.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield self._fail(1007, str(exc))  # the same reason wsproto gives
                return
        if self._eof and not self._eof_passed and not (self._failed or self._closed):
            self._eof_passed = True
            buf.clear()  # a partial frame at the end of the stream is lost with the stream
            self._ws.receive_data(None)
            yield from self._from_wsproto()

    def _from_wsproto(self) -> Iterator[bytes | str | ConnectionClosed | PongReceived]:
        """Messages and control events of the frames handed to wsproto."""
        for event in self._ws.events():
            if isinstance(event, TextMessage):
                chunk = event.data
                self._size += len(chunk) if chunk.isascii() else len(chunk.encode("utf-8"))
                if self._size > self.max_message_size:
                    yield self._fail(1009, f"message larger than {self.max_message_size} bytes")
                    return
                if event.message_finished:
                    self._fragmented = False
                    if self._parts:
                        self._parts.append(chunk)
                        chunk = "".join(self._parts)
                        self._parts.clear()
                    self._size = 0
                    yield chunk
                else:
                    self._fragmented = True
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


def _frame_at(buf: bytearray) -> tuple[int, bool, int, bool, int, int] | None:
    """The header of the frame at the start of ``buf``: (opcode, fin, rsv, masked, header size, payload size)."""
    if len(buf) < 2:
        return None
    first, second = buf[0], buf[1]
    length = second & 0x7F
    header = 2
    if length == 126:
        if len(buf) < 4:
            return None
        length = int.from_bytes(buf[2:4], "big")
        header = 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length = int.from_bytes(buf[2:10], "big")
        header = 10
    masked = bool(second & 0x80)
    if masked:
        header += 4
    if len(buf) < header:
        return None
    return first & 0x0F, bool(first & 0x80), first & 0x70, masked, header, length
