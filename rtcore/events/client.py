"""Client events whose wire shape is the same in both dialects (docs/protocol/beta.md#client-events,
docs/protocol/ga.md#client-events).

Audio buffer commands, truncation, deletion and retrieval of items, and
``response.cancel``: ``rtcore.events.ga.ResponseCancel is
rtcore.events.beta.ResponseCancel``. The client events whose payload differs
(``session.update``, ``conversation.item.create``, ``response.create``) are
defined per dialect in ``rtcore.events.ga`` and ``rtcore.events.beta``.

Every client event may carry an ``event_id`` chosen by the client; the server
copies it into ``error.event_id`` when the event causes an error.
``ClientSession.send`` fills it in when it is left out.
"""

from __future__ import annotations

from typing import ClassVar

from ._base import UNSET, EventBase, UnsetType

__all__ = [
    "ClientEvent",
    "ConversationItemDelete",
    "ConversationItemRetrieve",
    "ConversationItemTruncate",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCommit",
    "OutputAudioBufferClear",
    "ResponseCancel",
]


class ClientEvent(EventBase, frozen=True, kw_only=True):
    """Base of every client event."""

    type: ClassVar[str]
    event_id: str | UnsetType = UNSET


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


class ResponseCancel(ClientEvent, frozen=True, tag="response.cancel", kw_only=True):
    """Stop the in-progress response (or the one named by ``response_id``)."""

    type: ClassVar[str] = "response.cancel"
    response_id: str | UnsetType = UNSET


class OutputAudioBufferClear(
    ClientEvent, frozen=True, tag="output_audio_buffer.clear", kw_only=True
):
    """Drop queued output audio (WebRTC/SIP; 2025 addition)."""

    type: ClassVar[str] = "output_audio_buffer.clear"
