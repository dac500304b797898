"""The nested objects that events carry (EVENTS.md section 2).

Session configuration and the session object, the conversation, items and
their content parts, responses with status details and usage, rate limits and
error objects. Items and content parts are tagged unions on their ``type``
field, exactly as on the wire.

The codec checks types, required fields and enum values here. Ranges
(``temperature`` 0.6-1.2, ``max_response_output_tokens`` 1-4096, ...) and
cross-field rules (assistant messages may not carry audio) are left to the
server role, which answers them with the protocol's own error codes; a client
must still be able to read whatever a real server reports.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeAlias

from ._base import (
    UNSET,
    AudioFormat,
    ItemStatus,
    MaxTokens,
    Modality,
    Object,
    ResponseStatus,
    Role,
    UnsetType,
    Voice,
)

__all__ = [
    # session
    "InputAudioTranscription",
    "TurnDetection",
    "NoiseReduction",
    "Tool",
    "FunctionName",
    "ToolChoiceFunction",
    "ToolChoice",
    "TracingConfig",
    "Tracing",
    "ClientSecret",
    "SessionConfig",
    "Session",
    "TranscriptionSessionConfig",
    "TranscriptionSession",
    # conversation and items
    "Conversation",
    "InputTextContent",
    "InputAudioContent",
    "TextContent",
    "AudioContent",
    "ItemReferenceContent",
    "ContentPart",
    "MessageItem",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "ItemReference",
    "Item",
    "InputItem",
    # responses
    "StatusError",
    "StatusDetails",
    "CachedTokensDetails",
    "InputTokenDetails",
    "OutputTokenDetails",
    "Usage",
    "Response",
    "ResponseParams",
    # other
    "RateLimit",
    "ErrorDetails",
    "TranscriptionError",
    "TranscriptionUsageTokens",
    "TranscriptionUsageDuration",
    "TranscriptionUsage",
    "TranscriptionTokenDetails",
    "Logprob",
    "DetectedLanguage",
]


# --------------------------------------------------------------------------
# Session configuration (EVENTS.md 2.1, 2.2)


class InputAudioTranscription(Object, frozen=True):
    """``session.input_audio_transcription``: the separate ASR pass over user audio.

    Servers echo members the client left out as ``null``.
    """

    model: str | UnsetType = UNSET
    language: str | None | UnsetType = UNSET
    prompt: str | None | UnsetType = UNSET


class TurnDetection(Object, frozen=True):
    """``session.turn_detection``: server-side voice activity detection settings."""

    type: Literal["server_vad", "semantic_vad"] | UnsetType = UNSET
    threshold: float | UnsetType = UNSET
    prefix_padding_ms: int | UnsetType = UNSET
    silence_duration_ms: int | UnsetType = UNSET
    create_response: bool | UnsetType = UNSET
    interrupt_response: bool | UnsetType = UNSET
    # Later beta additions: semantic VAD eagerness and the idle timeout.
    eagerness: Literal["low", "medium", "high", "auto"] | UnsetType = UNSET
    idle_timeout_ms: int | None | UnsetType = UNSET


class NoiseReduction(Object, frozen=True):
    """``session.input_audio_noise_reduction`` (2025 addition)."""

    type: Literal["near_field", "far_field"] | UnsetType = UNSET


class Tool(Object, frozen=True):
    """A function the model may call; flat, not wrapped as in Chat Completions."""

    name: str
    type: Literal["function"] | UnsetType = UNSET
    description: str | UnsetType = UNSET
    parameters: dict[str, Any] | UnsetType = UNSET


class FunctionName(Object, frozen=True):
    """The ``{"name": ...}`` inside the nested form of a named tool choice."""

    name: str


class ToolChoiceFunction(Object, frozen=True):
    """A named-function tool choice.

    The sources disagree on its shape (EVENTS.md 2.1): the reference client
    sends ``{"type": "function", "name": ...}``, the API prose
    ``{"type": "function", "function": {"name": ...}}``. Both decode here.
    """

    type: Literal["function"]
    name: str | UnsetType = UNSET
    function: FunctionName | UnsetType = UNSET

    @property
    def function_name(self) -> str | None:
        """The named function, whichever of the two shapes carried it."""
        if not isinstance(self.name, UnsetType):
            return self.name
        if not isinstance(self.function, UnsetType):
            return self.function.name
        return None


ToolChoice: TypeAlias = str | ToolChoiceFunction
"""``"auto"``, ``"none"``, ``"required"``, or a named function."""


class TracingConfig(Object, frozen=True):
    """``session.tracing`` as an object (2025 addition)."""

    workflow_name: str | UnsetType = UNSET
    group_id: str | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET


Tracing: TypeAlias = Literal["auto"] | TracingConfig


class ClientSecret(Object, frozen=True):
    """An ephemeral key minted for a session (``null`` on WebSocket sessions)."""

    value: str
    expires_at: int


class SessionConfig(Object, frozen=True):
    """The session settings a client may send in ``session.update`` (EVENTS.md 2.1).

    Every field is optional; only the fields present change. ``None`` is only
    accepted where the protocol gives it a meaning (switching a feature off).
    """

    modalities: tuple[Modality, ...] | None | UnsetType = UNSET
    instructions: str | None | UnsetType = UNSET
    voice: Voice | None | UnsetType = UNSET
    input_audio_format: AudioFormat | None | UnsetType = UNSET
    output_audio_format: AudioFormat | None | UnsetType = UNSET
    input_audio_transcription: InputAudioTranscription | None | UnsetType = UNSET
    turn_detection: TurnDetection | None | UnsetType = UNSET
    tools: tuple[Tool, ...] | None | UnsetType = UNSET
    tool_choice: ToolChoice | None | UnsetType = UNSET
    temperature: float | None | UnsetType = UNSET
    max_response_output_tokens: MaxTokens | None | UnsetType = UNSET
    model: str | None | UnsetType = UNSET
    # 2025 additions seen in real session echoes (EVENTS.md 2.2 and 6).
    input_audio_noise_reduction: NoiseReduction | None | UnsetType = UNSET
    speed: float | None | UnsetType = UNSET
    tracing: Tracing | None | UnsetType = UNSET
    include: tuple[str, ...] | None | UnsetType = UNSET


class Session(SessionConfig, frozen=True, kw_only=True):
    """The session object in ``session.created`` / ``session.updated`` (EVENTS.md 2.2)."""

    id: str
    object: Literal["realtime.session"] | UnsetType = UNSET
    expires_at: int | UnsetType = UNSET
    client_secret: ClientSecret | None | UnsetType = UNSET
    custom_voice_id: str | None | UnsetType = UNSET


class TranscriptionSessionConfig(Object, frozen=True):
    """``transcription_session.update.session``: a transcription-only session (2025)."""

    input_audio_format: AudioFormat | UnsetType = UNSET
    input_audio_transcription: InputAudioTranscription | None | UnsetType = UNSET
    turn_detection: TurnDetection | None | UnsetType = UNSET
    input_audio_noise_reduction: NoiseReduction | None | UnsetType = UNSET
    include: tuple[str, ...] | None | UnsetType = UNSET
    modalities: tuple[Modality, ...] | UnsetType = UNSET


class TranscriptionSession(TranscriptionSessionConfig, frozen=True, kw_only=True):
    """The session object of ``transcription_session.created`` / ``.updated``."""

    id: str | UnsetType = UNSET
    object: Literal["realtime.transcription_session"] | UnsetType = UNSET
    expires_at: int | UnsetType = UNSET
    client_secret: ClientSecret | None | UnsetType = UNSET


# --------------------------------------------------------------------------
# Conversation, items and content parts (EVENTS.md 2.3, 2.4)


class Conversation(Object, frozen=True):
    """The single conversation of a session.

    Both members are optional (GA.md 4.1; ``id`` and ``object`` are ``Optional``
    in the SDK's ``conversation.created``).
    """

    id: str | None | UnsetType = UNSET
    object: Literal["realtime.conversation"] | None | UnsetType = UNSET


class InputTextContent(Object, frozen=True, tag_field="type", tag="input_text"):
    """Text typed by the user (user and system messages)."""

    type: ClassVar[str] = "input_text"
    text: str


class InputAudioContent(Object, frozen=True, tag_field="type", tag="input_audio"):
    """User audio. Server echoes leave the bytes out and carry the transcript."""

    type: ClassVar[str] = "input_audio"
    audio: bytes | UnsetType = UNSET
    transcript: str | None | UnsetType = UNSET


class TextContent(Object, frozen=True, tag_field="type", tag="text"):
    """Assistant text."""

    type: ClassVar[str] = "text"
    text: str


class AudioContent(Object, frozen=True, tag_field="type", tag="audio"):
    """Assistant audio; the bytes are left out of every server echo."""

    type: ClassVar[str] = "audio"
    audio: bytes | UnsetType = UNSET
    transcript: str | None | UnsetType = UNSET


class ItemReferenceContent(Object, frozen=True, tag_field="type", tag="item_reference"):
    """A reference to an existing item, only valid inside ``response.create.response.input``."""

    type: ClassVar[str] = "item_reference"
    id: str


ContentPart: TypeAlias = (
    InputTextContent | InputAudioContent | TextContent | AudioContent | ItemReferenceContent
)


class MessageItem(Object, frozen=True, tag_field="type", tag="message"):
    """A message from the user, the assistant or the system."""

    type: ClassVar[str] = "message"
    role: Role
    content: tuple[ContentPart, ...] | UnsetType = UNSET
    id: str | UnsetType = UNSET
    object: Literal["realtime.item"] | UnsetType = UNSET
    status: ItemStatus | UnsetType = UNSET


class FunctionCallItem(Object, frozen=True, tag_field="type", tag="function_call"):
    """A call of one of the session's tools by the model."""

    type: ClassVar[str] = "function_call"
    call_id: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET
    id: str | UnsetType = UNSET
    object: Literal["realtime.item"] | UnsetType = UNSET
    status: ItemStatus | UnsetType = UNSET


class FunctionCallOutputItem(Object, frozen=True, tag_field="type", tag="function_call_output"):
    """The result of a function call, sent by the client."""

    type: ClassVar[str] = "function_call_output"
    call_id: str
    output: str | UnsetType = UNSET
    id: str | UnsetType = UNSET
    object: Literal["realtime.item"] | UnsetType = UNSET
    status: ItemStatus | UnsetType = UNSET


class ItemReference(Object, frozen=True, tag_field="type", tag="item_reference"):
    """``{"type": "item_reference", "id": ...}`` inside ``response.create.response.input``."""

    type: ClassVar[str] = "item_reference"
    id: str


Item: TypeAlias = MessageItem | FunctionCallItem | FunctionCallOutputItem
InputItem: TypeAlias = MessageItem | FunctionCallItem | FunctionCallOutputItem | ItemReference


# --------------------------------------------------------------------------
# Responses (EVENTS.md 2.5, 2.6)


class StatusError(Object, frozen=True):
    """The error inside ``status_details`` of a failed response.

    Every member is an optional, nullable string (GA.md 2.11: "all optional
    strings"; ``Optional[str]`` in the SDK): a ``response.done`` refused for a
    missing ``type`` would leave its response open forever.
    """

    type: str | None | UnsetType = UNSET
    code: str | None | UnsetType = UNSET
    message: str | None | UnsetType = UNSET


class StatusDetails(Object, frozen=True):
    """Why a response ended the way it did (every member optional and nullable in the SDK)."""

    type: Literal["completed", "cancelled", "incomplete", "failed"] | None | UnsetType = UNSET
    reason: (
        Literal["turn_detected", "client_cancelled", "max_output_tokens", "content_filter"]
        | None
        | UnsetType
    ) = UNSET
    error: StatusError | None | UnsetType = UNSET


# Usage: every counter and detail object is optional and nullable in the SDK's types
# (GA.md 2.11: "all optional in the types"); servers send them all, but a usage object
# refused for a missing counter would lose its whole ``response.done``.


class CachedTokensDetails(Object, frozen=True):
    text_tokens: int | None | UnsetType = UNSET
    audio_tokens: int | None | UnsetType = UNSET
    image_tokens: int | None | UnsetType = UNSET  # GA


class InputTokenDetails(Object, frozen=True):
    cached_tokens: int | None | UnsetType = UNSET
    text_tokens: int | None | UnsetType = UNSET
    audio_tokens: int | None | UnsetType = UNSET
    image_tokens: int | None | UnsetType = UNSET  # GA
    cached_tokens_details: CachedTokensDetails | None | UnsetType = UNSET


class OutputTokenDetails(Object, frozen=True):
    text_tokens: int | None | UnsetType = UNSET
    audio_tokens: int | None | UnsetType = UNSET


class Usage(Object, frozen=True):
    """Token counts of a finished response (every counter 0 when cancelled early)."""

    total_tokens: int | None | UnsetType = UNSET
    input_tokens: int | None | UnsetType = UNSET
    output_tokens: int | None | UnsetType = UNSET
    input_token_details: InputTokenDetails | None | UnsetType = UNSET
    output_token_details: OutputTokenDetails | None | UnsetType = UNSET


class Response(Object, frozen=True):
    """The ``realtime.response`` object of ``response.created`` / ``response.done``."""

    id: str
    status: ResponseStatus
    output: tuple[Item, ...]
    object: Literal["realtime.response"] | UnsetType = UNSET
    status_details: StatusDetails | None | UnsetType = UNSET
    usage: Usage | None | UnsetType = UNSET
    # Added Dec 2024.
    conversation_id: str | None | UnsetType = UNSET
    modalities: tuple[Modality, ...] | UnsetType = UNSET
    voice: Voice | UnsetType = UNSET
    output_audio_format: AudioFormat | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    max_output_tokens: MaxTokens | UnsetType = UNSET
    metadata: dict[str, str] | None | UnsetType = UNSET


class ResponseParams(Object, frozen=True):
    """``response.create.response``: per-response overrides (EVENTS.md 2.6)."""

    modalities: tuple[Modality, ...] | None | UnsetType = UNSET
    instructions: str | None | UnsetType = UNSET
    voice: Voice | None | UnsetType = UNSET
    output_audio_format: AudioFormat | None | UnsetType = UNSET
    tools: tuple[Tool, ...] | None | UnsetType = UNSET
    tool_choice: ToolChoice | None | UnsetType = UNSET
    temperature: float | None | UnsetType = UNSET
    max_response_output_tokens: MaxTokens | None | UnsetType = UNSET
    # The name used by the Oct 2024 draft and the Feb 2025 doc example.
    max_output_tokens: MaxTokens | None | UnsetType = UNSET
    conversation: Literal["auto", "none"] | None | UnsetType = UNSET
    metadata: dict[str, str] | None | UnsetType = UNSET
    input: tuple[InputItem, ...] | None | UnsetType = UNSET


# --------------------------------------------------------------------------
# Rate limits, errors, transcription details (EVENTS.md 2.7, 2.8, 6)


class RateLimit(Object, frozen=True):
    """One entry of ``rate_limits.updated`` (every member optional in the SDK, GA.md 2.12)."""

    name: Literal["requests", "tokens"] | None | UnsetType = UNSET
    limit: int | None | UnsetType = UNSET
    remaining: int | None | UnsetType = UNSET
    reset_seconds: float | None | UnsetType = UNSET


class ErrorDetails(Object, frozen=True):
    """The ``error`` object of an ``error`` event.

    ``event_id`` is the ``event_id`` of the client event that caused the error.
    """

    type: str
    message: str
    code: str | None | UnsetType = UNSET
    param: str | None | UnsetType = UNSET
    event_id: str | None | UnsetType = UNSET


class TranscriptionError(Object, frozen=True):
    """The error of ``conversation.item.input_audio_transcription.failed``."""

    type: str | None | UnsetType = UNSET
    code: str | None | UnsetType = UNSET
    message: str | None | UnsetType = UNSET
    param: str | None | UnsetType = UNSET


class TranscriptionTokenDetails(Object, frozen=True):
    text_tokens: int | None | UnsetType = UNSET
    audio_tokens: int | None | UnsetType = UNSET


class TranscriptionUsageTokens(Object, frozen=True, tag_field="type", tag="tokens"):
    """Token-based usage of a transcription (mid 2025)."""

    type: ClassVar[str] = "tokens"
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_token_details: TranscriptionTokenDetails | None | UnsetType = UNSET


class TranscriptionUsageDuration(Object, frozen=True, tag_field="type", tag="duration"):
    """Duration-based usage of a transcription (mid 2025)."""

    type: ClassVar[str] = "duration"
    seconds: float


TranscriptionUsage: TypeAlias = TranscriptionUsageTokens | TranscriptionUsageDuration


class Logprob(Object, frozen=True):
    token: str
    logprob: float
    bytes: tuple[int, ...] | UnsetType = UNSET


class DetectedLanguage(Object, frozen=True):
    """A language detected in input audio (GA.md 2.14)."""

    code: str
