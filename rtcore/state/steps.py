"""The shared steps of the transitions: look-ups, placement and settling.

Every transition is made of these steps, and they carry the rules that hold
for all events (docs/protocol/flows.md#conventions):

* Ids thread through: an event names an item, response or part that exists
  (``unknown_item``, ``unknown_response``), belongs where the event says
  (``wrong_response``) and is still open (``response_finished``).
* Order: an item is placed after ``previous_item_id``; ``null`` means first,
  an absent anchor means last, and an anchor naming no item is tolerated
  (appended, with an ``unknown_anchor`` anomaly).
* ``*.done`` settles a streamed value: if it differs from the joined deltas
  the done value wins and a ``done_mismatch`` anomaly is recorded.
* A completed function call in the conversation is owed an output
  (``pending_calls``); an MCP approval request is owed a response
  (``pending_approvals``).
"""

from __future__ import annotations

from msgspec.structs import replace
from pyrsistent import pvector
from pyrsistent.typing import PVector

from .. import events as ev
from ..errors import RemoteProtocolError
from ..events import ga
from .chunks import TextChunks
from .model import MAX_RECORDS, Anomaly, ItemState, PartState, ResponseState, Snapshot
from .wire import WireItem, WirePart, is_message_item, item_from_wire, part_from_wire


def fail(event: ev.ServerEvent, code: str, message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, code=code, event_id=event.event_id, event_type=event.type)


def anomaly(s: Snapshot, event: ev.ServerEvent, kind: str, detail: str) -> Snapshot:
    if len(s.anomalies) >= MAX_RECORDS:
        return replace(s, records_dropped=s.records_dropped + 1)
    return replace(
        s, anomalies=s.anomalies.append(Anomaly(kind=kind, event_id=event.event_id, detail=detail))
    )


def item_at(s: Snapshot, item_id: str, event: ev.ServerEvent) -> tuple[int, ItemState]:
    # A streamed delta almost always names the newest item.
    newest = s._newest
    if newest is not None and newest.id == item_id:
        return len(s._slots), newest
    slot = s._index.get(item_id)
    if slot is None:
        raise fail(event, "unknown_item", f"item {item_id!r} was never announced")
    item = s._slot(slot)
    assert item is not None
    return slot, item


def put_item(s: Snapshot, slot: int, item: ItemState | None) -> Snapshot:
    """``s`` with ``item`` in ``slot`` (``None``: deleted; the newest slot then goes too)."""
    slots = s._slots
    if slot == len(slots):
        return replace(s, _newest=item)
    return replace(s, _slots=slots.set(slot, item))


def put_part(s: Snapshot, slot: int, item: ItemState, index: int, part: PartState) -> Snapshot:
    return put_item(s, slot, with_part(item, index, part))


def with_part(item: ItemState, index: int, part: PartState) -> ItemState:
    content = item.content
    if len(content) == 1:
        new_content: tuple[PartState, ...] = (part,)  # the usual single audio or text part
    else:
        new_content = (*content[:index], part, *content[index + 1 :])
    return replace(item, content=new_content)


def streamed(s: Snapshot, slot: int, item: ItemState) -> Snapshot:
    """The snapshot after a delta: ``item`` put back, and the event counted (see ``apply``)."""
    if slot == len(s._slots):
        return replace(s, _newest=item, events_applied=s.events_applied + 1)
    return replace(s, _slots=s._slots.set(slot, item), events_applied=s.events_applied + 1)


def streamed_part(s: Snapshot, slot: int, item: ItemState, index: int, part: PartState) -> Snapshot:
    """``streamed`` for a delta into content part ``index`` of ``item`` (``with_part`` inlined:
    the usual item has one part, and this runs once per audio, text or transcript delta)."""
    content = item.content
    if len(content) == 1:
        item = replace(item, content=(part,))
    else:
        item = replace(item, content=(*content[:index], part, *content[index + 1 :]))
    if slot == len(s._slots):  # the newest item: the usual case
        return replace(s, _newest=item, events_applied=s.events_applied + 1)
    return replace(s, _slots=s._slots.set(slot, item), events_applied=s.events_applied + 1)


