"""The nested objects of the beta dialect whose wire shape differs from GA
(docs/protocol/beta.md#objects).

The flat session configuration and the session objects (regular and
transcription-only), beta's tools and tool choice, the message item whose
assistant parts are ``text`` / ``audio``, the item unions, and the response
object and parameters. The objects both dialects share are in
``rtcore.events.objects``; the GA counterparts of these, under the same names,
in ``rtcore.events.ga_objects``. Import them from the namespace
``rtcore.events.beta``.

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
)
from .objects import (
    FunctionCallItem,
    FunctionCallOutputItem,
    ItemReference,
    Part,
    StatusDetails,
    Tracing,
    Usage,
)

__all__ = [
    "Voice",
    "InputAudioTranscription",
    "TurnDetection",
    "NoiseReduction",
    "Tool",
    "FunctionName",
    "ToolChoiceFunction",
    "ToolChoice",
    "ClientSecret",
    "SessionConfig",
    "Session",
    "TranscriptionSessionConfig",
    "TranscriptionSession",
    "ContentPart",
    "MessageItem",
    "Item",
    "InputItem",
    "Response",
    "ResponseParams",
]

Voice: TypeAlias = str
"""A voice name. Any string is accepted (docs/protocol/ga.md#session: the types allow any string,
and new voices such as ``marin`` and ``cedar`` keep arriving); the built-in
names are ``rtcore.events.BUILTIN_VOICES``."""


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

    The sources disagree on its shape (docs/protocol/beta.md#session): the reference client
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


class ClientSecret(Object, frozen=True):
    """An ephemeral key minted for a session (``null`` on WebSocket sessions)."""

    value: str
    expires_at: int


class SessionConfig(Object, frozen=True):
    """The session settings a client may send in ``session.update`` (docs/protocol/beta.md#session).

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
    # 2025 additions seen in real session echoes (docs/protocol/beta.md#session-object,
    # docs/protocol/beta.md#later-additions).
    input_audio_noise_reduction: NoiseReduction | None | UnsetType = UNSET
    speed: float | None | UnsetType = UNSET
    tracing: Tracing | None | UnsetType = UNSET
    include: tuple[str, ...] | None | UnsetType = UNSET


class Session(SessionConfig, frozen=True, kw_only=True):
    """The session object in ``session.created`` / ``session.updated``
    (docs/protocol/beta.md#session-object)."""

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


ContentPart: TypeAlias = Part
"""The content of a beta message item: the same five types as ``response.content_part.*``."""


class MessageItem(Object, frozen=True, tag_field="type", tag="message"):
    """A message from the user, the assistant or the system."""

    type: ClassVar[str] = "message"
    role: Role
    content: tuple[ContentPart, ...] | UnsetType = UNSET
    id: str | UnsetType = UNSET
    object: Literal["realtime.item"] | UnsetType = UNSET
    status: ItemStatus | UnsetType = UNSET


Item: TypeAlias = MessageItem | FunctionCallItem | FunctionCallOutputItem


InputItem: TypeAlias = MessageItem | FunctionCallItem | FunctionCallOutputItem | ItemReference


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
    """``response.create.response``: per-response overrides
    (docs/protocol/beta.md#response-parameters)."""

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
