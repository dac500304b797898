"""Voice activity detection on the audio clock.

Server VAD (docs/protocol/flows.md#server-vad-turn) is split in two:

* a ``VoiceDetector`` says whether one 20 ms frame holds speech. The default
  ``EnergyDetector`` compares the frame's RMS level with a level derived from
  ``turn_detection.threshold``; any other detector (webrtcvad, Silero, ...)
  plugs in through the same one-method interface;
* a ``SpeechSegmenter`` turns those per-frame answers into speech start and
  stop positions, counted in samples since the session's first appended audio
  - the audio clock, never the wall clock. Each frame costs O(1), whatever
  came before it.

Semantic VAD (``rtcore.audio.turns``) uses the same detector and the same
onset rule and replaces only the rule that ends speech.

Mapping of ``threshold`` (0.0-1.0) for the energy detector: a frame is speech
when its RMS level is at least ``-70 + 70 * threshold`` dBFS. The default 0.5
puts the line at -35 dBFS: ordinary speech into a close microphone is well
above it (-30 to -15 dBFS), room noise well below (-60 to -50 dBFS); 0.0
accepts anything but digital silence, 1.0 only full-scale sound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, Protocol

import numpy as np

from ..events import AudioFormat
from .codecs import Samples, to_linear
from .formats import FORMATS

__all__ = [
    "VoiceDetector",
    "DetectorFactory",
    "EnergyDetector",
    "SpeechSegmenter",
    "Boundary",
    "FRAME_MS",
    "threshold_to_dbfs",
]

FRAME_MS = 20
"""The detection frame: 20 ms (480 samples of pcm16, 160 of G.711)."""


class VoiceDetector(Protocol):
    """Decides whether one frame of audio holds speech."""

    def is_speech(self, samples: Samples, sample_rate: int) -> bool:
        """``samples``: one frame of 16-bit linear samples at ``sample_rate`` Hz."""
        ...


DetectorFactory = Callable[[float], VoiceDetector]
"""Builds a detector for a ``turn_detection.threshold`` (called again when it changes)."""


def threshold_to_dbfs(threshold: float) -> float:
    """The RMS level, in dBFS, that the energy detector treats as speech for ``threshold``."""
    return -70.0 + 70.0 * threshold


class EnergyDetector:
    """Speech when the frame's RMS level reaches ``threshold_to_dbfs(threshold)``."""

    __slots__ = ("threshold", "_min_power")

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        level = 32768.0 * 10.0 ** (threshold_to_dbfs(threshold) / 20.0)
        self._min_power = level * level

    def is_speech(self, samples: Samples, sample_rate: int) -> bool:
        n = len(samples)
        if n == 0:
            return False
        floats = samples.astype(np.float32)
        power = float(floats.dot(floats)) / n  # the method: np.dot's dispatch costs as much
        return power >= self._min_power and power > 0.0

    @staticmethod
    def level_dbfs(samples: Samples) -> float:
        """The RMS level of ``samples`` in dBFS (-inf for silence)."""
        if len(samples) == 0:
            return -math.inf
        floats = samples.astype(np.float64)
        rms = math.sqrt(float(np.dot(floats, floats)) / len(samples))
        return -math.inf if rms == 0 else 20.0 * math.log10(rms / 32768.0)


Boundary = tuple[Literal["start", "stop"], int]
"""A speech boundary and its position on the audio clock, in samples."""


class SpeechSegmenter:
    """Finds where speech starts and stops, one frame at a time.

    ``feed(data)`` takes audio in the session's input format (any length; a
    partial frame waits for the rest) and returns the boundaries it completed:
    ``("start", s)`` where ``s`` is the first sample of the first speech frame,
    and ``("stop", e)`` where ``e`` is the end of the frame that completed
    ``silence_duration_ms`` of silence (so the silence window is included).
    Speech begins after ``min_speech_frames`` consecutive speech frames, which
    keeps single clicks from opening a turn; the start is still dated to the
    first of them. A subclass changes when speech ends by overriding
    ``_began`` and ``_speaking_frame`` (``rtcore.audio.turns.SemanticSegmenter``).
    """

    def __init__(
        self,
        detector: VoiceDetector,
        fmt: AudioFormat,
        silence_duration_ms: int,
        *,
        min_speech_frames: int = 2,
        position: int = 0,
    ) -> None:
        info = FORMATS[fmt]
        self.detector = detector
        self.fmt: AudioFormat = fmt
        self.sample_rate = info.sample_rate
        self.frame_samples = info.sample_rate * FRAME_MS // 1000
        self._frame_bytes = self.frame_samples * info.sample_width
        self.silence_samples = info.sample_rate * silence_duration_ms // 1000
        self.min_speech_frames = max(1, min_speech_frames)
        self.position = position
        """Samples consumed so far (complete frames only), on the session's audio clock."""
        self.speaking = False
        self._pending = bytearray()
        self._run_frames = 0
        self._run_start = 0
        self._silence = 0

    def reset(self, position: int) -> None:
        """Forget any speech in progress (after a clear or a manual commit)."""
        self.position = position
        self.speaking = False
        self._pending.clear()
        self._run_frames = 0
        self._silence = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[Boundary]:
        size = self._frame_bytes
        pending = self._pending
        if not pending and len(data) == size:
            # One 20 ms frame, nothing waiting: the append of almost every real-time client.
            boundaries_of_one: list[Boundary] = []
            self._frame(to_linear(data, self.fmt), boundaries_of_one)
            return boundaries_of_one
        if not pending and len(data) % size == 0:
            # Whole frames and nothing waiting (appends of 20 ms): no copy into the pending buffer.
            direct: list[Boundary] = []
            view = memoryview(data)
            try:
                for offset in range(0, len(data), size):
                    self._frame(to_linear(view[offset : offset + size], self.fmt), direct)
            finally:
                view.release()
            return direct
        pending += data
        usable = len(pending) - len(pending) % size
        if usable == 0:
            return []
        boundaries: list[Boundary] = []
        view = memoryview(pending)
        try:
            for offset in range(0, usable, size):
                self._frame(to_linear(view[offset : offset + size], self.fmt), boundaries)
        finally:
            view.release()
        del pending[:usable]
        return boundaries

    def _frame(self, samples: Samples, boundaries: list[Boundary]) -> None:
        start = self.position
        self.position = start + self.frame_samples
        speech = self.detector.is_speech(samples, self.sample_rate)
        if not self.speaking:
            if not speech:
                self._run_frames = 0
                return
            if self._run_frames == 0:
                self._run_start = start
            self._run_frames += 1
            if self._run_frames >= self.min_speech_frames:
                self.speaking = True
                self._silence = 0
                self._run_frames = 0
                boundaries.append(("start", self._run_start))
                self._began(samples)
            return
        if self._speaking_frame(samples, speech):
            self.speaking = False
            self._silence = 0
            boundaries.append(("stop", self.position))

    # The end-of-speech rule, overridden by semantic VAD (``rtcore.audio.turns``); the onset
    # rule above is the same for both kinds of turn detection.

    def _began(self, samples: Samples) -> None:
        """Speech has just started; ``samples`` is the frame that confirmed it."""

    def _speaking_frame(self, samples: Samples, speech: bool) -> bool:
        """One frame while speaking; True when it ends the speech (server VAD: enough silence)."""
        if speech:
            self._silence = 0
            return False
        self._silence += self.frame_samples
        return self._silence >= self.silence_samples
