"""The bytes of the frames this project writes, in both roles: masking and the text frame.

RFC 6455 section 5.2-5.3 rules written once: a client masks every frame it
sends with a fresh 4-byte key, a server masks none; the payload length takes
its shortest form (7 bits below 126, 16 bits below 65536, else 64). The
server writes every event with ``text_frame``; the client writes its events
with ``text_frame`` and a key from its ``MaskKeys`` (control frames and the
handshake still go through wsproto). The reading side (``framing``) unmasks
with the same XOR.

With the ``fast`` extra (``pip install 'rtcore[fast]'``) the XOR is websockets'
C function (``websockets.speedups.apply_mask``, 8 bytes at a time): an audio
append's 1.3 kB costs a twelfth of what numpy takes for it (numpy's per-call
costs dominate at that size) and a 60 kB frame a sixth. Without websockets, or
where it was installed without its C extension, ``xor_mask`` does it with numpy
and Python's integers; the two give the same bytes (tests compare them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeAlias

import numpy as np

__all__ = [
    "MaskKeys",
    "SystemMaskKeys",
    "mask",
    "text_frame",
    "text_frame_head",
    "unmask",
    "xor_mask",
]

MaskKeys: TypeAlias = Callable[[], bytes]
"""``keys() -> 4 bytes``: the masking key of the next frame a client sends (RFC 6455 section
5.3). Injectable like ids (``rtcore.ids``), so that tests can choose the keys."""


class SystemMaskKeys:
    """Masking keys from the operating system's random source, as RFC 6455 asks.

    The keys must be unpredictable to whatever makes the payload (sections
    5.3 and 10.3), so they are not derived from a seed the way ids are: they
    come from ``os.urandom``, as wsproto's do (it still masks the control
    frames and draws the handshake's key). They are drawn 256 at a time, one
    system call per 256 frames.
    """

    __slots__ = ("_pool", "_next")

    def __init__(self) -> None:
        self._pool = b""
        self._next = 0

    def __call__(self) -> bytes:
        at = self._next
        if at >= len(self._pool):
            self._pool, at = os.urandom(1024), 0
        self._next = at + 4
        return self._pool[at : at + 4]


def xor_mask(payload: bytes | bytearray | memoryview, key: bytes | bytearray) -> bytes:
    """``payload`` XOR the repeating 4-byte masking ``key`` (RFC 6455 section 5.3), in Python.

    ``mask`` where websockets' C function is missing; tests check the two agree.
    """
    if len(key) != 4:
        raise ValueError("mask must contain 4 bytes")
    n = len(payload)
    if n == 0:
        return b""
    if n >= _NUMPY_MASK:
        words = np.frombuffer(key * (n // 4 + 1), dtype=np.uint8, count=n)
        return (np.frombuffer(payload, dtype=np.uint8, count=n) ^ words).tobytes()
    stream = (key * (n // 4 + 1))[:n]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")
    return value.to_bytes(n, "little")


_NUMPY_MASK = 512
"""From this many bytes on, numpy XORs faster than Python's integers (an audio append's
1.3 kB: about 0.6 of the time; 60 kB: a fifteenth); below it, its per-call cost dominates."""


_Xor: TypeAlias = Callable[[bytes | bytearray | memoryview, bytes | bytearray], bytes]
# ``mask(payload, key)``: ``payload`` XOR the repeating 4-byte masking ``key`` (RFC 6455 section
# 5.3), as ``bytes``; a key of another length is a ValueError. The XOR is its own inverse: the
# same function masks what a client sends and unmasks what a server receives.
try:
    from websockets.speedups import apply_mask

    mask: _Xor = apply_mask
except ImportError:  # pragma: no cover - no ``fast`` extra, or websockets without its C part
    mask = xor_mask

unmask = mask
"""``mask`` under the name the reading side uses."""


def text_frame_head(n: int) -> bytes:
    """The header of an unmasked text frame of ``n`` payload bytes, as a server sends it.

    ``text_frame_head(len(payload)) + payload`` is ``text_frame(payload)``; a writer may
    send the two apart, so that a large payload is never copied into a frame of its own.
    """
    if n < 126:
        return bytes((0x81, n))
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big")
    return b"\x81\x7f" + n.to_bytes(8, "big")


def text_frame(payload: bytes, mask_key: bytes | None = None) -> bytes:
    """One unfragmented text frame around UTF-8 ``payload``, without extensions.

    Unmasked as a server sends it, or masked with the 4-byte ``mask_key`` as a
    client must (RFC 6455 section 5.2). The payload length takes its shortest
    form: 7 bits below 126, 16 bits below 65536, else 64 bits.
    """
    n = len(payload)
    if mask_key is None:
        return text_frame_head(n) + payload
    if len(mask_key) != 4:
        raise ValueError(f"a masking key is 4 bytes, not {len(mask_key)}")
    if n < 126:
        head = bytes((0x81, 0x80 | n))
    elif n < 65536:
        head = b"\x81\xfe" + n.to_bytes(2, "big")
    else:
        head = b"\x81\xff" + n.to_bytes(8, "big")
    return head + mask_key + mask(payload, mask_key)
