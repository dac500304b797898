"""The settings a session has until a client changes them, in both dialects.

The default session is the one real servers report (docs/protocol/flows.md#session-start,
docs/protocol/connection.md#first-events), the same in both dialects: audio output (beta writes it
as ``["text", "audio"]``), voice ``alloy``, pcm16 (``audio/pcm`` at 24 kHz) both ways, no input
transcription, server VAD with threshold 0.5, 300 ms prefix padding, 200 ms silence, automatic
responses and interruptions, no tools, ``tool_choice: "auto"``, no output-token cap, speed 1.0,
truncation ``auto``; beta adds temperature 0.8. Transcription sessions transcribe with ``whisper-1``
under server VAD. Semantic VAD's ``eagerness`` is ``auto``.

The server starts every session from ``default_session`` and writes these
values wherever its echo must name a setting the record leaves unset; the
rules fill a client's partial turn detection and transcription with them.
"""

from __future__ import annotations

from typing import Literal

from .. import events as ev
from ..events import ga
from ..state.session import SessionState

__all__ = [
    "DEFAULT_EAGERNESS",
    "DEFAULT_FORMAT",
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "DEFAULT_SPEED",
    "DEFAULT_TEMPERATURE",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "DEFAULT_VAD",
    "DEFAULT_VOICE",
    "MAX_SESSION_SECONDS",
    "default_session",
]

DEFAULT_VOICE = "alloy"
DEFAULT_SPEED = 1.0
DEFAULT_FORMAT: ev.AudioFormat = "pcm16"
DEFAULT_MAX_OUTPUT_TOKENS: ev.MaxTokens = "inf"
DEFAULT_TEMPERATURE = 0.8
"""Beta only: GA has no temperature."""
DEFAULT_TRANSCRIPTION_MODEL = "whisper-1"
DEFAULT_EAGERNESS: Literal["auto"] = "auto"
DEFAULT_VAD = ga.ServerVad(
    threshold=0.5,
    prefix_padding_ms=300,
    silence_duration_ms=200,
    idle_timeout_ms=None,
    create_response=True,
    interrupt_response=True,
)
"""Server VAD as servers echo it when nothing was asked."""
MAX_SESSION_SECONDS = 30 * 60


def default_session(
    session_id: str,
    *,
    model: str,
    instructions: str,
    created_at: int | None = None,
    kind: Literal["realtime", "transcription"] = "realtime",
) -> SessionState:
    """The effective configuration a session starts with (either dialect)."""
    expires = None if created_at is None else created_at + MAX_SESSION_SECONDS
    if kind == "transcription":
        return SessionState(
            kind="transcription",
            id=session_id,
            expires_at=expires,
            input_format=DEFAULT_FORMAT,
            transcription=ga.Transcription(
                model=DEFAULT_TRANSCRIPTION_MODEL, language=None, prompt=None
            ),
            turn_detection=DEFAULT_VAD,
        )
    return SessionState(
        id=session_id,
        model=model,
        expires_at=expires,
        output_modalities=("audio",),
        instructions=instructions,
        voice=DEFAULT_VOICE,
        speed=DEFAULT_SPEED,
        input_format=DEFAULT_FORMAT,
        output_format=DEFAULT_FORMAT,
        turn_detection=DEFAULT_VAD,
        tool_choice="auto",
        max_output_tokens=DEFAULT_MAX_OUTPUT_TOKENS,
        truncation="auto",
    )
