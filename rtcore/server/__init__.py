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
    ListMcpTools,
    McpCallChunk,
    McpResultChunk,
    OutputChunk,
    ResponseSettings,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)
from .mcp import McpVerdict, mcp_verdict
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
    "ListMcpTools",
    "McpCallChunk",
    "McpResultChunk",
    "McpVerdict",
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
    "mcp_verdict",
]
