"""The server role: ``ServerSession``, its effects, and the backend's output chunks."""

from .config import DEFAULT_GA_MODEL, DEFAULT_MODEL, ServerLimits, default_config
from .effects import (
    ArgumentsChunk,
    AudioChunk,
    CancelResponse,
    Effect,
    EndItem,
    Finish,
    FunctionCallChunk,
    OutputChunk,
    ResponseSettings,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)
from .session import Received, ServerSession

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_GA_MODEL",
    "ArgumentsChunk",
    "AudioChunk",
    "CancelResponse",
    "Effect",
    "EndItem",
    "Finish",
    "FunctionCallChunk",
    "OutputChunk",
    "Received",
    "ResponseSettings",
    "ServerLimits",
    "ServerSession",
    "StartResponse",
    "TextChunk",
    "Transcribe",
    "TranscriptChunk",
    "default_config",
]
