"""The beta dialect's vocabulary (docs/protocol/beta.md): 12 client and 37 server events, and their
objects.

This module is the beta namespace: every event and object of the beta
dialect under its wire name, the unions (``Item``, ``ContentPart``,
``ToolChoice``, ...), and the event tables ``CLIENT_EVENT_TYPES``,
``SERVER_EVENT_TYPES``, ``CLIENT_EVENTS`` and ``SERVER_EVENTS``. Where a class
has the same wire shape in GA it is the same object in both namespaces
(``beta.ErrorEvent is ga.ErrorEvent``, ``beta.Usage is ga.Usage``); where the
shape differs the two namespaces hold different classes under the same name
(``beta.MessageItem`` has assistant parts ``text`` / ``audio``,
``ga.MessageItem`` ``output_text`` / ``output_audio``). Encoding needs no
dialect: each class knows its wire ``type``; decode beta input with
``dialect="beta"``.

Defined here: the client events whose payload is beta's own
(``session.update``, ``conversation.item.create``, ``response.create``,
``transcription_session.update``) and the server events whose payload or name
is (``session.*``, ``transcription_session.*``, the item events, the response
events, and the streaming names ``response.text.*``, ``response.audio.*``,
``response.audio_transcript.*``).

A dict where an object is expected: ``SessionUpdate(session={...})``,
``ConversationItemCreate(item={...})``, ``ResponseCreate(response={...})`` and
``TranscriptionSessionUpdate(session={...})`` accept the object as a dict, as
it would be written in JSON. It is converted at construction through the
field's beta type, with the codec's errors: a bad value raises ``DecodeError``
naming the path (``item.content[0].type: invalid value ...``), and so does an
unknown key (code ``unknown_parameter``), which the codec would only set aside
when decoding. Type checkers still want the typed object.
"""

from __future__ import annotations

from typing import ClassVar, Final

from ._base import UNSET, UnsetType
from ._base import AudioFormat as AudioFormat  # beta spells formats so on the wire
from .beta_objects import *  # noqa: F403 - this module is the beta namespace
from .beta_objects import (
    Item,
    Response,
    ResponseParams,
    Session,
    SessionConfig,
    TranscriptionSession,
    TranscriptionSessionConfig,
)
from .beta_objects import __all__ as _own_objects
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
from .objects import *  # noqa: F403 - the shared objects belong to the beta namespace too
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

# -- client events whose shape is beta's own (docs/protocol/beta.md#client-events) ---


class SessionUpdate(ClientEvent, frozen=True, tag="session.update", kw_only=True):
    """Change session defaults; only the fields present change."""

    type: ClassVar[str] = "session.update"
    session: SessionConfig

    def __post_init__(self) -> None:
        if isinstance(self.session, dict):  # an SDK user's dict (module docstring)
            _from_dict(self, "session")


class ConversationItemCreate(
    ClientEvent, frozen=True, tag="conversation.item.create", kw_only=True
):
    """Insert an item after ``previous_item_id`` (absent or ``null``: at the end; ``"root"``: first)."""

    type: ClassVar[str] = "conversation.item.create"
    item: Item
    previous_item_id: str | None | UnsetType = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.item, dict):  # an SDK user's dict (module docstring)
            _from_dict(self, "item")


class ResponseCreate(ClientEvent, frozen=True, tag="response.create", kw_only=True):
    """Start a response, optionally with per-response overrides."""

    type: ClassVar[str] = "response.create"
    response: ResponseParams | UnsetType = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.response, dict):  # an SDK user's dict (module docstring)
            _from_dict(self, "response")


class TranscriptionSessionUpdate(
    ClientEvent, frozen=True, tag="transcription_session.update", kw_only=True
):
    """Configure a transcription-only session (2025 addition)."""

    type: ClassVar[str] = "transcription_session.update"
    session: TranscriptionSessionConfig

    def __post_init__(self) -> None:
        if isinstance(self.session, dict):  # an SDK user's dict (module docstring)
            _from_dict(self, "session")


# -- server events whose shape or name is beta's own (docs/protocol/beta.md#server-events,
# docs/protocol/beta.md#later-additions) ---


class SessionCreated(ServerEvent, frozen=True, tag="session.created", kw_only=True):
    """First event of every connection; carries the default session."""

    type: ClassVar[str] = "session.created"
    session: Session


class SessionUpdated(ServerEvent, frozen=True, tag="session.updated", kw_only=True):
    """Confirms ``session.update`` with the complete effective session."""

    type: ClassVar[str] = "session.updated"
    session: Session


