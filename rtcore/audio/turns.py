"""Semantic VAD: deciding, on the audio clock, that the speaker has finished.

``turn_detection: {"type": "semantic_vad", "eagerness": ...}`` (docs/protocol/ga.md#turn-detection,
docs/protocol/flows.md#server-vad-turn; the beta took the same object) emits exactly the events of
server VAD - ``input_audio_buffer.speech_started`` with the prefix padding in ``audio_start_ms``,
``speech_stopped``, the commit, the automatic response when ``create_response``, the interruption
when ``interrupt_response``. Only the moment of ``speech_stopped`` differs: instead of a fixed
``silence_duration_ms``, an end-of-turn decision whose patience follows ``eagerness``, never longer
than 8 s / 4 s / 2 s of silence for ``low`` / ``medium`` / ``high`` (``auto`` is ``medium``).

The work is split three ways:

* **Onset** is server VAD's: the session's ``VoiceDetector`` at the fixed
  threshold ``SEMANTIC_THRESHOLD`` (0.5, -35 dBFS for the energy detector),
  two speech frames to open a turn, and ``SEMANTIC_PREFIX_PADDING_MS`` (300 ms)
  of audio before it reported in ``audio_start_ms`` and committed with the
  turn. ``semantic_vad`` has no threshold, padding, silence or idle fields, so
  these are internal constants.
* An **end-of-turn detector** (``EndOfTurnDetector``) watches every 20 ms
  frame of a turn and, during silence, says how likely it is that the speaker
  has finished. It is pluggable - a model that listens to the audio (Smart
  Turn, say) fits the same three methods. The default ``EnergyTurnDetector``
  reads loudness only: see its docstring.
* **Patience**, from ``eagerness`` (``PATIENCE``): the silence a turn needs
  before it can end at all, the probability the detector must reach, and the
  maximum wait after which the turn ends whatever the detector says:

  ============  ============  ===========  ==========
  eagerness     min silence   probability  max wait
  ============  ============  ===========  ==========
  ``high``      300 ms        0.3          2 s
  ``medium``    500 ms        0.5          4 s
  ``low``       800 ms        0.7          8 s
  ============  ============  ===========  ==========

The turn ends at the end of the first silent frame where both of the first two
hold, or where the silence reaches the maximum wait. So ``speech_stopped``
comes at most the maximum wait after the last speech frame, and never earlier
than the minimum silence; a detector that answers NaN or nonsense only makes
the server wait for the maximum. Each frame costs O(1) (plus what a plugged-in
detector spends), and the detector's state is constant in size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Final, Literal, Protocol

import msgspec
import numpy as np

from ..events import AudioFormat
from .codecs import Samples
from .vad import SpeechSegmenter, VoiceDetector

__all__ = [
    "Eagerness",
    "Patience",
    "PATIENCE",
    "patience_for",
    "EndOfTurnDetector",
    "EndOfTurnFactory",
    "EnergyTurnDetector",
    "SemanticSegmenter",
    "SEMANTIC_THRESHOLD",
    "SEMANTIC_PREFIX_PADDING_MS",
]

Eagerness = Literal["low", "medium", "high", "auto"]

SEMANTIC_THRESHOLD: Final = 0.5
"""The voice detector's threshold for semantic VAD (the server VAD default)."""

SEMANTIC_PREFIX_PADDING_MS: Final = 300
"""Audio before the speech onset that semantic VAD reports and commits (the server VAD default)."""


class Patience(msgspec.Struct, frozen=True):
    """How long semantic VAD lets a silence run before it ends the turn."""

    min_silence_ms: int
    """No turn ends before this much silence."""
    confidence: float
    """The end-of-turn probability that ends the turn once ``min_silence_ms`` has passed."""
    max_wait_ms: int
    """The turn ends after this much silence, whatever the detector says."""


PATIENCE: Final[Mapping[Literal["low", "medium", "high"], Patience]] = {
    "high": Patience(min_silence_ms=300, confidence=0.3, max_wait_ms=2000),
    "medium": Patience(min_silence_ms=500, confidence=0.5, max_wait_ms=4000),
    "low": Patience(min_silence_ms=800, confidence=0.7, max_wait_ms=8000),
}


def patience_for(eagerness: Eagerness | None) -> Patience:
    """The patience of an ``eagerness``; ``auto`` and unset mean ``medium``
    (docs/protocol/ga.md#turn-detection)."""
    if eagerness is None or eagerness == "auto":
        return PATIENCE["medium"]
    return PATIENCE[eagerness]


