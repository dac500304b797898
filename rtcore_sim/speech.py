"""The synthetic voice of the simulated models: deterministic speech, made piece by piece (sans-IO).

``Voice`` computes the sound of each of its 25 "phonemes" once per output
format and ``ms_per_char`` (one tone per ``ord(char) % 24``, silence for
whitespace), already encoded in the output format; a piece of speech is a
join of those sounds, so producing a chunk costs the chunk's size in time
and memory, whatever the length of the answer. Nothing proportional to the
answer is ever built up front (``rtcore_sim.output`` cuts it into chunks).

The voice is deterministic: the speech of ``text`` is exactly
``len(text) * ms_per_char`` ms long, and the same text gives the same bytes
however it is cut into chunks; that length is what truncation
(``audio_end_ms``) is checked against.

``speech_like`` is another kind of sound: audio that a voice activity
detector takes for speech (the input side of ``rtcore demo`` and of tests of
server VAD).

Voices are cached (the last ``_VOICE_CACHE_SIZE``); the cache has a lock
because voices may be built in worker threads (``rtcore_sim.loop``).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np

from rtcore import events as ev
from rtcore.audio.codecs import from_linear
from rtcore.audio.formats import FORMATS

__all__ = [
    "MAX_MS_PER_CHAR",
    "Voice",
    "voice",
    "cached_voice",
    "synthetic_speech",
    "speech_like",
    "check_range",
]

MAX_MS_PER_CHAR = 1000
"""The slowest voice: a sound of up to one second per character."""

_VOICE_CACHE_SIZE = 8  # a voice at 1000 ms per character holds 1.2 MB of sounds
_PITCHES = 24
_SILENCE = 0


def check_range(name: str, value: int, low: int, high: int) -> int:
    """``value`` if it is an int in ``[low, high]``; otherwise a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, not {value!r}")
    return value


# -- the voice ---------------------------------------------------------------------------------


class Voice:
    """The synthetic voice for one output format and speed.

    Character ``c`` sounds as ``ms_per_char`` of a sine at ``180 + (ord(c) % 24) * 15``
    Hz, at 30% of full scale, faded in and out over its first and last eighth;
    whitespace is silence. The 25 sounds are computed once (float64, truncated
    to int16, then encoded) and kept as bytes.
    """

    __slots__ = ("fmt", "ms_per_char", "sample_rate", "sample_width", "char_samples", "_sounds")

    def __init__(self, fmt: ev.AudioFormat, ms_per_char: int = 50) -> None:
        info = FORMATS[fmt]
        self.fmt = fmt
        self.ms_per_char = check_range("ms_per_char", ms_per_char, 1, MAX_MS_PER_CHAR)
        self.sample_rate = info.sample_rate
        self.sample_width = info.sample_width
        n = self.char_samples = info.sample_rate * ms_per_char // 1000
        t = np.arange(n, dtype=np.float64) / info.sample_rate
        ramp = np.minimum(np.arange(n), np.arange(n)[::-1])
        envelope = np.minimum(1.0, ramp / (n / 8 + 1))
        sounds = [from_linear(np.zeros(n, dtype=np.int16), fmt)]
        for step in range(_PITCHES):
            pitch = 180.0 + step * 15.0
            wave = 0.3 * 32767 * envelope * np.sin(2 * math.pi * pitch * t)
            sounds.append(from_linear(wave.astype(np.int16), fmt))
        self._sounds = tuple(sounds)

    def samples(self, text: str) -> int:
        """The length of the speech of ``text``, in samples."""
        return len(text) * self.char_samples

    def render(self, text: str, start: int, stop: int) -> bytes:
        """Samples ``[start, stop)`` of the speech of ``text``, encoded.

        Only the characters those samples fall in are looked at, so the cost is
        that of the slice, not of the text.
        """
        per = self.char_samples
        first, last = start // per, -(-stop // per)
        sounds = self._sounds
        data = b"".join(
            [
                sounds[_SILENCE] if char.isspace() else sounds[1 + ord(char) % _PITCHES]
                for char in text[first:last]
            ]
        )
        width = self.sample_width
        offset = (start - first * per) * width
        return data[offset : offset + (stop - start) * width]


_voices: OrderedDict[tuple[str, int], Voice] = OrderedDict()
_voices_lock = threading.Lock()  # voices may be built in worker threads (see run_off_loop)


def cached_voice(fmt: ev.AudioFormat, ms_per_char: int) -> Voice | None:
    """The voice if it has been built already (cheap: no computation)."""
    with _voices_lock:
        found = _voices.get((fmt, ms_per_char))
        if found is not None:
            _voices.move_to_end((fmt, ms_per_char))
        return found


def voice(fmt: ev.AudioFormat, ms_per_char: int = 50) -> Voice:
    """The voice for ``fmt`` and ``ms_per_char``; the last ``_VOICE_CACHE_SIZE`` are kept."""
    found = cached_voice(fmt, ms_per_char)
    if found is not None:
        return found
    built = Voice(fmt, ms_per_char)  # outside the lock: other threads need not wait for it
    with _voices_lock:
        _voices[(fmt, ms_per_char)] = built
        while len(_voices) > _VOICE_CACHE_SIZE:
            _voices.popitem(last=False)
    return built


def synthetic_speech(text: str, fmt: ev.AudioFormat, ms_per_char: int = 50) -> bytes:
    """The whole speech of ``text`` at once: for short texts and tests (backends stream it)."""
    speaker = voice(fmt, ms_per_char)
    return speaker.render(text, 0, speaker.samples(text))


def speech_like(ms: int, rate: int = 24000, level: float = 0.25) -> bytes:
    """pcm16 that a voice detector takes for speech: a voiced tone with syllable-like bursts."""
    t = np.arange(rate * ms // 1000) / rate
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    tone = np.sin(2 * np.pi * 140 * t) + 0.5 * np.sin(2 * np.pi * 280 * t)
    return from_linear((level * 32767 * syllables * tone / 1.5).astype(np.int16), "pcm16")
