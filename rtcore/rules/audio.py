"""Audio a client sends is a whole number of samples of the session's input format.

The rule of ``input_audio_buffer.append`` and of ``input_audio`` parts
(docs/protocol/connection.md#limits): pcm16 has two bytes a sample, G.711 one.
"""

from __future__ import annotations

from .. import events as ev
from ..audio.formats import FORMATS
from .refusal import Invalid

__all__ = ["check_whole_samples"]


def check_whole_samples(size: int, fmt: ev.AudioFormat, param: str) -> None:
    """Refuse ``size`` bytes of ``fmt`` audio that end inside a sample."""
    if size % FORMATS[fmt].sample_width:
        raise Invalid(
            "invalid_value",
            f"Invalid audio: {size} bytes is not a whole number of {fmt} samples.",
            param,
        )