def response_at(s: Snapshot, response_id: str, event: ev.ServerEvent) -> ResponseState:
    responses = s.responses
    if responses and responses[-1].id == response_id:
        response = responses[-1]  # the newest response: the usual case
    else:
        pos = s._response_index.get(response_id)
        if pos is None:
            raise fail(event, "unknown_response", f"response {response_id!r} was never created")
        response = responses[pos]
    if response.done:
        raise fail(
            event,
            "response_finished",
            f"response {response_id!r} already ended ({response.status})",
        )
    return response


def put_response(s: Snapshot, response: ResponseState) -> Snapshot:
    pos = s._response_index[response.id]
    return replace(s, responses=s.responses.set(pos, response))


def input_format(s: Snapshot) -> ev.AudioFormat:
    session = s.session
    return (session.input_format if session is not None else None) or "pcm16"


def output_format(s: Snapshot, response_id: str | None) -> ev.AudioFormat:
    if response_id is not None:
        pos = s._response_index.get(response_id)
        if pos is not None:
            fmt = s.responses[pos].output_format
            if fmt is not None:
                return fmt
    session = s.session
    return (session.output_format if session is not None else None) or "pcm16"


def item_state(
    s: Snapshot,
    item: WireItem,
    event: ev.ServerEvent,
    response_id: str | None,
    done: bool,
    in_conversation: bool = False,
) -> ItemState:
    if isinstance(item.id, ev.UnsetType):
        raise fail(event, "missing_item_id", f"a {item.type} item arrived without an id")
    return item_from_wire(
        item,
        input_format(s),
        output_format(s, response_id),
        response_id=response_id,
        done=done,
        in_conversation=in_conversation,
    )


def slots_before_new(s: Snapshot) -> PVector[ItemState | None]:
    """The vector once another item is announced: the newest item goes into it (a deleted
    newest item's slot goes, no id names it); the new item's slot is its length."""
    newest = s._newest
    return s._slots if newest is None else s._slots.append(newest)


def add_item(s: Snapshot, item: ItemState) -> Snapshot:
    """``s`` with ``item`` in a new slot, the newest (the one before goes into the vector)."""
    slots = slots_before_new(s)
    return replace(s, _slots=slots, _newest=item, _index=s._index.set(item.id, len(slots)))


def settle(
    s: Snapshot,
    event: ev.ServerEvent,
    current: TextChunks | None,
    final: str,
    item_id: str,
    what: str,
    part: int = -1,
) -> tuple[Snapshot, TextChunks]:
    """The settled value of a streamed text: the ``done`` value, noting any mismatch.

    ``what`` (``text``, ``transcript``, ...) of item ``item_id`` (of its content
    ``part`` when one is given) names the value in the anomaly, which is written
    only when there is one.
    """
    if current is not None and current.size == len(final) and current.value == final:
        return s, current
    if current is not None and (current.size or final):
        where = f"item {item_id!r}" + (f" part {part}" if part >= 0 else "")
        s = anomaly(
            s,
            event,
            "done_mismatch",
            f"{where} {what}: the deltas gave {current.value!r}, the done event says {final!r}",
        )
    return s, TextChunks.of(final)


def settle_part(
    s: Snapshot, event: ev.ServerEvent, part: PartState, wire: WirePart, item_id: str, index: int
) -> tuple[Snapshot, PartState]:
    """Close a part, taking the final text or transcript from a done event.

    A part already closed with the same value is returned as it is: an item is
    settled again by every later done event (``output_item.done``, GA's
    ``conversation.item.done``, ``response.done``), and most find nothing to change.
    """
    if isinstance(wire, ev.InputAudioContent):
        # First, as in part_from_wire: every spoken turn's item has one. The input
        # transcription arrives in its own events, never in the item
        # (docs/protocol/ga.md#items).
        return s, part if part.done else replace(part, done=True)
    if isinstance(wire, (ev.TextContent, ev.InputTextContent, ga.OutputTextContent)):
        text = part.text
        if isinstance(wire.text, str):
            s, text = settle(s, event, text, wire.text, item_id, "text", index)
        if text is part.text and part.text_done and part.done:
            return s, part
        return s, replace(part, text=text, text_done=True, done=True)
    if isinstance(wire, (ev.AudioContent, ga.OutputAudioContent)):
        transcript = part.transcript
        if isinstance(wire.transcript, str) and part.truncated_at_ms is None:
            s, transcript = settle(
                s, event, part.transcript, wire.transcript, item_id, "transcript", index
            )
        if transcript is part.transcript and part.transcript_done and part.audio_done and part.done:
            return s, part
        return s, replace(
            part, transcript=transcript, transcript_done=True, audio_done=True, done=True
        )
    return s, part if part.done else replace(part, done=True)


