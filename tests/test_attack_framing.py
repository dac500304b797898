"""Attacks on the frame layer, fed as bytes to sans-IO connections.

Each attack is aimed at one connection while a second, independent connection
carries on: it exchanges an event before the attack, while the attacked
connection holds the attacker's bytes, and after it has been closed.
What each attack must get: fragment sprays and oversized fragmented messages
close with 1009 as soon as a frame header shows it (every fragment pays its
header toward the message size: there is no separate fragment count); non-minimal payload
lengths and 64-bit lengths with the top bit set close with 1002; invalid
UTF-8 closes with 1007 as soon as the bad bytes arrive, whether the message
is fragmented or its single frame is still incomplete; a frame or message
begun and not finished shows in ``partial_since``; HTTP/1.0 upgrades get
400 and a missing or wrong ``Sec-WebSocket-Version`` gets 426 naming 13.
"""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from wirekit import URL, frame, pair, parse_frames, raw_socket

from rtcore.events import beta
from rtcore.wire import (
    ClientConnection,
    ConnectionClosed,
    HandshakeFailed,
    HandshakeRequest,
    PongReceived,
    ServerConnection,
)
from rtcore.wire.framing import MessageSocket

EVENT = b'{"type":"response.create","event_id":"ok"}'

# -- helpers ------------------------------------------------------------------------------------


def created(event_id: str) -> list[tuple[str, str]]:
    """A ``response.create`` event, by its type and id (whichever dialect class decoded it)."""
    return [("ResponseCreate", event_id)]


def kinds(events: list[Any]) -> list[tuple[str, Any]]:
    return [(type(e).__name__, getattr(e, "event_id", None)) for e in events]


def accepted(**server_options: Any) -> ServerConnection:
    """A server connection past its handshake."""
    server = ServerConnection(**server_options)
    server.receive_data(ClientConnection(URL, dialect="beta", api_key="k").data_to_send())
    [request] = list(server.events())
    assert isinstance(request, HandshakeRequest)
    server.accept()
    return server


class Healthy:
    """A well-behaved client's connection, beside the attacked one: it must never notice."""

    def __init__(self) -> None:
        self.client, self.server, _ = pair()
        self.turns = 0
        self.turn()

    def turn(self) -> None:
        """One event each way, and a ping answered."""
        self.turns += 1
        self.server.receive_data(self.client.send(beta.ResponseCreate(event_id=f"h{self.turns}")))
        assert kinds(list(self.server.events())) == created(f"h{self.turns}")
        # An event type neither dialect knows: the client reads the frame whatever it decodes.
        data = b'{"type":"x.y","event_id":"h%d"}' % self.turns
        self.client.receive_data(self.server.send_message(data))
        [event] = list(self.client.events())
        assert (
            type(event).__name__ == "UnknownEvent" and event.payload["event_id"] == f"h{self.turns}"
        )
        self.client.receive_data(self.server.ping(b"hp"))
        assert list(self.client.events()) == []
        self.server.receive_data(self.client.data_to_send())
        assert list(self.server.events()) == [PongReceived(payload=b"hp")]
        assert self.server.open and not self.client.closed
        assert not self.server.partial


@pytest.fixture
def healthy() -> Iterator[Healthy]:
    peer = Healthy()
    yield peer
    peer.turn()  # after the attack too


def feed(conn: ServerConnection | ClientConnection, data: bytes) -> list[Any]:
    conn.receive_data(data)
    return list(conn.events())


def failed_with(conn: ServerConnection | ClientConnection, events: list[Any], code: int) -> str:
    """The attacked connection closed itself with ``code``, sent the close frame, reads no more."""
    assert events, "the connection did not react"
    closed = events[-1]
    assert isinstance(closed, ConnectionClosed), events
    assert (closed.code, closed.initiator) == (code, "local"), closed
    [(opcode, _, payload)] = parse_frames(conn.data_to_send())
    assert opcode == 8 and struct.unpack("!H", payload[:2])[0] == code
    assert conn.closed
    assert feed(conn, frame(1, EVENT, mask=isinstance(conn, ServerConnection))) == []
    return closed.reason


def socket_feed(sock: MessageSocket, data: bytes) -> list[Any]:
    sock._feed(data)
    return list(sock._messages())


