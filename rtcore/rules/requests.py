"""Which requests a session takes at all, by its kind, its transport and its responses.

* A transcription session (``?intent=transcription``) has no conversation and no responses:
  ``conversation.item.create`` and ``response.create`` are refused there, and so is beta's
  ``session.update`` (a beta transcription session is updated with ``transcription_session.update``,
  which a conversation session refuses in turn) (docs/protocol/ga.md#transcription-session,
  docs/protocol/beta.md#objects).
* ``output_audio_buffer.clear`` exists only on WebRTC and SIP connections,
  never on a WebSocket (docs/protocol/ga.md#output-audio-buffer-clear).
* At most one response writes to the conversation at a time
  (``conversation_already_has_active_response``), and a cancel needs a response in progress
  (``response_cancel_not_active``) (docs/protocol/flows.md#responses,
  docs/protocol/flows.md#cancellation).

Each rule takes what it needs as plain values, so the server passes its own
records and the client its snapshot's.
"""

from __future__ import annotations

from typing import Literal

from .. import events as ev
from .refusal import Invalid

__all__ = [
    "check_kind",
    "check_no_active_response",
    "no_response_to_cancel",
    "output_audio_clear_refused",
]

SessionKind = Literal["realtime", "transcription"]

_CONVERSATION_ONLY = {
    "conversation.item.create": "A transcription session has no conversation to add items to.",
    "response.create": "A transcription session does not produce responses.",
}


def check_kind(kind: SessionKind, event_type: str, dialect: ev.Dialect) -> None:
    """Refuse an event the session's kind does not take (``invalid_value`` on ``type``)."""
    transcription = kind == "transcription"
    if transcription and event_type in _CONVERSATION_ONLY:
        raise Invalid("invalid_value", _CONVERSATION_ONLY[event_type], "type")
    if transcription and dialect == "beta" and event_type == "session.update":
        raise Invalid(
            "invalid_value",
            "session.update is not valid in a transcription session; use transcription_session.update.",
            "type",
        )
    if not transcription and event_type == "transcription_session.update":
        raise Invalid(
            "invalid_value",
            "transcription_session.update is only valid in a transcription session (connect with ?intent=transcription).",
            "type",
        )


def output_audio_clear_refused() -> Invalid:
    """``output_audio_buffer.clear`` on a WebSocket."""
    return Invalid(
        "invalid_value",
        "output_audio_buffer.clear is only supported on WebRTC and SIP connections.",
        "type",
    )


def check_no_active_response(active_id: str | None) -> None:
    """A response for the conversation starts only when none is writing to it."""
    if active_id is not None:
        raise Invalid(
            "conversation_already_has_active_response",
            f"Conversation already has an active response in progress: {active_id}. "
            "Wait until the response is finished before creating a new one.",
        )


def no_response_to_cancel(response_id: str | ev.UnsetType) -> Invalid:
    """A ``response.cancel`` that names no response in progress (or finds none)."""
    named = f" with id '{response_id}'" if isinstance(response_id, str) else ""
    return Invalid(
        "response_cancel_not_active",
        f"Cancellation failed: no active response found{named}",
        "response_id" if named else None,
    )