class TranscriptionSessionCreated(
    ServerEvent, frozen=True, tag="transcription_session.created", kw_only=True
):
    """First event of a transcription-only session."""

    type: ClassVar[str] = "transcription_session.created"
    session: TranscriptionSession


class TranscriptionSessionUpdated(
    ServerEvent, frozen=True, tag="transcription_session.updated", kw_only=True
):
    """Confirms ``transcription_session.update``."""

    type: ClassVar[str] = "transcription_session.updated"
    session: TranscriptionSession


class ConversationItemCreated(
    ServerEvent, frozen=True, tag="conversation.item.created", kw_only=True
):
    """An item was added to the conversation after ``previous_item_id`` (``null``: first)."""

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


class ResponseTextDelta(ServerEvent, frozen=True, tag="response.text.delta", kw_only=True):
    """Next chunk of a ``text`` part."""

    type: ClassVar[str] = "response.text.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


class ResponseTextDone(ServerEvent, frozen=True, tag="response.text.done", kw_only=True):
    """A ``text`` part is complete; ``text`` is the whole of it."""

    type: ClassVar[str] = "response.text.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    text: str


class ResponseAudioTranscriptDelta(
    ServerEvent, frozen=True, tag="response.audio_transcript.delta", kw_only=True
):
    """Next chunk of the model's transcript of the audio it is producing."""

    type: ClassVar[str] = "response.audio_transcript.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


class ResponseAudioTranscriptDone(
    ServerEvent, frozen=True, tag="response.audio_transcript.done", kw_only=True
):
    """The audio transcript of a part is complete."""

    type: ClassVar[str] = "response.audio_transcript.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    transcript: str


class ResponseAudioDelta(ServerEvent, frozen=True, tag="response.audio.delta", kw_only=True):
    """Next chunk of generated audio (raw bytes in ``output_audio_format``)."""

    type: ClassVar[str] = "response.audio.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: bytes


class ResponseAudioDone(ServerEvent, frozen=True, tag="response.audio.done", kw_only=True):
    """Audio generation for a part is finished."""

    type: ClassVar[str] = "response.audio.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int


CLIENT_EVENT_TYPES: Final[tuple[type[ClientEvent], ...]] = (
    SessionUpdate,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    InputAudioBufferClear,
    ConversationItemCreate,
    ConversationItemTruncate,
    ConversationItemDelete,
    ResponseCreate,
    ResponseCancel,
    ConversationItemRetrieve,
    OutputAudioBufferClear,
    TranscriptionSessionUpdate,
)
"""Every beta client event class: the 9 of the beta protocol, then the later additions."""

SERVER_EVENT_TYPES: Final[tuple[type[ServerEvent], ...]] = (
    ErrorEvent,
    SessionCreated,
    SessionUpdated,
    ConversationCreated,
    ConversationItemCreated,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemInputAudioTranscriptionFailed,
    ConversationItemTruncated,
    ConversationItemDeleted,
    InputAudioBufferCommitted,
    InputAudioBufferCleared,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseTextDelta,
    ResponseTextDone,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
    ResponseAudioDelta,
    ResponseAudioDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    RateLimitsUpdated,
    ConversationItemRetrieved,
    ConversationItemInputAudioTranscriptionDelta,
    ConversationItemInputAudioTranscriptionSegment,
    InputAudioBufferTimeoutTriggered,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    OutputAudioBufferCleared,
    TranscriptionSessionCreated,
    TranscriptionSessionUpdated,
)
"""Every beta server event class: the 28 of the beta protocol, then the later additions."""

CLIENT_EVENTS: Final[dict[str, type[ClientEvent]]] = {c.type: c for c in CLIENT_EVENT_TYPES}
"""Beta client event classes by wire ``type``."""
SERVER_EVENTS: Final[dict[str, type[ServerEvent]]] = {c.type: c for c in SERVER_EVENT_TYPES}
"""Beta server event classes by wire ``type``."""

_events = [c.__name__ for c in CLIENT_EVENT_TYPES + SERVER_EVENT_TYPES]
# Built from the tables above so that a new event cannot be left out of the namespace.
__all__ = sorted(  # noqa: PLE0605
    {*_events, *_own_objects, *_shared_objects, "CLIENT_EVENT_TYPES", "SERVER_EVENT_TYPES"}
    | {"CLIENT_EVENTS", "SERVER_EVENTS", "ClientEvent", "ServerEvent", "UNSET", "UnsetType"}
    | {"AudioFormat"}
)
