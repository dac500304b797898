"""The GA dialect's vocabulary (docs/protocol/ga.md): 11 client and 46 server events, and their
objects.

This module is the GA namespace: every event and object of the GA dialect
under its wire name, the unions (``Item``, ``ContentPart``, ``Tool``,
``ToolChoice``, ``SessionConfig``, ...), and the event tables
``CLIENT_EVENT_TYPES``, ``SERVER_EVENT_TYPES``, ``CLIENT_EVENTS`` and
``SERVER_EVENTS``. Where a class has the same wire shape in beta it is the same
object in both namespaces (``ga.InputAudioBufferAppend is
beta.InputAudioBufferAppend``); where the shape differs the two namespaces
hold different classes under the same name (``ga.SessionUpdate`` carries a GA
session with its ``type``, ``beta.SessionUpdate`` a flat beta one;
``ga.MessageItem`` has assistant parts ``output_text`` / ``output_audio``).
Encoding needs no dialect: each class knows its wire ``type``; GA is the
codec's default dialect.

GA events defined here:

* renamed streaming events: ``response.output_text.*``,
  ``response.output_audio.*``, ``response.output_audio_transcript.*``;
* reshaped payloads: ``session.*`` (nested GA session with ``type``),
  ``conversation.item.create`` / ``.created`` / ``.retrieved``,
  ``response.output_item.*`` (GA items: ``output_text`` / ``output_audio``,
  ``input_image``, MCP items), ``response.create`` / ``.created`` /
  ``.done`` (GA response object and parameters);
* new events: ``conversation.item.added`` / ``.done`` (the two-step item
  lifecycle), the MCP events, ``input_audio_buffer.dtmf_event_received`` (the
  one server event without ``event_id``).

The GA decoder also accepts the three beta streaming names
(``response.text.*``, ``response.audio.*``, ``response.audio_transcript.*``),
because a GA server has been seen sending them (docs/protocol/choices.md#beta-names-in-ga), and
``transcription_session.created`` / ``.updated``, which the live server sent to
transcription sessions (docs/protocol/connection.md#session-type). They decode to the beta classes
(``rtcore.events.beta.ResponseTextDelta``, ...), listed in
``TOLERATED_EVENT_TYPES``, and drive the same transitions; they are not GA
names, so this namespace does not hold them.

A dict where an object is expected: ``SessionUpdate(session={...})``,
``ConversationItemCreate(item={...})`` and ``ResponseCreate(response={...})``
accept the object as a dict, as it would be written in JSON. It is converted at
construction through the field's GA type, with the codec's errors: a bad value
raises ``DecodeError`` naming the path (``session.type: missing required
field``), and so does an unknown key (code ``unknown_parameter``), which the
codec would only set aside when decoding. Type checkers still want the typed
object.
"""

from __future__ import annotations

from typing import ClassVar, Final

from . import beta as _beta
from ._base import UNSET, UnsetType
from .client import (
    ClientEvent,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    OutputAudioBufferClear,
    ResponseCancel,
)
from .explain import _from_dict
from .ga_objects import *  # noqa: F403 - this module is the GA namespace
from .ga_objects import Item, Response, ResponseParams, Session, SessionConfig
from .ga_objects import __all__ as _objects
from .objects import *  # noqa: F403 - the shared objects belong to the GA namespace too
from .objects import __all__ as _shared_objects
from .server import (
    ConversationCreated,
    ConversationItemDeleted,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemInputAudioTranscriptionDelta,
    ConversationItemInputAudioTranscriptionFailed,
    ConversationItemInputAudioTranscriptionSegment,
    ConversationItemTruncated,
    ErrorEvent,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    RateLimitsUpdated,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ServerEvent,
)

# -- client events whose shape is GA's own (docs/protocol/ga.md#client-events) ------


