"""Transcriptions of committed user audio (docs/protocol/flows.md#manual-commit).

A commit in a session that transcribes asks the app for the transcription
with a ``Transcribe`` effect and marks the item pending; the app answers
with deltas (``conversation.item.input_audio_transcription.delta``) and then
exactly one result per item: ``completed`` (with usage: the audio's duration
in seconds) or ``failed``. Answering an item that has no transcription
pending - done already, deleted, never committed - is a
``LocalProtocolError`` (``no_transcription``). A completed transcript counts
toward the item's cost in ``max_session_bytes``.
"""

from __future__ import annotations

from .. import events as ev
from ..errors import LocalProtocolError
from ..ids import IdFactory
from .core import Emit
from .memory import Holdings

__all__ = ["Transcriptions"]


class Transcriptions:
    """The transcriptions the app owes, and the events of its answers."""

    __slots__ = (
        "_emit",
        "_holdings",
        "_ids",
        "_pending",
    )

    def __init__(self, *, emit: Emit, ids: IdFactory, holdings: Holdings) -> None:
        self._emit = emit
        self._ids = ids
        self._holdings = holdings
        self._pending: set[str] = set()

    def expect(self, item_id: str) -> None:
        """A ``Transcribe`` effect for item ``item_id`` has been handed out."""
        self._pending.add(item_id)

    def forget(self, item_id: str) -> None:
        """Item ``item_id`` was deleted: its transcription is no longer owed."""
        self._pending.discard(item_id)

    def pending(self, item_id: str) -> bool:
        return item_id in self._pending

    def _target(self, item_id: str) -> None:
        if item_id not in self._pending:
            raise LocalProtocolError(
                f"item {item_id!r} has no transcription pending (done already, deleted, or never committed)",
                code="no_transcription",
            )

    def delta(self, item_id: str, delta: str, content_index: int) -> None:
        self._target(item_id)
        self._emit(
            ev.ConversationItemInputAudioTranscriptionDelta(
                event_id=self._ids("event"),
                item_id=item_id,
                content_index=content_index,
                delta=delta,
            )
        )

    def complete(self, item_id: str, transcript: str, content_index: int) -> None:
        self._target(item_id)
        self._pending.discard(item_id)
        holdings = self._holdings
        seconds = holdings.seconds.get(item_id, 0.0)
        self._emit(
            ev.ConversationItemInputAudioTranscriptionCompleted(
                event_id=self._ids("event"),
                item_id=item_id,
                content_index=content_index,
                transcript=transcript,
                usage=ev.TranscriptionUsageDuration(seconds=round(seconds, 3)),
            )
        )
        holdings.charge(item_id, holdings.costs.get(item_id, 0) + len(transcript))

    def fail(self, item_id: str, error: ev.TranscriptionError, content_index: int) -> None:
        self._target(item_id)
        self._pending.discard(item_id)
        self._emit(
            ev.ConversationItemInputAudioTranscriptionFailed(
                event_id=self._ids("event"),
                item_id=item_id,
                content_index=content_index,
                error=error,
            )
        )
