"""The voice lock: a session's voice cannot change once the model has spoken in it.

docs/protocol/connection.md#envelope and docs/protocol/ga.md#session (``cannot_update_voice``, both
dialects): the service refuses a different voice, in ``session.update`` and in ``response.create``,
once the model has produced audio in the session - even if every item holding that audio has been
deleted since. So the lock follows *whether audio was ever produced*, not the items present now; the
server knows it from its own output, the client from the audio deltas it received.
"""

from __future__ import annotations

from ..events import ga
from .refusal import Invalid

__all__ = ["check_voice"]

Voice = str | ga.VoiceId | None


def check_voice(current: Voice, requested: Voice, *, audio_produced: bool, param: str) -> None:
    """Refuse ``requested`` if it changes the voice after audio was produced."""
    if audio_produced and requested != current:
        raise Invalid(
            "cannot_update_voice",
            "Cannot update a conversation's voice if assistant audio is present.",
            param,
        )
