"""The input audio buffer of a ``ServerSession`` (docs/protocol/flows.md#input-audio,
docs/protocol/flows.md#barge-in, docs/protocol/flows.md#idle-timeout).

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

from collections.abc import Callable

from .. import events as ev
from ..audio.formats import FORMATS
from ..audio.vad import DetectorFactory
from ..events.ga import ServerVad
from ..ids import IdFactory
from ..rules.audio import check_whole_samples
from ..state import ItemState, PartState
from ..state.session import SessionState
from .config import ServerLimits
from .core import Emit, ReportError, SessionView, check_room, full_message
from .edge import Edge
from .effects import Effect, Transcribe
from .input_audio import InputAudio
from .memory import Holdings
from .responses import ResponseWriter, Run
from .settings import Invalid
from .transcriptions import Transcriptions

__all__ = ["InputBuffer"]


class InputBuffer:
    """The input audio buffer, its clock and turn detection (see the module docstring).

    Reads the configuration and the snapshot (``view``) and whether a
    response is writing to the conversation (``writer``); turn detection
    starts responses (``start_response``) and interrupts them
    (``interrupt``); committed audio goes to ``holdings`` and, when the
    session transcribes, to ``transcriptions``.
    """

    __slots__ = (
        "_audio",
        "_detectors",
        "_edge",
        "_emit",
        "_error",
        "_holdings",
        "_idle_from",
        "_idle_samples",
        "_ids",
        "_interrupt",
        "_limits",
        "_start_response",
        "_transcriptions",
        "_view",
        "_writer",
    )

    def __init__(
        self,
        *,
        view: SessionView,
        emit: Emit,
        error: ReportError,
        ids: IdFactory,
        edge: Edge,
        limits: ServerLimits,
        audio: InputAudio,
        detectors: DetectorFactory,
        holdings: Holdings,
        transcriptions: Transcriptions,
        writer: ResponseWriter,
        start_response: Callable[[], list[Effect]],
        interrupt: Callable[[Run], list[Effect]],
    ) -> None:
        self._view = view
        self._emit = emit
        self._error = error
        self._ids = ids
        self._edge = edge
        self._limits = limits
        self._audio = audio
        self._detectors = detectors
        self._holdings = holdings
        self._transcriptions = transcriptions
        self._writer = writer
        self._start_response = start_response
        self._interrupt = interrupt
        self._idle_from = 0
        """Where on the audio clock the current silence began (for ``idle_timeout_ms``)."""
        self._idle_samples: int | None = None
        """``idle_timeout_ms`` in samples of the input format (``None``: no idle timeout), read
        from the configuration by ``configure``, not per append."""

    # -- following the session ---------------------------------------------------------------

    def configure(self) -> None:
        """Follow the session's input format and turn detection (after a successful update)."""
        config = self._view.config
        self._audio.configure(
            config.input_format or "pcm16", config.turn_detection, self._detectors
        )
        self._idle_samples = _idle_samples(config, self._audio.rate)

    def restart_idle(self) -> None:
        """The idle timeout counts anew from now (its configuration changed)."""
        self._idle_from = self._audio.clock

    def played(self, played_ms: int) -> None:
        """A response ended: silence counts from the end of its playback, the time of its
        ``response.done`` plus the duration of the audio it produced
        (docs/protocol/ga.md#turn-detection, docs/protocol/flows.md#idle-timeout)."""
        audio = self._audio
        self._idle_from = audio.clock + audio.rate * played_ms // 1000

    # -- client events ------------------------------------------------------------------------

    def append(self, e: ev.InputAudioBufferAppend, event_id: str | None) -> list[Effect]:
        audio = e.audio
        buffer = self._audio
        limits = self._limits
        check_whole_samples(len(audio), buffer.fmt, "audio")
        if len(audio) > limits.max_append_bytes:
            raise Invalid(
                "invalid_value",
                f"Audio content of {len(audio)} bytes exceeds the limit of {limits.max_append_bytes} bytes per append.",
                "audio",
            )
        if len(buffer.buffer) + len(audio) > limits.max_buffer_bytes:
            raise Invalid(
                "input_audio_buffer_full",
                f"The input audio buffer is full ({limits.max_buffer_bytes} bytes); commit or clear it.",
                "audio",
            )
        self._holdings.check(len(audio), "audio")
        boundaries = buffer.append(audio)
        if not boundaries:  # almost every append
            return [] if self._idle_samples is None else self._check_idle()
        effects: list[Effect] = []
        for kind, position in boundaries:
            if kind == "start":
                effects += self._speech_started(position)
            else:
                effects += self._speech_stopped(position)
        return effects + self._check_idle()

    def _check_idle(self) -> list[Effect]:
        """``idle_timeout_ms`` of silence on the audio clock (docs/protocol/flows.md#idle-timeout).

        Silence counts from the later of the last end of speech, the end of
        the last response's playback (its ``response.done`` plus the audio it
        produced) and the configuration of the timeout, while no response is
        running. When it runs out the server reports
        ``input_audio_buffer.timeout_triggered``, commits the silent audio it
        kept (the buffer keeps only the prefix-padding window of silence) and
        starts a response.
        """
        audio = self._audio
        limit = self._idle_samples
        if limit is None or audio.clock - self._idle_from < limit:
            return []
        config = self._view.config
        detection = config.turn_detection
        assert isinstance(detection, ServerVad)
        if (
            audio.segmenter is None
            or audio.segmenter.speaking
            or self._writer.active_in_conversation() is not None
        ):
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
            effects += self._start_response()
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
        detection = self._view.config.turn_detection
        run = self._writer.active_in_conversation()
        if run is not None and detection is not None and detection.interrupt_response is not False:
            return self._interrupt(run)
        return []

    def _speech_item(self) -> str:
        """The id of the item speech becomes: the one ``speech_started`` announced, unless a
        client has given that id to an item of its own since (then a fresh one; core.FreshIds)."""
        reserved = self._audio.speech_item_id
        if reserved is None or self._view.state.item(reserved) is not None:
            return self._ids("item")
        return reserved

    def _speech_stopped(self, position: int) -> list[Effect]:
        audio = self._audio
        item_id = self._speech_item()
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
        config = self._view.config
        detection = config.turn_detection
        if (
            config.kind != "transcription"
            and detection is not None
            and detection.create_response is not False
            and self._writer.active_in_conversation() is None
        ):
            effects += self._start_response()
        return effects

    def _commit(self, item_id: str, audio: bytes) -> list[Effect]:
        order = self._view.state.order
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
        holdings = self._holdings
        fmt = self._audio.fmt
        seconds = len(audio) / FORMATS[fmt].sample_width / self._audio.rate
        holdings.hold(item_id, audio, seconds)
        holdings.charge(item_id, len(item_id) + len(audio))
        config = self._view.config
        settings = config.transcription
        transcription_only = config.kind == "transcription"
        if settings is None:
            if transcription_only:
                holdings.release((item_id,))  # nothing will ever use it
            return []
        self._transcriptions.expect(item_id)
        if transcription_only:
            # No response will ever ask for this audio: the Transcribe effect is its last use.
            holdings.release((item_id,))
        return [
            Transcribe(
                item_id=item_id,
                content_index=0,
                audio=audio,
                audio_format=fmt,
                settings=settings,
            )
        ]

    def commit(self, e: ev.InputAudioBufferCommit, event_id: str | None) -> list[Effect]:
        audio = self._audio
        if audio.buffered_ms < self._limits.min_commit_ms:
            raise Invalid(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{self._limits.min_commit_ms}ms of audio, but buffer only has {audio.buffered_ms:.2f}ms of audio.",
            )
        check_room(self._view.state, self._limits)
        # The buffer's audio moves into the item: the total held does not grow.
        self._holdings.check(0)
        # A manual commit during VAD speech closes that segment (no speech_stopped follows).
        item_id = self._speech_item()
        data = audio.take()
        audio.clear()
        return self._commit(item_id, data)

    def clear(self, e: ev.InputAudioBufferClear, event_id: str | None) -> list[Effect]:
        self._audio.clear()
        self._emit(ev.InputAudioBufferCleared(event_id=self._ids("event")))
        return []

    def _refuse_vad_commit(self) -> bool:
        """At ``max_items`` a VAD or idle-timeout commit is dropped, with an error event.

        The speech (or timeout) events have been sent; the turn's audio, already taken from
        the buffer, is discarded and no item or response follows. (The memory budget needs
        no check here: the audio was counted while buffered, and moving it into an item
        does not add to what the session holds.)
        """
        if len(self._view.state.order) >= self._limits.max_items:
            self._error("conversation_full", full_message(self._limits))
            return True
        return False


def _idle_samples(config: SessionState, rate: int) -> int | None:
    """The idle timeout of a configuration, in samples at ``rate``: only server VAD has one,
    and a transcription session never times out (it starts no responses)."""
    detection = config.turn_detection
    if (
        not isinstance(detection, ServerVad)
        or not isinstance(detection.idle_timeout_ms, int)
        or config.kind == "transcription"
    ):
        return None
    return rate * detection.idle_timeout_ms // 1000
