"""Server defaults and limits.

The default session is the one real servers report (SEQUENCES.md section 1,
GA.md 1.5), the same in both dialects: audio output (beta writes it as
``["text", "audio"]``), voice ``alloy``, pcm16 (``audio/pcm`` at 24 kHz) both
ways, no input transcription, server VAD with threshold 0.5, 300 ms prefix
padding, 200 ms silence, automatic responses and interruptions, no tools,
``tool_choice: "auto"``, no output-token cap, speed 1.0, truncation ``auto``;
beta adds temperature 0.8. Transcription sessions transcribe with
``whisper-1`` under server VAD.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .. import events as ev
from ..events import ga
from ..state.session import SessionState

__all__ = [
    "ServerLimits",
    "DEFAULT_MODEL",
    "DEFAULT_GA_MODEL",
    "default_config",
    "DEFAULT_INSTRUCTIONS",
    "default_rate_limits",
    "TRANSCRIPTION_MODELS",
    "STREAMING_TRANSCRIPTION_MODELS",
    "TRANSCRIPTION_MEMBER_MODELS",
    "NO_PROMPT_TRANSCRIPTION_MODELS",
    "MCP_CONNECTORS",
    "MAX_SESSION_SECONDS",
]

DEFAULT_MODEL = "gpt-4o-realtime-preview-2024-12-17"
"""The model of a beta session when the URL names none."""
DEFAULT_GA_MODEL = "gpt-realtime"
"""The model of a GA session when the URL names none."""
DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant running on an rtcore Realtime endpoint. "
    "Answer briefly and clearly."
)
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
"""Models that transcribe as the audio streams in: they need turn detection off (GA.md 2.5, 10.15)."""
TRANSCRIPTION_MEMBER_MODELS: dict[str, tuple[str, ...]] = {
    "languages": ("gpt-transcribe", "gpt-live-transcribe"),
    "keywords": ("gpt-transcribe", "gpt-live-transcribe"),
    "delay": ("gpt-realtime-whisper",),
}
"""The transcription members only some models take (GA.md 2.5), and those models."""
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
"""The connectors an MCP tool's ``connector_id`` may name (GA.md 2.6)."""
NO_PROMPT_TRANSCRIPTION_MODELS = ("gpt-realtime-whisper", "gpt-4o-transcribe-diarize")
"""Transcription models that take no ``prompt`` (GA.md 2.5)."""
MAX_SESSION_SECONDS = 30 * 60


class ServerLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Per-session limits; exceeding one gets an ``error`` event, never a crash.

    ``max_append_bytes``: decoded audio per ``input_audio_buffer.append``
    (EVENTS.md 2.9: 15 MiB). ``max_buffer_bytes``: uncommitted input audio.
    ``max_items``: conversation items, from every path (``conversation.item.create``,
    manual, VAD and idle-timeout commits, response output); at the limit a
    client request is refused (``conversation_full``), a VAD or idle-timeout
    commit is dropped with a ``conversation_full`` error event, and a response
    that would add an item ends ``failed`` with that code. ``min_commit_ms``:
    the shortest buffer a commit accepts (100 ms). ``max_session_bytes``: the
    session's memory budget (64 MiB) - uncommitted input audio, user audio
    still held, and the content of every item (text and transcripts counted
    per character, retained audio per byte; a response's output is counted
    when it ends); a request that would go past it is refused with
    ``session_memory_exceeded`` and changes nothing (a VAD commit's audio is
    dropped). ``max_out_of_band_responses``: out-of-band responses
    (``conversation: "none"``) running at once (8); one more is
    ``too_many_out_of_band_responses``.
    """

    max_append_bytes: int = 15 * 1024 * 1024
    max_buffer_bytes: int = 50 * 1024 * 1024
    max_items: int = 4096
    min_commit_ms: int = 100
    max_session_bytes: int = 64 * 1024 * 1024
    max_out_of_band_responses: int = 8


def default_config(
    session_id: str,
    *,
    model: str,
    created_at: int | None = None,
    kind: Literal["realtime", "transcription"] = "realtime",
    instructions: str = DEFAULT_INSTRUCTIONS,
) -> SessionState:
    """The effective configuration a session starts with (either dialect)."""
    vad = ga.ServerVad(
        threshold=0.5,
        prefix_padding_ms=300,
        silence_duration_ms=200,
        idle_timeout_ms=None,
        create_response=True,
        interrupt_response=True,
    )
    expires = None if created_at is None else created_at + MAX_SESSION_SECONDS
    if kind == "transcription":
        return SessionState(
            kind="transcription",
            id=session_id,
            expires_at=expires,
            input_format="pcm16",
            transcription=ga.Transcription(model="whisper-1", language=None, prompt=None),
            turn_detection=vad,
        )
    return SessionState(
        id=session_id,
        model=model,
        expires_at=expires,
        output_modalities=("audio",),
        instructions=instructions,
        voice="alloy",
        speed=1.0,
        input_format="pcm16",
        output_format="pcm16",
        turn_detection=vad,
        tool_choice="auto",
        max_output_tokens="inf",
        truncation="auto",
    )


def default_rate_limits(responses_so_far: int) -> tuple[ev.RateLimit, ...]:
    """Nominal rate limits of a local endpoint (one request used per response)."""
    return (
        ev.RateLimit(
            name="requests",
            limit=20000,
            remaining=max(0, 19999 - responses_so_far),
            reset_seconds=0.003,
        ),
        ev.RateLimit(name="tokens", limit=15000000, remaining=15000000, reset_seconds=0.0),
    )
