"""The nested objects of the GA dialect whose wire shape differs from beta
(docs/protocol/ga.md#objects).

They carry the wire's plain names (``MessageItem``, ``Session``,
``ToolChoiceFunction``, ...), the same names as their beta counterparts in
``rtcore.events.beta_objects``: import them from the namespace
``rtcore.events.ga``, where the name says the dialect.

GA nests the audio configuration (``session.audio.input`` / ``.output``),
spells audio formats as objects (``{"type": "audio/pcm", "rate": 24000}``),
names assistant content ``output_text`` / ``output_audio``, adds
``input_image`` content, MCP tools and four MCP item types, and reshapes the
response object and the response parameters. Objects whose shape is the same
in both dialects (function call items, usage, status details, errors, rate
limits, tracing, the content parts of ``response.content_part.*``) are the
classes of ``rtcore.events.objects``, shared by both namespaces.

As in beta, the codec checks types, required fields and enum values here and
nothing else: ranges (``max_output_tokens`` 1-4096, ``speed`` 0.25-1.5,
``idle_timeout_ms`` 5000-30000, ``retention_ratio`` 0-1), the single output
modality and the item rules are the server role's business
(``rtcore.server``), because a client must read whatever a server reports.

Choices where the public references leave room (docs/protocol/choices.md):

* Tagged unions need their tag: a tool, a turn-detection object, an audio
  format, a content part and an item must carry ``type`` (the SDK types mark a
  few of these optional, but every sender sets them).
* Items also accept the beta part names ``text`` / ``audio``
  (docs/protocol/choices.md#beta-part-names-in-items: the spec's own GA examples still use them), so
  that a client reads such a server; the server role refuses them in GA input.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeAlias

from ._base import UNSET, ItemStatus, MaxTokens, Modality, Object, ResponseStatus, UnsetType
from .objects import (
    AudioContent,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioContent,
    InputTextContent,
    ItemReference,
    StatusDetails,
    TextContent,
    Tracing,
    Usage,
)

__all__ = [
    # formats and audio configuration
    "PcmFormat",
    "PcmuFormat",
    "PcmaFormat",
    "AudioFormatSpec",
    "VoiceId",
    "Voice",
    "NoiseReduction",
    "Transcription",
    "ServerVad",
    "SemanticVad",
    "TurnDetection",
    "AudioInput",
    "AudioOutput",
    "AudioConfig",
    "TranscriptionAudio",
    # tools
    "FunctionTool",
    "McpToolFilter",
    "McpApprovalFilter",
    "McpTool",
    "Tool",
    "ToolChoiceFunction",
    "ToolChoiceMcp",
    "ToolChoice",
    # other session members
    "TokenLimits",
    "RetentionRatioTruncation",
    "Truncation",
    "Prompt",
    "Reasoning",
    # sessions
    "RealtimeSessionConfig",
    "RealtimeSession",
    "TranscriptionSessionConfig",
    "TranscriptionSession",
    "SessionConfig",
    "Session",
    # items
    "InputImageContent",
    "OutputTextContent",
    "OutputAudioContent",
    "ContentPart",
    "MessageItem",
    "McpListedTool",
    "McpListToolsItem",
    "McpProtocolError",
    "McpToolExecutionError",
    "McpHttpError",
    "McpError",
    "McpCallItem",
    "McpApprovalRequestItem",
    "McpApprovalResponseItem",
    "Item",
    "InputItem",
    # responses
    "ResponseAudioOutput",
    "ResponseAudio",
    "Response",
    "ResponseParams",
]


# --------------------------------------------------------------------------
# Audio formats and the nested audio configuration (docs/protocol/ga.md#session)


class PcmFormat(Object, frozen=True, tag_field="type", tag="audio/pcm"):
    """16-bit little-endian mono PCM; ``rate`` may only be 24000 (beta ``pcm16``)."""

    type: ClassVar[str] = "audio/pcm"
    rate: Literal[24000] | UnsetType = UNSET


class PcmuFormat(Object, frozen=True, tag_field="type", tag="audio/pcmu"):
    """G.711 mu-law at 8 kHz (beta ``g711_ulaw``)."""

    type: ClassVar[str] = "audio/pcmu"


class PcmaFormat(Object, frozen=True, tag_field="type", tag="audio/pcma"):
    """G.711 A-law at 8 kHz (beta ``g711_alaw``)."""

    type: ClassVar[str] = "audio/pcma"


AudioFormatSpec: TypeAlias = PcmFormat | PcmuFormat | PcmaFormat


class VoiceId(Object, frozen=True):
    """A custom voice, ``{"id": "voice_..."}`` (March 2026)."""

    id: str


Voice: TypeAlias = str | VoiceId
"""A built-in voice name (any string: ``marin``, ``cedar``, ...) or a custom voice."""


class NoiseReduction(Object, frozen=True):
    """``audio.input.noise_reduction``: ``near_field`` / ``far_field`` and a strength."""

    type: Literal["near_field", "far_field"] | UnsetType = UNSET
    strength: float | UnsetType = UNSET


class Transcription(Object, frozen=True):
    """``audio.input.transcription``: the separate ASR pass over user audio
    (docs/protocol/ga.md#transcription)."""

    model: str | None | UnsetType = UNSET
    language: str | None | UnsetType = UNSET
    prompt: str | None | UnsetType = UNSET
    languages: tuple[str, ...] | None | UnsetType = UNSET
    keywords: tuple[str, ...] | None | UnsetType = UNSET
    delay: Literal["minimal", "low", "medium", "high", "xhigh"] | None | UnsetType = UNSET


class ServerVad(Object, frozen=True, tag_field="type", tag="server_vad"):
    """Voice activity detection on loudness (docs/protocol/ga.md#turn-detection)."""

    type: ClassVar[str] = "server_vad"
    threshold: float | None | UnsetType = UNSET
    prefix_padding_ms: int | None | UnsetType = UNSET
    silence_duration_ms: int | None | UnsetType = UNSET
    idle_timeout_ms: int | None | UnsetType = UNSET
    create_response: bool | None | UnsetType = UNSET
    interrupt_response: bool | None | UnsetType = UNSET


class SemanticVad(Object, frozen=True, tag_field="type", tag="semantic_vad"):
    """Turn detection that waits longer when the user seems unfinished
    (docs/protocol/ga.md#turn-detection)."""

    type: ClassVar[str] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] | None | UnsetType = UNSET
    create_response: bool | None | UnsetType = UNSET
    interrupt_response: bool | None | UnsetType = UNSET


