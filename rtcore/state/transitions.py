"""The state machine of a session as seen from its server events, in both dialects.

Theory of operation
-------------------
``apply(snapshot, event) -> snapshot`` is a pure function: the old snapshot is
untouched, and an event that contradicts the state (a delta for an item never
announced, output for a finished response, a second announcement of the same
item, odd-length pcm16 audio) raises ``RemoteProtocolError`` without producing
a new snapshot. Both roles use it: the client folds the events it receives,
the server folds the events it sends, so their snapshots are the same type and
compare equal.

One machine serves both dialects. The tables below map each event class to
its transition; a GA event and its beta counterpart share one
(``response.output_text.delta`` and ``response.text.delta``; GA's
``conversation.item.added`` and beta's ``conversation.item.created``), and the
payloads of either dialect are read into one vocabulary
(``rtcore.state.session``, ``rtcore.state.wire``), so the same conversation
told in either dialect gives equal snapshots. What only GA has (the
``conversation.item.done`` settle step, MCP items and their progress, keypad
tones) simply never happens in a beta conversation.

The transitions live by concern: ``conversation`` (session, items,
truncation, input transcription), ``input_buffer``, ``responses``; the rules
they share are in ``steps``. This module holds the whole table, so that a
reader sees every event the machine knows and where it goes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import force_setattr, replace

from .. import events as ev
from ..errors import RemoteProtocolError
from ..events import beta, ga
from . import conversation as c
from . import input_buffer as b
from . import responses as r
from .model import MAX_RECORDS, ErrorRecord, Snapshot

__all__ = ["apply", "record_protocol_error", "initial_snapshot", "handler_for", "step_for"]

_Handler = Callable[[Snapshot, Any], Snapshot]


def initial_snapshot() -> Snapshot:
    """The state before any event: no session, an empty conversation."""
    return _EMPTY


def apply(s: Snapshot, event: ev.ServerEvent | ev.UnknownEvent) -> Snapshot:
    """The snapshot after ``event``; raises ``RemoteProtocolError`` if it contradicts ``s``."""
    step = _STEPS.get(type(event))
    if step is None:
        return replace(s, unknown_events=s.unknown_events + 1, events_applied=s.events_applied + 1)
    return step(s, event)


def step_for(kind: type) -> _Handler | None:
    """``apply`` for events of class ``kind``, looked up once (``None``: not an event of either
    dialect, counted as unknown by ``apply``). ``ClientSession`` dispatches with it."""
    return _STEPS.get(kind)


def _counted(handler: _Handler) -> _Handler:
    """A transition that also counts its event (the deltas count their own)."""

    def step(s: Snapshot, event: Any) -> Snapshot:
        new = handler(s, event)
        if new is s:
            return replace(s, events_applied=s.events_applied + 1)
        # Every transition builds its result from ``s`` during this call, so a result
        # that is not ``s`` is a snapshot nobody else holds yet: count the event in
        # place rather than copy the whole record once more.
        force_setattr(new, "events_applied", s.events_applied + 1)
        return new

    return step


def handler_for(event: ev.ServerEvent) -> _Handler:
    """The transition of a (non-delta) event; used to replay events held back."""
    return _HANDLERS[type(event)]


def record_protocol_error(s: Snapshot, error: RemoteProtocolError) -> Snapshot:
    """``s`` with a protocol error of the peer recorded (and nothing else changed)."""
    error.__traceback__ = None  # keep no frames alive from inside a snapshot
    if len(s.protocol_errors) >= MAX_RECORDS:
        return replace(s, records_dropped=s.records_dropped + 1)
    return replace(s, protocol_errors=s.protocol_errors.append(error))


def _error(s: Snapshot, e: ev.ErrorEvent) -> Snapshot:
    if len(s.errors) >= MAX_RECORDS:
        return replace(s, records_dropped=s.records_dropped + 1)
    return replace(s, errors=s.errors.append(ErrorRecord(error=e.error, event_id=e.event_id)))


_EMPTY = Snapshot()

# The whole machine: server event class (of either dialect) -> transition.
# Streaming deltas are most of the traffic. Their transitions count the event
# themselves, so that a delta costs one copy of the snapshot instead of two.
_DELTAS: dict[type[Any], _Handler] = {
    beta.ResponseTextDelta: r.on_text_delta,
    ga.ResponseOutputTextDelta: r.on_text_delta,
    beta.ResponseAudioTranscriptDelta: r.on_transcript_delta,
    ga.ResponseOutputAudioTranscriptDelta: r.on_transcript_delta,
    beta.ResponseAudioDelta: r.on_audio_delta,
    ga.ResponseOutputAudioDelta: r.on_audio_delta,
    ev.ResponseFunctionCallArgumentsDelta: r.on_arguments_delta,
    ga.ResponseMcpCallArgumentsDelta: r.on_mcp_arguments_delta,
}

# Everything else: ``apply`` counts the event.
_HANDLERS: dict[type[Any], _Handler] = {
    # session and conversation
    beta.SessionCreated: c.on_session,
    beta.SessionUpdated: c.on_session,
    ga.SessionCreated: c.on_session,
    ga.SessionUpdated: c.on_session,
    beta.TranscriptionSessionCreated: c.on_session,
    beta.TranscriptionSessionUpdated: c.on_session,
    ev.ConversationCreated: c.on_conversation_created,
    ev.ErrorEvent: _error,
    # items
    beta.ConversationItemCreated: c.on_item_added,
    ga.ConversationItemCreated: c.on_item_added,
    ga.ConversationItemAdded: c.on_item_added,
    ga.ConversationItemDone: c.on_item_done,
    ev.ConversationItemDeleted: c.on_item_deleted,
    ev.ConversationItemTruncated: c.on_item_truncated,
    beta.ConversationItemRetrieved: c.on_item_retrieved,
    ga.ConversationItemRetrieved: c.on_item_retrieved,
    ev.ConversationItemInputAudioTranscriptionCompleted: c.on_transcription_completed,
    ev.ConversationItemInputAudioTranscriptionFailed: c.on_transcription_failed,
    ev.ConversationItemInputAudioTranscriptionDelta: c.on_transcription_delta,
    ev.ConversationItemInputAudioTranscriptionSegment: c.on_transcription_segment,
    ga.McpListToolsInProgress: c.on_mcp_list_tools,
    ga.McpListToolsCompleted: c.on_mcp_list_tools,
    ga.McpListToolsFailed: c.on_mcp_list_tools,
    # input audio buffer
    ev.InputAudioBufferSpeechStarted: b.on_speech_started,
    ev.InputAudioBufferSpeechStopped: b.on_speech_stopped,
    ev.InputAudioBufferTimeoutTriggered: b.on_timeout_triggered,
    ev.InputAudioBufferCommitted: b.on_committed,
    ev.InputAudioBufferCleared: b.on_cleared,
    ga.InputAudioBufferDtmfEventReceived: b.on_dtmf,
    # responses
    beta.ResponseCreated: r.on_response_created,
    ga.ResponseCreated: r.on_response_created,
    beta.ResponseDone: r.on_response_done,
    ga.ResponseDone: r.on_response_done,
    beta.ResponseOutputItemAdded: r.on_output_item_added,
    ga.ResponseOutputItemAdded: r.on_output_item_added,
    beta.ResponseOutputItemDone: r.on_output_item_done,
    ga.ResponseOutputItemDone: r.on_output_item_done,
    ev.ResponseContentPartAdded: r.on_part_added,
    ev.ResponseContentPartDone: r.on_part_done,
    beta.ResponseTextDone: r.on_text_done,
    ga.ResponseOutputTextDone: r.on_text_done,
    beta.ResponseAudioTranscriptDone: r.on_transcript_done,
    ga.ResponseOutputAudioTranscriptDone: r.on_transcript_done,
    beta.ResponseAudioDone: r.on_audio_done,
    ga.ResponseOutputAudioDone: r.on_audio_done,
    ev.ResponseFunctionCallArgumentsDone: r.on_arguments_done,
    ga.ResponseMcpCallArgumentsDone: r.on_mcp_arguments_done,
    ga.ResponseMcpCallInProgress: r.on_mcp_call_progress,
    ga.ResponseMcpCallCompleted: r.on_mcp_call_progress,
    ga.ResponseMcpCallFailed: r.on_mcp_call_progress,
    ev.RateLimitsUpdated: r.on_rate_limits,
    ev.OutputAudioBufferStarted: r.on_playback_started,
    ev.OutputAudioBufferStopped: r.on_playback_ended,
    ev.OutputAudioBufferCleared: r.on_playback_ended,
}

# One look-up per event: every step counts its event.
_STEPS: dict[type[Any], _Handler] = {
    **_DELTAS,
    **{kind: _counted(handler) for kind, handler in _HANDLERS.items()},
}

assert not set(_HANDLERS) & set(_DELTAS)
assert set(_HANDLERS) | set(_DELTAS) == set(beta.SERVER_EVENTS.values()) | set(
    ga.SERVER_EVENTS.values()
), "every event of both dialects needs a transition"
