"""Server events whose wire shape is the same in both dialects (docs/protocol/beta.md#server-events,
docs/protocol/ga.md#server-events).

Errors, the input audio buffer's events, transcription results, truncation
and deletion confirmations, content parts, function call arguments, rate
limits and the WebRTC output buffer events: ``rtcore.events.ga.ErrorEvent is
rtcore.events.beta.ErrorEvent``. The server events whose payload or name
differs are defined per dialect in ``rtcore.events.ga`` and
``rtcore.events.beta``.

Every server event carries a required ``event_id``. The id threading between
them (which ``response_id``, ``item_id``, ``output_index``, ``content_index``
and ``call_id`` ride on which event) is docs/protocol/beta.md#ids; the order is
docs/protocol/flows.md.
"""

from __future__ import annotations

from typing import ClassVar

from ._base import UNSET, EventBase, UnsetType
from .objects import (
    Conversation,
    DetectedLanguage,
    ErrorDetails,
    Logprob,
    Part,
    RateLimit,
    TranscriptionError,
    TranscriptionUsage,
)

__all__ = [
    "ConversationCreated",
    "ConversationItemDeleted",
    "ConversationItemInputAudioTranscriptionCompleted",
    "ConversationItemInputAudioTranscriptionDelta",
    "ConversationItemInputAudioTranscriptionFailed",
    "ConversationItemInputAudioTranscriptionSegment",
    "ConversationItemTruncated",
    "ErrorEvent",
    "InputAudioBufferCleared",
    "InputAudioBufferCommitted",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioBufferTimeoutTriggered",
    "OutputAudioBufferCleared",
    "OutputAudioBufferStarted",
    "OutputAudioBufferStopped",
    "RateLimitsUpdated",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ServerEvent",
]


class ServerEvent(EventBase, frozen=True, kw_only=True):
    """Base of every server event."""

    type: ClassVar[str]
    event_id: str


class ErrorEvent(ServerEvent, frozen=True, tag="error", kw_only=True):
    """Something went wrong; most errors leave the session open."""

    type: ClassVar[str] = "error"
    error: ErrorDetails


class ConversationCreated(ServerEvent, frozen=True, tag="conversation.created", kw_only=True):
    """Announces the conversation (documented; absent from real traces)."""

    type: ClassVar[str] = "conversation.created"
    conversation: Conversation


class ConversationItemInputAudioTranscriptionCompleted(
    ServerEvent,
    frozen=True,
    tag="conversation.item.input_audio_transcription.completed",
    kw_only=True,
):
    """Result of the ASR pass over a committed user audio item."""

    type: ClassVar[str] = "conversation.item.input_audio_transcription.completed"
    item_id: str
    content_index: int
    transcript: str
    usage: TranscriptionUsage | UnsetType = UNSET
    logprobs: tuple[Logprob, ...] | None | UnsetType = UNSET
    languages: tuple[DetectedLanguage, ...] | None | UnsetType = UNSET
    """Detected languages (GA, ``gpt-transcribe``); ``[]`` when none is reliable."""


class ConversationItemInputAudioTranscriptionFailed(
    ServerEvent, frozen=True, tag="conversation.item.input_audio_transcription.failed", kw_only=True
):
    """The ASR pass failed for an item."""

    type: ClassVar[str] = "conversation.item.input_audio_transcription.failed"
    item_id: str
    content_index: int
    error: TranscriptionError


class ConversationItemTruncated(
    ServerEvent, frozen=True, tag="conversation.item.truncated", kw_only=True
):
    """The item's audio now ends at ``audio_end_ms`` and its transcript is gone."""

    type: ClassVar[str] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDeleted(
    ServerEvent, frozen=True, tag="conversation.item.deleted", kw_only=True
):
    """Confirms ``conversation.item.delete``."""

    type: ClassVar[str] = "conversation.item.deleted"
    item_id: str


class InputAudioBufferCommitted(
    ServerEvent, frozen=True, tag="input_audio_buffer.committed", kw_only=True
):
    """The input buffer became user item ``item_id``, to follow ``previous_item_id``."""

    type: ClassVar[str] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None | UnsetType = UNSET


class InputAudioBufferCleared(
    ServerEvent, frozen=True, tag="input_audio_buffer.cleared", kw_only=True
):
    """Confirms ``input_audio_buffer.clear``."""

    type: ClassVar[str] = "input_audio_buffer.cleared"