TurnDetection: TypeAlias = ServerVad | SemanticVad


class AudioInput(Object, frozen=True):
    """``session.audio.input``."""

    format: AudioFormatSpec | None | UnsetType = UNSET
    noise_reduction: NoiseReduction | None | UnsetType = UNSET
    transcription: Transcription | None | UnsetType = UNSET
    turn_detection: TurnDetection | None | UnsetType = UNSET


class AudioOutput(Object, frozen=True):
    """``session.audio.output``."""

    format: AudioFormatSpec | None | UnsetType = UNSET
    voice: Voice | None | UnsetType = UNSET
    speed: float | None | UnsetType = UNSET


class AudioConfig(Object, frozen=True):
    """``session.audio``: merged field by field by ``session.update``."""

    input: AudioInput | None | UnsetType = UNSET
    output: AudioOutput | None | UnsetType = UNSET


class TranscriptionAudio(Object, frozen=True):
    """``session.audio`` of a transcription session: input only."""

    input: AudioInput | None | UnsetType = UNSET


# --------------------------------------------------------------------------
# Tools (docs/protocol/ga.md#tools)


class FunctionTool(Object, frozen=True, tag_field="type", tag="function"):
    """A function the model may call; ``parameters`` is any JSON Schema object."""

    type: ClassVar[str] = "function"
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    parameters: dict[str, Any] | UnsetType = UNSET


class McpToolFilter(Object, frozen=True):
    """Selects MCP tools by name or by their read-only annotation."""

    tool_names: tuple[str, ...] | None | UnsetType = UNSET
    read_only: bool | None | UnsetType = UNSET