def header(opcode: int, length_field: int, extended: bytes, *, fin: bool = True) -> bytes:
    """A masked frame header with a hand-made length encoding (and a zero masking key)."""
    return bytes(((0x80 if fin else 0) | opcode, 0x80 | length_field)) + extended + b"\0\0\0\0"


# -- fragments ----------------------------------------------------------------------------------


def fragments(n: int, *, mask: bool = True, last: bool = True) -> bytes:
    """``EVENT`` in ``n`` frames, all but the first empty; without the final one unless ``last``."""
    data = frame(1, EVENT, fin=n == 1 and last, mask=mask)
    for i in range(1, n):
        data += frame(0, b"", fin=last and i == n - 1, mask=mask)
    return data


def test_a_message_may_have_any_number_of_fragments_within_its_size(healthy: Healthy) -> None:
    server = accepted()
    assert kinds(feed(server, fragments(5000))) == created("ok")
    assert server.open
    # Each empty continuation costs its 6 header bytes: a spray holds the message
    # open until the size runs out, and the next header alone closes it.
    attacked = accepted(max_message_size=len(EVENT) + 6 * 100)
    spray = fragments(101, last=False)
    assert feed(attacked, spray) == [] and attacked.open
    healthy.turn()  # while the attacker holds a message open
    reason = failed_with(attacked, feed(attacked, frame(0, b"x" * 50, mask=True)[:6]), 1009)
    assert reason == f"message larger than {len(EVENT) + 600} bytes"


def test_a_spray_of_empty_continuation_frames_stops_at_the_size_limit(
    healthy: Healthy,
) -> None:
    attacked = accepted(max_message_size=1000)
    spray = frame(1, b"", fin=False, mask=True) + frame(0, b"", fin=False, mask=True) * 100_000
    events = feed(attacked, spray)
    failed_with(attacked, events, 1009)
    assert events == [events[-1]]


def test_control_frames_inside_a_fragmented_message_are_answered() -> None:
    server = accepted()
    message = (
        frame(1, b'{"type":"response.create",', fin=False, mask=True)
        + frame(9, b"ping in the middle", mask=True)
        + frame(0, b'"event_id"', fin=False, mask=True)
        + frame(9, b"and another", mask=True)
        + frame(0, b':"f"}', mask=True)
    )
    for _ in range(3):
        assert kinds(feed(server, message)) == created("f")
    assert server.open
    assert [op for op, _, _ in parse_frames(server.data_to_send())] == [10, 10] * 3  # pongs


def test_frame_headers_count_toward_the_message_size() -> None:
    # A single frame may carry exactly the limit.
    payload = b'{"type":"response.create","event_id":"' + b"e" * 50 + b'"}'
    server = accepted(max_message_size=len(payload))
    assert kinds(feed(server, frame(1, payload, mask=True))) == created("e" * 50)
    # The same payload in 3 frames pays the 6-byte headers of the two continuations.
    split = (
        frame(1, payload[:30], fin=False, mask=True)
        + frame(0, payload[30:60], fin=False, mask=True)
        + frame(0, payload[60:], mask=True)
    )
    roomy = accepted(max_message_size=len(payload) + 12)
    assert kinds(feed(roomy, split)) == created("e" * 50)
    tight = accepted(max_message_size=len(payload) + 11)
    reason = failed_with(tight, feed(tight, split), 1009)
    assert reason == f"message larger than {len(payload) + 11} bytes"


def test_empty_continuation_frames_are_not_free() -> None:
    attacked = accepted(max_message_size=100)
    events = feed(attacked, fragments(20, last=False))  # 19 x 6 header bytes > 100
    failed_with(attacked, events, 1009)


def test_a_fragmented_message_holds_about_its_size_however_it_is_cut() -> None:
    # 5000 fragments of 2 bytes, read 3 bytes at a time: a string object per
    # piece would cost some 50 bytes each (about 250 KB); one buffer costs ~10 KB.
    server = accepted()
    data = frame(1, b'"', fin=False, mask=True) + frame(0, b"ab", fin=False, mask=True) * 5000
    feed(server, data[:100])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100, len(data), 3):
            assert feed(server, data[i : i + 3]) == []
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert server.open and server.partial
    assert held < 3 * 10_000, held


