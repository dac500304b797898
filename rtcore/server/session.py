"""The server role at message level: ``ServerSession``.

Theory of operation
-------------------
A ``ServerSession`` is one Realtime session seen from the server. Client
messages go in through ``receive_message``; server events come out of
``messages_to_send()`` in protocol order; the work only the app can do comes
back as effects (``StartResponse``, ``CancelResponse``, ``Transcribe``), and
the app's backend answers through ``produce()`` (output chunks) and the
transcription methods.

Every event the session emits is also folded into its own ``Snapshot`` with
the same ``rtcore.state.apply`` the client uses, so the server's conversation
and the conversation a client rebuilds from the server's events are equal by
construction, and an emitted event that contradicted the state would be
caught at once.

The handling of each client event is in the ``_HANDLERS`` table at the
bottom of this file (SEQUENCES.md sections 2-13), with the VAD flow of
section 4 and 14 in ``_append``. The rules that hold on every path:

* ``session.created`` (or ``transcription_session.created``) is the first
  event, before anything else.
* Bad input never changes state and never ends the session: it is answered
  with one ``error`` whose ``error.event_id`` is the offending client event's
  ``event_id`` and whose ``code`` and ``param`` say what and where.
* At most one response writes to the conversation at a time; each
  ``response.created`` gets exactly one ``response.done``; nothing follows it.
* Ids come from the injectable factory and time from the audio clock, so the
  same input gives byte-identical output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from msgspec.structs import replace

from .. import events as ev
from ..audio.formats import FORMATS
from ..audio.vad import DetectorFactory, EnergyDetector
from ..errors import LocalProtocolError, RemoteProtocolError
from ..ids import DeterministicIds, IdFactory
from ..state import ItemState, Snapshot, apply, initial_snapshot
from ..state.wire import item_from_wire
from .config import (
    DEFAULT_MODEL,
    ServerLimits,
    default_rate_limits,
    default_session,
    default_turn_detection,
)
from .effects import (
    ArgumentsChunk,
    AudioChunk,
    CancelResponse,
    Effect,
    Finish,
    FunctionCallChunk,
    OutputChunk,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)
from .input_audio import InputAudio
from .responses import ResponseWriter, Run, wire_item
from .validation import Invalid, check_item, decode_error_message, merge_session, response_settings

__all__ = ["ServerSession", "Received"]

Received = ev.ClientEvent | Effect
"""What ``receive_message`` returns: the client event it decoded, then the effects it caused."""

_CANCELLED = {
    "client_cancelled": ev.StatusDetails(type="cancelled", reason="client_cancelled"),
    "turn_detected": ev.StatusDetails(type="cancelled", reason="turn_detected"),
}


class ServerSession:
    """One Realtime session, server side, without I/O."""

    def __init__(
        self,
        *,
        id_factory: IdFactory | None = None,
        model: str = DEFAULT_MODEL,
        created_at: int | None = None,
        session: ev.Session | None = None,
        limits: ServerLimits | None = None,
        detector: DetectorFactory = EnergyDetector,
        conversation_created: bool = False,
        rate_limits: bool = True,
        intent: Literal["conversation", "transcription"] = "conversation",
    ) -> None:
        self._ids: IdFactory = id_factory or DeterministicIds()
        self.limits = limits or ServerLimits()
        self._detectors = detector
        self._state = initial_snapshot()
        self._out: list[ev.ServerEvent] = []
        self._writer = ResponseWriter(
            self._emit,
            lambda: self._state,
            self._ids,
            default_rate_limits if rate_limits else None,
            on_finish=self._response_ended,
        )
        self._idle_from = 0
        """Where on the audio clock the current silence began (for ``idle_timeout_ms``)."""
        self._item_audio: dict[str, bytes] = {}
        self._item_seconds: dict[str, float] = {}
        self._transcribing: set[str] = set()
        self._ended = False
        self.intent = intent
        self.conversation_id = self._ids("conv")
        self._session = session or default_session(
            self._ids("sess"), model=model, created_at=created_at
        )
        self._transcription: ev.TranscriptionSession | None = None
        if intent == "transcription":
            self._transcription = ev.TranscriptionSession(
                id=self._session.id,
                object="realtime.transcription_session",
                expires_at=self._session.expires_at,
                input_audio_format="pcm16",
                input_audio_transcription=ev.InputAudioTranscription(
                    model="whisper-1", language=None, prompt=None
                ),
                turn_detection=default_turn_detection(),
                input_audio_noise_reduction=None,
                include=None,
                modalities=("text",),
                client_secret=None,
            )
            self._emit(
                ev.TranscriptionSessionCreated(
                    event_id=self._ids("event"), session=self._transcription
                )
            )
        else:
            self._emit(ev.SessionCreated(event_id=self._ids("event"), session=self._session))
            if conversation_created:
                self._emit(
                    ev.ConversationCreated(
                        event_id=self._ids("event"),
                        conversation=ev.Conversation(
                            id=self.conversation_id, object="realtime.conversation"
                        ),
                    )
                )
        self._audio = InputAudio(self._input_format())
        self._audio.configure(self._input_format(), self._turn_detection(), self._detectors)

    # -- reading --------------------------------------------------------------------------

    @property
    def state(self) -> Snapshot:
        """The server's own snapshot: what its clients rebuild from its events."""
        return self._state

    @property
    def session(self) -> ev.Session:
        """The effective session configuration."""
        return self._session

    @property
    def ended(self) -> bool:
        """The session is over (expired, shut down, or the client left)."""
        return self._ended

    def is_active(self, response_id: str) -> bool:
        """Whether response ``response_id`` is still in progress (output is accepted)."""
        return response_id in self._writer.runs

    @property
    def active_responses(self) -> tuple[str, ...]:
        return tuple(self._writer.runs)

    def item_audio(self, item_id: str) -> bytes | None:
        """The audio of a user audio item (committed from the buffer or created with audio)."""
        return self._item_audio.get(item_id)

    # -- output ---------------------------------------------------------------------------

    @property
    def has_output(self) -> bool:
        """Whether events are waiting in ``events_to_send``."""
        return bool(self._out)

    def events_to_send(self) -> list[ev.ServerEvent]:
        """The server events produced since the last call, in protocol order."""
        out, self._out = self._out, []
        return out

    def messages_to_send(self) -> list[bytes]:
        """The same as ``events_to_send``, encoded (one text frame each)."""
        encode = ev.encode_event
        return [encode(event) for event in self.events_to_send()]

    def _emit(self, event: ev.ServerEvent) -> None:
        try:
            self._state = apply(self._state, event)
        except (
            RemoteProtocolError
        ) as exc:  # pragma: no cover - a bug in the engine, not in the input
            raise LocalProtocolError(f"the server built an inconsistent event: {exc}") from exc
        self._out.append(event)

    def _error(
        self,
        code: str | None,
        message: str,
        param: str | None = None,
        event_id: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        self._emit(
            ev.ErrorEvent(
                event_id=self._ids("event"),
                error=ev.ErrorDetails(
                    type=kind, code=code, message=message, param=param, event_id=event_id
                ),
            )
        )

    # -- input ----------------------------------------------------------------------------

    def receive_message(self, data: bytes | str) -> list[Received]:
        """Handle one client message: the decoded event and its effects (``[]`` for bad input)."""
        if self._ended:
            return []
        try:
            event = ev.decode_client_event(data, dialect="beta", strict=True)
        except ev.DecodeError as err:
            self.reject_message(err)
            return []
        if isinstance(event, ev.UnknownEvent):
            self.reject_unknown(event)
            return []
        return [event, *self.receive_event(event)]

    def reject_message(self, error: ev.DecodeError) -> None:
        """Answer a client message that is not a valid event (from a decoder upstream)."""
        if not self._ended:
            self._error(error.code, decode_error_message(error), error.path, error.event_id)

    def reject_unknown(self, event: ev.UnknownEvent) -> None:
        """Answer a client event of a type this protocol does not have."""
        if self._ended:
            return
        allowed = ", ".join(repr(t) for t in ev.CLIENT_EVENTS)
        self._error(
            "invalid_value",
            f"Invalid value: {event.type!r}. Supported values are: {allowed}.",
            "type",
            event.event_id,
        )

    def receive_event(self, event: ev.ClientEvent) -> list[Effect]:
        """Handle one decoded client event; returns the effects for the app."""
        if self._ended:
            return []
        handler = _HANDLERS[type(event)]
        event_id = event.event_id if isinstance(event.event_id, str) else None
        try:
            return handler(self, event, event_id)
        except Invalid as bad:
            self._error(bad.code, bad.message, bad.param, event_id)
            return []

    # -- session ----------------------------------------------------------------------------

    @property
    def _audio_source(self) -> Any:
        """Where the input-audio settings live: the transcription session, or the session."""
        return self._transcription if self._transcription is not None else self._session

    def _input_format(self) -> ev.AudioFormat:
        fmt = self._audio_source.input_audio_format
        return "pcm16" if isinstance(fmt, ev.UnsetType) else fmt

    def _turn_detection(self) -> ev.TurnDetection | None:
        value = self._audio_source.turn_detection
        return None if isinstance(value, ev.UnsetType) else value

    def _transcription_settings(self) -> ev.InputAudioTranscription | None:
        value = self._audio_source.input_audio_transcription
        return None if isinstance(value, ev.UnsetType) else value

    def _conversation_only(self, message: str) -> None:
        """Refuse, in a transcription session, an event that only a conversation session has."""
        if self._transcription is not None:
            raise Invalid("invalid_value", message, "type")

    def _audio_produced(self) -> bool:
        for item in self._state.items:
            if item.role == "assistant" and any(
                p.audio is not None and p.audio.size for p in item.content
            ):
                return True
        return False

    def _session_update(self, e: ev.SessionUpdate, event_id: str | None) -> list[Effect]:
        self._conversation_only(
            "session.update is not valid in a transcription session; use transcription_session.update."
        )
        self._session = merge_session(
            self._session, e.session, audio_produced=self._audio_produced()
        )
        self._audio.configure(self._input_format(), self._turn_detection(), self._detectors)
        self._idle_from = self._audio.clock
        self._emit(ev.SessionUpdated(event_id=self._ids("event"), session=self._session))
        return []

    def _transcription_session_update(
        self, e: ev.TranscriptionSessionUpdate, event_id: str | None
    ) -> list[Effect]:
        if self._transcription is None:
            raise Invalid(
                "invalid_value",
                "transcription_session.update is only valid in a transcription session (connect with ?intent=transcription).",
                "type",
            )
        probe = ev.SessionConfig(
            turn_detection=e.session.turn_detection,
            input_audio_transcription=e.session.input_audio_transcription,
            include=e.session.include,
        )
        checked = merge_session(self._session, probe, audio_produced=False)
        changes: dict[str, Any] = {
            name: getattr(e.session, name)
            for name in e.session.__struct_fields__
            if not isinstance(getattr(e.session, name), ev.UnsetType)
        }
        for name in ("turn_detection", "input_audio_transcription"):
            if name in changes:
                changes[name] = getattr(checked, name)
        if "modalities" in changes and tuple(changes["modalities"]) != ("text",):
            raise Invalid(
                "invalid_value", "A transcription session produces text only.", "session.modalities"
            )
        self._transcription = replace(self._transcription, **changes)
        self._audio.configure(self._input_format(), self._turn_detection(), self._detectors)
        self._emit(
            ev.TranscriptionSessionUpdated(event_id=self._ids("event"), session=self._transcription)
        )
        return []

    # -- input audio buffer ---------------------------------------------------------------------

    def _append(self, e: ev.InputAudioBufferAppend, event_id: str | None) -> list[Effect]:
        audio = e.audio
        fmt = self._audio.fmt
        if not self._audio.whole_samples(audio):
            raise Invalid(
                "invalid_value",
                f"Invalid audio: {len(audio)} bytes is not a whole number of {fmt} samples.",
                "audio",
            )
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
        effects: list[Effect] = []
        for kind, position in self._audio.append(audio):
            if kind == "start":
                effects += self._speech_started(position)
            else:
                effects += self._speech_stopped(position)
        return effects + self._check_idle()

    def _response_ended(self, run: Run) -> None:
        self._idle_from = self._audio.clock

    def _check_idle(self) -> list[Effect]:
        """``turn_detection.idle_timeout_ms`` of silence on the audio clock (EVENTS.md section 6).

        Silence counts from the later of the last end of speech, the last
        finished response and the configuration of the timeout, while no
        response is running. When it runs out the server reports
        ``input_audio_buffer.timeout_triggered``, commits the silent audio it
        kept (the buffer keeps only the prefix-padding window of silence) and
        starts a response.
        """
        detection = self._turn_detection()
        audio = self._audio
        if (
            detection is None
            or not isinstance(detection.idle_timeout_ms, int)
            or audio.segmenter is None
            or audio.segmenter.speaking
            or self._transcription is not None
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
        effects = self._commit(item_id, audio.take(start, end))
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
        effects = self._commit(item_id, audio.take(audio.speech_start, position))
        audio.speech_item_id = None
        self._idle_from = position
        detection = self._turn_detection()
        if (
            self._transcription is None
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
        item = ev.MessageItem(
            id=item_id,
            object="realtime.item",
            status="completed",
            role="user",
            content=(ev.InputAudioContent(transcript=None),),
        )
        self._emit(
            ev.ConversationItemCreated(
                event_id=self._ids("event"), previous_item_id=previous, item=item
            )
        )
        self._item_audio[item_id] = audio
        self._item_seconds[item_id] = (
            len(audio) / FORMATS[self._audio.fmt].sample_width / self._audio.rate
        )
        settings = self._transcription_settings()
        if settings is None:
            return []
        self._transcribing.add(item_id)
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
        if len(self._state.order) >= self.limits.max_items:
            raise Invalid(
                "conversation_full",
                f"The conversation holds the maximum of {self.limits.max_items} items; delete some first.",
            )

    # -- conversation items -----------------------------------------------------------------------

    def _item(self, item_id: str, param: str = "item_id") -> ItemState:
        item = self._state.item(item_id)
        if item is None or not item.in_conversation:
            raise Invalid("invalid_value", f"Item with item_id '{item_id}' not found.", param)
        return item

    def _create(self, e: ev.ConversationItemCreate, event_id: str | None) -> list[Effect]:
        self._conversation_only("A transcription session has no conversation to add items to.")
        item = e.item
        fmt = self._input_format()
        check_item(item, "item", fmt)
        order = self._state.order
        anchor = e.previous_item_id
        if isinstance(anchor, str) and anchor != "root":
            self._item(anchor, "previous_item_id")
        if isinstance(item.id, str) and self._state.item(item.id) is not None:
            raise Invalid("invalid_value", f"Item with id '{item.id}' already exists.", "item.id")
        if isinstance(item, ev.FunctionCallOutputItem):
            if not any(
                i.type == "function_call" and i.call_id == item.call_id for i in self._state.items
            ):
                raise Invalid(
                    "invalid_value",
                    f"No tool call found for function call output with call_id '{item.call_id}'.",
                    "item.call_id",
                )
        self._check_room()
        item_id = item.id if isinstance(item.id, str) else self._ids("item")
        previous: str | None
        if anchor == "root":
            previous = None  # first of the conversation
        elif isinstance(anchor, str):
            previous = anchor
        else:
            previous = order[-1] if order else None  # absent or null: at the end
        echo = replace(item, id=item_id, object="realtime.item", status="completed")
        if isinstance(echo, ev.MessageItem) and not isinstance(echo.content, ev.UnsetType):
            audio = b"".join(
                p.audio
                for p in echo.content
                if isinstance(p, ev.InputAudioContent) and isinstance(p.audio, bytes)
            )
            if audio:
                self._item_audio[item_id] = audio
            echo = replace(echo, content=tuple(_without_audio(p) for p in echo.content))
        self._emit(
            ev.ConversationItemCreated(
                event_id=self._ids("event"), previous_item_id=previous, item=echo
            )
        )
        return []

    def _truncate(self, e: ev.ConversationItemTruncate, event_id: str | None) -> list[Effect]:
        item = self._item(e.item_id)
        ok = (
            item.type == "message"
            and item.role == "assistant"
            and 0 <= e.content_index < len(item.content)
        )
        if not ok or item.content[e.content_index].type != "audio":
            raise Invalid(
                "unsupported_content_type",
                "Only model output audio messages can be truncated",
                "item_id",
            )
        part = item.content[e.content_index]
        if not part.audio_done:
            raise Invalid(
                "invalid_value",
                "The item's audio is still being generated; cancel the response first.",
                "item_id",
            )
        if e.audio_end_ms < 0:
            raise Invalid(
                "invalid_value",
                f"Invalid 'audio_end_ms': {e.audio_end_ms} is negative.",
                "audio_end_ms",
            )
        if e.audio_end_ms > part.audio_ms:
            raise Invalid(
                "invalid_value",
                f"Audio content of {part.audio_ms}ms is already shorter than {e.audio_end_ms}ms",
                "audio_end_ms",
            )
        self._emit(
            ev.ConversationItemTruncated(
                event_id=self._ids("event"),
                item_id=e.item_id,
                content_index=e.content_index,
                audio_end_ms=e.audio_end_ms,
            )
        )
        return []

    def _in_active_response(self, item_id: str) -> bool:
        return any(item_id in run.items for run in self._writer.runs.values())

    def _delete(self, e: ev.ConversationItemDelete, event_id: str | None) -> list[Effect]:
        self._item(e.item_id)
        if self._in_active_response(e.item_id):
            raise Invalid(
                "invalid_value",
                f"Item '{e.item_id}' is still being generated; cancel the response first.",
                "item_id",
            )
        self._emit(ev.ConversationItemDeleted(event_id=self._ids("event"), item_id=e.item_id))
        self._item_audio.pop(e.item_id, None)
        self._item_seconds.pop(e.item_id, None)
        self._transcribing.discard(e.item_id)
        return []

    def _retrieve(self, e: ev.ConversationItemRetrieve, event_id: str | None) -> list[Effect]:
        item = self._item(e.item_id)
        wire = wire_item(item, with_audio=True)
        user_audio = self._item_audio.get(item.id)
        if (
            user_audio is not None
            and isinstance(wire, ev.MessageItem)
            and not isinstance(wire.content, ev.UnsetType)
        ):
            wire = replace(
                wire,
                content=tuple(
                    replace(p, audio=user_audio) if isinstance(p, ev.InputAudioContent) else p
                    for p in wire.content
                ),
            )
        self._emit(ev.ConversationItemRetrieved(event_id=self._ids("event"), item=wire))
        return []

    # -- responses ----------------------------------------------------------------------------------

    def _response_create(self, e: ev.ResponseCreate, event_id: str | None) -> list[Effect]:
        self._conversation_only("A transcription session does not produce responses.")
        return self._start_response(e.response, event_id, "client")

    def _start_response(
        self,
        params: ev.ResponseParams | ev.UnsetType,
        event_id: str | None,
        trigger: Literal["client", "vad"],
    ) -> list[Effect]:
        settings = response_settings(self._session, params, audio_produced=self._audio_produced())
        if settings.conversation == "auto":
            active = self._writer.active_in_conversation()
            if active is not None:
                raise Invalid(
                    "conversation_already_has_active_response",
                    f"Conversation already has an active response in progress: {active.id}. "
                    "Wait until the response is finished before creating a new one.",
                )
        items = self._prompt(params)
        response_id = self._ids("resp")
        self._writer.start(response_id, settings, self.conversation_id, trigger)
        audio = {i.id: self._item_audio[i.id] for i in items if i.id in self._item_audio}
        return [
            StartResponse(
                response_id=response_id,
                settings=settings,
                items=items,
                input_audio=audio,
                snapshot=self._state,
                trigger=trigger,
                event_id=event_id,
            )
        ]

    def _prompt(self, params: ev.ResponseParams | ev.UnsetType) -> tuple[ItemState, ...]:
        if isinstance(params, ev.UnsetType) or isinstance(params.input, ev.UnsetType):
            return self._state.items
        fmt = self._input_format()
        out: list[ItemState] = []
        for i, entry in enumerate(params.input):
            where = f"response.input[{i}]"
            if isinstance(entry, ev.ItemReference):
                out.append(self._item(entry.id, f"{where}.id"))
                continue
            check_item(entry, where, fmt)
            if isinstance(entry, ev.MessageItem) and not isinstance(entry.content, ev.UnsetType):
                for j, part in enumerate(entry.content):
                    if isinstance(part, ev.ItemReferenceContent):
                        self._item(part.id, f"{where}.content[{j}].id")
            entry_id = entry.id if isinstance(entry.id, str) else self._ids("item")
            out.append(
                item_from_wire(replace(entry, id=entry_id), fmt, self._session_output_format())
            )
        return tuple(out)

    def _session_output_format(self) -> ev.AudioFormat:
        fmt = self._session.output_audio_format
        return "pcm16" if isinstance(fmt, ev.UnsetType) else fmt

    def _cancel(self, e: ev.ResponseCancel, event_id: str | None) -> list[Effect]:
        if isinstance(e.response_id, str):
            run = self._writer.runs.get(e.response_id)
        else:
            run = self._writer.active_in_conversation()
        if run is None:
            named = f" with id '{e.response_id}'" if isinstance(e.response_id, str) else ""
            raise Invalid(
                "response_cancel_not_active",
                f"Cancellation failed: no active response found{named}",
                "response_id" if named else None,
            )
        return self._end_run(run, "client_cancelled")

    def _end_run(
        self, run: Run, reason: Literal["client_cancelled", "turn_detected"]
    ) -> list[Effect]:
        self._writer.finish(run, "cancelled", _CANCELLED[reason], None, "incomplete")
        return [CancelResponse(response_id=run.id, reason=reason)]

    def _output_audio_clear(
        self, e: ev.OutputAudioBufferClear, event_id: str | None
    ) -> list[Effect]:
        raise Invalid(
            "invalid_value",
            "output_audio_buffer.clear is only supported on WebRTC and SIP connections.",
            "type",
        )

    # -- the backend's side -----------------------------------------------------------------------------

    def produce(self, response_id: str, chunk: OutputChunk) -> None:
        """Add backend output to a response in progress (``LocalProtocolError`` once it ended)."""
        self._writer.produce(response_id, chunk)

    def add_text(self, response_id: str, text: str) -> None:
        self.produce(response_id, TextChunk(text))

    def add_audio(self, response_id: str, audio: bytes) -> None:
        self.produce(response_id, AudioChunk(audio))

    def add_transcript(self, response_id: str, text: str) -> None:
        self.produce(response_id, TranscriptChunk(text))

    def start_function_call(self, response_id: str, name: str, call_id: str | None = None) -> str:
        """Open a function call item; returns its ``call_id``."""
        self.produce(response_id, FunctionCallChunk(name=name, call_id=call_id))
        run = self._writer.runs[response_id]
        assert run.open_item is not None
        item = self._state.item(run.open_item)
        assert item is not None and item.call_id is not None
        return item.call_id

    def add_arguments(self, response_id: str, delta: str) -> None:
        self.produce(response_id, ArgumentsChunk(delta))

    def finish_response(
        self,
        response_id: str,
        status: Literal["completed", "incomplete", "failed"] = "completed",
        details: ev.StatusDetails | None = None,
        usage: ev.Usage | None = None,
    ) -> None:
        self.produce(response_id, Finish(status=status, details=details, usage=usage))

    def cancel_response(self, response_id: str) -> list[Effect]:
        """End a response early on the server's own initiative (as a client cancel would)."""
        run = self._writer.runs.get(response_id)
        if run is None:
            raise LocalProtocolError(
                f"response {response_id!r} is not in progress", code="response_not_active"
            )
        return self._end_run(run, "client_cancelled")

    def transcription_pending(self, item_id: str) -> bool:
        """Whether item ``item_id`` still waits for its transcription result."""
        return item_id in self._transcribing

    def _transcription_target(self, item_id: str) -> None:
        if item_id not in self._transcribing:
            raise LocalProtocolError(
                f"item {item_id!r} has no transcription pending (done already, deleted, or never committed)",
                code="no_transcription",
            )

    def transcription_delta(self, item_id: str, delta: str, content_index: int = 0) -> None:
        self._transcription_target(item_id)
        self._emit(
            ev.ConversationItemInputAudioTranscriptionDelta(
                event_id=self._ids("event"),
                item_id=item_id,
                content_index=content_index,
                delta=delta,
            )
        )

    def complete_transcription(self, item_id: str, transcript: str, content_index: int = 0) -> None:
        """The transcriber's result for a committed item (exactly one per item)."""
        self._transcription_target(item_id)
        self._transcribing.discard(item_id)
        seconds = self._item_seconds.get(item_id, 0.0)
        self._emit(
            ev.ConversationItemInputAudioTranscriptionCompleted(
                event_id=self._ids("event"),
                item_id=item_id,
                content_index=content_index,
                transcript=transcript,
                usage=ev.TranscriptionUsageDuration(seconds=round(seconds, 3)),
            )
        )

    def fail_transcription(
        self, item_id: str, error: ev.TranscriptionError, content_index: int = 0
    ) -> None:
        self._transcription_target(item_id)
        self._transcribing.discard(item_id)
        self._emit(
            ev.ConversationItemInputAudioTranscriptionFailed(
                event_id=self._ids("event"),
                item_id=item_id,
                content_index=content_index,
                error=error,
            )
        )

    # -- the end ---------------------------------------------------------------------------------------

    def _close_all(
        self, reason: Literal["disconnect", "shutdown"], details: ev.StatusDetails
    ) -> list[Effect]:
        effects: list[Effect] = []
        for run in list(self._writer.runs.values()):
            self._writer.finish(
                run, "failed" if reason == "shutdown" else "cancelled", details, None, "incomplete"
            )
            effects.append(CancelResponse(response_id=run.id, reason=reason))
        return effects

    def disconnect(self) -> list[Effect]:
        """The client left: close every open response (its backend must stop) and end the session."""
        if self._ended:
            return []
        effects = self._close_all(
            "disconnect", ev.StatusDetails(type="cancelled", reason="client_cancelled")
        )
        self._ended = True
        return effects

    def shutdown(self, message: str = "The server is shutting down.") -> list[Effect]:
        """Graceful shutdown: every open response ends with ``response.done``, then the session ends."""
        if self._ended:
            return []
        error = ev.StatusError(type="server_error", code="server_shutdown", message=message)
        effects = self._close_all("shutdown", ev.StatusDetails(type="failed", error=error))
        self._ended = True
        return effects

    def expire(self, minutes: int = 30) -> list[Effect]:
        """The session reached its maximum length: close responses, send ``session_expired``, end."""
        if self._ended:
            return []
        error = ev.StatusError(type="invalid_request_error", code="session_expired")
        effects = self._close_all("shutdown", ev.StatusDetails(type="failed", error=error))
        self._error(
            "session_expired", f"Your session hit the maximum duration of {minutes} minutes."
        )
        self._ended = True
        return effects


def _without_audio(part: ev.ContentPart) -> ev.ContentPart:
    if isinstance(part, ev.InputAudioContent):
        return ev.InputAudioContent(
            transcript=part.transcript if isinstance(part.transcript, str) else None
        )
    return part


_Handler = Callable[[ServerSession, Any, "str | None"], list[Effect]]

# The whole machine: client event class -> handler (SEQUENCES.md sections 2-13).
_HANDLERS: dict[type[ev.ClientEvent], _Handler] = {
    ev.SessionUpdate: ServerSession._session_update,
    ev.InputAudioBufferAppend: ServerSession._append,
    ev.InputAudioBufferCommit: ServerSession._manual_commit,
    ev.InputAudioBufferClear: ServerSession._clear,
    ev.ConversationItemCreate: ServerSession._create,
    ev.ConversationItemTruncate: ServerSession._truncate,
    ev.ConversationItemDelete: ServerSession._delete,
    ev.ConversationItemRetrieve: ServerSession._retrieve,
    ev.ResponseCreate: ServerSession._response_create,
    ev.ResponseCancel: ServerSession._cancel,
    ev.OutputAudioBufferClear: ServerSession._output_audio_clear,
    ev.TranscriptionSessionUpdate: ServerSession._transcription_session_update,
}

assert set(_HANDLERS) == set(ev.CLIENT_EVENTS.values()), "every client event needs a handler"