class McpApprovalFilter(Object, frozen=True):
    """Which MCP tools need approval (``always``) and which never do."""

    always: McpToolFilter | None | UnsetType = UNSET
    never: McpToolFilter | None | UnsetType = UNSET


class McpTool(Object, frozen=True, tag_field="type", tag="mcp"):
    """Tools of a remote MCP server that the service calls itself (docs/protocol/ga.md#tools,
    docs/protocol/flows.md#mcp).

    Optional members may be ``null``: a server echoes every nullable field as ``null``
    (docs/protocol/connection.md#first-events) and the SDK types them ``Optional``. A server reading
    a client's tool takes ``null`` as "not set" (``without_nulls``).
    """

    type: ClassVar[str] = "mcp"
    server_label: str
    server_url: str | None | UnsetType = UNSET
    connector_id: str | None | UnsetType = UNSET
    tunnel_id: str | None | UnsetType = UNSET
    authorization: str | None | UnsetType = UNSET
    headers: dict[str, str] | None | UnsetType = UNSET
    server_description: str | None | UnsetType = UNSET
    allowed_tools: tuple[str, ...] | McpToolFilter | None | UnsetType = UNSET
    require_approval: Literal["always", "never"] | McpApprovalFilter | None | UnsetType = UNSET
    allowed_callers: tuple[Literal["direct", "programmatic"], ...] | None | UnsetType = UNSET
    defer_loading: bool | None | UnsetType = UNSET


Tool: TypeAlias = FunctionTool | McpTool


class ToolChoiceFunction(Object, frozen=True, tag_field="type", tag="function"):
    """``{"type": "function", "name": ...}``: GA settles the flat form."""

    type: ClassVar[str] = "function"
    name: str


class ToolChoiceMcp(Object, frozen=True, tag_field="type", tag="mcp"):
    """``{"type": "mcp", "server_label": ..., "name"?: ...}``."""

    type: ClassVar[str] = "mcp"
    server_label: str
    name: str | None | UnsetType = UNSET


ToolChoice: TypeAlias = str | ToolChoiceFunction | ToolChoiceMcp
"""``"auto"``, ``"none"``, ``"required"``, a named function or an MCP server's tool."""


# --------------------------------------------------------------------------
# Other session members (docs/protocol/ga.md#session)


class TokenLimits(Object, frozen=True):
    post_instructions: int | UnsetType = UNSET


class RetentionRatioTruncation(Object, frozen=True, tag_field="type", tag="retention_ratio"):
    """Drop old items down to a fraction of the input limit when it is exceeded."""

    type: ClassVar[str] = "retention_ratio"
    retention_ratio: float
    token_limits: TokenLimits | UnsetType = UNSET


Truncation: TypeAlias = Literal["auto", "disabled"] | RetentionRatioTruncation


class Prompt(Object, frozen=True):
    """A stored prompt template; ``variables`` map to strings or input objects."""

    id: str
    version: str | None | UnsetType = UNSET
    variables: dict[str, Any] | None | UnsetType = UNSET


class Reasoning(Object, frozen=True):
    """Reasoning effort of reasoning models (``gpt-realtime-2``, May 2026)."""

    effort: Literal["minimal", "low", "medium", "high", "xhigh"] | None | UnsetType = UNSET


# --------------------------------------------------------------------------
# Sessions (docs/protocol/ga.md#session, docs/protocol/ga.md#transcription-session)


class RealtimeSessionConfig(Object, frozen=True, tag_field="type", tag="realtime"):
    """``session.update.session`` of a speech-to-speech session; only fields present change."""

    type: ClassVar[str] = "realtime"
    model: str | None | UnsetType = UNSET
    output_modalities: tuple[Modality, ...] | None | UnsetType = UNSET
    instructions: str | None | UnsetType = UNSET
    audio: AudioConfig | None | UnsetType = UNSET
    include: tuple[str, ...] | None | UnsetType = UNSET
    max_output_tokens: MaxTokens | None | UnsetType = UNSET
    tools: tuple[Tool, ...] | None | UnsetType = UNSET
    tool_choice: ToolChoice | None | UnsetType = UNSET
    parallel_tool_calls: bool | None | UnsetType = UNSET
    reasoning: Reasoning | None | UnsetType = UNSET
    tracing: Tracing | None | UnsetType = UNSET
    truncation: Truncation | None | UnsetType = UNSET
    prompt: Prompt | None | UnsetType = UNSET