def test_the_client_role_charges_fragments_the_same_way() -> None:
    client = ClientConnection(URL, max_message_size=1000)
    server = ServerConnection()
    server.receive_data(client.data_to_send())
    list(server.events())
    client.receive_data(server.accept())
    list(client.events())
    # Unmasked empty continuations cost 2 bytes each: 500 of them fill 1000 bytes.
    spray = frame(1, b"", fin=False) + frame(0, b"", fin=False) * 600
    failed_with(client, feed(client, spray), 1009)


# -- payload length encodings -------------------------------------------------------------------

NON_MINIMAL = [
    pytest.param(126, struct.pack("!H", 0), id="126-for-0"),
    pytest.param(126, struct.pack("!H", 125), id="126-for-125"),
    pytest.param(127, struct.pack("!Q", 125), id="127-for-125"),
    pytest.param(127, struct.pack("!Q", 65535), id="127-for-65535"),
    pytest.param(127, struct.pack("!Q", (1 << 63) | 5), id="top-bit"),
    pytest.param(127, struct.pack("!Q", (1 << 64) - 1), id="all-ones"),
]


@pytest.mark.parametrize("field,extended", NON_MINIMAL)
@pytest.mark.parametrize(
    "opcode,fin", [(1, True), (1, False), (0, True), (9, True), (2, True)], ids=str
)
def test_bad_length_encodings_close_with_1002(
    healthy: Healthy, field: int, extended: bytes, opcode: int, fin: bool
) -> None:
    # Text frames take the fast path; fragments, continuations and control
    # frames go to wsproto: the header is judged before either reads a byte.
    attacked = accepted()
    reason = failed_with(attacked, feed(attacked, header(opcode, field, extended, fin=fin)), 1002)
    assert "shortest form" in reason or "most significant bit" in reason


@pytest.mark.parametrize("field,extended", NON_MINIMAL)
@pytest.mark.parametrize("fast", [True, False])
def test_bad_length_encodings_in_a_fragmented_message_close_with_1002(
    field: int, extended: bytes, fast: bool
) -> None:
    sock = raw_socket(fast=fast)
    assert socket_feed(sock, frame(1, b'"a', fin=False, mask=True)) == []
    [closed] = socket_feed(sock, header(0, field, extended))
    assert isinstance(closed, ConnectionClosed) and closed.code == 1002


def test_the_top_bit_is_a_protocol_error_not_a_size_error_for_the_client() -> None:
    client, _, _ = pair()
    data = bytes((0x81, 127)) + struct.pack("!Q", 1 << 63)
    assert "most significant bit" in failed_with(client, feed(client, data), 1002)


def test_minimal_encodings_at_the_edges_are_accepted() -> None:
    for n in (125, 126, 65535, 65536):
        body = b'{"type":"response.create","event_id":"' + b"x" * (n - 40) + b'"}'
        assert len(body) == n
        server = accepted()
        assert kinds(feed(server, frame(1, body, mask=True))) == created("x" * (n - 40))
        assert server.open


# -- UTF-8 --------------------------------------------------------------------------------------

BAD_UTF8 = [
    pytest.param(b"\xc3\x28", id="bad-continuation"),
    pytest.param(b"\xed\xa0\x80", id="surrogate"),
    pytest.param(b"\xf4\x90\x80\x80", id="above-10ffff"),
    pytest.param(b"\xc0\xaf", id="overlong"),
    pytest.param(b"\xff", id="ff"),
]


@pytest.mark.parametrize("bad", BAD_UTF8)
def test_invalid_utf8_in_an_unfinished_frame_closes_with_1007_at_once(
    healthy: Healthy, bad: bytes
) -> None:
    # A 1000-byte frame of which only the first bytes arrive: the bad
    # sequence is enough, the rest of the frame is never waited for.
    data = frame(1, b'"' + bad + b"a" * 1000, mask=True)
    attacked = accepted()
    assert feed(attacked, data[:9]) == []  # header (8 bytes) and the quote
    healthy.turn()
    reason = failed_with(attacked, feed(attacked, data[9 : 9 + len(bad)]), 1007)
    assert reason.startswith("invalid UTF-8 in a text message")


@pytest.mark.parametrize("bad", BAD_UTF8)
def test_invalid_utf8_in_a_fragment_closes_with_1007_before_the_message_ends(
    healthy: Healthy, bad: bytes
) -> None:
    attacked = accepted()
    assert feed(attacked, frame(1, b'"fine', fin=False, mask=True)) == []
    assert feed(attacked, frame(0, "é".encode(), fin=False, mask=True)) == []
    healthy.turn()
    # The bad fragment is not even finished, and no final fragment ever comes.
    data = frame(0, bad + b"b" * 500, fin=False, mask=True)
    failed_with(attacked, feed(attacked, data[: 8 + len(bad)]), 1007)