class EndOfTurnDetector(Protocol):
    """Judges, during a pause, whether the speaker has finished their turn.

    The segmenter calls ``start_turn()`` when speech starts, ``observe()`` for
    every 20 ms frame of the turn from then on (speech and pauses alike, with
    the voice detector's verdict), and ``turn_end_probability()`` after a
    silent frame once the minimum silence of the session's eagerness has
    passed. Keep the state bounded: a turn can last as long as the client
    streams audio.
    """

    def start_turn(self) -> None:
        """Speech has started: forget the previous turn."""
        ...

    def observe(self, samples: Samples, sample_rate: int, speech: bool) -> None:
        """One frame of the turn: 16-bit linear ``samples`` at ``sample_rate`` Hz."""
        ...

    def turn_end_probability(self, silence_ms: int) -> float:
        """How likely (0.0-1.0) the turn is over after ``silence_ms`` of silence."""
        ...


EndOfTurnFactory = Callable[[], EndOfTurnDetector]
"""Builds the end-of-turn detector of a session (called again when the settings change)."""


class EnergyTurnDetector:
    """The default end-of-turn detector: silence length, and whether the voice faded out.

    The probability grows linearly with the silence, reaching 1.0 after
    ``FIRM_HORIZON_MS`` (1 s) when the voice stopped at full strength, and
    after ``FADING_HORIZON_MS`` (2 s) when it faded out - when its recent
    level (a moving average over the last ~80 ms of speech) lies more than
    ``FADE_DB`` (6 dB) under the turn's average: a voice that trails off
    ("and then... um") is more often hesitating than done. With ``PATIENCE``
    that gives these end-of-turn silences:

    ===========  =======  ========  ========
    ending       high     medium    low
    ===========  =======  ========  ========
    firm         300 ms   500 ms    800 ms
    fading       600 ms   1000 ms   1400 ms
    ===========  =======  ========  ========

    It keeps four numbers; each speech frame costs one dot product and one
    logarithm.
    """

    FIRM_HORIZON_MS: Final = 1000
    FADING_HORIZON_MS: Final = 2000
    FADE_DB: Final = 6.0
    RECENT_WEIGHT: Final = 0.25
    """Weight of the newest speech frame in the recent level (a time constant of ~4 frames)."""

    __slots__ = ("_frames", "_level_sum", "_recent")

    def __init__(self) -> None:
        self._frames = 0
        self._level_sum = 0.0
        self._recent = 0.0

    def start_turn(self) -> None:
        self._frames = 0
        self._level_sum = 0.0
        self._recent = 0.0

    def observe(self, samples: Samples, sample_rate: int, speech: bool) -> None:
        n = len(samples)
        if not speech or n == 0:
            return
        floats = samples.astype(np.float64)
        # At least one unit of power, so that a detector that calls digital silence speech
        # still gives a finite level (-90 dBFS).
        power = max(float(np.dot(floats, floats)) / n, 1.0)
        level = 10.0 * math.log10(power / (32768.0 * 32768.0))
        if self._frames == 0:
            self._recent = level
        else:
            self._recent += self.RECENT_WEIGHT * (level - self._recent)
        self._frames += 1
        self._level_sum += level

    @property
    def fading(self) -> bool:
        """The voice's recent level is well under its average for this turn."""
        if self._frames == 0:
            return False
        return self._recent < self._level_sum / self._frames - self.FADE_DB

    def turn_end_probability(self, silence_ms: int) -> float:
        horizon = self.FADING_HORIZON_MS if self.fading else self.FIRM_HORIZON_MS
        return min(1.0, silence_ms / horizon)


class SemanticSegmenter(SpeechSegmenter):
    """Speech start and stop positions for semantic VAD.

    The start is found exactly as by ``SpeechSegmenter`` (same detector, same
    two-frame rule, same position); the stop is the end of the first silent
    frame at which the silence reaches ``patience.min_silence_ms`` and the
    end-of-turn detector's probability reaches ``patience.confidence``, or at
    which the silence reaches ``patience.max_wait_ms``. Positions are on the
    audio clock, in samples.
    """

    def __init__(
        self,
        detector: VoiceDetector,
        end_of_turn: EndOfTurnDetector,
        fmt: AudioFormat,
        patience: Patience,
        *,
        min_speech_frames: int = 2,
        position: int = 0,
    ) -> None:
        # The base class's silence limit is the maximum wait: it ends any turn by itself.
        super().__init__(
            detector,
            fmt,
            patience.max_wait_ms,
            min_speech_frames=min_speech_frames,
            position=position,
        )
        self.end_of_turn = end_of_turn
        self.patience = patience
        self._min_silence = self.sample_rate * patience.min_silence_ms // 1000

    def _began(self, samples: Samples) -> None:
        self.end_of_turn.start_turn()
        self.end_of_turn.observe(samples, self.sample_rate, True)

    def _speaking_frame(self, samples: Samples, speech: bool) -> bool:
        self.end_of_turn.observe(samples, self.sample_rate, speech)
        if speech:
            self._silence = 0
            return False
        self._silence += self.frame_samples
        silence = self._silence
        if silence >= self.silence_samples:
            return True
        if silence < self._min_silence:
            return False
        probability = self.end_of_turn.turn_end_probability(silence * 1000 // self.sample_rate)
        # A NaN compares false: a confused detector delays the end to the maximum wait.
        return probability >= self.patience.confidence
