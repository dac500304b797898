"""What the service offers by name: transcription models and MCP connectors.

The tables the session rules check names against (docs/protocol/ga.md#transcription,
docs/protocol/ga.md#tools, docs/protocol/flows.md#transcription-session).
"""

from __future__ import annotations

__all__ = [
    "MCP_CONNECTORS",
    "NO_PROMPT_TRANSCRIPTION_MODELS",
    "STREAMING_TRANSCRIPTION_MODELS",
    "TRANSCRIPTION_MEMBER_MODELS",
    "TRANSCRIPTION_MODELS",
]

TRANSCRIPTION_MODELS = (
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
    "gpt-4o-transcribe-diarize",
    "gpt-transcribe",
    "gpt-live-transcribe",
    "gpt-realtime-whisper",
)
STREAMING_TRANSCRIPTION_MODELS = ("gpt-realtime-whisper", "gpt-live-transcribe")
"""Models that transcribe as the audio streams in: they need turn detection off
(docs/protocol/ga.md#transcription, docs/protocol/flows.md#transcription-session)."""
TRANSCRIPTION_MEMBER_MODELS: dict[str, tuple[str, ...]] = {
    "languages": ("gpt-transcribe", "gpt-live-transcribe"),
    "keywords": ("gpt-transcribe", "gpt-live-transcribe"),
    "delay": ("gpt-realtime-whisper",),
}
"""The transcription members only some models take (docs/protocol/ga.md#transcription), and those
models."""
NO_PROMPT_TRANSCRIPTION_MODELS = ("gpt-realtime-whisper", "gpt-4o-transcribe-diarize")
"""Transcription models that take no ``prompt`` (docs/protocol/ga.md#transcription)."""
MCP_CONNECTORS = (
    "connector_dropbox",
    "connector_gmail",
    "connector_googlecalendar",
    "connector_googledrive",
    "connector_microsoftteams",
    "connector_outlookcalendar",
    "connector_outlookemail",
    "connector_sharepoint",
)
"""The connectors an MCP tool's ``connector_id`` may name (docs/protocol/ga.md#tools)."""
