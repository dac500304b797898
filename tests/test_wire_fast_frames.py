"""The reading side's fast paths agree with the plain ones.

``rtcore.wire.frames.mask`` is websockets' C XOR when the ``fast`` extra is
installed (the test extra brings it), and ``xor_mask`` without it; ``xor_mask`` (numpy and
Python's integers, the fallback) and a byte-by-byte XOR must give the same
bytes for every key and length, whatever buffer the payload is in.
``MessageSocket`` reads a whole unfragmented text frame with a 7- or 16-bit
length on a direct path; with ``fast=False`` every frame goes through
wsproto. Both must give the same messages, closes and partial positions for
frames at the edges of that path (the 125/126 length boundary, a length not
in its shortest form, the message size limit exactly and one byte over,
UTF-8 good, bad and cut), whole or cut into any pieces.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wirekit import frame, parse_frames, raw_socket

from rtcore.wire import ConnectionClosed
from rtcore.wire.frames import mask, xor_mask


def plain_xor(payload: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@settings(max_examples=200, deadline=None)
@given(
    payload=st.one_of(st.binary(max_size=140), st.binary(min_size=500, max_size=3000)),
    key=st.binary(min_size=4, max_size=4),
    start=st.integers(0, 7),
)
def test_the_c_xor_and_the_python_one_agree_on_any_key_length_and_buffer(
    payload: bytes, key: bytes, start: int
) -> None:
    expected = plain_xor(payload, key)
    held = bytearray(b"\xaa" * start + payload + b"\x55" * 3)
    view = memoryview(held)[start : start + len(payload)]
    for buffer in (payload, bytearray(payload), view):
        assert mask(buffer, key) == expected
        assert xor_mask(buffer, key) == expected
        assert mask(buffer, bytearray(key)) == expected
    view.release()


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 511, 512, 513, 1320, 65537])
def test_every_length_unmasks_back(length: int) -> None:
    payload = bytes(i * 7 % 256 for i in range(length))
    for key in (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x01\x80\x7f\xfe"):
        assert mask(payload, key) == xor_mask(payload, key) == plain_xor(payload, key)
        assert mask(mask(payload, key), key) == payload


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde"])
def test_both_refuse_a_key_that_is_not_4_bytes(key: bytes) -> None:
    for xor in (mask, xor_mask):
        with pytest.raises(ValueError, match="4 bytes"):
            xor(b"payload", key)


def short_form_broken(n: int) -> bytes:
    """A masked text frame of ``n`` < 126 bytes whose length is sent in 16 bits (1002)."""
    return bytes((0x81, 0x80 | 126)) + struct.pack("!H", n) + b"\x01\x02\x03\x04" + b"x" * n


EDGE_PAYLOADS = [
    b"",
    b'{"type":"a"}',
    b"x" * 125,
    b"y" * 126,
    b"z" * 299,
    b"w" * 300,
    b"v" * 301,  # one byte over the limit: 1009
    "é✓🎵".encode() * 10,
    b"\xff\xfe bad",  # not UTF-8: 1007
    "é".encode()[:1] + b"x",  # a cut sequence
]


@st.composite
def edge_frames(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return short_form_broken(draw(st.integers(0, 125)))
    payload = draw(st.sampled_from(EDGE_PAYLOADS))
    return frame(1, payload, mask=True)


def run(pieces: list[bytes], fast: bool) -> tuple[list[Any], list[Any], list[int | None]]:
    sock = raw_socket(fast=fast, masked=True, size=300)
    out: list[Any] = []
    partial: list[int | None] = []
    for piece in pieces:
        sock._feed(piece)
        out.extend(sock._messages())
        partial.append(sock.partial_since)
    sock._feed(None)
    out.extend(sock._messages())
    texts = [
        m.decode()
        if isinstance(m, bytes)
        else (m.code, m.initiator)
        if isinstance(m, ConnectionClosed) and m.code == 1007
        else m
        for m in out
    ]
    return texts, [(op, fin) for op, fin, _ in parse_frames(sock.data_to_send())], partial


@settings(max_examples=300, deadline=None)
@given(
    st.lists(edge_frames(), min_size=1, max_size=6),
    st.lists(st.integers(min_value=1, max_value=400), max_size=6),
)
def test_the_direct_frame_path_agrees_with_wsproto_whole_and_in_pieces(
    chunks: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(chunks)
    pieces, at = [], 0
    for cut in cuts:
        if at >= len(data):
            break
        pieces.append(data[at : at + cut])
        at += cut
    pieces.append(data[at:])
    assert run(pieces, True) == run(pieces, False)
    assert run([data], True) == run([data], False)


def test_a_frame_at_exactly_the_limit_passes_and_one_byte_more_closes_1009() -> None:
    sock = raw_socket(fast=True, masked=True, size=300)
    sock._feed(frame(1, b"a" * 300, mask=True) + frame(1, b"b" * 301, mask=True))
    first, second = list(sock._messages())
    assert first == b"a" * 300
    assert isinstance(second, ConnectionClosed) and second.code == 1009


def test_a_16_bit_length_below_126_closes_1002_whole_or_byte_by_byte() -> None:
    data = frame(1, b"ok", mask=True) + short_form_broken(0)
    for pieces in ([data], [data[i : i + 1] for i in range(len(data))]):
        sock = raw_socket(fast=True, masked=True)
        out: list[Any] = []
        for piece in pieces:
            sock._feed(piece)
            out.extend(sock._messages())
        assert out[0] == b"ok"
        assert isinstance(out[1], ConnectionClosed) and out[1].code == 1002
        assert len(out) == 2


def test_without_the_fast_extra_frames_are_masked_by_xor_mask() -> None:
    # A fresh interpreter in which websockets' C part cannot be imported, as when the
    # extra is not installed (reloading the module here would leave other modules
    # holding the first one's classes).
    import rtcore.wire.frames as frames

    assert frames.mask is not frames.xor_mask  # the test extra brings the C XOR
    program = (
        "import sys; sys.modules['websockets.speedups'] = None\n"
        "from rtcore.wire import frames\n"
        "assert frames.mask is frames.xor_mask and frames.unmask is frames.xor_mask\n"
        "key = bytes([1, 128, 255, 16]); payload = bytes(range(256)) * 6\n"
        "masked = frames.mask(payload, key)\n"
        "assert masked == bytes(b ^ key[i % 4] for i, b in enumerate(payload))\n"
        "assert frames.unmask(masked, key) == payload\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