def test_a_sequence_cut_across_fragments_is_judged_when_its_end_arrives() -> None:
    server = accepted()
    euro = "€".encode()
    assert feed(server, frame(1, b'"' + euro[:2], fin=False, mask=True)) == []
    assert server.open  # a cut sequence is not an error yet
    failed_with(server, feed(server, frame(0, b"(", fin=False, mask=True)), 1007)


def test_a_sequence_cut_across_reads_of_one_frame_is_judged_when_its_end_arrives() -> None:
    for mask in (True, False):
        conn: ServerConnection | ClientConnection = accepted() if mask else pair()[0]
        data = frame(1, b'"ab' + "€".encode()[:2] + b"(" + b"x" * 200 + b'"', mask=mask)
        start = 4 + (4 if mask else 0)
        assert feed(conn, data[: start + 4]) == []
        assert not conn.closed
        assert feed(conn, data[start + 4 : start + 5]) == []  # the cut sequence's second byte
        assert not conn.closed
        failed_with(conn, feed(conn, data[start + 5 : start + 6]), 1007)


def test_a_message_ending_inside_a_sequence_closes_with_1007() -> None:
    server = accepted()
    data = frame(1, b'"' + "€".encode()[:2], fin=False, mask=True) + frame(0, b"", mask=True)
    failed_with(server, feed(server, data), 1007)
    unfragmented = accepted()
    whole = frame(1, b'"' + b"y" * 300 + "€".encode()[:2], mask=True)
    assert feed(unfragmented, whole[:-1]) == []
    failed_with(unfragmented, feed(unfragmented, whole[-1:]), 1007)


@pytest.mark.parametrize("mask", [True, False])
def test_non_ascii_text_fed_a_byte_at_a_time_arrives_intact(mask: bool) -> None:
    # Every cut of every multi-byte sequence, at every offset of the masking key.
    text = "héllo ✓ wörld 😀 " * 20
    body = ('{"type":"response.create","event_id":"' + text + '"}').encode()
    for lead in range(4):  # shifts the payload against the 4-byte masking key
        message = body.replace(b'{"type"', b"{" + b" " * lead + b'"type"')
        sock = raw_socket(fast=True, masked=mask)
        out: list[Any] = []
        for b in frame(1, message, mask=mask) + frame(1, message, mask=mask):
            out += socket_feed(sock, bytes([b]))
        assert out == [message.decode(), message.decode()]
        assert sock.open


def test_closing_while_a_frame_arrives_keeps_its_unmasked_beginning() -> None:
    # Part of a masked frame is unmasked in place as it is checked; if this
    # side starts the close handshake meanwhile, the frame is still read as one.
    server = accepted()
    body = ('{"type":"response.create","event_id":"' + "é" * 50 + '"}').encode()
    data = frame(1, body, mask=True)
    assert feed(server, data[:40]) == []
    server.close(1001)
    assert kinds(feed(server, data[40:])) == created("é" * 50)
    assert feed(server, frame(8, struct.pack("!H", 1001), mask=True)) == [
        ConnectionClosed(code=1001, reason="", initiator="local")
    ]


# -- frames begun and not finished ------------------------------------------------------------


def test_partial_since_follows_a_frame_fed_a_byte_at_a_time() -> None:
    server = accepted()
    assert server.partial_since is None and not server.partial
    first = frame(1, EVENT, mask=True)
    for i, byte in enumerate(first[:-1]):
        assert feed(server, bytes([byte])) == []
        assert server.partial_since == 0, i
    assert kinds(feed(server, first[-1:])) == created("ok")
    assert server.partial_since is None
    # The next frame begins where the first ended: a new position, a new deadline.
    second = frame(1, EVENT, mask=True)
    feed(server, second[:3])
    assert server.partial_since == len(first) and server.partial


