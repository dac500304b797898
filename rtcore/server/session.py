"""The server role at message level: ``ServerSession``, in either dialect.

Theory of operation
-------------------
A ``ServerSession`` is one Realtime session seen from the server. Client
messages go in through ``receive_message``; server events come out of
``messages_to_send()`` in protocol order; the work only the app can do comes
back as effects (``StartResponse``, ``CancelResponse``, ``Transcribe``,
``ListMcpTools``), and the app's backend answers through ``produce()``
(output chunks), the transcription methods and the MCP listing methods.

One session logic serves both dialects. The connection's dialect (chosen at
the handshake: GA unless the client asked for beta) picks an *edge*
(``BetaEdge`` or ``GAEdge``) that reads the dialect's requests into one
vocabulary and writes the session's happenings as the dialect's events; the
buffers, VAD, items, responses and errors below are written once. The parts
of the session live by concern: ``buffer`` (input audio and VAD), ``items``
(conversation items), ``requests`` (starting and stopping responses),
``responses`` (writing them), ``mcp_listings`` (listing MCP servers' tools)
with the rules of MCP calls in ``mcp``; this module holds the session's configuration,
the backend's side and the end of the session, and the table of every client
event the session handles.

Every event the session emits is also folded into its own ``Snapshot`` with
the same ``rtcore.state.apply`` the client uses, so the server's conversation
and the conversation a client rebuilds from the server's events are equal by
construction. The rules that hold on every path:

* ``session.created`` is the first event (beta transcription sessions:
  ``transcription_session.created``), before anything else.
* Bad input never changes state and never ends the session: it is answered
  with one ``error`` whose ``error.event_id`` is the offending client event's
  ``event_id`` and whose ``code`` and ``param`` say what and where. In GA
  a client ``event_id`` longer than 512 characters is bad input too
  (``string_above_max_length``, GA.md 1.6).
* At most one response writes to the conversation at a time; each
  ``response.created`` gets exactly one ``response.done``; nothing follows it.
* Ids come from the injectable factory and time from the audio clock, so the
  same input gives byte-identical output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from .. import events as ev
from ..audio.vad import DetectorFactory, EnergyDetector
from ..errors import LocalProtocolError
from ..events import beta, ga
from ..ids import DeterministicIds, IdFactory
from ..state import Snapshot
from ..state.session import SessionState
from .beta_edge import BetaEdge
from .buffer import InputBuffer
from .config import (
    DEFAULT_GA_MODEL,
    DEFAULT_MODEL,
    ServerLimits,
    default_config,
    default_rate_limits,
)
from .edge import Edge
from .effects import (
    ArgumentsChunk,
    AudioChunk,
    CancelResponse,
    Effect,
    Finish,
    FunctionCallChunk,
    OutputChunk,
    TextChunk,
    TranscriptChunk,
)
from .ga_edge import GAEdge
from .input_audio import InputAudio
from .items import Items
from .mcp_listings import McpListings, new_mcp_servers
from .requests import Requests
from .responses import ResponseWriter
from .settings import Invalid, merge_config

__all__ = ["ServerSession", "Received", "expiry_message"]

Received = ev.ClientEvent | Effect
"""What ``receive_message`` returns: the client event it decoded, then the effects it caused."""

_EDGES: dict[str, type[BetaEdge] | type[GAEdge]] = {"beta": BetaEdge, "ga": GAEdge}


def _decode_error_message(error: ev.DecodeError) -> str:
    """The service-style message for a message the codec refused."""
    path, reason = error.path, error.reason
    if error.code == "unknown_parameter":
        return f"Unknown parameter: '{path}'."
    if error.code == "missing_required_parameter":
        if path == "type":
            return "The 'type' field is missing."
        return f"Missing required parameter: '{path}'."
    if error.code == "invalid_type":
        return f"Invalid type for '{path}': {reason}."
    if error.code == "invalid_value":
        return f"Invalid value for '{path}': {reason}."
    if path == "type":
        return "The 'type' field is missing."
    return f"Invalid event: {reason}."


class ServerSession(InputBuffer, Items, Requests, McpListings):
    """One Realtime session, server side, without I/O.

    ``dialect`` is the connection's (``"ga"`` by default; ``"beta"`` when the
    handshake asked for it); ``intent`` the session type the URL asked for.
    ``retain_audio`` (default false): keep audio bytes in the snapshot and for
    user items after the backend has been handed them, or only their
    durations (see ``SessionCore``).
    """

    def __init__(
        self,
        *,
        id_factory: IdFactory | None = None,
        model: str | None = None,
        created_at: int | None = None,
        limits: ServerLimits | None = None,
        detector: DetectorFactory = EnergyDetector,
        conversation_created: bool = False,
        rate_limits: bool = True,
        intent: Literal["conversation", "transcription"] = "conversation",
        dialect: ev.Dialect = ev.DEFAULT_DIALECT,
        retain_audio: bool = False,
    ) -> None:
        if dialect not in _EDGES:
            raise ValueError(f"unknown dialect {dialect!r}; expected 'ga' or 'beta'")
        self.dialect: ev.Dialect = dialect
        self._edge: Edge = _EDGES[dialect]()
        self._ids = id_factory or DeterministicIds()
        self.limits = limits or ServerLimits()
        self._detectors = detector
        # Audio retention (see SessionCore): by default only durations are kept.
        self._state = Snapshot(retain_audio=retain_audio)
        self._out = []
        self._writer = ResponseWriter(
            self._emit,
            lambda: self._state,
            self._ids,
            default_rate_limits if rate_limits else None,
            self._edge,
            on_finish=self._response_ended,
        )
        self._idle_from = 0
        """Where on the audio clock the current silence began (for ``idle_timeout_ms``)."""
        self._item_audio = {}
        self._item_seconds = {}
        self._item_bytes = {}
        self._used_bytes = 0
        self._writer.conversation_full = self._conversation_full
        self._transcribing = set()
        self._listings = {}
        self._ended = False
        self._extras = {}
        """Settings only the dialect has (beta's ``temperature``)."""
        self.intent = intent
        self.conversation_id = self._ids("conv")
        if model is None:
            model = DEFAULT_GA_MODEL if dialect == "ga" else DEFAULT_MODEL
        self._config = default_config(
            self._ids("sess"),
            model=model,
            created_at=created_at,
            kind="transcription" if intent == "transcription" else "realtime",
        )
        self._emit(self._edge.session_event(True, self._config, self._extras, self._ids("event")))
        if conversation_created and not self._transcription_only:
            self._emit(
                ev.ConversationCreated(
                    event_id=self._ids("event"),
                    conversation=ev.Conversation(
                        id=self.conversation_id, object="realtime.conversation"
                    ),
                )
            )
        self._audio = InputAudio(self._input_format())
        self._configure_audio()

    # -- reading --------------------------------------------------------------------------

    @property
    def state(self) -> Snapshot:
        """The server's own snapshot: what its clients rebuild from its events."""
        return self._state

    @property
    def session(self) -> SessionState:
        """The effective session configuration (the same vocabulary in both dialects)."""
        return self._config

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

    # -- input ----------------------------------------------------------------------------

    def receive_message(self, data: bytes | str) -> list[Received]:
        """Handle one client message: the decoded event and its effects (``[]`` for bad input)."""
        if self._ended:
            return []
        try:
            event = ev.decode_client_event(data, dialect=self.dialect, strict=True)
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
            self._error(error.code, _decode_error_message(error), error.path, error.event_id)

    def reject_unknown(self, event: ev.UnknownEvent) -> None:
        """Answer a client event of a type this dialect does not have."""
        if self._ended:
            return
        allowed = ", ".join(repr(t) for t in ev.client_events(self.dialect))
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
        handler = _HANDLERS.get(type(event))
        event_id = event.event_id if isinstance(event.event_id, str) else None
        if handler is None or type(event) not in self._edge.client_events:
            self._error(
                "invalid_value",
                f"Invalid value: {event.type!r} is not an event of the {self.dialect} dialect.",
                "type",
                event_id,
            )
            return []
        limit = self._edge.max_event_id_length
        if (
            limit is not None
            and event_id is not None
            and len(event_id) > limit
            and not isinstance(event, ev.OutputAudioBufferClear)  # the one without a limit
        ):
            self._error(
                "string_above_max_length",
                f"Invalid 'event_id': string too long. Expected a string with maximum length"
                f" {limit}, but got a string with length {len(event_id)} instead.",
                "event_id",
                event_id,
            )
            return []
        try:
            return handler(self, event, event_id)
        except Invalid as bad:
            self._error(bad.code, bad.message, bad.param, event_id)
            return []

    # -- session ----------------------------------------------------------------------------

    def _update(self, update: Any) -> list[Effect]:
        changes, paths, extras = self._edge.session_changes(update, self._config)
        config = merge_config(self._config, changes, paths, audio_produced=self._audio_produced())
        servers = new_mcp_servers(self._config, config)
        self._check_listing_room(len(servers))
        self._config = config
        self._extras.update(extras)
        self._configure_audio()
        self._idle_from = self._audio.clock
        self._emit(self._edge.session_event(False, self._config, self._extras, self._ids("event")))
        return self._start_listings(servers)

    def _session_update(self, e: Any, event_id: str | None) -> list[Effect]:
        if self.dialect == "beta" and self._transcription_only:
            raise Invalid(
                "invalid_value",
                "session.update is not valid in a transcription session; use transcription_session.update.",
                "type",
            )
        return self._update(e.session)

    def _transcription_session_update(
        self, e: beta.TranscriptionSessionUpdate, event_id: str | None
    ) -> list[Effect]:
        if not self._transcription_only:
            raise Invalid(
                "invalid_value",
                "transcription_session.update is only valid in a transcription session (connect with ?intent=transcription).",
                "type",
            )
        session = e.session
        if not isinstance(session.modalities, ev.UnsetType) and tuple(session.modalities) != (
            "text",
        ):
            raise Invalid(
                "invalid_value", "A transcription session produces text only.", "session.modalities"
            )
        probe = beta.SessionConfig(
            input_audio_format=session.input_audio_format,
            input_audio_transcription=session.input_audio_transcription,
            turn_detection=session.turn_detection,
            input_audio_noise_reduction=session.input_audio_noise_reduction,
            include=session.include,
        )
        self._update(probe)
        return []

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
        run = self._writer.runs.get(response_id)
        if run is None:  # the call did not fit (max_items): the response ended failed
            raise LocalProtocolError(
                f"response {response_id!r} ended: the conversation is full",
                code="response_not_active",
            )
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
        self._charge(item_id, self._item_bytes.get(item_id, 0) + len(transcript))

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

    def expire(self, minutes: float = 30) -> list[Effect]:
        """The session reached its maximum length: close responses, send ``session_expired``, end."""
        if self._ended:
            return []
        error = ev.StatusError(type="invalid_request_error", code="session_expired")
        effects = self._close_all("shutdown", ev.StatusDetails(type="failed", error=error))
        self._error("session_expired", expiry_message(minutes))
        self._ended = True
        return effects


_Handler = Callable[[ServerSession, Any, "str | None"], list[Effect]]

# The whole machine: client event class (of either dialect) -> handler.
_HANDLERS: dict[type[ev.ClientEvent], _Handler] = {
    beta.SessionUpdate: ServerSession._session_update,
    ga.SessionUpdate: ServerSession._session_update,
    beta.TranscriptionSessionUpdate: ServerSession._transcription_session_update,
    ev.InputAudioBufferAppend: ServerSession._append,
    ev.InputAudioBufferCommit: ServerSession._manual_commit,
    ev.InputAudioBufferClear: ServerSession._clear,
    ev.OutputAudioBufferClear: ServerSession._output_audio_clear,
    beta.ConversationItemCreate: ServerSession._create,
    ga.ConversationItemCreate: ServerSession._create,
    ev.ConversationItemTruncate: ServerSession._truncate,
    ev.ConversationItemDelete: ServerSession._delete,
    ev.ConversationItemRetrieve: ServerSession._retrieve,
    beta.ResponseCreate: ServerSession._response_create,
    ga.ResponseCreate: ServerSession._response_create,
    ev.ResponseCancel: ServerSession._cancel,
}

assert set(_HANDLERS) == set(beta.CLIENT_EVENTS.values()) | set(ga.CLIENT_EVENTS.values()), (
    "every client event of both dialects needs a handler"
)


def expiry_message(minutes: float) -> str:
    """The ``session_expired`` text: whole minutes as the service says them, else seconds."""
    if minutes >= 1 and minutes == int(minutes):
        return f"Your session hit the maximum duration of {int(minutes)} minutes."
    return f"Your session hit the maximum duration of {round(minutes * 60)} seconds."
