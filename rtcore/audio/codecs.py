"""Sample conversion for the protocol's audio formats (numpy).

``to_linear(data, fmt)`` gives 16-bit linear samples for any of the three
formats - ``pcm16`` is read in place, G.711 µ-law and A-law bytes go through
256-entry decode tables - and ``from_linear(samples, fmt)`` goes back, so the
voice detector and the synthetic audio of the echo backend work the same in
every format. The G.711 tables follow the ITU-T G.711 segment layout (8
segments of 16 steps, µ-law bias 0x84, A-law even-bit inversion 0x55).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

from ..events import AudioFormat

__all__ = ["to_linear", "from_linear", "ulaw_decode_table", "alaw_decode_table"]

Samples = npt.NDArray[np.int16]


def _ulaw_to_linear(code: int) -> int:
    u = ~code & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - magnitude if u & 0x80 else magnitude - 0x84


def _alaw_to_linear(code: int) -> int:
    a = code ^ 0x55
    segment = (a & 0x70) >> 4
    magnitude = (a & 0x0F) << 4
    if segment == 0:
        magnitude += 8
    else:
        magnitude = (magnitude + 0x108) << (segment - 1)
    return magnitude if a & 0x80 else -magnitude


@cache
def ulaw_decode_table() -> Samples:
    """Linear value of each of the 256 µ-law codes."""
    return np.array([_ulaw_to_linear(c) for c in range(256)], dtype=np.int16)


@cache
def alaw_decode_table() -> Samples:
    """Linear value of each of the 256 A-law codes."""
    return np.array([_alaw_to_linear(c) for c in range(256)], dtype=np.int16)


def _segment(values: npt.NDArray[np.int32], ends: list[int]) -> npt.NDArray[np.int32]:
    return np.searchsorted(np.array(ends), values, side="left").astype(np.int32)


@cache
def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    linear = np.arange(-32768, 32768, dtype=np.int32) >> 2  # 14-bit
    negative = linear < 0
    magnitude = np.minimum(np.where(negative, -linear, linear), 8159) + 0x21
    segment = _segment(magnitude, [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    step = (magnitude >> np.minimum(segment + 1, 31)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | step)
    mask = np.where(negative, 0x7F, 0xFF)
    return (code ^ mask).astype(np.uint8)


@cache
def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    linear = np.arange(-32768, 32768, dtype=np.int32) >> 3  # 13-bit
    negative = linear < 0
    magnitude = np.where(negative, -linear - 1, linear)
    segment = _segment(magnitude, [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    shift = np.where(segment < 2, 1, segment)
    step = (magnitude >> np.minimum(shift, 31)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | step)
    mask = np.where(negative, 0x55, 0xD5)
    return (code ^ mask).astype(np.uint8)


def to_linear(data: bytes | bytearray | memoryview, fmt: AudioFormat) -> Samples:
    """16-bit linear samples of ``data`` in format ``fmt`` (a view for pcm16, no copy)."""
    if fmt == "pcm16":
        if len(data) & 1:  # a partial last sample is left out
            return np.frombuffer(data, "<i2", len(data) // 2)
        return np.frombuffer(data, "<i2")
    codes = np.frombuffer(data, dtype=np.uint8)
    table = ulaw_decode_table() if fmt == "g711_ulaw" else alaw_decode_table()
    return table[codes]


def from_linear(samples: Samples, fmt: AudioFormat) -> bytes:
    """``samples`` encoded in format ``fmt``."""
    if fmt == "pcm16":
        return samples.astype("<i2").tobytes()
    table = _ulaw_encode_table() if fmt == "g711_ulaw" else _alaw_encode_table()
    return table[samples.astype(np.int32) + 32768].tobytes()