def settle_item(
    s: Snapshot, event: ev.ServerEvent, slot: int, item: ItemState, wire: WireItem
) -> Snapshot:
    """Bring an item in line with its final form (``output_item.done``, ``item.done``, ``response.done``).

    An item that already is in that form stays the same record, and the snapshot
    is not copied for it.
    """
    settled = item
    wire_status = getattr(wire, "status", ev.UNSET)
    status = item.status if isinstance(wire_status, ev.UnsetType) else wire_status
    if is_message_item(wire) and not isinstance(wire.content, ev.UnsetType):
        parts = list(item.content)
        changed = False
        for i, wire_part in enumerate(wire.content):
            if i < len(parts):
                old = parts[i]
                s, parts[i] = settle_part(s, event, old, wire_part, item.id, i)
                changed = changed or parts[i] is not old
            else:
                where = f"item {item.id!r} part {i}"
                s = anomaly(s, event, "unannounced_part", f"{where} was never announced")
                in_fmt, out_fmt = input_format(s), output_format(s, item.response_id)
                parts.append(part_from_wire(wire_part, in_fmt, out_fmt, done=True))
                changed = True
        if changed:
            item = replace(item, content=tuple(parts))
    elif isinstance(wire, (ev.FunctionCallItem, ga.McpCallItem)):
        arguments = item.arguments
        if not isinstance(wire.arguments, ev.UnsetType):
            s, arguments = settle(s, event, item.arguments, wire.arguments, item.id, "arguments")
        name = item.name if isinstance(wire.name, ev.UnsetType) else wire.name
        if isinstance(wire, ev.FunctionCallItem):
            call_id = item.call_id if isinstance(wire.call_id, ev.UnsetType) else wire.call_id
            item = replace(
                item, arguments=arguments, arguments_done=True, name=name, call_id=call_id
            )
        else:
            if status is None and (wire.output is not None or wire.error is not None):
                status = "completed"
            item = replace(
                item,
                arguments=arguments,
                arguments_done=True,
                name=name,
                output=item.output if isinstance(wire.output, ev.UnsetType) else wire.output,
                error=item.error if isinstance(wire.error, ev.UnsetType) else wire.error,
            )
    elif isinstance(wire, ga.McpListToolsItem):
        item = replace(item, tools=wire.tools, server_label=wire.server_label)
    if status != item.status:
        item = replace(item, status=status)
    if item is not settled:
        s = put_item(s, slot, item)
    return track_call(s, item)


def track_call(s: Snapshot, item: ItemState) -> Snapshot:
    """Keep ``pending_calls`` and ``pending_approvals`` in step with the conversation."""
    if not item.in_conversation:
        return s
    kind = item.type
    if kind == "function_call" and item.call_id is not None and item.status == "completed":
        if s.pending_calls.get(item.call_id) != item.id:
            return replace(s, pending_calls=s.pending_calls.set(item.call_id, item.id))
    elif kind == "function_call_output" and item.call_id in s.pending_calls:
        assert item.call_id is not None
        return replace(s, pending_calls=s.pending_calls.discard(item.call_id))
    elif kind == "mcp_approval_request" and item.id not in s.pending_approvals:
        return replace(s, pending_approvals=s.pending_approvals.set(item.id, item.id))
    elif kind == "mcp_approval_response" and item.approval_request_id in s.pending_approvals:
        assert item.approval_request_id is not None
        return replace(s, pending_approvals=s.pending_approvals.discard(item.approval_request_id))
    return s


def place(
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
        s = anomaly(
            s, event, "unknown_anchor", f"previous_item_id {anchor!r} names no item; appended"
        )
        return replace(s, order=order.append(item_id))
    return replace(s, order=pvector((*order[: pos + 1], item_id, *order[pos + 1 :])))


def enter_conversation(s: Snapshot, slot: int, item: ItemState) -> Snapshot:
    item = replace(item, in_conversation=True)
    return track_call(put_item(s, slot, item), item)