class SessionUpdate(ClientEvent, frozen=True, tag="session.update", kw_only=True):
    """Change the session; ``session.type`` is required, nested objects merge."""

    type: ClassVar[str] = "session.update"
    session: SessionConfig

    def __post_init__(self) -> None:
        if isinstance(self.session, dict):  # an SDK user's dict (module docstring)
            _from_dict(self, "session")


class ConversationItemCreate(
    ClientEvent, frozen=True, tag="conversation.item.create", kw_only=True
):
    """Add an item; answered by ``conversation.item.added`` then ``.done``."""

    type: ClassVar[str] = "conversation.item.create"
    item: Item
    previous_item_id: str | None | UnsetType = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.item, dict):  # an SDK user's dict (module docstring)
            _from_dict(self, "item")


class ResponseCreate(ClientEvent, frozen=True, tag="response.create", kw_only=True):
    """Start a response, optionally with per-response overrides."""

    type: ClassVar[str] = "response.create"
    response: ResponseParams | None | UnsetType = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.response, dict):  # an SDK user's dict (module docstring)
            _from_dict(self, "response")


# -- server events whose shape is GA's own (docs/protocol/ga.md#server-events) ------


class SessionCreated(ServerEvent, frozen=True, tag="session.created", kw_only=True):
    """First event of every connection: the complete GA session."""

    type: ClassVar[str] = "session.created"
    session: Session


class SessionUpdated(ServerEvent, frozen=True, tag="session.updated", kw_only=True):
    """Confirms ``session.update`` with the complete effective session."""

    type: ClassVar[str] = "session.updated"
    session: Session


class ConversationItemAdded(ServerEvent, frozen=True, tag="conversation.item.added", kw_only=True):
    """An item entered the conversation after ``previous_item_id`` (``null``: first)."""

    type: ClassVar[str] = "conversation.item.added"
    item: Item
    previous_item_id: str | None | UnsetType = UNSET


class ConversationItemDone(ServerEvent, frozen=True, tag="conversation.item.done", kw_only=True):
    """The item is final: its status and full content (audio bytes left out)."""

    type: ClassVar[str] = "conversation.item.done"
    item: Item
    previous_item_id: str | None | UnsetType = UNSET


class ConversationItemCreated(
    ServerEvent, frozen=True, tag="conversation.item.created", kw_only=True
):
    """The beta item event, still in the GA unions; GA servers send ``added``/``done``."""

    type: ClassVar[str] = "conversation.item.created"
    item: Item
    previous_item_id: str | None | UnsetType = UNSET


class ConversationItemRetrieved(
    ServerEvent, frozen=True, tag="conversation.item.retrieved", kw_only=True
):
    """Answer to ``conversation.item.retrieve``: the full item, audio included."""

    type: ClassVar[str] = "conversation.item.retrieved"
    item: Item


class ResponseCreated(ServerEvent, frozen=True, tag="response.created", kw_only=True):
    """A response started (``in_progress``, empty ``output``, ``usage`` null)."""

    type: ClassVar[str] = "response.created"
    response: Response


class ResponseDone(ServerEvent, frozen=True, tag="response.done", kw_only=True):
    """A response ended, whatever the reason; exactly one per ``response.created``."""

    type: ClassVar[str] = "response.done"
    response: Response


class ResponseOutputItemAdded(
    ServerEvent, frozen=True, tag="response.output_item.added", kw_only=True
):
    """An output item begins at ``output_index`` of the response."""

    type: ClassVar[str] = "response.output_item.added"
    response_id: str
    output_index: int
    item: Item


class ResponseOutputItemDone(
    ServerEvent, frozen=True, tag="response.output_item.done", kw_only=True
):
    """An output item is finished (also when the response is cut short)."""

    type: ClassVar[str] = "response.output_item.done"
    response_id: str
    output_index: int
    item: Item


class ResponseOutputTextDelta(
    ServerEvent, frozen=True, tag="response.output_text.delta", kw_only=True
):
    """Next chunk of an ``output_text`` part (beta ``response.text.delta``)."""

    type: ClassVar[str] = "response.output_text.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str
    obfuscation: str | None | UnsetType = UNSET


