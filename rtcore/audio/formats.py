"""Audio formats and the arithmetic between bytes, samples and milliseconds.

docs/protocol/connection.md#limits: ``pcm16`` is 16-bit signed little-endian mono at 24 000 Hz
(48 bytes per ms); ``g711_ulaw`` and ``g711_alaw`` are one byte per sample at
8 000 Hz (8 bytes per ms). Every ``*_ms`` value of the protocol is derived
from sample counts in the relevant format, rounded down to whole
milliseconds, so that it never claims audio that was not there.
"""

from __future__ import annotations

from typing import Final

import msgspec

from ..events import AudioFormat

__all__ = [
    "AudioFormatInfo",
    "FORMATS",
    "format_info",
    "bytes_to_ms",
    "samples_to_ms",
    "bytes_for_ms",
]


class AudioFormatInfo(msgspec.Struct, frozen=True):
    """How one of the protocol's audio formats lays out its samples."""

    name: AudioFormat
    sample_rate: int
    sample_width: int

    @property
    def bytes_per_ms(self) -> float:
        return self.sample_rate * self.sample_width / 1000


FORMATS: Final[dict[str, AudioFormatInfo]] = {
    "pcm16": AudioFormatInfo("pcm16", 24000, 2),
    "g711_ulaw": AudioFormatInfo("g711_ulaw", 8000, 1),
    "g711_alaw": AudioFormatInfo("g711_alaw", 8000, 1),
}


def format_info(name: AudioFormat) -> AudioFormatInfo:
    """The layout of an audio format (``KeyError`` for a name outside the protocol)."""
    return FORMATS[name]


def samples_to_ms(samples: int, sample_rate: int) -> int:
    """Whole milliseconds covered by ``samples`` samples."""
    return samples * 1000 // sample_rate


def bytes_to_ms(n_bytes: int, fmt: AudioFormat) -> int:
    """Whole milliseconds of audio held by ``n_bytes`` bytes in format ``fmt``."""
    info = FORMATS[fmt]
    return (n_bytes // info.sample_width) * 1000 // info.sample_rate


def bytes_for_ms(ms: int, fmt: AudioFormat) -> int:
    """How many bytes hold the first ``ms`` milliseconds in format ``fmt`` (whole samples)."""
    info = FORMATS[fmt]
    return ms * info.sample_rate // 1000 * info.sample_width
