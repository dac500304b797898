"""The state machine of a session as seen from its server events.

Theory of operation
-------------------
``apply(snapshot, event)`` returns the snapshot after one server event. It is
a pure function: the old snapshot is untouched, and an event that contradicts
the state (a delta for an item never announced, output for a finished
response, a second ``conversation.item.created`` for the same item, odd-length
pcm16 audio) raises ``RemoteProtocolError`` without producing a new snapshot.
Both roles use it: the client folds the events it receives, the server folds
the events it sends, so their snapshots are the same type and compare equal.

Every transition is listed in the two tables at the bottom of this file, one
handler per event class: ``_DELTAS`` for the streaming deltas (the hot path)
and ``_HANDLERS`` for everything else. The rules they enforce, with the events
that carry them (EVENTS.md, SEQUENCES.md):

* Order: ``conversation.item.created`` inserts after ``previous_item_id``;
  ``null`` means first, an absent anchor means last. An anchor naming no item
  is tolerated - the item is appended and an ``unknown_anchor`` anomaly is
  recorded - because real servers and clients disagree at times.
* Ids thread through: a response's output items are announced by
  ``response.output_item.added`` at the next ``output_index``; parts by
  ``response.content_part.added`` at the next ``content_index``; every delta
  names an item and part that exist, belong to that response and are still
  open for that stream (text, transcript, audio or arguments).
* ``*.done`` settles a streamed value. If it differs from the joined deltas,
  the ``done`` value wins and a ``done_mismatch`` anomaly is recorded.
* ``conversation.item.truncated`` cuts the part's audio at ``audio_end_ms`` in
  the part's own format and empties its transcript as the server does, keeping
  the generated transcript in ``generated_transcript``.
* Input transcription events may arrive before the item they belong to; they
  are held back and applied when the item is created.
* Out-of-band responses (``conversation_id: null``) produce items that are
  tracked but never enter the conversation.
* A function call that completes in the conversation is owed a
  ``function_call_output`` until one is created (``pending_calls``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace
from pyrsistent import pvector

from .. import events as ev
from ..audio.formats import FORMATS
from ..errors import RemoteProtocolError
from .chunks import ByteChunks, TextChunks
from .model import (
    Anomaly,
    ErrorRecord,
    ItemState,
    PartState,
    ResponseState,
    Snapshot,
)

__all__ = ["apply", "record_protocol_error", "initial_snapshot", "item_from_wire"]

_Handler = Callable[[Snapshot, Any], Snapshot]


def initial_snapshot() -> Snapshot:
    """The state before any event: no session, an empty conversation."""
    return _EMPTY


def apply(s: Snapshot, event: ev.ServerEvent | ev.UnknownEvent) -> Snapshot:
    """The snapshot after ``event``; raises ``RemoteProtocolError`` if it contradicts ``s``."""
    kind = type(event)
    delta = _DELTAS.get(kind)
    if delta is not None:
        return delta(s, event)  # counts the event itself
    handler = _HANDLERS.get(kind)
    if handler is None:
        return replace(s, unknown_events=s.unknown_events + 1, events_applied=s.events_applied + 1)
    new = handler(s, event)
    return replace(new, events_applied=s.events_applied + 1)


def record_protocol_error(s: Snapshot, error: RemoteProtocolError) -> Snapshot:
    """``s`` with a protocol error of the peer recorded (and nothing else changed)."""
    error.__traceback__ = None  # keep no frames alive from inside a snapshot
    return replace(s, protocol_errors=s.protocol_errors.append(error))


# -- shared helpers ------------------------------------------------------------------


def _fail(event: ev.ServerEvent, code: str, message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, code=code, event_id=event.event_id, event_type=event.type)


def _anomaly(s: Snapshot, event: ev.ServerEvent, kind: str, detail: str) -> Snapshot:
    return replace(
        s, anomalies=s.anomalies.append(Anomaly(kind=kind, event_id=event.event_id, detail=detail))
    )


def _item_at(s: Snapshot, item_id: str, event: ev.ServerEvent) -> tuple[int, ItemState]:
    slots = s._slots
    if slots:
        # Slots are append-only: a streamed delta almost always names the newest item.
        newest = slots[-1]
        if newest is not None and newest.id == item_id:
            return len(slots) - 1, newest
    slot = s._index.get(item_id)
    if slot is None:
        raise _fail(event, "unknown_item", f"item {item_id!r} was never announced")
    item = slots[slot]
    assert item is not None
    return slot, item


def _put_item(s: Snapshot, slot: int, item: ItemState) -> Snapshot:
    return replace(s, _slots=s._slots.set(slot, item))


def _put_part(s: Snapshot, slot: int, item: ItemState, index: int, part: PartState) -> Snapshot:
    return replace(s, _slots=s._slots.set(slot, _with_part(item, index, part)))


def _with_part(item: ItemState, index: int, part: PartState) -> ItemState:
    content = item.content
    if len(content) == 1:
        new_content: tuple[PartState, ...] = (part,)  # the usual single audio or text part
    else:
        new_content = (*content[:index], part, *content[index + 1 :])
    return replace(item, content=new_content)


def _streamed(s: Snapshot, slot: int, item: ItemState) -> Snapshot:
    """The snapshot after a delta: ``item`` put back, and the event counted (see ``apply``)."""
    return replace(s, _slots=s._slots.set(slot, item), events_applied=s.events_applied + 1)


def _response_at(s: Snapshot, response_id: str, event: ev.ServerEvent) -> ResponseState:
    responses = s.responses
    if responses and responses[-1].id == response_id:
        response = responses[-1]  # the newest response: the usual case
    else:
        pos = s._response_index.get(response_id)
        if pos is None:
            raise _fail(event, "unknown_response", f"response {response_id!r} was never created")
        response = responses[pos]
    if response.done:
        raise _fail(
            event,
            "response_finished",
            f"response {response_id!r} already ended ({response.status})",
        )
    return response


def _put_response(s: Snapshot, response: ResponseState) -> Snapshot:
    pos = s._response_index[response.id]
    return replace(s, responses=s.responses.set(pos, response))


def _input_format(s: Snapshot) -> ev.AudioFormat:
    fmt = s.session.input_audio_format if s.session is not None else ev.UNSET
    return "pcm16" if isinstance(fmt, ev.UnsetType) else fmt


def _output_format(s: Snapshot, response_id: str | None) -> ev.AudioFormat:
    if response_id is not None:
        pos = s._response_index.get(response_id)
        if pos is not None:
            reported = s.responses[pos].reported
            if reported is not None and not isinstance(reported.output_audio_format, ev.UnsetType):
                return reported.output_audio_format
    fmt = s.session.output_audio_format if s.session is not None else ev.UNSET
    return "pcm16" if isinstance(fmt, ev.UnsetType) else fmt


def _part_from_wire(
    part: ev.ContentPart, input_format: ev.AudioFormat, output_format: ev.AudioFormat, done: bool
) -> PartState:
    if isinstance(part, ev.InputTextContent):
        return PartState(
            type="input_text", text=TextChunks.of(part.text), text_done=True, done=True
        )
    if isinstance(part, ev.TextContent):
        return PartState(type="text", text=TextChunks.of(part.text), text_done=done, done=done)
    if isinstance(part, ev.InputAudioContent):
        return PartState(
            type="input_audio",
            transcript=TextChunks.of(part.transcript) if isinstance(part.transcript, str) else None,
            audio=ByteChunks.of(part.audio) if isinstance(part.audio, bytes) else ByteChunks.of(),
            audio_format=input_format,
            done=True,
        )
    if isinstance(part, ev.AudioContent):
        transcript = part.transcript if isinstance(part.transcript, str) else ""
        return PartState(
            type="audio",
            transcript=TextChunks.of(transcript),
            audio=ByteChunks.of(part.audio) if isinstance(part.audio, bytes) else ByteChunks.of(),
            audio_format=output_format,
            text_done=done,
            transcript_done=done,
            audio_done=done,
            done=done,
        )
    return PartState(type="item_reference", reference_id=part.id, done=True)


def item_from_wire(
    item: ev.Item,
    input_format: ev.AudioFormat,
    output_format: ev.AudioFormat,
    *,
    response_id: str | None = None,
    done: bool = True,
) -> ItemState:
    """An item as the snapshot holds it, built from its wire form.

    ``done`` says whether its parts and arguments are complete (a created
    item) or still to be streamed (an output item just announced).
    """
    if isinstance(item.id, ev.UnsetType):
        raise ValueError("an item needs an id to be held in a snapshot")
    status = None if isinstance(item.status, ev.UnsetType) else item.status
    if isinstance(item, ev.MessageItem):
        content = () if isinstance(item.content, ev.UnsetType) else item.content
        return ItemState(
            id=item.id,
            type="message",
            status=status,
            role=item.role,
            content=tuple(_part_from_wire(p, input_format, output_format, done) for p in content),
            response_id=response_id,
        )
    if isinstance(item, ev.FunctionCallItem):
        return ItemState(
            id=item.id,
            type="function_call",
            status=status,
            call_id=None if isinstance(item.call_id, ev.UnsetType) else item.call_id,
            name=None if isinstance(item.name, ev.UnsetType) else item.name,
            arguments=TextChunks.of(
                "" if isinstance(item.arguments, ev.UnsetType) else item.arguments
            ),
            arguments_done=done,
            response_id=response_id,
        )
    return ItemState(
        id=item.id,
        type="function_call_output",
        status=status,
        call_id=item.call_id,
        output=None if isinstance(item.output, ev.UnsetType) else item.output,
        response_id=response_id,
    )


def _item_from_wire(
    s: Snapshot, item: ev.Item, event: ev.ServerEvent, response_id: str | None, done: bool
) -> ItemState:
    if isinstance(item.id, ev.UnsetType):
        raise _fail(event, "missing_item_id", f"a {item.type} item arrived without an id")
    return item_from_wire(
        item, _input_format(s), _output_format(s, response_id), response_id=response_id, done=done
    )


def _add_item(s: Snapshot, item: ItemState) -> Snapshot:
    slot = len(s._slots)
    return replace(s, _slots=s._slots.append(item), _index=s._index.set(item.id, slot))


def _settle(
    s: Snapshot,
    event: ev.ServerEvent,
    current: TextChunks | None,
    final: str,
    what: str,
) -> tuple[Snapshot, TextChunks]:
    """The settled value of a streamed text: the ``done`` value, noting any mismatch."""
    if current is not None and current.size == len(final) and current.value == final:
        return s, current
    if current is not None and (current.size or final):
        s = _anomaly(
            s,
            event,
            "done_mismatch",
            f"{what}: the deltas gave {current.value!r}, the done event says {final!r}",
        )
    return s, TextChunks.of(final)


def _settle_part(
    s: Snapshot, event: ev.ServerEvent, part: PartState, wire: ev.ContentPart, where: str
) -> tuple[Snapshot, PartState]:
    """Close a part, taking the final text or transcript from a done event."""
    if isinstance(wire, (ev.TextContent, ev.InputTextContent)):
        s, text = _settle(s, event, part.text, wire.text, f"{where} text")
        return s, replace(part, text=text, text_done=True, done=True)
    if isinstance(wire, (ev.AudioContent, ev.InputAudioContent)):
        transcript = part.transcript
        if isinstance(wire.transcript, str) and part.truncated_at_ms is None:
            s, transcript = _settle(
                s, event, part.transcript, wire.transcript, f"{where} transcript"
            )
        return s, replace(
            part, transcript=transcript, transcript_done=True, audio_done=True, done=True
        )
    return s, replace(part, done=True)


def _settle_item(
    s: Snapshot, event: ev.ServerEvent, slot: int, item: ItemState, wire: ev.Item
) -> Snapshot:
    """Bring an item in line with its final form in ``output_item.done`` / ``response.done``."""
    status = item.status if isinstance(wire.status, ev.UnsetType) else wire.status
    if isinstance(wire, ev.MessageItem) and not isinstance(wire.content, ev.UnsetType):
        parts = list(item.content)
        in_fmt, out_fmt = _input_format(s), _output_format(s, item.response_id)
        for i, wire_part in enumerate(wire.content):
            where = f"item {item.id!r} part {i}"
            if i < len(parts):
                s, parts[i] = _settle_part(s, event, parts[i], wire_part, where)
            else:
                s = _anomaly(s, event, "unannounced_part", f"{where} was never announced")
                parts.append(_part_from_wire(wire_part, in_fmt, out_fmt, done=True))
        item = replace(item, content=tuple(parts))
    elif isinstance(wire, ev.FunctionCallItem):
        arguments = item.arguments
        if not isinstance(wire.arguments, ev.UnsetType):
            s, arguments = _settle(
                s, event, item.arguments, wire.arguments, f"item {item.id!r} arguments"
            )
        item = replace(
            item,
            arguments=arguments,
            arguments_done=True,
            name=item.name if isinstance(wire.name, ev.UnsetType) else wire.name,
            call_id=item.call_id if isinstance(wire.call_id, ev.UnsetType) else wire.call_id,
        )
    item = replace(item, status=status)
    s = _put_item(s, slot, item)
    return _track_call(s, item)


def _track_call(s: Snapshot, item: ItemState) -> Snapshot:
    """Keep ``pending_calls`` in step with a function call or its output."""
    if item.call_id is None or not item.in_conversation:
        return s
    if item.type == "function_call" and item.status == "completed":
        if s.pending_calls.get(item.call_id) != item.id:
            return replace(s, pending_calls=s.pending_calls.set(item.call_id, item.id))
    elif item.type == "function_call_output" and item.call_id in s.pending_calls:
        return replace(s, pending_calls=s.pending_calls.discard(item.call_id))
    return s


def _place(
    s: Snapshot, item_id: str, anchor: str | None | ev.UnsetType, event: ev.ServerEvent
) -> Snapshot:
    """Put ``item_id`` into the conversation order after ``anchor``."""
    order = s.order
    if isinstance(anchor, ev.UnsetType) or (order and order[-1] == anchor):
        return replace(s, order=order.append(item_id))
    if anchor is None:
        return replace(s, order=pvector((item_id, *order)))
    try:
        pos = order.index(anchor)
    except ValueError:
        s = _anomaly(
            s, event, "unknown_anchor", f"previous_item_id {anchor!r} names no item; appended"
        )
        return replace(s, order=order.append(item_id))
    return replace(s, order=pvector((*order[: pos + 1], item_id, *order[pos + 1 :])))


def _enter_conversation(s: Snapshot, slot: int, item: ItemState) -> Snapshot:
    item = replace(item, in_conversation=True)
    return _track_call(_put_item(s, slot, item), item)


# -- session and conversation -----------------------------------------------------------


def _session(s: Snapshot, e: ev.SessionCreated | ev.SessionUpdated) -> Snapshot:
    return replace(s, session=e.session)


def _transcription_session(
    s: Snapshot, e: ev.TranscriptionSessionCreated | ev.TranscriptionSessionUpdated
) -> Snapshot:
    return replace(s, transcription_session=e.session)


def _conversation_created(s: Snapshot, e: ev.ConversationCreated) -> Snapshot:
    return replace(s, conversation_id=e.conversation.id)


def _item_created(s: Snapshot, e: ev.ConversationItemCreated) -> Snapshot:
    item_id = e.item.id
    if isinstance(item_id, ev.UnsetType):
        raise _fail(e, "missing_item_id", "conversation.item.created without item.id")
    slot = s._index.get(item_id)
    if slot is not None:
        known = s._slots[slot]
        assert known is not None
        if known.in_conversation:
            raise _fail(e, "duplicate_item", f"item {item_id!r} is already in the conversation")
        # An output item announced by response.output_item.added now takes its place.
        s = _place(s, item_id, e.previous_item_id, e)
        return _enter_conversation(s, slot, known)
    item = _item_from_wire(s, e.item, e, response_id=None, done=True)
    s = _add_item(s, item)
    s = _place(s, item_id, e.previous_item_id, e)
    s = _enter_conversation(s, s._index[item_id], item)
    early = s._early.get(item_id)
    if early:
        s = replace(s, _early=s._early.discard(item_id))
        for held in early:
            s = _HANDLERS[type(held)](s, held)
    return s


def _item_deleted(s: Snapshot, e: ev.ConversationItemDeleted) -> Snapshot:
    slot, item = _item_at(s, e.item_id, e)
    order = s.order
    if item.in_conversation:
        order = order.remove(item.id)
    pending = s.pending_calls
    if item.type == "function_call" and item.call_id is not None:
        pending = pending.discard(item.call_id)
    return replace(
        s,
        order=order,
        _slots=s._slots.set(slot, None),
        _index=s._index.discard(item.id),
        pending_calls=pending,
    )


def _item_truncated(s: Snapshot, e: ev.ConversationItemTruncated) -> Snapshot:
    slot, item = _item_at(s, e.item_id, e)
    if (
        not 0 <= e.content_index < len(item.content)
        or item.content[e.content_index].type != "audio"
    ):
        raise _fail(
            e, "not_audio", f"item {item.id!r} has no audio part at index {e.content_index}"
        )
    if e.audio_end_ms < 0:
        raise _fail(e, "invalid_value", f"audio_end_ms {e.audio_end_ms} is negative")
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
    return _put_part(s, slot, item, e.content_index, part)


def _item_retrieved(s: Snapshot, e: ev.ConversationItemRetrieved) -> Snapshot:
    item_id = e.item.id
    if isinstance(item_id, ev.UnsetType):
        raise _fail(e, "missing_item_id", "conversation.item.retrieved without item.id")
    slot, item = _item_at(s, item_id, e)
    return _put_item(s, slot, replace(item, retrieved=e.item))


# -- input transcription ------------------------------------------------------------------

_Transcription = (
    ev.ConversationItemInputAudioTranscriptionCompleted
    | ev.ConversationItemInputAudioTranscriptionFailed
    | ev.ConversationItemInputAudioTranscriptionDelta
    | ev.ConversationItemInputAudioTranscriptionSegment
)


def _transcribed_part(
    s: Snapshot, e: _Transcription, content_index: int
) -> tuple[int, ItemState, PartState] | None:
    """The input-audio part a transcription event is about (``None``: hold the event back)."""
    slot = s._index.get(e.item_id)
    if slot is None:
        return None
    item = s._slots[slot]
    assert item is not None
    if (
        not 0 <= content_index < len(item.content)
        or item.content[content_index].type != "input_audio"
    ):
        raise _fail(
            e, "not_input_audio", f"item {e.item_id!r} has no input audio part at {content_index}"
        )
    return slot, item, item.content[content_index]


def _hold_back(s: Snapshot, e: _Transcription) -> Snapshot:
    held = s._early.get(e.item_id, ())
    return replace(s, _early=s._early.set(e.item_id, (*held, e)))


def _transcription_completed(
    s: Snapshot, e: ev.ConversationItemInputAudioTranscriptionCompleted
) -> Snapshot:
    found = _transcribed_part(s, e, e.content_index)
    if found is None:
        return _hold_back(s, e)
    slot, item, part = found
    s, transcript = _settle(s, e, part.transcript, e.transcript, f"item {item.id!r} transcription")
    part = replace(part, transcript=transcript, transcript_done=True, transcription_error=None)
    return _put_part(s, slot, item, e.content_index, part)


def _transcription_failed(
    s: Snapshot, e: ev.ConversationItemInputAudioTranscriptionFailed
) -> Snapshot:
    found = _transcribed_part(s, e, e.content_index)
    if found is None:
        return _hold_back(s, e)
    slot, item, part = found
    part = replace(part, transcription_error=e.error, transcript_done=True)
    return _put_part(s, slot, item, e.content_index, part)


def _transcription_delta(
    s: Snapshot, e: ev.ConversationItemInputAudioTranscriptionDelta
) -> Snapshot:
    index = 0 if isinstance(e.content_index, ev.UnsetType) else e.content_index
    found = _transcribed_part(s, e, index)
    if found is None:
        return _hold_back(s, e)
    slot, item, part = found
    if part.transcript_done:
        raise _fail(e, "stream_closed", f"transcription of item {item.id!r} already completed")
    delta = "" if isinstance(e.delta, ev.UnsetType) else e.delta
    transcript = (part.transcript or TextChunks.of()).append(delta)
    return _put_part(s, slot, item, index, replace(part, transcript=transcript))


def _transcription_segment(
    s: Snapshot, e: ev.ConversationItemInputAudioTranscriptionSegment
) -> Snapshot:
    # A diarised segment repeats text that the completed event carries whole;
    # it only has to name a real input-audio part (or be held back until it exists).
    if _transcribed_part(s, e, e.content_index) is None:
        return _hold_back(s, e)
    return s


# -- input audio buffer --------------------------------------------------------------------


def _buffer(s: Snapshot, **changes: Any) -> Snapshot:
    return replace(s, input_audio_buffer=replace(s.input_audio_buffer, **changes))


def _speech_started(s: Snapshot, e: ev.InputAudioBufferSpeechStarted) -> Snapshot:
    return _buffer(
        s,
        speech_active=True,
        speech_item_id=e.item_id,
        audio_start_ms=e.audio_start_ms,
        audio_end_ms=None,
    )


def _speech_stopped(s: Snapshot, e: ev.InputAudioBufferSpeechStopped) -> Snapshot:
    return _buffer(s, speech_active=False, speech_item_id=e.item_id, audio_end_ms=e.audio_end_ms)


def _timeout_triggered(s: Snapshot, e: ev.InputAudioBufferTimeoutTriggered) -> Snapshot:
    return _buffer(
        s,
        speech_active=False,
        speech_item_id=e.item_id,
        audio_start_ms=e.audio_start_ms,
        audio_end_ms=e.audio_end_ms,
    )


def _committed(s: Snapshot, e: ev.InputAudioBufferCommitted) -> Snapshot:
    buffer = s.input_audio_buffer
    return _buffer(
        s, speech_active=False, committed_item_ids=buffer.committed_item_ids.append(e.item_id)
    )


def _cleared(s: Snapshot, e: ev.InputAudioBufferCleared) -> Snapshot:
    return _buffer(s, speech_active=False, speech_item_id=None)


# -- responses -----------------------------------------------------------------------------


def _response_created(s: Snapshot, e: ev.ResponseCreated) -> Snapshot:
    r = e.response
    if r.id in s._response_index:
        raise _fail(e, "duplicate_response", f"response {r.id!r} was already created")
    out_of_band = r.conversation_id is None
    active = s.active_response
    if active is not None and not out_of_band:
        s = _anomaly(
            s, e, "overlapping_responses", f"response {r.id!r} began while {active.id!r} was active"
        )
    conversation_id = r.conversation_id if isinstance(r.conversation_id, str) else None
    response = ResponseState(
        id=r.id,
        status=r.status,
        status_details=None if isinstance(r.status_details, ev.UnsetType) else r.status_details,
        usage=None if isinstance(r.usage, ev.UnsetType) else r.usage,
        conversation_id=conversation_id,
        out_of_band=out_of_band,
        reported=r,
    )
    return replace(
        s,
        responses=s.responses.append(response),
        _response_index=s._response_index.set(r.id, len(s.responses)),
        conversation_id=s.conversation_id or conversation_id,
    )


def _response_done(s: Snapshot, e: ev.ResponseDone) -> Snapshot:
    r = e.response
    response = _response_at(s, r.id, e)
    output_ids = list(response.output_item_ids)
    for wire in r.output:
        if isinstance(wire.id, ev.UnsetType):
            continue
        slot = s._index.get(wire.id)
        if slot is None:
            s = _anomaly(s, e, "unannounced_item", f"item {wire.id!r} first seen in response.done")
            s = _add_item(s, _item_from_wire(s, wire, e, response_id=r.id, done=True))
            slot = s._index[wire.id]
        if wire.id not in output_ids:
            output_ids.append(wire.id)
        item = s._slots[slot]
        assert item is not None
        s = _settle_item(s, e, slot, item, wire)
        s = _join_late(s, e, slot, response)
    done = replace(
        response,
        status=r.status,
        status_details=None if isinstance(r.status_details, ev.UnsetType) else r.status_details,
        usage=None if isinstance(r.usage, ev.UnsetType) else r.usage,
        output_item_ids=tuple(output_ids),
        reported=r,
    )
    return _put_response(s, done)


def _join_late(s: Snapshot, e: ev.ServerEvent, slot: int, response: ResponseState) -> Snapshot:
    """Put an in-conversation output item that was never announced at the end of the conversation."""
    item = s._slots[slot]
    assert item is not None
    if item.in_conversation or response.out_of_band:
        return s
    s = _anomaly(
        s, e, "late_conversation_item", f"item {item.id!r} never got conversation.item.created"
    )
    s = replace(s, order=s.order.append(item.id))
    return _enter_conversation(s, slot, item)


def _output_item_added(s: Snapshot, e: ev.ResponseOutputItemAdded) -> Snapshot:
    response = _response_at(s, e.response_id, e)
    if e.output_index != len(response.output_item_ids):
        raise _fail(
            e,
            "output_index",
            f"output_index {e.output_index} announced, {len(response.output_item_ids)} expected",
        )
    item_id = e.item.id
    if isinstance(item_id, ev.UnsetType):
        raise _fail(e, "missing_item_id", "response.output_item.added without item.id")
    slot = s._index.get(item_id)
    if slot is None:
        s = _add_item(s, _item_from_wire(s, e.item, e, response_id=e.response_id, done=False))
    else:
        known = s._slots[slot]
        assert known is not None
        if known.response_id is not None:
            raise _fail(e, "duplicate_item", f"item {item_id!r} already belongs to a response")
        s = _put_item(s, slot, replace(known, response_id=e.response_id))
    response = replace(response, output_item_ids=(*response.output_item_ids, item_id))
    return _put_response(s, response)


def _output_item_done(s: Snapshot, e: ev.ResponseOutputItemDone) -> Snapshot:
    response = _response_at(s, e.response_id, e)
    item_id = e.item.id
    if isinstance(item_id, ev.UnsetType):
        raise _fail(e, "missing_item_id", "response.output_item.done without item.id")
    slot = s._index.get(item_id)
    if slot is None:
        s = _anomaly(s, e, "unannounced_item", f"item {item_id!r} first seen in output_item.done")
        s = _add_item(s, _item_from_wire(s, e.item, e, response_id=e.response_id, done=True))
        slot = s._index[item_id]
        response = replace(response, output_item_ids=(*response.output_item_ids, item_id))
        s = _put_response(s, response)
    item = s._slots[slot]
    assert item is not None
    if item.response_id != e.response_id:
        raise _fail(e, "wrong_response", f"item {item_id!r} is not an output of {e.response_id!r}")
    s = _join_late(s, e, slot, response)
    item = s._slots[slot]
    assert item is not None
    return _settle_item(s, e, slot, item, e.item)


def _open_item(s: Snapshot, e: Any) -> tuple[int, ItemState]:
    """The output item a part or delta event is about; it must belong to an active response."""
    _response_at(s, e.response_id, e)
    slot, item = _item_at(s, e.item_id, e)
    if item.response_id != e.response_id:
        raise _fail(e, "wrong_response", f"item {item.id!r} is not an output of {e.response_id!r}")
    return slot, item


def _part_added(s: Snapshot, e: ev.ResponseContentPartAdded) -> Snapshot:
    slot, item = _open_item(s, e)
    if item.type != "message":
        raise _fail(e, "not_message", f"item {item.id!r} is a {item.type}, not a message")
    if e.content_index != len(item.content):
        raise _fail(
            e,
            "content_index",
            f"content_index {e.content_index} announced, {len(item.content)} expected",
        )
    part = _part_from_wire(e.part, _input_format(s), _output_format(s, e.response_id), done=False)
    return _put_item(s, slot, replace(item, content=(*item.content, part)))


def _open_part(s: Snapshot, e: Any, part_type: str) -> tuple[int, ItemState, PartState]:
    """The open part a delta streams into (the hot path: checks inlined for the usual case)."""
    slots = s._slots
    slot = len(slots) - 1
    item = slots[slot] if slot >= 0 else None
    responses = s.responses
    response = responses[len(responses) - 1] if responses else None
    # The usual case: the newest item of the newest response, which is still in progress.
    if (
        item is None
        or response is None
        or item.id != e.item_id
        or item.response_id != e.response_id
        or response.id != e.response_id
        or response.status != "in_progress"
    ):
        slot, item = _open_item(s, e)
    index = e.content_index
    content = item.content
    if not 0 <= index < len(content):
        raise _fail(e, "unknown_part", f"item {item.id!r} has no content part {index}")
    part = content[index]
    if part.type != part_type:
        raise _fail(e, "wrong_part_type", f"part {index} of item {item.id!r} is {part.type}")
    return slot, item, part


def _part_done(s: Snapshot, e: ev.ResponseContentPartDone) -> Snapshot:
    slot, item = _open_item(s, e)
    if not 0 <= e.content_index < len(item.content):
        raise _fail(e, "unknown_part", f"item {item.id!r} has no content part {e.content_index}")
    part = item.content[e.content_index]
    if part.done:
        raise _fail(e, "stream_closed", f"part {e.content_index} of item {item.id!r} already done")
    s, part = _settle_part(s, e, part, e.part, f"item {item.id!r} part {e.content_index}")
    return _put_part(s, slot, item, e.content_index, part)


def _text_delta(s: Snapshot, e: ev.ResponseTextDelta) -> Snapshot:
    slot, item, part = _open_part(s, e, "text")
    if part.text_done:
        raise _fail(e, "stream_closed", f"text of item {item.id!r} already done")
    assert part.text is not None
    part = replace(part, text=part.text.append(e.delta))
    return _streamed(s, slot, _with_part(item, e.content_index, part))


def _text_done(s: Snapshot, e: ev.ResponseTextDone) -> Snapshot:
    slot, item, part = _open_part(s, e, "text")
    if part.text_done:
        raise _fail(e, "stream_closed", f"text of item {item.id!r} already done")
    s, text = _settle(s, e, part.text, e.text, f"item {item.id!r} text")
    return _put_part(s, slot, item, e.content_index, replace(part, text=text, text_done=True))


def _transcript_delta(s: Snapshot, e: ev.ResponseAudioTranscriptDelta) -> Snapshot:
    slot, item, part = _open_part(s, e, "audio")
    if part.transcript_done:
        raise _fail(e, "stream_closed", f"transcript of item {item.id!r} already done")
    transcript = part.transcript
    transcript = TextChunks.of(e.delta) if transcript is None else transcript.append(e.delta)
    part = replace(part, transcript=transcript)
    return _streamed(s, slot, _with_part(item, e.content_index, part))


def _transcript_done(s: Snapshot, e: ev.ResponseAudioTranscriptDone) -> Snapshot:
    slot, item, part = _open_part(s, e, "audio")
    if part.transcript_done:
        raise _fail(e, "stream_closed", f"transcript of item {item.id!r} already done")
    s, transcript = _settle(s, e, part.transcript, e.transcript, f"item {item.id!r} transcript")
    part = replace(part, transcript=transcript, transcript_done=True)
    return _put_part(s, slot, item, e.content_index, part)


_WIDTH: dict[str | None, int] = {name: info.sample_width for name, info in FORMATS.items()}
_WIDTH[None] = 2


def _audio_delta(s: Snapshot, e: ev.ResponseAudioDelta) -> Snapshot:
    slot, item, part = _open_part(s, e, "audio")
    if part.audio_done:
        raise _fail(e, "stream_closed", f"audio of item {item.id!r} already done")
    delta = e.delta
    if len(delta) % _WIDTH[part.audio_format]:
        raise _fail(
            e,
            "odd_length_audio",
            f"{len(delta)} bytes is not a whole number of {part.audio_format} samples",
        )
    audio = part.audio
    audio = ByteChunks.of(delta) if audio is None else audio.append(delta)
    return _streamed(s, slot, _with_part(item, e.content_index, replace(part, audio=audio)))


def _audio_done(s: Snapshot, e: ev.ResponseAudioDone) -> Snapshot:
    slot, item, part = _open_part(s, e, "audio")
    if part.audio_done:
        raise _fail(e, "stream_closed", f"audio of item {item.id!r} already done")
    return _put_part(s, slot, item, e.content_index, replace(part, audio_done=True))


def _open_call(s: Snapshot, e: Any) -> tuple[int, ItemState]:
    slot, item = _open_item(s, e)
    if item.type != "function_call":
        raise _fail(e, "not_function_call", f"item {item.id!r} is a {item.type}")
    if item.call_id is not None and item.call_id != e.call_id:
        raise _fail(
            e, "call_id", f"item {item.id!r} has call_id {item.call_id!r}, not {e.call_id!r}"
        )
    if item.arguments_done:
        raise _fail(e, "stream_closed", f"arguments of item {item.id!r} already done")
    return slot, item


def _arguments_delta(s: Snapshot, e: ev.ResponseFunctionCallArgumentsDelta) -> Snapshot:
    slot, item = _open_call(s, e)
    arguments = item.arguments
    arguments = TextChunks.of(e.delta) if arguments is None else arguments.append(e.delta)
    return _streamed(s, slot, replace(item, arguments=arguments, call_id=e.call_id))


def _arguments_done(s: Snapshot, e: ev.ResponseFunctionCallArgumentsDone) -> Snapshot:
    slot, item = _open_call(s, e)
    s, arguments = _settle(s, e, item.arguments, e.arguments, f"item {item.id!r} arguments")
    name = item.name if isinstance(e.name, ev.UnsetType) else e.name
    item = replace(item, arguments=arguments, arguments_done=True, call_id=e.call_id, name=name)
    return _put_item(s, slot, item)


# -- everything else -----------------------------------------------------------------------


def _rate_limits(s: Snapshot, e: ev.RateLimitsUpdated) -> Snapshot:
    return replace(s, rate_limits=e.rate_limits)


def _error(s: Snapshot, e: ev.ErrorEvent) -> Snapshot:
    return replace(s, errors=s.errors.append(ErrorRecord(error=e.error, event_id=e.event_id)))


def _playback_started(s: Snapshot, e: ev.OutputAudioBufferStarted) -> Snapshot:
    return replace(s, output_audio_response_id=e.response_id)


def _playback_ended(
    s: Snapshot, e: ev.OutputAudioBufferStopped | ev.OutputAudioBufferCleared
) -> Snapshot:
    return replace(s, output_audio_response_id=None)


_EMPTY = Snapshot()

# The whole machine: server event class -> transition.
# Streaming deltas are most of the traffic. Their transitions count the event
# themselves, so that a delta costs one copy of the snapshot instead of two.
_DELTAS: dict[type[Any], _Handler] = {
    ev.ResponseTextDelta: _text_delta,
    ev.ResponseAudioTranscriptDelta: _transcript_delta,
    ev.ResponseAudioDelta: _audio_delta,
    ev.ResponseFunctionCallArgumentsDelta: _arguments_delta,
}

# Everything else: ``apply`` counts the event.

_HANDLERS: dict[type[Any], _Handler] = {
    ev.SessionCreated: _session,
    ev.SessionUpdated: _session,
    ev.TranscriptionSessionCreated: _transcription_session,
    ev.TranscriptionSessionUpdated: _transcription_session,
    ev.ConversationCreated: _conversation_created,
    ev.ConversationItemCreated: _item_created,
    ev.ConversationItemDeleted: _item_deleted,
    ev.ConversationItemTruncated: _item_truncated,
    ev.ConversationItemRetrieved: _item_retrieved,
    ev.ConversationItemInputAudioTranscriptionCompleted: _transcription_completed,
    ev.ConversationItemInputAudioTranscriptionFailed: _transcription_failed,
    ev.ConversationItemInputAudioTranscriptionDelta: _transcription_delta,
    ev.ConversationItemInputAudioTranscriptionSegment: _transcription_segment,
    ev.InputAudioBufferSpeechStarted: _speech_started,
    ev.InputAudioBufferSpeechStopped: _speech_stopped,
    ev.InputAudioBufferTimeoutTriggered: _timeout_triggered,
    ev.InputAudioBufferCommitted: _committed,
    ev.InputAudioBufferCleared: _cleared,
    ev.ResponseCreated: _response_created,
    ev.ResponseDone: _response_done,
    ev.ResponseOutputItemAdded: _output_item_added,
    ev.ResponseOutputItemDone: _output_item_done,
    ev.ResponseContentPartAdded: _part_added,
    ev.ResponseContentPartDone: _part_done,
    ev.ResponseTextDone: _text_done,
    ev.ResponseAudioTranscriptDone: _transcript_done,
    ev.ResponseAudioDone: _audio_done,
    ev.ResponseFunctionCallArgumentsDone: _arguments_done,
    ev.RateLimitsUpdated: _rate_limits,
    ev.ErrorEvent: _error,
    ev.OutputAudioBufferStarted: _playback_started,
    ev.OutputAudioBufferStopped: _playback_ended,
    ev.OutputAudioBufferCleared: _playback_ended,
}

assert not set(_HANDLERS) & set(_DELTAS)
assert set(_HANDLERS) | set(_DELTAS) == set(ev.SERVER_EVENTS.values()), (
    "every event needs a transition"
)
