"""Transitions of responses: lifecycle, output items, parts and streamed values.

The rules (docs/protocol/flows.md#responses, docs/protocol/flows.md#cancellation,
docs/protocol/flows.md#function-call, docs/protocol/flows.md#mcp):

* ``response.created`` opens a response (out of band when its
  ``conversation_id`` is ``null``: its items never enter the conversation);
  ``response.done`` closes it, settles every output item it lists and records
  status, details, usage and the effective settings it reports.
* Output items are announced at the next ``output_index``, parts at the next
  ``content_index``; every delta names an item and part of an active
  response that are still open for that stream (text, transcript, audio,
  function or MCP arguments). Deltas are the hot path: the newest item of the
  newest response is checked first, and a delta costs one copy of the
  snapshot record, however long the response.
* GA names the streams ``response.output_text.*``, ``response.output_audio.*``
  and ``response.output_audio_transcript.*``; they drive the same transitions
  as beta's ``response.text.*``, ``response.audio.*`` and
  ``response.audio_transcript.*``.
* MCP calls stream their arguments like function calls and report progress
  by item (``response.mcp_call.*`` carry no ``response_id``).
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec.structs import replace

from .. import events as ev
from ..audio.formats import FORMATS
from ..events import beta, ga
from .chunks import AudioLength, ByteChunks, TextChunks
from .model import ItemState, PartState, ResponseState, Snapshot
from .steps import (
    add_item,
    anomaly,
    enter_conversation,
    fail,
    input_format,
    item_at,
    item_state,
    output_format,
    put_item,
    put_part,
    put_response,
    response_at,
    settle,
    settle_item,
    settle_part,
    streamed,
    streamed_part,
)
from .wire import part_from_wire, response_fields

_WIDTH: dict[str | None, int] = {name: info.sample_width for name, info in FORMATS.items()}
_WIDTH[None] = 2


def on_response_created(s: Snapshot, e: beta.ResponseCreated | ga.ResponseCreated) -> Snapshot:
    r = e.response
    if r.id in s._response_index:
        raise fail(e, "duplicate_response", f"response {r.id!r} was already created")
    out_of_band = r.conversation_id is None
    active = s.active_response
    if active is not None and not out_of_band:
        s = anomaly(
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
        **response_fields(r),
    )
    return replace(
        s,
        responses=s.responses.append(response),
        _response_index=s._response_index.set(r.id, len(s.responses)),
        _running=s._running.set(r.id, out_of_band),
        conversation_id=s.conversation_id or conversation_id,
    )


def on_response_done(s: Snapshot, e: beta.ResponseDone | ga.ResponseDone) -> Snapshot:
    r = e.response
    response = response_at(s, r.id, e)
    output_ids = list(response.output_item_ids)
    for wire in r.output:
        if isinstance(wire.id, ev.UnsetType):
            continue
        slot = s._index.get(wire.id)
        if slot is None:
            s = anomaly(s, e, "unannounced_item", f"item {wire.id!r} first seen in response.done")
            s = add_item(s, item_state(s, wire, e, response_id=r.id, done=True))
            slot = s._index[wire.id]
        if wire.id not in output_ids:
            output_ids.append(wire.id)
        item = s._slot(slot)
        assert item is not None
        s = settle_item(s, e, slot, item, wire)
        s = _join_late(s, e, slot, response)
    done = replace(
        response,
        status=r.status,
        status_details=None if isinstance(r.status_details, ev.UnsetType) else r.status_details,
        usage=None if isinstance(r.usage, ev.UnsetType) else r.usage,
        output_item_ids=tuple(output_ids),
        **response_fields(r),
    )
    running = s._running
    if r.id in running:
        running = running.delete(r.id)
    return put_response(replace(s, _running=running), done)


def _join_late(s: Snapshot, e: ev.ServerEvent, slot: int, response: ResponseState) -> Snapshot:
    """Put an in-conversation output item that was never announced at the end of the conversation."""
    item = s._slot(slot)
    assert item is not None
    if item.in_conversation or response.out_of_band:
        return s
    s = anomaly(
        s, e, "late_conversation_item", f"item {item.id!r} never got conversation.item.created"
    )
    s = replace(s, order=s.order.append(item.id))
    return enter_conversation(s, slot, item)


def on_output_item_added(
    s: Snapshot, e: beta.ResponseOutputItemAdded | ga.ResponseOutputItemAdded
) -> Snapshot:
    response = response_at(s, e.response_id, e)
    if e.output_index != len(response.output_item_ids):
        raise fail(
            e,
            "output_index",
            f"output_index {e.output_index} announced, {len(response.output_item_ids)} expected",
        )
    item_id = e.item.id
    if isinstance(item_id, ev.UnsetType):
        raise fail(e, "missing_item_id", "response.output_item.added without item.id")
    slot = s._index.get(item_id)
    if slot is None:
        s = add_item(s, item_state(s, e.item, e, response_id=e.response_id, done=False))
    else:
        known = s._slot(slot)
        assert known is not None
        if known.response_id is not None:
            raise fail(e, "duplicate_item", f"item {item_id!r} already belongs to a response")
        s = put_item(s, slot, replace(known, response_id=e.response_id))
    response = replace(response, output_item_ids=(*response.output_item_ids, item_id))
    return put_response(s, response)


def on_output_item_done(
    s: Snapshot, e: beta.ResponseOutputItemDone | ga.ResponseOutputItemDone
) -> Snapshot:
    response = response_at(s, e.response_id, e)
    item_id = e.item.id
    if isinstance(item_id, ev.UnsetType):
        raise fail(e, "missing_item_id", "response.output_item.done without item.id")
    slot = s._index.get(item_id)
    if slot is None:
        s = anomaly(s, e, "unannounced_item", f"item {item_id!r} first seen in output_item.done")
        s = add_item(s, item_state(s, e.item, e, response_id=e.response_id, done=True))
        slot = s._index[item_id]
        response = replace(response, output_item_ids=(*response.output_item_ids, item_id))
        s = put_response(s, response)
    item = s._slot(slot)
    assert item is not None
    if item.response_id != e.response_id:
        raise fail(e, "wrong_response", f"item {item_id!r} is not an output of {e.response_id!r}")
    s = _join_late(s, e, slot, response)
    item = s._slot(slot)
    assert item is not None
    return settle_item(s, e, slot, item, e.item)


def _open_item(s: Snapshot, e: Any) -> tuple[int, ItemState]:
    """The output item a part or delta event is about; it must belong to an active response."""
    item, responses = s._newest, s.responses
    if item is not None and responses:
        # The usual case, as in ``_open_part``: the newest item of the newest response,
        # which is still in progress.
        response = responses[-1]
        if (
            item.id == e.item_id
            and item.response_id == e.response_id
            and response.id == e.response_id
            and response.status == "in_progress"
        ):
            return len(s._slots), item
    response_at(s, e.response_id, e)
    slot, item = item_at(s, e.item_id, e)
    if item.response_id != e.response_id:
        raise fail(e, "wrong_response", f"item {item.id!r} is not an output of {e.response_id!r}")
    return slot, item


def on_part_added(s: Snapshot, e: ev.ResponseContentPartAdded) -> Snapshot:
    slot, item = _open_item(s, e)
    if item.type != "message":
        raise fail(e, "not_message", f"item {item.id!r} is a {item.type}, not a message")
    if e.content_index != len(item.content):
        raise fail(
            e,
            "content_index",
            f"content_index {e.content_index} announced, {len(item.content)} expected",
        )
    part = part_from_wire(e.part, input_format(s), output_format(s, e.response_id), done=False)
    return put_item(s, slot, replace(item, content=(*item.content, part)))


def _open_part(s: Snapshot, e: Any, part_type: str) -> tuple[int, ItemState, PartState]:
    """The open part a delta streams into (the hot path: checks inlined for the usual case)."""
    item, responses = s._newest, s.responses
    if item is not None and responses:
        # The usual case, as in ``_open_item``: the newest item of the newest response,
        # which is still in progress.
        response = responses[-1]
        if (
            item.id == e.item_id
            and item.response_id == response.id == e.response_id
            and response.status == "in_progress"
        ):
            slot = len(s._slots)
        else:
            slot, item = _open_item(s, e)
    else:
        slot, item = _open_item(s, e)
    index = e.content_index
    content = item.content
    if index < 0 or index >= len(content):
        raise fail(e, "unknown_part", f"item {item.id!r} has no content part {index}")
    part = content[index]
    if part.type != part_type:
        raise fail(e, "wrong_part_type", f"part {index} of item {item.id!r} is {part.type}")
    return slot, item, part


def _streaming(s: Snapshot, e: Any, part_type: str) -> ItemState | None:
    """The newest item, when a delta streams into its only part as usual; else ``None``.

    The usual case of ``_open_part``, for the delta steps: the newest item of the newest
    response, which is in progress, with one part, of ``part_type``, which the delta names.
    The step then builds the new snapshot itself (one call less per delta than through
    ``_open_part`` and ``streamed_part``); in every other case it asks ``_open_part``, which
    checks the same and tells what is wrong.
    """
    item, responses = s._newest, s.responses
    if item is not None and responses and e.content_index == 0:
        response = responses[-1]
        if (
            item.id == e.item_id
            and item.response_id == response.id == e.response_id
            and response.status == "in_progress"
        ):
            content = item.content
            if len(content) == 1 and content[0].type == part_type:
                return item
    return None


def on_part_done(s: Snapshot, e: ev.ResponseContentPartDone) -> Snapshot:
    slot, item = _open_item(s, e)
    if not 0 <= e.content_index < len(item.content):
        raise fail(e, "unknown_part", f"item {item.id!r} has no content part {e.content_index}")
    part = item.content[e.content_index]
    if part.done:
        raise fail(e, "stream_closed", f"part {e.content_index} of item {item.id!r} already done")
    s, part = settle_part(s, e, part, e.part, item.id, e.content_index)
    return put_part(s, slot, item, e.content_index, part)


def on_text_delta(s: Snapshot, e: Any) -> Snapshot:
    item = _streaming(s, e, "text")
    if item is None:
        slot, item, part = _open_part(s, e, "text")
    else:
        slot, part = -1, item.content[0]
    if part.text_done:
        raise fail(e, "stream_closed", f"text of item {item.id!r} already done")
    assert part.text is not None
    part = replace(part, text=part.text.append(e.delta))
    if slot < 0:
        item = replace(item, content=(part,))
        return replace(s, _newest=item, events_applied=s.events_applied + 1)
    return streamed_part(s, slot, item, e.content_index, part)


def on_text_done(s: Snapshot, e: Any) -> Snapshot:
    slot, item, part = _open_part(s, e, "text")
    if part.text_done:
        raise fail(e, "stream_closed", f"text of item {item.id!r} already done")
    s, text = settle(s, e, part.text, e.text, item.id, "text")
    return put_part(s, slot, item, e.content_index, replace(part, text=text, text_done=True))


def on_transcript_delta(s: Snapshot, e: Any) -> Snapshot:
    item = _streaming(s, e, "audio")
    if item is None:
        slot, item, part = _open_part(s, e, "audio")
    else:
        slot, part = -1, item.content[0]
    if part.transcript_done:
        raise fail(e, "stream_closed", f"transcript of item {item.id!r} already done")
    transcript = part.transcript
    transcript = TextChunks.of(e.delta) if transcript is None else transcript.append(e.delta)
    part = replace(part, transcript=transcript)
    if slot < 0:
        item = replace(item, content=(part,))
        return replace(s, _newest=item, events_applied=s.events_applied + 1)
    return streamed_part(s, slot, item, e.content_index, part)


def on_transcript_done(s: Snapshot, e: Any) -> Snapshot:
    slot, item, part = _open_part(s, e, "audio")
    if part.transcript_done:
        raise fail(e, "stream_closed", f"transcript of item {item.id!r} already done")
    s, transcript = settle(s, e, part.transcript, e.transcript, item.id, "transcript")
    part = replace(part, transcript=transcript, transcript_done=True)
    return put_part(s, slot, item, e.content_index, part)


def on_audio_delta(s: Snapshot, e: Any) -> Snapshot:
    item = _streaming(s, e, "audio")
    if item is None:
        slot, item, part = _open_part(s, e, "audio")
    else:
        slot, part = -1, item.content[0]
    if part.audio_done:
        raise fail(e, "stream_closed", f"audio of item {item.id!r} already done")
    delta = e.delta
    if len(delta) % _WIDTH[part.audio_format]:
        raise fail(
            e,
            "odd_length_audio",
            f"{len(delta)} bytes is not a whole number of {part.audio_format} samples",
        )
    audio: ByteChunks | AudioLength | None = part.audio
    if not s.retain_audio:
        # Only the length is kept (a part announced empty starts as empty ByteChunks).
        audio = AudioLength(len(delta) + (0 if audio is None else audio.size))
    elif audio is None:
        audio = ByteChunks.of(delta)
    else:
        audio = audio.append(delta)
    part = replace(part, audio=audio)
    if slot < 0:
        item = replace(item, content=(part,))
        return replace(s, _newest=item, events_applied=s.events_applied + 1)
    return streamed_part(s, slot, item, e.content_index, part)


def on_audio_done(s: Snapshot, e: Any) -> Snapshot:
    slot, item, part = _open_part(s, e, "audio")
    if part.audio_done:
        raise fail(e, "stream_closed", f"audio of item {item.id!r} already done")
    return put_part(s, slot, item, e.content_index, replace(part, audio_done=True))


def _open_call(s: Snapshot, e: Any) -> tuple[int, ItemState]:
    slot, item = _open_item(s, e)
    if item.type != "function_call":
        raise fail(e, "not_function_call", f"item {item.id!r} is a {item.type}")
    if item.call_id is not None and item.call_id != e.call_id:
        raise fail(
            e, "call_id", f"item {item.id!r} has call_id {item.call_id!r}, not {e.call_id!r}"
        )
    if item.arguments_done:
        raise fail(e, "stream_closed", f"arguments of item {item.id!r} already done")
    return slot, item


def _open_mcp_call(s: Snapshot, e: Any) -> tuple[int, ItemState]:
    slot, item = _open_item(s, e)
    if item.type != "mcp_call":
        raise fail(e, "not_mcp_call", f"item {item.id!r} is a {item.type}")
    if item.arguments_done:
        raise fail(e, "stream_closed", f"arguments of item {item.id!r} already done")
    return slot, item


def on_mcp_arguments_delta(s: Snapshot, e: ga.ResponseMcpCallArgumentsDelta) -> Snapshot:
    slot, item = _open_mcp_call(s, e)
    arguments = item.arguments
    arguments = TextChunks.of(e.delta) if arguments is None else arguments.append(e.delta)
    return streamed(s, slot, replace(item, arguments=arguments))


def on_mcp_arguments_done(s: Snapshot, e: ga.ResponseMcpCallArgumentsDone) -> Snapshot:
    slot, item = _open_mcp_call(s, e)
    s, arguments = settle(s, e, item.arguments, e.arguments, item.id, "arguments")
    return put_item(s, slot, replace(item, arguments=arguments, arguments_done=True))


_CALLING: dict[str, Literal["in_progress", "completed", "failed"]] = {
    "response.mcp_call.in_progress": "in_progress",
    "response.mcp_call.completed": "completed",
    "response.mcp_call.failed": "failed",
}


def on_mcp_call_progress(
    s: Snapshot,
    e: ga.ResponseMcpCallInProgress | ga.ResponseMcpCallCompleted | ga.ResponseMcpCallFailed,
) -> Snapshot:
    """The service calls an MCP tool; these events name no response, only the item."""
    slot, item = item_at(s, e.item_id, e)
    if item.type != "mcp_call":
        raise fail(e, "not_mcp_call", f"item {item.id!r} is a {item.type}")
    if item.response_id is None:
        raise fail(e, "not_output", f"item {item.id!r} is not the output of a response")
    return put_item(s, slot, replace(item, mcp_status=_CALLING[e.type]))


def on_arguments_delta(s: Snapshot, e: ev.ResponseFunctionCallArgumentsDelta) -> Snapshot:
    slot, item = _open_call(s, e)
    arguments = item.arguments
    arguments = TextChunks.of(e.delta) if arguments is None else arguments.append(e.delta)
    return streamed(s, slot, replace(item, arguments=arguments, call_id=e.call_id))


def on_arguments_done(s: Snapshot, e: ev.ResponseFunctionCallArgumentsDone) -> Snapshot:
    slot, item = _open_call(s, e)
    s, arguments = settle(s, e, item.arguments, e.arguments, item.id, "arguments")
    name = item.name if isinstance(e.name, ev.UnsetType) else e.name
    item = replace(item, arguments=arguments, arguments_done=True, call_id=e.call_id, name=name)
    return put_item(s, slot, item)


def on_rate_limits(s: Snapshot, e: ev.RateLimitsUpdated) -> Snapshot:
    return replace(s, rate_limits=e.rate_limits)


def on_playback_started(s: Snapshot, e: ev.OutputAudioBufferStarted) -> Snapshot:
    return replace(s, output_audio_response_id=e.response_id)


def on_playback_ended(
    s: Snapshot, e: ev.OutputAudioBufferStopped | ev.OutputAudioBufferCleared
) -> Snapshot:
    return replace(s, output_audio_response_id=None)