def test_partial_since_moves_on_when_every_read_ends_inside_a_new_frame() -> None:
    server = accepted()
    frames = [frame(1, EVENT, mask=True) for _ in range(5)]
    data = b"".join(frames)
    positions = []
    cut = 10
    start = 0
    for i in range(5):
        end = sum(map(len, frames[: i + 1])) + cut if i < 4 else len(data)
        events = feed(server, data[start:end])
        assert kinds(events) == created("ok")
        positions.append(server.partial_since)
        start = end
    assert positions[:4] == [sum(map(len, frames[: i + 1])) for i in range(4)]
    assert positions[4] is None


def test_partial_since_spans_a_fragmented_message_and_its_control_frames() -> None:
    server = accepted()
    feed(server, frame(1, EVENT, mask=True))  # one whole message first
    begin = len(frame(1, EVENT, mask=True))
    parts = [
        frame(1, EVENT[:10], fin=False, mask=True),
        frame(9, b"p", mask=True),
        frame(0, EVENT[10:20], fin=False, mask=True),
        frame(0, EVENT[20:], mask=True),
    ]
    data = b"".join(parts)
    for i in range(len(data) - 1):
        assert feed(server, data[i : i + 1]) == []
        assert server.partial_since == begin, i
    assert kinds(feed(server, data[-1:])) == created("ok")
    assert server.partial_since is None


def test_partial_since_is_none_before_acceptance_and_after_the_end() -> None:
    server = ServerConnection()
    client = ClientConnection(URL, dialect="beta")
    server.receive_data(client.data_to_send()[:20])
    list(server.events())
    assert server.partial_since is None  # the handshake has its own timeout
    attacked = accepted()
    feed(attacked, frame(1, b'"\xff' + b"a" * 100, mask=True)[:10])
    assert attacked.closed and attacked.partial_since is None
    ended = accepted()
    feed(ended, frame(1, EVENT, mask=True)[:5])
    assert ended.partial
    feed(ended, b"")
    assert ended.closed and not ended.partial


@pytest.mark.parametrize("fast", [True, False])
def test_both_paths_agree_on_partial_since(fast: bool) -> None:
    sock = raw_socket(fast=fast)
    data = (
        frame(1, EVENT, mask=True)
        + frame(9, b"ping", mask=True)
        + frame(1, EVENT[:5], fin=False, mask=True)
        + frame(0, EVENT[5:], mask=True)
        + frame(1, EVENT, mask=True)
    )
    seen = []
    for i in range(len(data)):
        socket_feed(sock, data[i : i + 1])
        seen.append(sock.partial_since)
    sizes = [len(frame(1, EVENT, mask=True)), len(frame(9, b"ping", mask=True))]
    message_end = len(data) - sizes[0]
    assert seen[sizes[0] - 1] is None and seen[sizes[0]] == sizes[0]
    assert seen[sum(sizes) - 1] is None
    assert set(seen[sum(sizes) : message_end - 1]) == {sum(sizes)}
    assert seen[message_end - 1] is None and seen[-1] is None


# -- the handshake ------------------------------------------------------------------------------

HANDSHAKE = (
    b"GET /v1/realtime HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)


def handshake_answer(request: bytes) -> tuple[list[Any], bytes, ServerConnection]:
    server = ServerConnection()
    server.receive_data(request)
    events = list(server.events())
    return events, server.data_to_send(), server


def test_the_plain_handshake_is_accepted() -> None:
    [request], _, server = handshake_answer(HANDSHAKE + b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert isinstance(request, HandshakeRequest)
    assert server.accept().startswith(b"HTTP/1.1 101 ")


def test_an_http_10_upgrade_is_refused_with_400(healthy: Healthy) -> None:
    request = HANDSHAKE.replace(b"HTTP/1.1", b"HTTP/1.0") + b"Sec-WebSocket-Version: 13\r\n\r\n"
    [failed], answer, server = handshake_answer(request)
    assert isinstance(failed, HandshakeFailed) and "HTTP/1.1" in failed.message
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert server.closed and server.request is None
    assert list(server.events()) == []


@pytest.mark.parametrize("version", [b"Sec-WebSocket-Version: 8\r\n", b""], ids=["8", "missing"])
def test_a_wrong_or_missing_version_gets_426_naming_13(healthy: Healthy, version: bytes) -> None:
    [failed], answer, server = handshake_answer(HANDSHAKE + version + b"\r\n")
    assert isinstance(failed, HandshakeFailed)
    head = answer.split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 426 ")
    assert b"\r\nsec-websocket-version: 13" in head
    assert server.closed
