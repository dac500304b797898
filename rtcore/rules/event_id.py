"""The length of a client ``event_id``.

GA's schema caps every client ``event_id`` at 512 characters except ``output_audio_buffer.clear``'s
(docs/protocol/connection.md#envelope); beta sets no limit. The server refuses a longer one with
``string_above_max_length``, and so does a client.
"""

from __future__ import annotations

from .. import events as ev
from .refusal import Invalid

__all__ = ["GA_MAX_EVENT_ID_LENGTH", "check_event_id"]

GA_MAX_EVENT_ID_LENGTH = 512


def check_event_id(event: ev.ClientEvent, limit: int | None) -> None:
    """Refuse an ``event_id`` longer than ``limit`` (``None``: no limit)."""
    event_id = event.event_id
    if (
        limit is not None
        and isinstance(event_id, str)
        and len(event_id) > limit
        and not isinstance(event, ev.OutputAudioBufferClear)  # the one without a limit
    ):
        raise Invalid(
            "string_above_max_length",
            f"Invalid 'event_id': string too long. Expected a string with maximum length"
            f" {limit}, but got a string with length {len(event_id)} instead.",
            "event_id",
        )
