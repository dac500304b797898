"""The input audio buffer and the audio clock (docs/protocol/flows.md#input-audio).

The clock counts samples appended during the whole session (it is not reset
by commits), so every ``*_ms`` the server reports - ``audio_start_ms``,
``audio_end_ms``, buffer lengths - comes from sample counts in the session's
input format. With turn detection on, each append is also cut into 20 ms
frames for the speech segmenter, and while nobody speaks only the last
``prefix_padding_ms`` (plus the frames a start needs) are kept, so an open
microphone costs constant memory.

Turn detection comes in the session's neutral vocabulary, the
``ServerVad`` / ``SemanticVad`` objects (a beta ``turn_detection`` is read
into them by the beta edge), and both kinds give the same boundaries:
``server_vad`` ends speech after ``silence_duration_ms`` of
silence (``rtcore.audio.vad``), ``semantic_vad`` when its end-of-turn detector
and ``eagerness`` say so (``rtcore.audio.turns``; its threshold and prefix
padding are the fixed 0.5 and 300 ms). A null setting counts as unset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias, TypeVar

from .. import events as ev
from ..audio.formats import FORMATS
from ..audio.turns import (
    SEMANTIC_PREFIX_PADDING_MS,
    SEMANTIC_THRESHOLD,
    EndOfTurnFactory,
    EnergyTurnDetector,
    SemanticSegmenter,
    patience_for,
)
from ..audio.vad import Boundary, DetectorFactory, SpeechSegmenter
from ..events.ga import SemanticVad, ServerVad

__all__ = ["InputAudio", "TurnDetectionSettings"]

T = TypeVar("T")

TurnDetectionSettings: TypeAlias = ServerVad | SemanticVad
"""Turn detection as the session holds it (``SessionState.turn_detection``)."""


class InputAudio:
    """Uncommitted input audio, its position on the audio clock, and VAD."""

    __slots__ = (
        "_keep_samples",
        "_trim_above",
        "_vad_key",
        "_width",
        "buffer",
        "clock",
        "fmt",
        "prefix_samples",
        "rate",
        "segmenter",
        "speech_item_id",
        "speech_start",
        "start",
    )

    def __init__(self, fmt: ev.AudioFormat) -> None:
        self.fmt: ev.AudioFormat = fmt
        self._width = FORMATS[fmt].sample_width
        self.rate = FORMATS[fmt].sample_rate
        self.buffer = bytearray()
        self.start = 0
        """Clock position (samples) of the first buffered sample."""
        self.clock = 0
        """Samples appended during the session."""
        self.segmenter: SpeechSegmenter | None = None
        self.prefix_samples = 0
        self._vad_key: tuple[object, ...] | None = None
        self.speech_item_id: str | None = None
        self._keep_samples = 0
        self._trim_above = 0
        self.speech_start = 0
        """Clock position where the current speech segment's audio begins (prefix included)."""

    # -- configuration -------------------------------------------------------------------

    def configure(
        self,
        fmt: ev.AudioFormat,
        turn_detection: TurnDetectionSettings | None,
        detectors: DetectorFactory,
        end_of_turn: EndOfTurnFactory = EnergyTurnDetector,
    ) -> None:
        """Follow the session's input format and turn detection (after a successful update).

        ``detectors`` builds the voice detector for a threshold (both kinds of
        turn detection), ``end_of_turn`` the end-of-turn detector of semantic
        VAD. Settings equal to the current ones keep the speech in progress.
        """
        if fmt != self.fmt:
            # Buffered bytes in the old format cannot be read in the new one; the clock
            # goes on, counted in the new format's samples.
            new_rate = FORMATS[fmt].sample_rate
            self.clock = self.clock * new_rate // self.rate
            self.fmt = fmt
            self._width = FORMATS[fmt].sample_width
            self.rate = new_rate
            self.buffer.clear()
            self.start = self.clock
            self._vad_key = None
        if turn_detection is None:
            self.segmenter = None
            self._vad_key = None
            self.speech_item_id = None
            return
        build: Callable[[], SpeechSegmenter]
        if isinstance(turn_detection, SemanticVad):
            patience = patience_for(_get(turn_detection.eagerness, None))
            prefix = SEMANTIC_PREFIX_PADDING_MS
            key: tuple[object, ...] = (fmt, "semantic_vad", patience, detectors, end_of_turn)

            def build() -> SpeechSegmenter:
                return SemanticSegmenter(
                    detectors(SEMANTIC_THRESHOLD), end_of_turn(), fmt, patience, position=self.clock
                )
        else:
            threshold = float(_get(turn_detection.threshold, 0.5))
            silence = _get(turn_detection.silence_duration_ms, 200)
            prefix = _get(turn_detection.prefix_padding_ms, 300)
            key = (fmt, "server_vad", threshold, silence, detectors)

            def build() -> SpeechSegmenter:
                return SpeechSegmenter(detectors(threshold), fmt, silence, position=self.clock)

        self.prefix_samples = self.rate * prefix // 1000
        if key != self._vad_key:
            self._vad_key = key
            self.segmenter = build()
            self.speech_item_id = None
        segmenter = self.segmenter
        assert segmenter is not None
        self._keep_samples = self.prefix_samples + segmenter.frame_samples * (
            segmenter.min_speech_frames + 1
        )
        # Trim a second at a time, not per frame.
        self._trim_above = (self._keep_samples + self.rate) * self._width

    # -- audio -------------------------------------------------------------------------------

    def ms(self, samples: int) -> int:
        return samples * 1000 // self.rate

    @property
    def buffered_samples(self) -> int:
        return len(self.buffer) // self._width

    @property
    def buffered_ms(self) -> float:
        return self.buffered_samples * 1000 / self.rate

    def append(self, data: bytes) -> list[Boundary]:
        """Add audio; returns the speech boundaries it completed (VAD on)."""
        self.buffer += data
        self.clock += len(data) // self._width
        segmenter = self.segmenter
        if segmenter is None:
            return []
        boundaries = segmenter.feed(data)
        if len(self.buffer) > self._trim_above and not segmenter.speaking and not boundaries:
            self._trim()
        return boundaries

    def _trim(self) -> None:
        """While silent, keep only what a future speech start could reach back to."""
        drop = self.buffered_samples - self._keep_samples
        del self.buffer[: drop * self._width]
        self.start += drop

    def take(self, begin: int | None = None, end: int | None = None) -> bytes:
        """The buffered audio between two clock positions; everything up to ``end`` leaves the buffer."""
        start, clock = self.start, self.clock
        begin = start if begin is None or begin < start else begin
        end = clock if end is None or end > clock else end
        if end <= begin:
            audio = b""
        else:
            # One copy of a turn's audio (tens of KB), through a view: slicing the bytearray
            # first would copy it twice. The view is released before the buffer is cut.
            width = self._width
            with memoryview(self.buffer) as view:
                audio = view[(begin - start) * width : (end - start) * width].tobytes()
        if end > start:
            del self.buffer[: (end - start) * self._width]
            self.start = end
        return audio

    def clear(self) -> None:
        """Drop the buffer and any speech in progress."""
        self.buffer.clear()
        self.start = self.clock
        self.speech_item_id = None
        if self.segmenter is not None:
            self.segmenter.reset(self.clock)


def _get(value: T | None | ev.UnsetType, default: T) -> T:
    """A setting's value; unset and null (GA "not set") give the default."""
    return default if value is None or isinstance(value, ev.UnsetType) else value
