"""WebSocket messaging shared by both roles, on top of wsproto.

The rules of the protocol's transport (docs/protocol/connection.md#envelope, RFC 6455) that this
module enforces once for both roles, each failure answered with a close frame:

* Every message is one text frame (or a fragmented text message) holding one
  JSON object. Binary messages are not part of the protocol: 1003.
* Limits on what one message may cost, checked as soon as a frame header
  announces it, so that nothing is buffered first:

  - ``max_message_size`` (default 16 MiB): the payload bytes of all its frames,
    plus the header bytes of every frame after the first. A message sent in one
    frame may carry exactly ``max_message_size`` bytes; a fragmented one pays
    2 to 14 bytes per extra fragment, so that empty continuation frames are not
    free. Beyond it: 1009.

  There is no limit on the number of fragments of its own: a fragment costs
  O(its bytes) - its header counts toward the size, and reading it is a few
  microseconds of header parsing, unmasking and UTF-8 checking - so the size
  limit bounds a fragmented message in memory and in CPU per byte alike (a
  message of 1-byte fragments costs less per byte than a stream of the
  smallest messages). What a message holds while it arrives: the bytes of its
  incomplete frame, and for a fragmented message its text so far in one
  buffer - never a piece per fragment or per read.

* A data frame that begins a message inside a fragmented message closes
  with 1002, as soon as its header arrives.
* Invalid UTF-8 closes with 1007 as soon as the bad bytes arrive, whether the
  message is fragmented or its single frame is still incomplete: the payload
  read so far goes through an incremental UTF-8 decoder.
* A payload length not in its shortest encoding (126 for a length below 126,
  127 for one below 65536) or a 64-bit length with the top bit set closes with
  1002 (RFC 6455 section 5.2), as do all other framing violations.
* A ping is answered with a pong (unless our close frame has gone out: then
  only the close handshake is left); a close frame from the peer is answered
  with the same code, completing the close handshake.
* A peer may send ``PINGS_PER_SECOND`` pings a second, a burst of as many for
  free; the adapter paces one beyond that (it is not read for a while) and
  ends one so far beyond it that the wait would pass ``PING_FLOOD_SECONDS``.
  More pings than ``MAX_PINGS_AT_ONCE`` in the bytes of one read can only be
  such a flood: with ``max_pings_at_once`` set (the server sets it), the
  connection closes with 1008 there, before the rest are answered, so that one
  read of a flood (some 11 000 pings in 64 KiB) costs its connection, not
  everyone's event loop.

Replies are never sent behind the caller's back: they are queued as bytes
for ``data_to_send()``. After this side has failed a connection (1002, 1003,
1007, 1009) it reads nothing more from the peer; the caller should send the
queued close frame and close the transport.

Timing is the adapter's business: ``partial_since`` tells it that the peer has
begun a frame or a fragmented message and not finished it, so it can put a
deadline on that (a peer that starts a frame and then feeds it a byte a
second would otherwise hold a buffer open forever).

Speed: almost every frame of a Realtime session is one complete, unfragmented
text frame. Those are parsed here directly - header, unmasking, UTF-8 - which
is several times cheaper than wsproto's general parser, and so are the frames
of a fragmented text message (a message begun here is finished here, its
text joined in one buffer, its UTF-8 checked incrementally across frames).
The commonest of them, a whole unfragmented text frame with a 7- or 16-bit
length, takes a direct path of a few steps at the top of ``_messages``.
Every other frame (control frames, binary frames, anything malformed) is
handed to wsproto whole,
so wsproto's parser always sits at a frame boundary and decides, with its
own errors, everything the fast path does not. The header checks above (length
encoding, limits) run here for every frame, whichever path reads its payload.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

from wsproto import WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from .events import ConnectionClosed, PongReceived
from .frames import unmask
from .headers import BadHeader, frame_at

__all__ = [
    "MessageSocket",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MAX_PINGS_AT_ONCE",
    "PINGS_PER_SECOND",
    "PING_FLOOD_SECONDS",
    "unmask",
]

DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
PINGS_PER_SECOND = 10
"""Pings a peer may send per second on average (a burst of as many); beyond, an adapter
does not read its connection until its pings are back under the rate."""
PING_FLOOD_SECONDS = 5.0
"""A peer so far over ``PINGS_PER_SECOND`` that it would wait longer than this is flooding:
its connection ends, closed with 1008."""
MAX_PINGS_AT_ONCE = int(PINGS_PER_SECOND * (1 + PING_FLOOD_SECONDS))
"""The most pings one read can hold without being a flood: the free burst plus the pings
``PING_FLOOD_SECONDS`` of waiting would pay for."""
_CONTINUATION = 0x0
_TEXT = 0x1
_utf8_decoder = codecs.getincrementaldecoder("utf-8")


class MessageSocket:
    """Text messages in and out of a wsproto connection, with the limits above.

    ``masked`` says whether incoming frames must be masked: true on the server
    (clients mask), false on the client.
    """

    def __init__(
        self,
        ws: WSConnection,
        max_message_size: int,
        *,
        masked: bool,
        fast: bool = True,
        max_pings_at_once: int | None = None,
    ) -> None:
        self._ws = ws
        self._max_pings = max_pings_at_once
        self._pings_now = 0  # pings in the bytes of the last read
        self._fast = fast  # False: every frame goes through wsproto (for differential tests)
        self.max_message_size = max_message_size
        self._masked = masked
        self._out = bytearray()
        self._in = bytearray()
        self._eof = False
        self._eof_passed = False
        self._consumed = 0  # bytes of the stream read before self._in[0]
        # The fragmented message being read (header-level view, ahead of wsproto's):
        # where it began in the stream, its cost so far, and whether it is read here
        # (``_ours``: begun on the fast path, so wsproto never sees its data frames).
        self._message_at: int | None = None
        self._size = 0
        self._ours = False
        self._text = bytearray()  # its text so far, in UTF-8, whichever path reads it
        # The frame wsproto is reading: bytes still to pass, where it began, and whether
        # it ends a message (the fin bit of the last data frame: a control frame inside
        # a message follows one without it, so it ends nothing).
        self._owed = 0
        self._frame_start = 0
        self._owed_ends_message = False
        # The fast-path frame at the start of self._in while incomplete: payload bytes
        # already checked as UTF-8 (and unmasked in place); and the decoder holding a
        # sequence cut by a read (or, for a fragmented message, by a frame boundary).
        self._checked = 0
        self._utf8: codecs.IncrementalDecoder | None = None
        self._failed = False
        self.pings = 0
        """Pings received so far, answered or not (an adapter may pace a peer that floods them)."""
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
    def close_sent(self) -> bool:
        """This side's close frame has been made (it may still be queued for sending)."""
        return self._close_sent

    @property
    def close_received(self) -> bool:
        """The peer's close frame has been read: nothing more will come from it."""
        return self._closed

    @property
    def failed(self) -> bool:
        """This side failed the connection (1002, 1003, 1007, 1009): the peer's bytes are no
        longer read, so its close frame cannot be recognized either."""
        return self._failed

    @property
    def open(self) -> bool:
        """Messages can be exchanged."""
        return not self.closed and self._ws.state is ConnectionState.OPEN and not self._close_sent

    @property
    def partial_since(self) -> int | None:
        """Where the incoming frame or message that has begun but not ended began, if any.

        The value is a position in the stream of bytes received since the
        handshake; ``None`` when the peer is between messages (or the
        connection is over). A fragmented message counts as one unit from its
        first byte to its last, control frames in its middle included. Read it
        once the events of the data received so far have been drained: it
        describes what is left over. An adapter can arm a deadline whenever the
        value changes from ``None`` or to a new position, so a peer that
        trickles one frame or message forever is cut off, while one that sends
        many frames back to back (each read ending mid-frame, but a new frame
        every time) is not.
        """
        if self._failed or self._closed:
            return None
        if self._message_at is not None:
            return self._message_at
        if self._owed:
            return self._frame_start
        if self._in:
            return self._consumed
        return None

    @property
    def partial(self) -> bool:
        """The peer has begun a frame or a fragmented message and not finished it.

        See ``partial_since``, which also tells one such unit from the next.
        """
        return self.partial_since is not None

    def _feed(self, data: bytes | bytearray | memoryview | None) -> None:
        if self._failed or self._closed or self._eof:
            return  # nothing more is read once the connection is over
        self._pings_now = 0
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
        self._text = bytearray()
        self._ours = False
        self._checked = 0
        self._utf8 = None
        self._in.clear()
        return ConnectionClosed(code=code, reason=reason, initiator="local")

    # -- messages in ------------------------------------------------------------------

    def _messages(self) -> Iterator[bytes | str | ConnectionClosed | PongReceived]:
        """Complete text messages (UTF-8 checked; ``bytes`` or ``str``) and the end of the connection."""
        buf = self._in
        key_size = 4 if self._masked else 0
        mask_bit = 0x80 if self._masked else 0
        short_header, medium_header = 2 + key_size, 4 + key_size
        max_size = self.max_message_size
        while not (self._failed or self._closed):
            if self._fast and not (self._owed or self._checked or self._message_at is not None):
                # The frame of nearly every message: one whole unfragmented text frame, its
                # length in 7 or 16 bits, its masking as the role asks. Read here in a few
                # steps, one after another (only this loop changes the state it needs in
                # between); anything else (or too large) takes the general path below, which
                # reads this kind of frame the same way.
                while True:
                    size = len(buf)
                    if size < 2 or buf[0] != 0x81 or buf[1] & 0x80 != mask_bit:
                        break
                    length = buf[1] & 0x7F
                    if length < 126:
                        header = short_header
                    elif length == 126 and size >= 4:
                        length = (buf[2] << 8) | buf[3]
                        if length < 126:
                            break  # not in its shortest form: 1002, below
                        header = medium_header
                    else:
                        break  # a 64-bit length, or a header not all here
                    total = header + length
                    if total > size or length > max_size:
                        break
                    if key_size:
                        payload = unmask(buf[header:total], buf[header - 4 : header])
                    else:
                        payload = bytes(buf[header:total])
                    del buf[:total]
                    self._consumed += total
                    if payload.isascii():
                        yield payload
                        continue
                    try:
                        text = payload.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        yield self._fail(1007, _utf8_reason(exc))
                        return
                    yield text
                if not buf:
                    break  # between frames: the usual end of a read
            if self._owed:
                # A frame wsproto is reading: pass it exactly its bytes, as they come.
                take = min(self._owed, len(buf))
                if take == 0:
                    break
                chunk = bytes(buf[:take])
                del buf[:take]
                self._consumed += take
                self._owed -= take
                if not self._owed and self._owed_ends_message:
                    self._message_at = None
                self._ws.receive_data(chunk)
                yield from self._from_wsproto()
                continue
            try:
                frame = frame_at(buf)
            except BadHeader as exc:
                yield self._fail(1002, str(exc))
                return
            if frame is None:
                break
            opcode, fin, rsv, masked, header, length = frame
            if (
                self._fast
                and not rsv
                and masked == self._masked
                and (
                    (opcode == _TEXT and self._message_at is None)
                    or (opcode == _CONTINUATION and self._ours)
                )
            ):
                # A text frame, alone or one of a fragmented message begun here. Its
                # cost: the payload, plus the header of every frame after the first.
                continues = opcode == _CONTINUATION
                cost = self._size + header + length if continues else length
                if cost > self.max_message_size:
                    yield self._fail(1009, f"message larger than {self.max_message_size} bytes")
                    return
                total = header + length
                if len(buf) < total:
                    # Wait for the rest of the frame, but judge its UTF-8 as it comes.
                    if len(buf) - header > self._checked:
                        error = self._check_utf8(buf, header, masked)
                        if error is not None:
                            yield self._fail(1007, error)
                            return
                    break
                if not fin or continues:
                    error = self._fragment(buf, header, total, masked, fin)
                    if error is not None:
                        yield self._fail(1007, error)
                        return
                    if not continues:
                        self._message_at = self._consumed - total
                        self._ours = True
                    self._size = cost
                    if fin:
                        data, self._text = bytes(self._text), bytearray()
                        self._message_at = None
                        self._ours = False
                        self._utf8 = None
                        self._size = 0
                        yield data if data.isascii() else data.decode()  # its UTF-8 is checked
                    continue
                checked = self._checked
                if masked and checked:
                    self._unmask_rest(buf, header, total)
                view = memoryview(buf)
                try:
                    if masked and not checked:
                        payload = unmask(view[header:total], bytes(view[header - 4 : header]))
                    else:
                        payload = bytes(view[header:total])  # the one copy of a large frame
                finally:
                    view.release()
                # The bytes checked as they came were all ASCII while no decoder was needed.
                ascii = self._utf8 is None
                if checked:
                    self._checked = 0
                    self._utf8 = None
                del buf[:total]
                self._consumed += total
                if ascii and (payload[checked:] if checked else payload).isascii():
                    yield payload  # ASCII is valid UTF-8; JSON from the service almost always is
                    continue
                try:
                    yield payload.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield self._fail(1007, _utf8_reason(exc))
                    return
                continue
            # Control frames, binary frames, anything odd: wsproto reads the payload and
            # decides, but the limits are ours and are checked on the header first.
            if opcode < 0x8:
                failure = self._account(opcode, fin, header, length)
                if failure is not None:
                    yield self._fail(*failure)
                    return
            else:
                self._owed_ends_message = False  # a control frame ends no message
            self._owed = header + length
            self._frame_start = self._consumed
        if self._eof and not self._eof_passed and not (self._failed or self._closed):
            self._eof_passed = True
            buf.clear()  # a partial frame at the end of the stream is lost with the stream
            self._ws.receive_data(None)
            yield from self._from_wsproto()

    def _account(self, opcode: int, fin: bool, header: int, length: int) -> tuple[int, str] | None:
        """Charge a data frame that wsproto reads to its message; the close it calls for, if any.

        A frame that begins a message inside a fragmented one is refused here,
        on its header, whichever path reads the message; a continuation with
        no message is charged alone, and wsproto fails it.
        """
        in_message = self._message_at is not None
        if in_message and opcode != _CONTINUATION:
            return 1002, "a new message began inside a fragmented message"
        if in_message:
            self._size += header + length
        else:
            self._size = length
            if not fin:
                self._message_at = self._consumed
        self._owed_ends_message = fin
        if self._size > self.max_message_size:
            return 1009, f"message larger than {self.max_message_size} bytes"
        return None

    def _fragment(
        self, buf: bytearray, header: int, total: int, masked: bool, fin: bool
    ) -> str | None:
        """Add the complete frame at the start of ``buf`` to the fragmented message read here.

        Its bytes go to the message's one buffer; those not yet checked go
        through the message's UTF-8 decoder, which carries a sequence cut by a
        frame boundary to the next frame and, on the last frame, refuses one
        left unfinished. Returns the 1007 reason if the text is not UTF-8.
        """
        checked = self._checked
        start = header + checked
        # Slices, not a memoryview: fragments are mostly small, and a slice costs less.
        if masked:
            key = bytes(buf[header - 4 : header])
            rest = unmask(buf[start:total], _turned(key, checked) if checked else key)
        else:
            rest = bytes(buf[start:total])
        if checked:
            self._text += buf[header:start]  # unmasked in place as it arrived
        del buf[:total]
        self._consumed += total
        self._checked = 0
        self._text += rest
        if self._utf8 is None:
            if rest.isascii():
                return None
            self._utf8 = _utf8_decoder()
        try:
            self._utf8.decode(rest, fin)
        except UnicodeDecodeError as exc:
            return _utf8_reason(exc)
        return None

    def _check_utf8(self, buf: bytearray, header: int, masked: bool) -> str | None:
        """Check the newly arrived payload bytes of the incomplete frame at the start of ``buf``.

        Masked bytes are unmasked in place, once: the frame costs no second
        buffer while it arrives, and only its rest is unmasked when it is complete.
        """
        start, end = header + self._checked, len(buf)
        if masked:
            chunk = self._unmask_in_place(buf, header, start, end)
        else:
            chunk = bytes(buf[start:end])
        self._checked = end - header
        if self._utf8 is None:
            if chunk.isascii():
                return None
            self._utf8 = _utf8_decoder()
        try:
            self._utf8.decode(chunk)
        except UnicodeDecodeError as exc:
            return _utf8_reason(exc)
        return None

    def _unmask_rest(self, buf: bytearray, header: int, total: int) -> None:
        """Unmask, in place, the rest of the complete masked frame at the start of ``buf`` whose
        beginning ``_check_utf8`` unmasked as it arrived: the payload is then copied out once
        (a maximal frame's rest is one read; joining it to a copy of the rest cost 15 MiB of
        copying on the event loop)."""
        start = header + self._checked
        if start < total:
            self._unmask_in_place(buf, header, start, total)

    def _unmask_in_place(self, buf: bytearray, header: int, start: int, end: int) -> bytes:
        """Unmask ``buf[start:end]``, the payload bytes after the ``_checked`` ones already
        unmasked of the frame at the start of ``buf``, in place; return them."""
        view = memoryview(buf)
        try:
            key = _turned(bytes(view[header - 4 : header]), self._checked)
            chunk = unmask(view[start:end], key)
        finally:
            view.release()
        buf[start:end] = chunk
        return chunk

    def _from_wsproto(self) -> Iterator[bytes | str | ConnectionClosed | PongReceived]:
        """Messages and control events of the frames handed to wsproto."""
        for event in self._ws.events():
            if isinstance(event, TextMessage):
                chunk = event.data
                if not event.message_finished:
                    # A piece per frame and per read: kept as bytes in one buffer, not
                    # as a string object each (some 50 bytes apiece, whatever its size).
                    self._text += chunk.encode()
                elif not self._text:
                    yield chunk
                else:
                    self._text += chunk.encode()
                    data, self._text = bytes(self._text), bytearray()
                    yield data if data.isascii() else data.decode()
            elif isinstance(event, BytesMessage):
                yield self._fail(1003, "binary frames are not part of the Realtime protocol")
                return
            elif isinstance(event, Ping):
                self.pings += 1
                self._pings_now += 1
                if self._max_pings is not None and self._pings_now > self._max_pings:
                    yield self._fail(1008, f"ping flood: more than {self._max_pings} pings at once")
                    return
                # Once our close frame is out, we send nothing but the close handshake
                # (wsproto refuses a pong then): a ping that crossed it goes unanswered.
                if self._ws.state is ConnectionState.OPEN:
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


def _turned(key: bytes, offset: int) -> bytes:
    """The masking key as it applies from payload byte ``offset`` on."""
    turn = offset % 4
    return key[turn:] + key[:turn] if turn else key


def _utf8_reason(exc: UnicodeDecodeError) -> str:
    return f"invalid UTF-8 in a text message: {exc.reason}"
