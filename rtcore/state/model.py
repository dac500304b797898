"""The immutable picture of a session: ``Snapshot`` and the records it is made of.

Records are frozen msgspec structs (constructed and copied in C, compared by
value); collections that grow with the session are pyrsistent vectors and
maps, so a new snapshot shares everything it did not change with the one
before it. Old snapshots never change. The private indexes that every event
looks up (item and response ids, running responses, held-back events) are
``immutables.Map`` values, a persistent map written in C: a lookup costs a
tenth of a pyrsistent ``PMap``'s, an update a quarter.

Layout of the conversation: every item ever announced has a stable *slot*
(deleted items leave ``None`` behind); ``_index`` maps an item id to its slot
and ``order`` lists the ids of the conversation's items in conversation
order. The newest item is held aside in ``_newest`` (its slot is
``len(_slots)``) and the others in the vector ``_slots``: deltas stream into
the newest item, so a delta replaces one field of the snapshot and touches
neither the vector nor the id map, which keeps its cost flat and low. The
newest item goes into the vector when the next one is announced; when it is
deleted its slot goes with it (no id names it any more). Output items of
out-of-band responses (``conversation: "none"``) have slots but are not in
``order``: they are not part of the conversation.

What a server can make a snapshot hold beyond its conversation is bounded:
``errors``, ``protocol_errors`` and ``anomalies`` keep their first
``MAX_RECORDS`` entries each (the first is usually the cause; the rest are
counted in ``records_dropped``), and events held back for items not announced
yet are bounded by ``MAX_HELD_ITEMS`` items and ``MAX_HELD_EVENTS`` events per
item (see ``rtcore.state.conversation.hold_back``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, overload

import msgspec
from immutables import Map
from pyrsistent import pmap, pvector
from pyrsistent.typing import PMap, PVector

from .. import events as ev
from ..audio.formats import FORMATS
from ..errors import RemoteProtocolError
from ..events import ga
from .chunks import AudioLength, ByteChunks, TextChunks
from .session import SessionState

MAX_RECORDS = 1000
"""Entries kept in each of ``errors``, ``protocol_errors`` and ``anomalies``."""
MAX_HELD_ITEMS = 64
"""Items not announced yet that may have events held back for them at once."""
MAX_HELD_EVENTS = 256
"""Events held back for one item not announced yet."""

__all__ = [
    "MAX_HELD_EVENTS",
    "MAX_HELD_ITEMS",
    "MAX_RECORDS",
    "PartState",
    "ItemState",
    "ResponseState",
    "InputAudioBufferState",
    "ErrorRecord",
    "Anomaly",
    "Snapshot",
    "ConversationView",
    "PartType",
    "ItemType",
    "SessionState",
]

PartType = Literal["input_text", "input_audio", "input_image", "text", "audio", "item_reference"]
"""Content part types, named alike in both dialects: assistant parts are ``text`` and
``audio`` (as in ``response.content_part.*`` of both dialects; GA items call them
``output_text`` / ``output_audio``)."""

ItemType = Literal[
    "message",
    "function_call",
    "function_call_output",
    "mcp_list_tools",
    "mcp_call",
    "mcp_approval_request",
    "mcp_approval_response",
]


class PartState(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One content part of a message item.

    ``text`` holds the text of ``text``/``input_text`` parts; ``transcript``
    the transcript of ``audio`` parts (the model's own) and of ``input_audio``
    parts (the input transcription; ``None`` until it arrives); ``audio`` the
    audio bytes received for the part in ``audio_format``. After a truncation
    ``transcript`` is emptied as on the server, while ``generated_transcript``
    keeps what the model had said, ``generated_audio_ms`` how much audio had
    arrived by then, and ``truncated_at_ms`` where it was cut.
    """

    type: PartType
    text: TextChunks | None = None
    transcript: TextChunks | None = None
    audio: ByteChunks | AudioLength | None = None
    """The audio bytes (``ByteChunks``), or only their length (``AudioLength``) when the
    snapshot does not retain audio."""
    audio_format: ev.AudioFormat | None = None
    reference_id: str | None = None
    image_url: str | None = None
    """``input_image`` parts: the image as a data URI, and the ``detail`` asked for."""
    detail: str | None = None
    generated_transcript: str | None = None
    generated_audio_ms: int | None = None
    truncated_at_ms: int | None = None
    transcription_error: ev.TranscriptionError | None = None
    text_done: bool = False
    transcript_done: bool = False
    audio_done: bool = False
    done: bool = False

    @property
    def audio_ms(self) -> int:
        """Whole milliseconds of audio held for this part."""
        if self.audio is None or self.audio_format is None:
            return 0
        info = FORMATS[self.audio_format]
        return (self.audio.size // info.sample_width) * 1000 // info.sample_rate


class ItemState(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One conversation item (or output item of an out-of-band response)."""

    id: str
    type: ItemType
    status: ev.ItemStatus | None = None
    role: ev.Role | None = None
    content: tuple[PartState, ...] = ()
    call_id: str | None = None
    name: str | None = None
    arguments: TextChunks | None = None
    output: str | None = None
    arguments_done: bool = False
    response_id: str | None = None
    in_conversation: bool = False
    """False for output items of out-of-band responses (and before the item is added)."""
    # MCP items (GA): the server's label, listed tools, approvals, the call's outcome.
    server_label: str | None = None
    tools: tuple[ga.McpListedTool, ...] | None = None
    approval_request_id: str | None = None
    approve: bool | None = None
    reason: str | None = None
    error: ga.McpError | None = None
    mcp_status: Literal["in_progress", "completed", "failed"] | None = None
    """Progress of an ``mcp_list_tools`` listing or of an ``mcp_call``."""
    retrieved: ItemState | None = None
    """The server's full copy of the item (audio included) from ``conversation.item.retrieved``."""


class ResponseState(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One response, from ``response.created`` to ``response.done``."""

    id: str
    status: ev.ResponseStatus
    status_details: ev.StatusDetails | None = None
    usage: ev.Usage | None = None
    output_item_ids: tuple[str, ...] = ()
    conversation_id: str | None = None
    out_of_band: bool = False
    # The effective settings the server reported for this response, in either dialect.
    output_modalities: tuple[ev.Modality, ...] | None = None
    output_format: ev.AudioFormat | None = None
    voice: str | ga.VoiceId | None = None
    max_output_tokens: ev.MaxTokens | None = None
    metadata: dict[str, str] | None = None

    @property
    def done(self) -> bool:
        return self.status != "in_progress"


class InputAudioBufferState(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """What the server reported about the input audio buffer."""

    speech_active: bool = False
    speech_item_id: str | None = None
    audio_start_ms: int | None = None
    audio_end_ms: int | None = None
    committed_item_ids: PVector[str] = pvector()


class ErrorRecord(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """An ``error`` event received, linked to the client event it names when that is known."""

    error: ev.ErrorDetails
    event_id: str
    client_event: ev.ClientEvent | None = None


class Anomaly(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Something a real server does at times that the snapshot tolerated.

    Kinds: ``unknown_anchor`` (``previous_item_id`` names no item; the item was
    appended), ``done_mismatch`` (a ``*.done`` value differs from the joined
    deltas; the ``done`` value won), ``unannounced_item`` (an item first seen
    in ``response.output_item.done`` or ``response.done``), ``late_conversation_item``
    (an in-conversation output item never announced by
    ``conversation.item.created``; appended at the end).
    """

    kind: str
    event_id: str | None
    detail: str


_NO_IDS: Map[str, int] = Map()


class Snapshot(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """The state of a session after one event: session, conversation, responses and more.

    Build new snapshots with ``rtcore.state.apply``; read them with the
    properties and methods below or as plain data with ``to_dict()``.
    """

    session: SessionState | None = None
    """The session as last reported (``session.*`` or ``transcription_session.*``)."""
    conversation_id: str | None = None
    order: PVector[str] = pvector()
    _slots: PVector[ItemState | None] = pvector()
    _newest: ItemState | None = None
    """The item in slot ``len(_slots)``, the newest (``None``: there is no such slot)."""
    _index: Map[str, int] = _NO_IDS
    responses: PVector[ResponseState] = pvector()
    _response_index: Map[str, int] = _NO_IDS
    _running: Map[str, bool] = Map()
    """Responses in progress: id -> out of band (so finding the active one is O(running))."""
    input_audio_buffer: InputAudioBufferState = InputAudioBufferState()
    rate_limits: tuple[ev.RateLimit, ...] = ()
    errors: PVector[ErrorRecord] = pvector()
    protocol_errors: PVector[RemoteProtocolError] = pvector()
    anomalies: PVector[Anomaly] = pvector()
    records_dropped: int = 0
    """Errors, protocol errors and anomalies not kept because their list held ``MAX_RECORDS``."""
    pending_calls: PMap[str, str] = pmap()
    """Tool calls still owed a ``function_call_output``: call id -> function_call item id."""
    pending_approvals: PMap[str, str] = pmap()
    """MCP approval requests still owed an ``mcp_approval_response``: request id -> its item id."""
    dtmf: PVector[tuple[str, int]] = pvector()
    """Keypad tones of a SIP call (``input_audio_buffer.dtmf_event_received``): (key, received_at)."""
    _early: Map[str, tuple[ev.ServerEvent, ...]] = Map()
    """Input-transcription events that arrived before their item, by item id."""
    output_audio_response_id: str | None = None
    """WebRTC: the response whose audio is playing (``output_audio_buffer.started``/``stopped``)."""
    unknown_events: int = 0
    events_applied: int = 0
    retain_audio: bool = True
    """Audio retention policy: keep streamed audio bytes (``ByteChunks``), or only their
    length (``AudioLength``) - enough for every duration and truncation. Held in the
    snapshot so that ``apply`` stays a pure function of (snapshot, event)."""

    # -- reading -----------------------------------------------------------------

    @property
    def items(self) -> tuple[ItemState, ...]:
        """The conversation's items, in conversation order (a copy: O(items))."""
        return tuple(self.conversation)

    @property
    def conversation(self) -> ConversationView:
        """The conversation's items, in conversation order, read on demand (O(1) to make)."""
        return ConversationView(self)

    def item(self, item_id: str) -> ItemState | None:
        """An item by id: a conversation item or an output item of an out-of-band response."""
        slot = self._index.get(item_id)
        return None if slot is None else self._slot(slot)

    def _slot(self, slot: int) -> ItemState | None:
        """The item in ``slot`` (``None``: deleted)."""
        slots = self._slots
        return self._newest if slot == len(slots) else slots[slot]

    def response(self, response_id: str) -> ResponseState | None:
        pos = self._response_index.get(response_id)
        return None if pos is None else self.responses[pos]

    @property
    def active_response(self) -> ResponseState | None:
        """The in-progress response writing to the conversation, if any."""
        for response_id, out_of_band in self._running.items():
            if not out_of_band:
                return self.response(response_id)
        return None

    def response_items(self, response_id: str) -> tuple[ItemState, ...]:
        """The output items of a response, in output order."""
        response = self.response(response_id)
        if response is None:
            return ()
        out = (self.item(i) for i in response.output_item_ids)
        return tuple(item for item in out if item is not None)

    def to_dict(self) -> dict[str, object]:
        """A plain, JSON-ready view of the snapshot."""
        from .view import snapshot_to_dict

        return snapshot_to_dict(self)


class ConversationView(Sequence[ItemState]):
    """The items of one snapshot's conversation, in order, looked up only when read.

    Making one costs the same however long the conversation is (the server
    hands one to its backend with every response); reading item ``i`` is a
    lookup by id. Snapshots are immutable, so the view never changes. It
    equals any sequence with the same items (a tuple included).
    """

    __slots__ = ("_snapshot",)

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def __len__(self) -> int:
        return len(self._snapshot.order)

    @overload
    def __getitem__(self, index: int) -> ItemState: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[ItemState, ...]: ...

    def __getitem__(self, index: int | slice) -> ItemState | tuple[ItemState, ...]:
        s = self._snapshot
        if isinstance(index, slice):
            return tuple(self._at(item_id) for item_id in s.order[index])
        return self._at(s.order[index])

    def _at(self, item_id: str) -> ItemState:
        item = self._snapshot.item(item_id)
        assert item is not None  # every id in the order has its item
        return item

    def __iter__(self) -> Iterator[ItemState]:
        at, index = self._snapshot._slot, self._snapshot._index
        for item_id in self._snapshot.order:
            item = at(index[item_id])
            assert item is not None
            yield item

    def __reversed__(self) -> Iterator[ItemState]:
        at, index = self._snapshot._slot, self._snapshot._index
        order = self._snapshot.order
        for i in range(len(order) - 1, -1, -1):
            item = at(index[order[i]])
            assert item is not None
            yield item

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ConversationView, tuple, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ConversationView({list(self)!r})"
