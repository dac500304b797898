"""The input audio buffer of a ``ServerSession`` (SEQUENCES.md 3-7, 14; GA.md 10.3-10.7, 10.13).

* ``input_audio_buffer.append`` takes whole samples of the session's input
  format, at most ``max_append_bytes`` per event and ``max_buffer_bytes``
  uncommitted; it is silent on success.
* With turn detection on, the audio drives the speech events on the audio
  clock: ``speech_started`` (interrupting a response in the conversation
  when ``interrupt_response``), ``speech_stopped``, the commit and, when
  ``create_response``, a response. ``idle_timeout_ms`` of silence (server VAD)
  gives ``timeout_triggered``, a commit of the silence and a response.
* A commit (client or VAD) gives ``input_audio_buffer.committed`` and the new
  user item's announcement (beta ``conversation.item.created``; GA
  ``conversation.item.added`` then ``.done``), and asks for its transcription
  when the session transcribes. Commits of less than ``min_commit_ms`` are
  ``input_audio_buffer_commit_empty``.
* Every path that adds an item counts toward ``max_items``: a client's
  commit is refused (``conversation_full``); a VAD or idle-timeout commit at
  the limit gives that ``error`` event instead of the commit, and the turn's
  audio is dropped. Buffered audio counts toward ``max_session_bytes`` from
  its append (``session_memory_exceeded``); a commit moves it into the item.
"""

from __future__ import annotations

from .. import events as ev
from ..rules.audio import check_whole_samples
from ..state import ItemState, PartState
from .core import SessionCore
from .effects import Effect, Transcribe
from .settings import Invalid

__all__ = ["InputBuffer"]