class InputAudioBufferSpeechStarted(
    ServerEvent, frozen=True, tag="input_audio_buffer.speech_started", kw_only=True
):
    """Server VAD heard speech begin (``audio_start_ms`` includes the prefix padding)."""

    type: ClassVar[str] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    item_id: str


class InputAudioBufferSpeechStopped(
    ServerEvent, frozen=True, tag="input_audio_buffer.speech_stopped", kw_only=True
):
    """Server VAD heard speech end (``audio_end_ms`` includes the silence window)."""

    type: ClassVar[str] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str


class ResponseContentPartAdded(
    ServerEvent, frozen=True, tag="response.content_part.added", kw_only=True
):
    """A content part begins inside an assistant message."""

    type: ClassVar[str] = "response.content_part.added"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: Part


class ResponseContentPartDone(
    ServerEvent, frozen=True, tag="response.content_part.done", kw_only=True
):
    """A content part is finished; ``part`` holds the final text or transcript."""

    type: ClassVar[str] = "response.content_part.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: Part


class ResponseFunctionCallArgumentsDelta(
    ServerEvent, frozen=True, tag="response.function_call_arguments.delta", kw_only=True
):
    """Next chunk of a function call's JSON arguments."""

    type: ClassVar[str] = "response.function_call_arguments.delta"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDone(
    ServerEvent, frozen=True, tag="response.function_call_arguments.done", kw_only=True
):
    """A function call's arguments are complete (real traffic also carries ``name``)."""

    type: ClassVar[str] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    arguments: str
    name: str | UnsetType = UNSET


class RateLimitsUpdated(ServerEvent, frozen=True, tag="rate_limits.updated", kw_only=True):
    """Rate-limit state at the start of a response."""

    type: ClassVar[str] = "rate_limits.updated"
    rate_limits: tuple[RateLimit, ...]


# -- later additions (docs/protocol/beta.md#later-additions) ------------------


class ConversationItemInputAudioTranscriptionDelta(
    ServerEvent, frozen=True, tag="conversation.item.input_audio_transcription.delta", kw_only=True
):
    """Streamed input transcription (with whisper-1, one delta holding the whole text)."""

    type: ClassVar[str] = "conversation.item.input_audio_transcription.delta"
    item_id: str
    content_index: int | None | UnsetType = UNSET
    delta: str | None | UnsetType = UNSET
    logprobs: tuple[Logprob, ...] | None | UnsetType = UNSET
    obfuscation: str | None | UnsetType = UNSET
    """Random padding some servers add to deltas (docs/protocol/ga.md#obfuscation); meaningless,
    kept for relays."""


class ConversationItemInputAudioTranscriptionSegment(
    ServerEvent,
    frozen=True,
    tag="conversation.item.input_audio_transcription.segment",
    kw_only=True,
):
    """A diarised segment of an input transcription."""

    type: ClassVar[str] = "conversation.item.input_audio_transcription.segment"
    item_id: str
    content_index: int
    id: str
    start: float
    end: float
    text: str
    speaker: str | UnsetType = UNSET


class InputAudioBufferTimeoutTriggered(
    ServerEvent, frozen=True, tag="input_audio_buffer.timeout_triggered", kw_only=True
):
    """``turn_detection.idle_timeout_ms`` of silence elapsed; the silent audio is committed."""

    type: ClassVar[str] = "input_audio_buffer.timeout_triggered"
    audio_start_ms: int
    audio_end_ms: int
    item_id: str


class OutputAudioBufferStarted(
    ServerEvent, frozen=True, tag="output_audio_buffer.started", kw_only=True
):
    """WebRTC: playback of a response's audio began."""

    type: ClassVar[str] = "output_audio_buffer.started"
    response_id: str


class OutputAudioBufferStopped(
    ServerEvent, frozen=True, tag="output_audio_buffer.stopped", kw_only=True
):
    """WebRTC: the output audio buffer drained."""

    type: ClassVar[str] = "output_audio_buffer.stopped"
    response_id: str


class OutputAudioBufferCleared(
    ServerEvent, frozen=True, tag="output_audio_buffer.cleared", kw_only=True
):
    """WebRTC: queued output audio was flushed (barge-in or ``output_audio_buffer.clear``)."""

    type: ClassVar[str] = "output_audio_buffer.cleared"
    response_id: str
