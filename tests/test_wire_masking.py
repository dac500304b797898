"""The client's own text frames: masked with injected keys, read alike by wsproto and our server.

``ClientConnection.send`` builds its text frames itself (``rtcore.wire.frames``)
instead of through wsproto. Every frame it writes must be one that wsproto's
server reads back to the same text, and that the server's own fast path
(``ServerConnection``) decodes to the same event, at every payload length
encoding (7, 16 and 64 bits: around 125/126 and 65535/65536 bytes) and with
any masking key the injected source gives.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wirekit import URL, parse_frames, raw_socket
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from rtcore import events as ev
from rtcore.events import ga
from rtcore.wire import ClientConnection, Connected, HandshakeRequest, ServerConnection
from rtcore.wire.frames import SystemMaskKeys, mask, text_frame, unmask

BOUNDARIES = [49, 50, 124, 125, 126, 127, 65534, 65535, 65536, 65537, 70000]
"""Payload lengths at the edges of the three length encodings of RFC 6455 section 5.2 (the
shortest event used here is 49 bytes of JSON)."""


def keys(*given: bytes) -> Iterator[bytes]:
    yield from given


def event_of_length(n: int, filler: str = "x") -> tuple[ev.ClientEvent, int]:
    """A client event whose JSON is ``n`` bytes long (or the shortest one, 49 bytes, if ``n`` is
    less), padded with ``filler`` (1 to 4 bytes in UTF-8) and ``x``: an ``event_id`` (at most
    512 characters) up to 500 bytes, a user message's text above."""

    def make(pad: str) -> ev.ClientEvent:
        if n <= 500:
            return ga.InputAudioBufferClear(event_id=pad)
        content = (ga.InputTextContent(text=pad),)
        return ga.ConversationItemCreate(
            event_id="e", item=ga.MessageItem(role="user", content=content)
        )

    room = max(0, n - len(ev.encode_event(make(""))))
    width = len(filler.encode())
    event = make(filler * (room // width) + "x" * (room % width))
    return event, len(ev.encode_event(event))


def open_client(key_source: object) -> tuple[ClientConnection, WSConnection, ServerConnection]:
    """A client whose handshake both a wsproto server and our ``ServerConnection`` accepted."""
    client = ClientConnection(URL, api_key="sk-test", mask_keys=key_source)  # type: ignore[arg-type]
    hello = client.data_to_send()
    theirs = WSConnection(ConnectionType.SERVER)
    theirs.receive_data(hello)
    assert any(isinstance(e, Request) for e in theirs.events())
    theirs.send(AcceptConnection())
    ours = ServerConnection()
    ours.receive_data(hello)
    [request] = list(ours.events())
    assert isinstance(request, HandshakeRequest)
    client.receive_data(ours.accept())
    assert any(isinstance(e, Connected) for e in client.events())
    return client, theirs, ours


def header(data: bytes) -> tuple[int, int, bytes, int]:
    """(first byte, payload length, masking key, header size) of a masked frame."""
    first, second = data[0], data[1]
    assert second & 0x80, "a client frame must be masked"
    n, at = second & 0x7F, 2
    if n == 126:
        (n,) = struct.unpack("!H", data[2:4])
        at = 4
    elif n == 127:
        (n,) = struct.unpack("!Q", data[2:10])
        at = 10
    return first, n, data[at : at + 4], at + 4


def check_frame(length: int, key: bytes, filler: str = "x") -> None:
    event, size = event_of_length(length, filler)
    client, theirs, ours = open_client(keys(key).__next__)
    data = client.send(event)
    payload = ev.encode_event(event)

    first, n, used, head = header(data)
    assert (first, n, used) == (0x81, size, key)  # FIN, text, the injected key
    assert head == 6 if size < 126 else head == 8 if size < 65536 else head == 14
    assert len(data) == head + size
    assert unmask(data[head:], key) == payload

    theirs.receive_data(data)
    [message] = list(theirs.events())
    assert isinstance(message, TextMessage) and message.message_finished
    assert message.data.encode() == payload

    ours.receive_data(data)
    [decoded] = list(ours.events())
    assert decoded == event


@pytest.mark.parametrize("length", BOUNDARIES)
def test_a_frame_at_each_length_boundary_reads_back_in_wsproto_and_in_our_server(
    length: int,
) -> None:
    check_frame(length, b"\x00\xff\x5a\xa5")


@settings(max_examples=60, deadline=None)
@given(
    length=st.one_of(
        st.sampled_from(BOUNDARIES),
        st.integers(min_value=49, max_value=70000),
    ),
    key=st.binary(min_size=4, max_size=4),
    filler=st.sampled_from(["x", "é", "✓", "🎵"]),
)
def test_any_key_and_length_reads_back_in_wsproto_and_in_our_server(
    length: int, key: bytes, filler: str
) -> None:
    check_frame(length, key, filler)


def test_each_frame_takes_the_next_key_of_the_injected_source() -> None:
    first, second = b"\x01\x02\x03\x04", b"\xf0\xe0\xd0\xc0"
    client, _, ours = open_client(keys(first, second).__next__)
    one, _ = event_of_length(50)
    a, b = client.send(one), client.send(one)
    assert header(a)[2] == first and header(b)[2] == second
    ours.receive_data(a + b)
    assert list(ours.events()) == [one, one]


def test_the_same_keys_give_the_same_bytes() -> None:
    event, _ = event_of_length(300)
    sent = [open_client(keys(b"abcd").__next__)[0].send(event) for _ in range(2)]
    assert sent[0] == sent[1]


def test_the_default_keys_come_from_the_system_and_differ() -> None:
    source = SystemMaskKeys()
    drawn = [source() for _ in range(600)]  # across more than one pool of 256
    assert all(len(key) == 4 for key in drawn)
    assert len(set(drawn)) > 590  # 2**32 values: repeats are vanishingly rare
    client, _, ours = open_client(None)
    event, _ = event_of_length(200)
    frames = [client.send(event) for _ in range(3)]
    assert len({header(f)[2] for f in frames}) == 3
    ours.receive_data(b"".join(frames))
    assert list(ours.events()) == [event] * 3


def test_a_key_that_is_not_4_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        text_frame(b"{}", b"abc")


def test_masking_is_its_own_inverse_and_leaves_server_frames_unmasked() -> None:
    data = bytes(range(256)) * 3
    assert mask(mask(data, b"wxyz"), b"wxyz") == data
    assert mask(b"", b"wxyz") == b""
    assert parse_frames(text_frame(b'{"type":"x"}')) == [(1, True, b'{"type":"x"}')]


def test_our_fast_reader_takes_the_frames_whole_and_split() -> None:
    event, _ = event_of_length(70000)
    client, _, _ = open_client(keys(b"\x11\x22\x33\x44").__next__)
    data = client.send(event)
    reader = raw_socket(fast=True, size=1 << 20)
    for at in range(0, len(data), 4093):  # reads that end inside the header and the payload
        reader._feed(data[at : at + 4093])
    [message] = list(reader._messages())
    assert message == ev.encode_event(event)
