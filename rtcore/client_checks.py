"""What a ``ClientSession`` refuses to send: the server's rules, read from the client's state.

For every client event the checks run in the server's order
(``rtcore.server.session``) with the server's own rule functions
(``rtcore.rules``), so a refusal carries the code and ``param`` the
server's ``error`` would carry:

* the event in the session's dialect (decoded strictly, as the server reads it);
* the length of its ``event_id`` (GA);
* the session's kind (no items or responses in a transcription session);
* ``session.update`` / ``transcription_session.update``: the dialect's reader
  and the session rules (ranges, the voice lock, tools, transcription, ...);
* ``input_audio_buffer.append``: whole samples of the input format;
* ``conversation.item.create``: the item rules, the anchor, a new id, a
  known call for an output;
* ``conversation.item.truncate`` / ``delete`` / ``retrieve``: the item
  exists (and for delete, no response is still writing it);
* ``response.create``: the overrides, one response in the conversation at a
  time, the items of its ``input``; ``response.cancel``: a response to cancel;
* ``output_audio_buffer.clear``: never on a WebSocket.

What only the server can know is not checked here, and a client can meet
these refusals in an ``error`` event after a ``send`` went through (the
list ``SERVER_ONLY_CODES``):

* ``input_audio_buffer_commit_empty`` - how much audio the server's buffer
  holds after its VAD cut it, against its ``min_commit_ms`` limit;
* ``conversation_full`` - its ``max_items`` limit;
* ``session_memory_exceeded`` - its memory budget;
* ``input_audio_buffer_full`` - its buffer limit; and its per-append limit
  (``invalid_value`` on ``audio`` for an append over ``max_append_bytes``);
* ``too_many_out_of_band_responses`` - its limit of out-of-band responses;
* ``array_above_max_length`` and ``id_above_max_length`` - its bounds on what one
  event carries (parts per item, tools, MCP tool names, id lengths:
  ``rtcore.server.bounds``);
* ``message_above_max_values`` - its bound on the values in one message, checked
  before decoding (``rtcore.wire.DEFAULT_MAX_MESSAGE_VALUES``);
* ``echo_rate_exceeded`` - its echo budget (``rtcore.server.echoes``).
"""

from __future__ import annotations

from collections.abc import Container

from . import events as ev
from .client_edge import ClientEdge
from .events import beta
from .rules.audio import check_whole_samples
from .rules.conversation import (
    check_anchor,
    check_deletable,
    check_new_item,
    check_references,
    check_truncate,
    conversation_item,
)
from .rules.event_id import check_event_id
from .rules.requests import (
    check_kind,
    check_no_active_response,
    no_response_to_cancel,
    output_audio_clear_refused,
)
from .rules.session_update import check_response, merge_config
from .state import Snapshot
from .state.steps import input_format

__all__ = ["SERVER_ONLY_CODES", "check_client_event"]

SERVER_ONLY_CODES = frozenset(
    {
        "input_audio_buffer_commit_empty",
        "conversation_full",
        "session_memory_exceeded",
        "input_audio_buffer_full",
        "too_many_out_of_band_responses",
        "array_above_max_length",
        "id_above_max_length",
        "message_above_max_values",
        "echo_rate_exceeded",
    }
)
"""Codes of refusals that depend on the server's limits and buffer (see the module docstring)."""


def check_client_event(
    edge: ClientEdge,
    s: Snapshot,
    event: ev.ClientEvent,
    *,
    call_ids: Container[str],
    audio_produced: bool,
    response_pending: bool = False,
    model_open: bool = False,
) -> None:
    """Raise ``Invalid`` if the server would refuse ``event`` in state ``s``.

    ``event`` is of ``edge``'s dialect. ``call_ids`` are the function calls
    the session has seen; ``audio_produced`` whether the model has spoken;
    ``response_pending`` whether a ``response.create`` sent is still
    unanswered (a response may be running that ``s`` does not show yet, so
    a cancel is let through); ``model_open`` whether an update naming a model
    may still set it (``rtcore.rules.model``).
    """
    check_event_id(event, edge.max_event_id_length)
    session = s.session
    if session is not None:
        check_kind(session.kind, event.type, edge.dialect)
    fmt = input_format(s)
    if isinstance(event, ev.InputAudioBufferAppend):
        check_whole_samples(len(event.audio), fmt, "audio")
    elif isinstance(event, ev.ConversationItemTruncate):
        check_truncate(s, event)
    elif isinstance(event, ev.ConversationItemDelete):
        check_deletable(s, event.item_id)
    elif isinstance(event, ev.ConversationItemRetrieve):
        conversation_item(s, event.item_id)
    elif isinstance(event, ev.ResponseCancel):
        running = (
            s.response(event.response_id)
            if isinstance(event.response_id, str)
            else s.active_response
        )
        if (running is None or running.done) and not response_pending:
            raise no_response_to_cancel(event.response_id)
    elif isinstance(event, ev.OutputAudioBufferClear):
        raise output_audio_clear_refused()
    elif session is not None:
        _check_request(edge, s, event, fmt, call_ids, audio_produced, model_open)


def _check_request(
    edge: ClientEdge,
    s: Snapshot,
    event: ev.ClientEvent,
    fmt: ev.AudioFormat,
    call_ids: Container[str],
    audio_produced: bool,
    model_open: bool,
) -> None:
    """The events the dialect's reader reads: session updates, items, responses."""
    session = s.session
    assert session is not None
    update = edge.session_changes(event, session)
    if update is not None:
        merge_config(
            session, update[0], update[1], audio_produced=audio_produced, model_open=model_open
        )
        return
    created = edge.created_item(event)
    if created is not None:
        item, anchor = created
        edge.check_item(item, "item", fmt)
        check_anchor(s, anchor)
        check_new_item(s, getattr(item, "id", ev.UNSET))
        check_references(s, item, call_ids, "item")
        return
    response = edge.response_overrides(event)
    if response is not None:
        overrides, paths = response
        checked = check_response(session, overrides, paths, audio_produced=audio_produced)
        if checked.conversation == "auto":
            active = s.active_response
            check_no_active_response(active.id if active is not None else None)
        entries = overrides.get("input")
        if isinstance(entries, tuple):
            _check_input(edge, s, entries, fmt)


def _check_input(
    edge: ClientEdge, s: Snapshot, entries: tuple[object, ...], fmt: ev.AudioFormat
) -> None:
    """The items of ``response.create.response.input`` (items, or references to existing ones)."""
    for i, entry in enumerate(entries):
        where = f"response.input[{i}]"
        if isinstance(entry, ev.ItemReference):
            conversation_item(s, entry.id, f"{where}.id")
            continue
        edge.check_item(entry, where, fmt)
        if isinstance(entry, beta.MessageItem) and not isinstance(entry.content, ev.UnsetType):
            for j, part in enumerate(entry.content):
                if isinstance(part, ev.ItemReferenceContent):
                    conversation_item(s, part.id, f"{where}.content[{j}].id")
