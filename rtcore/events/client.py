"""Client events: what a client sends to a Realtime server (EVENTS.md section 3).

The 9 events of the beta protocol plus the later beta additions that real
servers accept (``conversation.item.retrieve``, ``output_audio_buffer.clear``,
``transcription_session.update``). Every client event may carry an
``event_id`` chosen by the client; the server copies it into
``error.event_id`` when the event causes an error. ``ClientSession.send``
fills it in when it is left out.
"""

from __future__ import annotations

from typing import ClassVar

from ._base import UNSET, EventBase, UnsetType
from .objects import Item, ResponseParams, SessionConfig, TranscriptionSessionConfig

__all__ = [
    "CLIENT_EVENT_TYPES",
    "ClientEvent",
    "ConversationItemCreate",
    "ConversationItemDelete",
    "ConversationItemRetrieve",
    "ConversationItemTruncate",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCommit",
    "OutputAudioBufferClear",
    "ResponseCancel",
    "ResponseCreate",
    "SessionUpdate",
    "TranscriptionSessionUpdate",
]


class ClientEvent(EventBase, frozen=True, kw_only=True):
    """Base of every client event."""

    type: ClassVar[str]
    event_id: str | UnsetType = UNSET


class SessionUpdate(ClientEvent, frozen=True, tag="session.update", kw_only=True):
    """Change session defaults; only the fields present change."""

    type: ClassVar[str] = "session.update"
    session: SessionConfig


class InputAudioBufferAppend(
    ClientEvent, frozen=True, tag="input_audio_buffer.append", kw_only=True
):
    """Add audio (raw bytes in the session's ``input_audio_format``) to the input buffer.

    On the wire the bytes are base64; the codec converts both ways.
    """

    type: ClassVar[str] = "input_audio_buffer.append"
    audio: bytes


class InputAudioBufferCommit(
    ClientEvent, frozen=True, tag="input_audio_buffer.commit", kw_only=True
):
    """Turn the buffered audio into a user message item (at least 100 ms)."""

    type: ClassVar[str] = "input_audio_buffer.commit"


class InputAudioBufferClear(ClientEvent, frozen=True, tag="input_audio_buffer.clear", kw_only=True):
    """Discard the buffered, uncommitted audio."""

    type: ClassVar[str] = "input_audio_buffer.clear"


class ConversationItemCreate(
    ClientEvent, frozen=True, tag="conversation.item.create", kw_only=True
):
    """Insert an item after ``previous_item_id`` (absent or ``null``: at the end; ``"root"``: first)."""

    type: ClassVar[str] = "conversation.item.create"
    item: Item
    previous_item_id: str | None | UnsetType = UNSET


class ConversationItemTruncate(
    ClientEvent, frozen=True, tag="conversation.item.truncate", kw_only=True
):
    """Cut an assistant audio item at the point the listener heard; drops its transcript."""

    type: ClassVar[str] = "conversation.item.truncate"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDelete(
    ClientEvent, frozen=True, tag="conversation.item.delete", kw_only=True
):
    """Remove an item from the conversation."""

    type: ClassVar[str] = "conversation.item.delete"
    item_id: str


class ConversationItemRetrieve(
    ClientEvent, frozen=True, tag="conversation.item.retrieve", kw_only=True
):
    """Ask for the server's full copy of an item (2025 addition)."""

    type: ClassVar[str] = "conversation.item.retrieve"
    item_id: str


class ResponseCreate(ClientEvent, frozen=True, tag="response.create", kw_only=True):
    """Start a response, optionally with per-response overrides."""

    type: ClassVar[str] = "response.create"
    response: ResponseParams | UnsetType = UNSET


class ResponseCancel(ClientEvent, frozen=True, tag="response.cancel", kw_only=True):
    """Stop the in-progress response (or the one named by ``response_id``)."""

    type: ClassVar[str] = "response.cancel"
    response_id: str | UnsetType = UNSET


class OutputAudioBufferClear(
    ClientEvent, frozen=True, tag="output_audio_buffer.clear", kw_only=True
):
    """Drop queued output audio (WebRTC/SIP; 2025 addition)."""

    type: ClassVar[str] = "output_audio_buffer.clear"


class TranscriptionSessionUpdate(
    ClientEvent, frozen=True, tag="transcription_session.update", kw_only=True
):
    """Configure a transcription-only session (2025 addition)."""

    type: ClassVar[str] = "transcription_session.update"
    session: TranscriptionSessionConfig


CLIENT_EVENT_TYPES: tuple[type[ClientEvent], ...] = (
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
"""Every client event class: the 9 of the beta protocol, then the later additions."""
