"""Audio facts of the protocol: formats, the audio clock, G.711 codecs, VAD and the end of turns."""

from .formats import (
    FORMATS,
    AudioFormatInfo,
    bytes_for_ms,
    bytes_to_ms,
    format_info,
    samples_to_ms,
)
from .turns import (
    PATIENCE,
    SEMANTIC_PREFIX_PADDING_MS,
    SEMANTIC_THRESHOLD,
    Eagerness,
    EndOfTurnDetector,
    EndOfTurnFactory,
    EnergyTurnDetector,
    Patience,
    SemanticSegmenter,
    patience_for,
)
from .vad import (
    FRAME_MS,
    Boundary,
    DetectorFactory,
    EnergyDetector,
    SpeechSegmenter,
    VoiceDetector,
    threshold_to_dbfs,
)

__all__ = [
    "FORMATS",
    "AudioFormatInfo",
    "bytes_for_ms",
    "bytes_to_ms",
    "format_info",
    "samples_to_ms",
    # voice activity detection (server VAD)
    "FRAME_MS",
    "Boundary",
    "DetectorFactory",
    "EnergyDetector",
    "SpeechSegmenter",
    "VoiceDetector",
    "threshold_to_dbfs",
    # end of turn (semantic VAD)
    "PATIENCE",
    "SEMANTIC_PREFIX_PADDING_MS",
    "SEMANTIC_THRESHOLD",
    "Eagerness",
    "EndOfTurnDetector",
    "EndOfTurnFactory",
    "EnergyTurnDetector",
    "Patience",
    "SemanticSegmenter",
    "patience_for",
]