class RealtimeSession(RealtimeSessionConfig, frozen=True, kw_only=True, tag="realtime"):
    """The session of ``session.created`` / ``session.updated``: complete, with its id."""

    id: str | UnsetType = UNSET
    object: Literal["realtime.session"] | UnsetType = UNSET
    expires_at: int | UnsetType = UNSET


class TranscriptionSessionConfig(Object, frozen=True, tag_field="type", tag="transcription"):
    """``session.update.session`` of a transcription session
    (docs/protocol/ga.md#transcription-session)."""

    type: ClassVar[str] = "transcription"
    audio: TranscriptionAudio | None | UnsetType = UNSET
    include: tuple[str, ...] | None | UnsetType = UNSET


class TranscriptionSession(
    TranscriptionSessionConfig, frozen=True, kw_only=True, tag="transcription"
):
    """The session of ``session.created`` / ``.updated`` in a transcription session."""

    id: str | UnsetType = UNSET
    object: str | UnsetType = UNSET
    expires_at: int | UnsetType = UNSET


SessionConfig: TypeAlias = RealtimeSessionConfig | TranscriptionSessionConfig
Session: TypeAlias = RealtimeSession | TranscriptionSession


# --------------------------------------------------------------------------
# Items and content (docs/protocol/ga.md#items)


class InputImageContent(Object, frozen=True, tag_field="type", tag="input_image"):
    """An image from the user: a PNG or JPEG data URI."""

    type: ClassVar[str] = "input_image"
    image_url: str | UnsetType = UNSET
    detail: Literal["auto", "low", "high"] | UnsetType = UNSET


class OutputTextContent(Object, frozen=True, tag_field="type", tag="output_text"):
    """Assistant text (beta ``text``)."""

    type: ClassVar[str] = "output_text"
    text: str | UnsetType = UNSET


class OutputAudioContent(Object, frozen=True, tag_field="type", tag="output_audio"):
    """Assistant audio (beta ``audio``); the bytes are left out of every server echo."""

    type: ClassVar[str] = "output_audio"
    audio: bytes | UnsetType = UNSET
    transcript: str | None | UnsetType = UNSET


ContentPart: TypeAlias = (
    InputTextContent
    | InputAudioContent
    | InputImageContent
    | OutputTextContent
    | OutputAudioContent
    | TextContent
    | AudioContent
)


class MessageItem(Object, frozen=True, tag_field="type", tag="message"):
    """A message from the user, the assistant or the system."""

    type: ClassVar[str] = "message"
    role: Literal["user", "assistant", "system"]
    content: tuple[ContentPart, ...] | UnsetType = UNSET
    id: str | UnsetType = UNSET
    object: Literal["realtime.item"] | UnsetType = UNSET
    status: ItemStatus | UnsetType = UNSET


class McpListedTool(Object, frozen=True):
    """One tool an MCP server offers."""

    name: str
    input_schema: Any
    description: str | None | UnsetType = UNSET
    annotations: Any | UnsetType = UNSET


class McpListToolsItem(Object, frozen=True, tag_field="type", tag="mcp_list_tools"):
    """The tools an MCP server offers, listed by the server when the tool is configured."""

    type: ClassVar[str] = "mcp_list_tools"
    server_label: str
    tools: tuple[McpListedTool, ...]
    id: str | UnsetType = UNSET


class McpProtocolError(Object, frozen=True, tag_field="type", tag="protocol_error"):
    type: ClassVar[str] = "protocol_error"
    code: int
    message: str


class McpToolExecutionError(Object, frozen=True, tag_field="type", tag="tool_execution_error"):
    type: ClassVar[str] = "tool_execution_error"
    message: str


