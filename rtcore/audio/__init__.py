"""Audio facts of the protocol: formats, the audio clock, G.711 codecs and voice activity detection."""

from .formats import (
    FORMATS,
    AudioFormatInfo,
    bytes_for_ms,
    bytes_to_ms,
    format_info,
    samples_to_ms,
)

__all__ = [
    "FORMATS",
    "AudioFormatInfo",
    "bytes_for_ms",
    "bytes_to_ms",
    "format_info",
    "samples_to_ms",
]