class ResponseOutputTextDone(
    ServerEvent, frozen=True, tag="response.output_text.done", kw_only=True
):
    """An ``output_text`` part is complete (beta ``response.text.done``)."""

    type: ClassVar[str] = "response.output_text.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    text: str


class ResponseOutputAudioTranscriptDelta(
    ServerEvent, frozen=True, tag="response.output_audio_transcript.delta", kw_only=True
):
    """Next chunk of the model's transcript of its audio (beta ``response.audio_transcript.delta``)."""

    type: ClassVar[str] = "response.output_audio_transcript.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str
    obfuscation: str | None | UnsetType = UNSET


class ResponseOutputAudioTranscriptDone(
    ServerEvent, frozen=True, tag="response.output_audio_transcript.done", kw_only=True
):
    """The audio transcript of a part is complete (beta ``response.audio_transcript.done``)."""

    type: ClassVar[str] = "response.output_audio_transcript.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    transcript: str


class ResponseOutputAudioDelta(
    ServerEvent, frozen=True, tag="response.output_audio.delta", kw_only=True
):
    """Next chunk of generated audio, raw bytes in ``audio.output.format`` (beta ``response.audio.delta``)."""

    type: ClassVar[str] = "response.output_audio.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: bytes
    obfuscation: str | None | UnsetType = UNSET


class ResponseOutputAudioDone(
    ServerEvent, frozen=True, tag="response.output_audio.done", kw_only=True
):
    """Audio generation for a part is finished (beta ``response.audio.done``)."""

    type: ClassVar[str] = "response.output_audio.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int


class InputAudioBufferDtmfEventReceived(
    ServerEvent, frozen=True, tag="input_audio_buffer.dtmf_event_received", kw_only=True
):
    """A keypad tone on a SIP call; the only server event without ``event_id``
    (docs/protocol/connection.md#envelope)."""

    type: ClassVar[str] = "input_audio_buffer.dtmf_event_received"
    event_id: str | UnsetType = UNSET  # type: ignore[assignment]
    event: str
    received_at: int


class McpListToolsInProgress(
    ServerEvent, frozen=True, tag="mcp_list_tools.in_progress", kw_only=True
):
    """The server started listing an MCP server's tools into item ``item_id``."""

    type: ClassVar[str] = "mcp_list_tools.in_progress"
    item_id: str


class McpListToolsCompleted(ServerEvent, frozen=True, tag="mcp_list_tools.completed", kw_only=True):
    """The tools of item ``item_id`` are listed."""

    type: ClassVar[str] = "mcp_list_tools.completed"
    item_id: str


class McpListToolsFailed(ServerEvent, frozen=True, tag="mcp_list_tools.failed", kw_only=True):
    """Listing the tools of item ``item_id`` failed."""

    type: ClassVar[str] = "mcp_list_tools.failed"
    item_id: str


class ResponseMcpCallArgumentsDelta(
    ServerEvent, frozen=True, tag="response.mcp_call_arguments.delta", kw_only=True
):
    """Next chunk of an ``mcp_call`` item's JSON arguments."""

    type: ClassVar[str] = "response.mcp_call_arguments.delta"
    response_id: str
    item_id: str
    output_index: int
    delta: str
    obfuscation: str | None | UnsetType = UNSET


class ResponseMcpCallArgumentsDone(
    ServerEvent, frozen=True, tag="response.mcp_call_arguments.done", kw_only=True
):
    """The arguments of an ``mcp_call`` item are complete."""

    type: ClassVar[str] = "response.mcp_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    arguments: str


class ResponseMcpCallInProgress(
    ServerEvent, frozen=True, tag="response.mcp_call.in_progress", kw_only=True
):
    """The service is calling the MCP tool of item ``item_id`` (no ``response_id``)."""

    type: ClassVar[str] = "response.mcp_call.in_progress"
    item_id: str
    output_index: int