class McpHttpError(Object, frozen=True, tag_field="type", tag="http_error"):
    type: ClassVar[str] = "http_error"
    code: int
    message: str


McpError: TypeAlias = McpProtocolError | McpToolExecutionError | McpHttpError


class McpCallItem(Object, frozen=True, tag_field="type", tag="mcp_call"):
    """A call of an MCP tool, run by the service; ``output`` or ``error`` when it returned."""

    type: ClassVar[str] = "mcp_call"
    id: str
    server_label: str
    name: str
    arguments: str
    approval_request_id: str | None | UnsetType = UNSET
    output: str | None | UnsetType = UNSET
    error: McpError | None | UnsetType = UNSET


class McpApprovalRequestItem(Object, frozen=True, tag_field="type", tag="mcp_approval_request"):
    """The server asks the client before running an MCP tool."""

    type: ClassVar[str] = "mcp_approval_request"
    id: str
    server_label: str
    name: str
    arguments: str


class McpApprovalResponseItem(Object, frozen=True, tag_field="type", tag="mcp_approval_response"):
    """The client's answer to an approval request."""

    type: ClassVar[str] = "mcp_approval_response"
    id: str
    approval_request_id: str
    approve: bool
    reason: str | None | UnsetType = UNSET


Item: TypeAlias = (
    MessageItem
    | FunctionCallItem
    | FunctionCallOutputItem
    | McpListToolsItem
    | McpCallItem
    | McpApprovalRequestItem
    | McpApprovalResponseItem
)
InputItem: TypeAlias = (
    MessageItem
    | FunctionCallItem
    | FunctionCallOutputItem
    | McpListToolsItem
    | McpCallItem
    | McpApprovalRequestItem
    | McpApprovalResponseItem
    | ItemReference
)
"""An entry of ``response.create.response.input``: an item, or a reference to one."""


# --------------------------------------------------------------------------
# Responses (docs/protocol/ga.md#response-parameters, docs/protocol/ga.md#response-object)


class ResponseAudioOutput(Object, frozen=True):
    """``response.audio.output``: the effective (or requested) output format and voice."""

    format: AudioFormatSpec | None | UnsetType = UNSET
    voice: Voice | None | UnsetType = UNSET


class ResponseAudio(Object, frozen=True):
    output: ResponseAudioOutput | None | UnsetType = UNSET


class Response(Object, frozen=True):
    """The ``realtime.response`` object of ``response.created`` / ``response.done``
    (docs/protocol/ga.md#response-object)."""

    id: str
    status: ResponseStatus
    output: tuple[Item, ...]
    object: Literal["realtime.response"] | UnsetType = UNSET
    status_details: StatusDetails | None | UnsetType = UNSET
    conversation_id: str | None | UnsetType = UNSET
    output_modalities: tuple[Modality, ...] | None | UnsetType = UNSET
    max_output_tokens: MaxTokens | None | UnsetType = UNSET
    audio: ResponseAudio | None | UnsetType = UNSET
    usage: Usage | None | UnsetType = UNSET
    metadata: dict[str, str] | None | UnsetType = UNSET


class ResponseParams(Object, frozen=True):
    """``response.create.response``: per-response overrides
    (docs/protocol/ga.md#response-parameters).

    ``null`` for an optional member means "not set", as for ``session.update``
    (third-party clients send ``"instructions": null``).
    """

    output_modalities: tuple[Modality, ...] | None | UnsetType = UNSET
    instructions: str | None | UnsetType = UNSET
    audio: ResponseAudio | None | UnsetType = UNSET
    tools: tuple[Tool, ...] | None | UnsetType = UNSET
    tool_choice: ToolChoice | None | UnsetType = UNSET
    max_output_tokens: MaxTokens | None | UnsetType = UNSET
    conversation: str | None | UnsetType = UNSET
    metadata: dict[str, str] | None | UnsetType = UNSET
    input: tuple[InputItem, ...] | None | UnsetType = UNSET
    prompt: Prompt | None | UnsetType = UNSET
    reasoning: Reasoning | None | UnsetType = UNSET
    parallel_tool_calls: bool | None | UnsetType = UNSET
