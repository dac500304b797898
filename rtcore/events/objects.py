"""The nested objects whose wire shape is the same in both dialects (docs/protocol/beta.md#objects).

Content parts (``input_text``, ``input_audio``, and the ``text`` / ``audio`` parts of
``response.content_part.*``, docs/protocol/ga.md#content-part), function call items and item
references, usage and status details, rate limits, error objects and the details of input
transcriptions. These classes belong to both namespaces: ``rtcore.events.ga.Usage is
rtcore.events.beta.Usage``, and they are also at ``rtcore.events``. The objects whose shape differs
are in ``rtcore.events.beta_objects`` and ``rtcore.events.ga_objects``.

The codec checks types, required fields and enum values here; ranges and
cross-field rules are left to the server role, which answers them with the
protocol's own error codes; a client must still be able to read whatever a
real server reports.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeAlias

from ._base import UNSET, ItemStatus, Object, UnsetType

__all__ = [
    "TracingConfig",
    "Tracing",
    "Conversation",
    "InputTextContent",
    "InputAudioContent",
    "TextContent",
    "AudioContent",
    "ItemReferenceContent",
    "Part",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "ItemReference",
    "StatusError",
    "StatusDetails",
    "CachedTokensDetails",
    "InputTokenDetails",
    "OutputTokenDetails",
    "Usage",
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


class TracingConfig(Object, frozen=True):
    """``session.tracing`` as an object (2025 addition)."""

    workflow_name: str | UnsetType = UNSET
    group_id: str | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET


Tracing: TypeAlias = Literal["auto"] | TracingConfig


class Conversation(Object, frozen=True):
    """The single conversation of a session.

    Both members are optional (docs/protocol/ga.md#session-events; ``id`` and ``object`` are
    ``Optional`` in the SDK's ``conversation.created``).
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


Part: TypeAlias = (
    InputTextContent | InputAudioContent | TextContent | AudioContent | ItemReferenceContent
)
"""The ``part`` of ``response.content_part.added`` / ``.done``: ``text`` / ``audio`` in both
dialects (docs/protocol/ga.md#content-part: GA did not rename them), and beta's item content
types."""


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


class StatusError(Object, frozen=True):
    """The error inside ``status_details`` of a failed response.

    Every member is an optional, nullable string (docs/protocol/ga.md#response-object: "all optional
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


class RateLimit(Object, frozen=True):
    """One entry of ``rate_limits.updated`` (every member optional in the SDK,
    docs/protocol/ga.md#rate-limits)."""

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
    """A language detected in input audio (docs/protocol/ga.md#transcription-extras)."""

    code: str