class ResponseMcpCallCompleted(
    ServerEvent, frozen=True, tag="response.mcp_call.completed", kw_only=True
):
    """The MCP call returned; its ``output`` is in the item's ``output_item.done``."""

    type: ClassVar[str] = "response.mcp_call.completed"
    item_id: str
    output_index: int


class ResponseMcpCallFailed(ServerEvent, frozen=True, tag="response.mcp_call.failed", kw_only=True):
    """The MCP call failed; its ``error`` is in the item's ``output_item.done``."""

    type: ClassVar[str] = "response.mcp_call.failed"
    item_id: str
    output_index: int


CLIENT_EVENT_TYPES: Final[tuple[type[ClientEvent], ...]] = (
    SessionUpdate,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    InputAudioBufferClear,
    OutputAudioBufferClear,
    ConversationItemCreate,
    ConversationItemTruncate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ResponseCreate,
    ResponseCancel,
)
"""The 11 client events of the GA SDK union."""

SERVER_EVENT_TYPES: Final[tuple[type[ServerEvent], ...]] = (
    ErrorEvent,
    SessionCreated,
    SessionUpdated,
    ConversationCreated,
    ConversationItemCreated,
    ConversationItemAdded,
    ConversationItemDone,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    ConversationItemDeleted,
    ConversationItemInputAudioTranscriptionDelta,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemInputAudioTranscriptionFailed,
    ConversationItemInputAudioTranscriptionSegment,
    InputAudioBufferCommitted,
    InputAudioBufferCleared,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    InputAudioBufferDtmfEventReceived,
    RateLimitsUpdated,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    McpListToolsInProgress,
    McpListToolsCompleted,
    McpListToolsFailed,
    ResponseMcpCallArgumentsDelta,
    ResponseMcpCallArgumentsDone,
    ResponseMcpCallInProgress,
    ResponseMcpCallCompleted,
    ResponseMcpCallFailed,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    OutputAudioBufferCleared,
)
"""The 46 server events of the GA SDK union."""

TOLERATED_EVENT_TYPES: Final[tuple[type[ServerEvent], ...]] = (
    _beta.TranscriptionSessionCreated,
    _beta.TranscriptionSessionUpdated,
    _beta.ResponseTextDelta,
    _beta.ResponseTextDone,
    _beta.ResponseAudioDelta,
    _beta.ResponseAudioDone,
    _beta.ResponseAudioTranscriptDelta,
    _beta.ResponseAudioTranscriptDone,
)
"""Beta server events the GA decoder also reads, never sent in GA: the streaming names a GA server
has been seen sending (docs/protocol/choices.md#beta-names-in-ga), and the first event of a
transcription session as the live server sent it in Oct 2025
(docs/protocol/connection.md#session-type, docs/protocol/choices.md#transcription-session-created).
Not in ``SERVER_EVENTS``."""

CLIENT_EVENTS: Final[dict[str, type[ClientEvent]]] = {c.type: c for c in CLIENT_EVENT_TYPES}
"""GA client event classes by wire ``type`` (the 11 of docs/protocol/ga.md#client-events)."""
SERVER_EVENTS: Final[dict[str, type[ServerEvent]]] = {c.type: c for c in SERVER_EVENT_TYPES}
"""GA server event classes by wire ``type`` (the 46 of docs/protocol/ga.md#server-events)."""

_events = [c.__name__ for c in CLIENT_EVENT_TYPES + SERVER_EVENT_TYPES]
# Built from the tables above so that a new event cannot be left out of the namespace.
__all__ = sorted(  # noqa: PLE0605
    {*_events, *_objects, *_shared_objects, "CLIENT_EVENT_TYPES", "SERVER_EVENT_TYPES"}
    | {"CLIENT_EVENTS", "SERVER_EVENTS", "TOLERATED_EVENT_TYPES"}
    | {"ClientEvent", "ServerEvent", "UNSET", "UnsetType"}
)
