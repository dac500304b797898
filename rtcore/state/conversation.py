"""Transitions of the session and the conversation's items
(docs/protocol/dialects.md#item-lifecycle, docs/protocol/flows.md#items,
docs/protocol/flows.md#mcp).

* ``session.created`` / ``.updated`` (and beta's ``transcription_session.*``)
  replace the session record with what the server reported, read into the
  one vocabulary of ``rtcore.state.session``.
* An item enters the conversation with beta's ``conversation.item.created``
  or GA's ``conversation.item.added``; GA's ``conversation.item.done`` then
  settles it (status, final content) - for output items after
  ``response.output_item.done``. An output item already announced by its
  response takes its place in the conversation instead of being added twice.
* Truncation cuts the part's audio at ``audio_end_ms`` in the part's own
  format and empties its transcript as the server does, keeping what the
  model said in ``generated_transcript``.
* Input transcription events and MCP listing events may arrive before their
  item; they are held back and applied when the item arrives.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec.structs import replace

from .. import events as ev
from ..audio.formats import FORMATS
from ..events import beta, ga
from .chunks import TextChunks
from .model import MAX_HELD_EVENTS, MAX_HELD_ITEMS, ItemState, PartState, Snapshot
from .session import session_from_wire
from .steps import (
    add_item,
    anomaly,
    enter_conversation,
    fail,
    item_at,
    item_state,
    place,
    put_item,
    put_part,
    settle,
    settle_item,
    slots_before_new,
    track_call,
)

_Transcription = (
    ev.ConversationItemInputAudioTranscriptionCompleted
    | ev.ConversationItemInputAudioTranscriptionFailed
    | ev.ConversationItemInputAudioTranscriptionDelta
    | ev.ConversationItemInputAudioTranscriptionSegment
)
_Listing = ga.McpListToolsInProgress | ga.McpListToolsCompleted | ga.McpListToolsFailed


def on_session(s: Snapshot, e: Any) -> Snapshot:
    """``session.created`` / ``.updated`` (either dialect) or ``transcription_session.*``."""
    return replace(s, session=session_from_wire(e.session))


def on_conversation_created(s: Snapshot, e: ev.ConversationCreated) -> Snapshot:
    conversation_id = e.conversation.id  # optional in GA (docs/protocol/ga.md#session-events)
    if not isinstance(conversation_id, str):
        return s
    return replace(s, conversation_id=conversation_id)


def on_item_added(
    s: Snapshot, e: beta.ConversationItemCreated | ga.ConversationItemAdded
) -> Snapshot:
    """An item enters the conversation (beta ``created``; GA ``added``, or ``created``)."""
    item_id = e.item.id
    if isinstance(item_id, ev.UnsetType):
        raise fail(e, "missing_item_id", f"{e.type} without item.id")
    slot = s._index.get(item_id)
    if slot is not None:
        known = s._slot(slot)
        assert known is not None
        if known.in_conversation:
            raise fail(e, "duplicate_item", f"item {item_id!r} is already in the conversation")
        # An output item announced by response.output_item.added now takes its place.
        s = place(s, item_id, e.previous_item_id, e)
        return enter_conversation(s, slot, known)
    anchor, order = e.previous_item_id, s.order
    if isinstance(anchor, ev.UnsetType) or (order and order[-1] == anchor):
        # The usual case, placed at the end: ``add_item``, ``place`` and
        # ``enter_conversation`` in one copy of the snapshot (and the item built in place).
        item = item_state(s, e.item, e, response_id=None, done=True, in_conversation=True)
        slots = slots_before_new(s)
        s = replace(
            s,
            _slots=slots,
            _newest=item,
            _index=s._index.set(item_id, len(slots)),
            order=order.append(item_id),
        )
        s = track_call(s, item)
    else:
        item = item_state(s, e.item, e, response_id=None, done=True)
        s = add_item(s, item)
        s = place(s, item_id, anchor, e)
        s = enter_conversation(s, s._index[item_id], item)
    # Almost always nothing is held back: an empty map says so without a look-up.
    return replay_held(s, item_id) if s._early else s


def replay_held(s: Snapshot, item_id: str) -> Snapshot:
    """Apply the events that arrived before item ``item_id`` did (see ``hold_back``)."""
    early = s._early.get(item_id)
    if not early:
        return s
    from .transitions import handler_for  # the machine's table, which imports this module

    s = replace(s, _early=s._early.delete(item_id))  # found above
    for held in early:
        s = handler_for(held)(s, held)
    return s


def on_item_done(s: Snapshot, e: ga.ConversationItemDone) -> Snapshot:
    """GA: the item is final; its status and content replace what was streamed
    (docs/protocol/dialects.md#item-lifecycle)."""
    item_id = e.item.id
    if isinstance(item_id, ev.UnsetType):
        raise fail(e, "missing_item_id", "conversation.item.done without item.id")
    slot = s._index.get(item_id)
    if slot is None:
        s = anomaly(
            s, e, "unannounced_item", f"item {item_id!r} first seen in conversation.item.done"
        )
        s = on_item_added(s, e)  # type: ignore[arg-type]  # same fields as added
        slot = s._index[item_id]
    item = s._slot(slot)
    assert item is not None
    return settle_item(s, e, slot, item, e.item)


def on_item_deleted(s: Snapshot, e: ev.ConversationItemDeleted) -> Snapshot:
    slot, item = item_at(s, e.item_id, e)
    order = s.order
    if item.in_conversation:
        # The newest item is the one most often deleted: find it without a scan.
        last = len(order) - 1
        order = order.delete(last) if order[last] == item.id else order.remove(item.id)
    pending = s.pending_calls
    if item.type == "function_call" and item.call_id is not None:
        pending = pending.discard(item.call_id)
    return replace(
        put_item(s, slot, None),
        order=order,
        _index=s._index.delete(item.id),  # item_at found it
        pending_calls=pending,
        pending_approvals=s.pending_approvals.discard(item.id),
    )


def on_item_truncated(s: Snapshot, e: ev.ConversationItemTruncated) -> Snapshot:
    slot, item = item_at(s, e.item_id, e)
    if (
        not 0 <= e.content_index < len(item.content)
        or item.content[e.content_index].type != "audio"
    ):
        raise fail(e, "not_audio", f"item {item.id!r} has no audio part at index {e.content_index}")
    if e.audio_end_ms < 0:
        raise fail(e, "invalid_value", f"audio_end_ms {e.audio_end_ms} is negative")
    part = item.content[e.content_index]
    fmt = part.audio_format or "pcm16"
    info = FORMATS[fmt]
    keep = e.audio_end_ms * info.sample_rate // 1000 * info.sample_width
    generated, generated_ms = part.generated_transcript, part.generated_audio_ms
    if generated is None:
        generated = part.transcript.value if part.transcript is not None else None
        generated_ms = part.audio_ms
    part = replace(
        part,
        audio=part.audio.head(keep) if part.audio is not None else None,
        transcript=TextChunks.of(""),
        generated_transcript=generated,
        generated_audio_ms=generated_ms,
        truncated_at_ms=e.audio_end_ms,
    )
    return put_part(s, slot, item, e.content_index, part)


def on_item_retrieved(
    s: Snapshot, e: beta.ConversationItemRetrieved | ga.ConversationItemRetrieved
) -> Snapshot:
    item_id = e.item.id
    if isinstance(item_id, ev.UnsetType):
        raise fail(e, "missing_item_id", "conversation.item.retrieved without item.id")
    slot, item = item_at(s, item_id, e)
    copy = item_state(s, e.item, e, response_id=item.response_id, done=True)
    return put_item(s, slot, replace(item, retrieved=copy))


def on_mcp_list_tools(
    s: Snapshot, e: ga.McpListToolsInProgress | ga.McpListToolsCompleted | ga.McpListToolsFailed
) -> Snapshot:
    """The progress of an MCP tool listing (its item may be announced before or after)."""
    slot = s._index.get(e.item_id)
    if slot is None:
        return hold_back(s, e)
    item = s._slot(slot)
    assert item is not None
    if item.type != "mcp_list_tools":
        raise fail(e, "not_mcp_list_tools", f"item {item.id!r} is a {item.type}")
    return put_item(s, slot, replace(item, mcp_status=_LISTING[e.type]))


_LISTING: dict[str, Literal["in_progress", "completed", "failed"]] = {
    "mcp_list_tools.in_progress": "in_progress",
    "mcp_list_tools.completed": "completed",
    "mcp_list_tools.failed": "failed",
}


def _transcribed_part(
    s: Snapshot, e: _Transcription, content_index: int
) -> tuple[int, ItemState, PartState] | None:
    """The input-audio part a transcription event is about (``None``: hold the event back)."""
    slot = s._index.get(e.item_id)
    if slot is None:
        return None
    item = s._slot(slot)
    assert item is not None
    if (
        not 0 <= content_index < len(item.content)
        or item.content[content_index].type != "input_audio"
    ):
        raise fail(
            e, "not_input_audio", f"item {e.item_id!r} has no input audio part at {content_index}"
        )
    return slot, item, item.content[content_index]


def hold_back(s: Snapshot, e: _Transcription | _Listing) -> Snapshot:
    """Keep an event about an item not announced yet; ``replay_held`` applies it later.

    Servers send these a moment early, never many: at most ``MAX_HELD_ITEMS``
    items and ``MAX_HELD_EVENTS`` events for one item are held, so that a
    server naming items that never come cannot make the client hold memory
    without bound. Past that an event about an unknown item is a protocol error.
    """
    held = s._early.get(e.item_id, ())
    if len(held) >= MAX_HELD_EVENTS or (not held and len(s._early) >= MAX_HELD_ITEMS):
        raise fail(
            e,
            "unknown_item",
            f"item {e.item_id!r} was never announced, and the events held back for items not"
            f" announced yet are at their bound ({MAX_HELD_ITEMS} items,"
            f" {MAX_HELD_EVENTS} events per item)",
        )
    return replace(s, _early=s._early.set(e.item_id, (*held, e)))


def on_transcription_completed(
    s: Snapshot, e: ev.ConversationItemInputAudioTranscriptionCompleted
) -> Snapshot:
    found = _transcribed_part(s, e, e.content_index)
    if found is None:
        return hold_back(s, e)
    slot, item, part = found
    s, transcript = settle(s, e, part.transcript, e.transcript, item.id, "transcription")
    part = replace(part, transcript=transcript, transcript_done=True, transcription_error=None)
    return put_part(s, slot, item, e.content_index, part)


def on_transcription_failed(
    s: Snapshot, e: ev.ConversationItemInputAudioTranscriptionFailed
) -> Snapshot:
    found = _transcribed_part(s, e, e.content_index)
    if found is None:
        return hold_back(s, e)
    slot, item, part = found
    part = replace(part, transcription_error=e.error, transcript_done=True)
    return put_part(s, slot, item, e.content_index, part)


def on_transcription_delta(
    s: Snapshot, e: ev.ConversationItemInputAudioTranscriptionDelta
) -> Snapshot:
    # Both optional and nullable in the SDK (docs/protocol/ga.md#item-events).
    index = e.content_index if isinstance(e.content_index, int) else 0
    found = _transcribed_part(s, e, index)
    if found is None:
        return hold_back(s, e)
    slot, item, part = found
    if part.transcript_done:
        raise fail(e, "stream_closed", f"transcription of item {item.id!r} already completed")
    delta = e.delta if isinstance(e.delta, str) else ""
    transcript = (part.transcript or TextChunks.of()).append(delta)
    return put_part(s, slot, item, index, replace(part, transcript=transcript))


def on_transcription_segment(
    s: Snapshot, e: ev.ConversationItemInputAudioTranscriptionSegment
) -> Snapshot:
    # A diarised segment repeats text that the completed event carries whole;
    # it only has to name a real input-audio part (or be held back until it exists).
    if _transcribed_part(s, e, e.content_index) is None:
        return hold_back(s, e)
    return s
