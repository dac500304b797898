"""Server defaults and limits.

The default session is the one real servers reported in 2024-2025
(SEQUENCES.md section 1): text and audio, voice ``alloy``, pcm16 both ways, no
input transcription, server VAD with threshold 0.5, 300 ms prefix padding,
200 ms silence, automatic responses and interruptions, no tools,
``tool_choice: "auto"``, temperature 0.8, no output-token cap.
"""

from __future__ import annotations

import msgspec

from .. import events as ev

__all__ = [
    "ServerLimits",
    "DEFAULT_MODEL",
    "DEFAULT_INSTRUCTIONS",
    "default_session",
    "default_turn_detection",
    "default_rate_limits",
    "TRANSCRIPTION_MODELS",
    "MAX_SESSION_SECONDS",
]

DEFAULT_MODEL = "gpt-4o-realtime-preview-2024-12-17"
DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant running on an rtcore Realtime endpoint. "
    "Answer briefly and clearly."
)
TRANSCRIPTION_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
MAX_SESSION_SECONDS = 30 * 60


class ServerLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Per-session limits; exceeding one gets an ``error`` event, never a crash.

    ``max_append_bytes``: decoded audio per ``input_audio_buffer.append``
    (EVENTS.md 2.9: 15 MiB). ``max_buffer_bytes``: uncommitted input audio.
    ``max_items``: conversation items. ``min_commit_ms``: the shortest buffer
    a commit accepts (100 ms).
    """

    max_append_bytes: int = 15 * 1024 * 1024
    max_buffer_bytes: int = 50 * 1024 * 1024
    max_items: int = 4096
    min_commit_ms: int = 100


def default_turn_detection() -> ev.TurnDetection:
    return ev.TurnDetection(
        type="server_vad",
        threshold=0.5,
        prefix_padding_ms=300,
        silence_duration_ms=200,
        create_response=True,
        interrupt_response=True,
    )


def default_session(
    session_id: str,
    *,
    model: str = DEFAULT_MODEL,
    created_at: int | None = None,
    instructions: str = DEFAULT_INSTRUCTIONS,
) -> ev.Session:
    """The session of ``session.created``; ``expires_at`` only when the creation time is known."""
    return ev.Session(
        id=session_id,
        object="realtime.session",
        model=model,
        expires_at=ev.UNSET if created_at is None else created_at + MAX_SESSION_SECONDS,
        modalities=("text", "audio"),
        instructions=instructions,
        voice="alloy",
        input_audio_format="pcm16",
        output_audio_format="pcm16",
        input_audio_transcription=None,
        turn_detection=default_turn_detection(),
        tools=(),
        tool_choice="auto",
        temperature=0.8,
        max_response_output_tokens="inf",
        input_audio_noise_reduction=None,
        speed=1.0,
        tracing=None,
        include=None,
        client_secret=None,
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