class InputBuffer(SessionCore):
    """The input-audio part of ``ServerSession``."""

    def _append(self, e: ev.InputAudioBufferAppend, event_id: str | None) -> list[Effect]:
        audio = e.audio
        fmt = self._audio.fmt
        check_whole_samples(len(audio), fmt, "audio")
        if len(audio) > self.limits.max_append_bytes:
            raise Invalid(
                "invalid_value",
                f"Audio content of {len(audio)} bytes exceeds the limit of {self.limits.max_append_bytes} bytes per append.",
                "audio",
            )
        if len(self._audio.buffer) + len(audio) > self.limits.max_buffer_bytes:
            raise Invalid(
                "input_audio_buffer_full",
                f"The input audio buffer is full ({self.limits.max_buffer_bytes} bytes); commit or clear it.",
                "audio",
            )
        self._check_budget(len(audio), "audio")
        effects: list[Effect] = []
        for kind, position in self._audio.append(audio):
            if kind == "start":
                effects += self._speech_started(position)
            else:
                effects += self._speech_stopped(position)
        return effects + self._check_idle()

    def _check_idle(self) -> list[Effect]:
        """``idle_timeout_ms`` of silence on the audio clock (GA.md 10.13).

        Silence counts from the later of the last end of speech, the end of
        the last response's playback (its ``response.done`` plus the audio it
        produced) and the configuration of the timeout, while no response is
        running. When it runs out the server reports
        ``input_audio_buffer.timeout_triggered``, commits the silent audio it
        kept (the buffer keeps only the prefix-padding window of silence) and
        starts a response.
        """
        detection = self._turn_detection()
        audio = self._audio
        if (
            not isinstance(detection, ev.ga.ServerVad)
            or not isinstance(detection.idle_timeout_ms, int)
            or audio.segmenter is None
            or audio.segmenter.speaking
            or self._transcription_only
            or self._writer.active_in_conversation() is not None
        ):
            return []
        if audio.clock - self._idle_from < audio.rate * detection.idle_timeout_ms // 1000:
            return []
        start, end = self._idle_from, audio.clock
        self._idle_from = end
        item_id = self._ids("item")
        self._emit(
            ev.InputAudioBufferTimeoutTriggered(
                event_id=self._ids("event"),
                audio_start_ms=audio.ms(start),
                audio_end_ms=audio.ms(end),
                item_id=item_id,
            )
        )
        data = audio.take(start, end)
        if self._refuse_vad_commit():
            return []
        effects = self._commit(item_id, data)
        if detection.create_response is not False:
            effects += self._start_response(ev.UNSET, None, "vad")
        return effects

    def _speech_started(self, position: int) -> list[Effect]:
        audio = self._audio
        item_id = self._ids("item")
        audio.speech_item_id = item_id
        audio.speech_start = max(0, position - audio.prefix_samples)
        self._emit(
            ev.InputAudioBufferSpeechStarted(
                event_id=self._ids("event"),
                audio_start_ms=audio.ms(audio.speech_start),
                item_id=item_id,
            )
        )
        detection = self._turn_detection()
        run = self._writer.active_in_conversation()
        if run is not None and detection is not None and detection.interrupt_response is not False:
            return self._end_run(run, "turn_detected")
        return []

    def _speech_stopped(self, position: int) -> list[Effect]:
        audio = self._audio
        item_id = audio.speech_item_id or self._ids("item")
        self._emit(
            ev.InputAudioBufferSpeechStopped(
                event_id=self._ids("event"), audio_end_ms=audio.ms(position), item_id=item_id
            )
        )
        data = audio.take(audio.speech_start, position)
        audio.speech_item_id = None
        self._idle_from = position
        if self._refuse_vad_commit():
            return []
        effects = self._commit(item_id, data)
        detection = self._turn_detection()
        if (
            not self._transcription_only
            and detection is not None
            and detection.create_response is not False
            and self._writer.active_in_conversation() is None
        ):
            effects += self._start_response(ev.UNSET, None, "vad")
        return effects

    def _commit(self, item_id: str, audio: bytes) -> list[Effect]:
        order = self._state.order
        previous = order[-1] if order else None
        self._emit(
            ev.InputAudioBufferCommitted(
                event_id=self._ids("event"), previous_item_id=previous, item_id=item_id
            )
        )
        item = ItemState(
            id=item_id,
            type="message",
            status="completed",
            role="user",
            content=(PartState(type="input_audio", done=True),),
        )
        for event in self._edge.item_added(self._ids, previous, item, final=True):
            self._emit(event)
        self._item_audio[item_id] = audio
        self._item_seconds[item_id] = self._seconds(audio)
        self._charge(item_id, len(item_id) + len(audio))
        settings = self._config.transcription
        if settings is None:
            if self._transcription_only:
                self._release_audio((item_id,))  # nothing will ever use it
            return []
        self._transcribing.add(item_id)
        if self._transcription_only:
            # No response will ever ask for this audio: the Transcribe effect is its last use.
            self._release_audio((item_id,))
        return [
            Transcribe(
                item_id=item_id,
                content_index=0,
                audio=audio,
                audio_format=self._audio.fmt,
                settings=settings,
            )
        ]

    def _manual_commit(self, e: ev.InputAudioBufferCommit, event_id: str | None) -> list[Effect]:
        audio = self._audio
        if audio.buffered_ms < self.limits.min_commit_ms:
            raise Invalid(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{self.limits.min_commit_ms}ms of audio, but buffer only has {audio.buffered_ms:.2f}ms of audio.",
            )
        self._check_room()
        # The buffer's audio moves into the item: the total held does not grow.
        self._check_budget(0)
        # A manual commit during VAD speech closes that segment (no speech_stopped follows).
        item_id = audio.speech_item_id or self._ids("item")
        data = audio.take()
        audio.clear()
        return self._commit(item_id, data)

    def _clear(self, e: ev.InputAudioBufferClear, event_id: str | None) -> list[Effect]:
        self._audio.clear()
        self._emit(ev.InputAudioBufferCleared(event_id=self._ids("event")))
        return []

    def _check_room(self) -> None:
        if self._conversation_full():
            raise Invalid("conversation_full", self._full_message())

    def _full_message(self) -> str:
        return f"The conversation holds the maximum of {self.limits.max_items} items; delete some first."

    def _refuse_vad_commit(self) -> bool:
        """At ``max_items`` a VAD or idle-timeout commit is dropped, with an error event.

        The speech (or timeout) events have been sent; the turn's audio, already taken from
        the buffer, is discarded and no item or response follows. (The memory budget needs
        no check here: the audio was counted while buffered, and moving it into an item
        does not add to what the session holds.)
        """
        if self._conversation_full():
            self._error("conversation_full", self._full_message())
            return True
        return False
