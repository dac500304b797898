"""The header of a WebSocket frame as it arrives, read and checked (RFC 6455 section 5.2).

``frame_at`` reads the header at the start of a buffer for ``framing``'s general path (its
direct path for whole text frames reads the common headers itself, and hands every other
one here). The rules it enforces: a payload length in its shortest form (126 only for a
length of 126 and more, 127 only for one of 65536 and more) and a 64-bit length without its
top bit; a header that breaks them is ``BadHeader``, which closes the connection with 1002.
"""

from __future__ import annotations

__all__ = ["BadHeader", "frame_at"]


class BadHeader(Exception):
    """A frame header that RFC 6455 forbids (the connection closes with 1002)."""


def frame_at(buf: bytearray) -> tuple[int, bool, int, bool, int, int] | None:
    """The header of the frame at the start of ``buf``.

    It is (opcode, fin, rsv, masked, header size, payload size), or ``None``
    until the whole header is there. Raises ``BadHeader`` for a payload
    length that is not in its shortest form or does not fit in 63 bits
    (RFC 6455 section 5.2).
    """
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
        if length < 126:
            raise BadHeader(f"payload length {length} sent in 2 bytes, not in its shortest form")
    elif length == 127:
        if len(buf) < 10:
            return None
        length = int.from_bytes(buf[2:10], "big")
        header = 10
        if length < 0x10000:
            raise BadHeader(f"payload length {length} sent in 8 bytes, not in its shortest form")
        if length >> 63:
            raise BadHeader("64-bit payload length with the most significant bit set")
    masked = bool(second & 0x80)
    if masked:
        header += 4
    if len(buf) < header:
        return None
    return first & 0x0F, bool(first & 0x80), first & 0x70, masked, header, length
