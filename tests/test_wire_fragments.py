"""Fragmented messages without a fragment limit (``rtcore.wire.framing``).

Autobahn's 9.3.x and 9.4.x cases - a 4 MiB message in fragments of 64 B to
4 KiB, then an empty final frame - in both roles, with the fast path on and
off: the text ones arrive whole, the binary ones close with 1003 at their
first fragment. The cost of a fragment is O(its bytes): a message of 1-byte
fragments is read in time linear in its length (no step is quadratic in the
number of fragments), and a property test checks that the fast path and
wsproto agree on fragmented messages cut anywhere, pings inside, UTF-8
sequences split across fragment boundaries, and broken ones.
"""

from __future__ import annotations

import os
import struct
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wirekit import frame, parse_frames, raw_socket

from rtcore.wire import ConnectionClosed
from rtcore.wire.framing import DEFAULT_MAX_MESSAGE_SIZE, MessageSocket, unmask

MIB = 1024 * 1024


def socket(*, server: bool, fast: bool, size: int = DEFAULT_MAX_MESSAGE_SIZE) -> MessageSocket:
    """A message socket of one role: a server reads masked frames, a client unmasked ones."""
    return raw_socket(fast=fast, masked=server, size=size)


def quick_frame(opcode: int, payload: bytes, *, fin: bool, mask: bool) -> bytes:
    """``wirekit.frame``, masking with whole-integer XOR (megabytes of fragments in no time)."""
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    bit = 0x80 if mask else 0
    if n < 126:
        head = bytes((first, bit | n))
    elif n < 65536:
        head = bytes((first, bit | 126)) + struct.pack("!H", n)
    else:
        head = bytes((first, bit | 127)) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + unmask(payload, key)


def fragmented(opcode: int, payload: bytes, piece: int, *, mask: bool) -> bytes:
    """``payload`` in frames of ``piece`` bytes, then an empty final frame (Autobahn 9.3/9.4)."""
    frames = [
        quick_frame(opcode if at == 0 else 0, payload[at : at + piece], fin=False, mask=mask)
        for at in range(0, len(payload), piece)
    ]
    return b"".join(frames) + quick_frame(0, b"", fin=True, mask=mask)


def read(sock: MessageSocket, data: bytes, chunk: int = 65536) -> list[Any]:
    out: list[Any] = []
    for at in range(0, len(data), chunk):
        sock._feed(data[at : at + chunk])
        out.extend(sock._messages())
    return out


ROLES = [pytest.param(True, id="server"), pytest.param(False, id="client")]
PATHS = [pytest.param(True, id="fast"), pytest.param(False, id="wsproto")]


@pytest.mark.parametrize("piece", [64, 256, 1024, 4096])
@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("server", ROLES)
def test_autobahn_9_3_a_4_mib_text_message_in_fragments(
    server: bool, fast: bool, piece: int
) -> None:
    if not fast and piece < 256:
        pytest.skip("wsproto alone reads 64 K fragments too slowly for the suite; fast path only")
    text = ("0123456789abcdef" * (4 * MIB // 16)).encode()
    sock = socket(server=server, fast=fast)
    messages = read(sock, fragmented(1, text, piece, mask=server))
    assert len(messages) == 1
    message = messages[0]
    assert (message if isinstance(message, bytes) else message.encode()) == text
    assert sock.open and sock.partial_since is None


@pytest.mark.parametrize("piece", [64, 4096])
@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("server", ROLES)
def test_autobahn_9_4_a_fragmented_binary_message_closes_1003_at_once(
    server: bool, fast: bool, piece: int
) -> None:
    data = bytes(range(256)) * (4 * MIB // 256)
    sock = socket(server=server, fast=fast)
    messages = read(sock, fragmented(2, data, piece, mask=server))
    [closed] = messages
    assert isinstance(closed, ConnectionClosed) and (closed.code, closed.initiator) == (
        1003,
        "local",
    )


@pytest.mark.parametrize("server", ROLES)
def test_a_message_of_one_byte_fragments_costs_time_linear_in_its_length(server: bool) -> None:
    def seconds(n: int) -> float:
        data = frame(1, b'"', fin=False, mask=server)
        data += frame(0, b"a", fin=False, mask=server) * n + frame(0, b'"', mask=server)
        sock = socket(server=server, fast=True)
        started = time.perf_counter()
        [message] = read(sock, data)
        took = time.perf_counter() - started
        assert message == b'"' + b"a" * n + b'"'
        return took

    seconds(1000)  # warm up
    small = min(seconds(5_000) for _ in range(2))
    large = min(seconds(40_000) for _ in range(2))
    # Eight times the fragments: about eight times the time; a quadratic step would make it 64.
    assert large < 20 * small, (small, large)
    # And each fragment is cheap: a few microseconds on a quiet machine (a generous bound here).
    assert large / 40_000 < 100e-6, large


UTF8_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
)


@st.composite
def fragmented_streams(draw: st.DrawFn, mask: bool) -> bytes:
    """Text messages in fragments cut at any byte, with pings inside, maybe a broken byte."""
    out = b""
    for _ in range(draw(st.integers(1, 3))):
        payload = bytearray(draw(UTF8_TEXT).encode())
        if payload and draw(st.booleans()):
            payload[draw(st.integers(0, len(payload) - 1))] = draw(st.integers(0x80, 0xFF))
        cuts = sorted(set(draw(st.lists(st.integers(0, len(payload)), max_size=6))))
        bounds = [0, *cuts, len(payload)]
        pieces = [bytes(payload[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            out += frame(1 if i == 0 else 0, piece, fin=last, mask=mask)
            if not last and draw(st.booleans()):
                out += frame(9, b"p", mask=mask)
    if draw(st.booleans()):
        out += frame(1, b"{}", mask=mask)  # a new message inside an unfinished one, maybe
    return out


def run(data: bytes, cuts: list[int], *, server: bool, fast: bool) -> tuple[Any, ...]:
    sock = socket(server=server, fast=fast, size=300)
    out: list[Any] = []
    partial: list[int | None] = []
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in zip(bounds, bounds[1:], strict=False):
        sock._feed(data[a:b])
        out.extend(sock._messages())
        partial.append(sock.partial_since)
    comparable = [
        m.decode() if isinstance(m, bytes) else m
        for m in out
        # 1007 reasons name the decoding error as each path met it.
        if not (isinstance(m, ConnectionClosed) and m.code == 1007)
    ]
    codes = [m.code for m in out if isinstance(m, ConnectionClosed)]
    replies = [(op, fin) for op, fin, _ in parse_frames(sock.data_to_send())]
    return comparable, codes, replies, partial


@given(st.booleans(), st.data(), st.lists(st.integers(min_value=0), max_size=8))
def test_fragmented_messages_read_here_agree_with_wsproto(
    server: bool, data: st.DataObject, cuts: list[int]
) -> None:
    stream = data.draw(fragmented_streams(mask=server))
    assert run(stream, cuts, server=server, fast=True) == run(
        stream, cuts, server=server, fast=False
    )
