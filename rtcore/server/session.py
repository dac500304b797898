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
buffers, VAD, items, responses and errors below are written once and name no
dialect.

A ``ServerSession`` is its event table (``_event_table``: every client event
type and the handler that answers it, in one place) plus parts with narrow
interfaces, each given in its constructor what it may read and do (see
``core``): ``InputBuffer`` (input audio and VAD, ``buffer``), ``Items``
(conversation items), ``Requests`` (starting and stopping responses) over the
``ResponseWriter`` (writing them, ``responses``), ``McpListings`` (listing MCP
servers' tools; the rules of MCP calls are in ``mcp``), ``Transcriptions``,
``Holdings`` (what the session holds against its memory budget,
``memory``, at the prices of ``costs``) and ``Configuration`` (the session's
configuration and its update, ``configuration``). This module holds the
backend's side and the end of the session.

No part holds the session or one of its bound methods (the only call back
into it, at a response's end, goes through a weak reference): a session and
its parts form no reference cycle, so a closed session is freed by reference
counting as soon as the app drops it, without the cyclic garbage collector.

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
  (``string_above_max_length``, docs/protocol/connection.md#envelope).
* At most one response writes to the conversation at a time; each
  ``response.created`` gets exactly one ``response.done``; nothing follows it.
* Ids come from the injectable factory and time from the audio clock, so the
  same input gives byte-identical output. The one exception is the echo budget
  (``echoes``), which refills with the ``clock`` an adapter may give.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any, Literal

from .. import events as ev
from ..audio.vad import DetectorFactory, EnergyDetector
from ..errors import LocalProtocolError
from ..events import ga
from ..events.codec import client_decoder
from ..ids import DeterministicIds, IdFactory
from ..rules.event_id import check_event_id
from ..rules.reading import Extras
from ..state import Snapshot
from ..state.session import SessionState
from .beta_edge import BetaEdge
from .buffer import InputBuffer
from .config import ServerLimits, default_config, default_rate_limits
from .configuration import Configuration
from .core import FreshIds, Record, TakenIds
from .echoes import Echoes
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
from .mcp_listings import McpListings
from .memory import Holdings
from .requests import Requests
from .responses import ResponseWriter, Run
from .settings import Invalid
from .transcriptions import Transcriptions

__all__ = ["ServerSession", "Received", "expiry_message"]

Received = ev.ClientEvent | Effect
"""What ``receive_message`` returns: the client event it decoded, then the effects it caused."""

Handler = Callable[[Any, "str | None"], list[Effect]]
"""A client event's handler: the event and its ``event_id`` in, the effects out."""

EVENT_TABLE: dict[str, tuple[str, str]] = {
    "session.update": ("_configuration", "update"),
    "transcription_session.update": ("_configuration", "update"),
    "input_audio_buffer.append": ("_buffer", "append"),
    "input_audio_buffer.commit": ("_buffer", "commit"),
    "input_audio_buffer.clear": ("_buffer", "clear"),
    "output_audio_buffer.clear": ("_requests", "output_audio_clear"),
    "conversation.item.create": ("_items", "create"),
    "conversation.item.truncate": ("_items", "truncate"),
    "conversation.item.delete": ("_items", "delete"),
    "conversation.item.retrieve": ("_items", "retrieve"),
    "response.create": ("_requests", "create"),
    "response.cancel": ("_requests", "cancel"),
}
"""The whole machine: every client event type (of either dialect), the part of the session that
handles it and the part's method. Shared by every session (a per-session table of bound methods
cost each idle connection a kilobyte)."""

_EDGES: dict[ev.Dialect, type[BetaEdge] | type[GAEdge]] = {
    edge.dialect: edge for edge in (BetaEdge, GAEdge)
}


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


class ServerSession:
    """One Realtime session, server side, without I/O.

    ``dialect`` is the connection's (``"ga"`` by default; ``"beta"`` when the
    handshake asked for it); ``intent`` the session type the URL asked for.
    ``retain_audio`` (default false): keep audio bytes in the snapshot and for
    user items after the backend has been handed them, or only their
    durations (see ``rtcore.server.memory``). ``model`` is the model the URL
    named (else the dialect's default); ``model_fixed`` whether updates may
    not change it (default: when ``model`` is given; a deployment names a
    model the first update may still set, ``rtcore.rules.model``). ``clock`` (seconds,
    such as ``trio.current_time``) refills the session's echo budget
    (``rtcore.server.echoes``); without one, its echoes are bounded by its memory budget.
    """

    __slots__ = (
        "_buffer",
        "_configuration",
        "_decode",
        "_edge",
        "_ended",
        "_extras",
        "_holdings",
        "_ids",
        "_items",
        "_listings",
        "_record",
        "_requests",
        "_transcriptions",
        "_writer",
        "conversation_id",
        "dialect",
        "intent",
        "limits",
        "__weakref__",
    )

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
        model_fixed: bool | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if dialect not in _EDGES:
            raise ValueError(f"unknown dialect {dialect!r}; expected 'ga' or 'beta'")
        self.dialect: ev.Dialect = dialect
        self.intent = intent
        self.limits = limits = limits or ServerLimits()
        self._edge: Edge = _EDGES[dialect]()
        self._decode = client_decoder(dialect)
        """``decode_client_event`` of the dialect, bound once: it runs once per message."""
        # Minted ids skip the ids a client chose for its items and calls (core.FreshIds); event
        # ids are the server's alone (a client's event ids are another namespace). No part holds
        # the session, nor the session's bound methods: a closed session is freed when its last
        # reference goes, without the cyclic collector (docs/serve-security.md#bounded-sessions).
        factory = id_factory or DeterministicIds()
        taken = TakenIds()
        self._ids = ids = FreshIds(factory, taken)
        self.conversation_id = ids("conv")
        config = default_config(
            ids("sess"),
            model=model if model is not None else self._edge.default_model,
            created_at=created_at,
            kind="transcription" if intent == "transcription" else "realtime",
        )
        # Audio retention (see memory): by default only durations are kept.
        self._record = record = Record(config, Snapshot(retain_audio=retain_audio), factory)
        taken.record = record
        self._ended = False
        self._extras: Extras = {}
        """Settings only the dialect has, as its edge read them (beta's ``temperature``)."""
        record.emit(self._edge.session_event(True, config, self._extras, ids("event")))
        if conversation_created and config.kind != "transcription":
            record.emit(
                ev.ConversationCreated(
                    event_id=ids("event"),
                    conversation=ev.Conversation(
                        id=self.conversation_id, object="realtime.conversation"
                    ),
                )
            )

        # -- the parts, and what each may read and do --
        emit, error = record.emit, record.error  # bound once, shared by the parts
        audio = InputAudio(config.input_format or "pcm16")
        self._holdings = Holdings(
            limits.max_session_bytes, retain_audio=retain_audio, pending=audio.buffer
        )
        self._writer = ResponseWriter(
            view=record,
            emit=emit,
            ids=ids,
            edge=self._edge,
            rate_limits=default_rate_limits if rate_limits else None,
            max_items=limits.max_items,
            on_finish=_weakly(self),
        )
        taken.call_ids = self._writer.call_ids
        echoes = Echoes(limits.echo_bytes_per_second, limits.max_session_bytes, clock)
        self._transcriptions = Transcriptions(emit=emit, ids=ids, holdings=self._holdings)
        self._requests = Requests(
            view=record,
            ids=ids,
            edge=self._edge,
            limits=limits,
            writer=self._writer,
            holdings=self._holdings,
            extras=self._extras,
            conversation_id=self.conversation_id,
        )
        self._buffer = InputBuffer(
            view=record,
            emit=emit,
            error=error,
            ids=ids,
            edge=self._edge,
            limits=limits,
            audio=audio,
            detectors=detector,
            holdings=self._holdings,
            transcriptions=self._transcriptions,
            writer=self._writer,
            start_response=self._requests.start_by_vad,
            interrupt=self._requests.interrupt,
        )
        self._items = Items(
            view=record,
            emit=emit,
            ids=ids,
            edge=self._edge,
            limits=limits,
            writer=self._writer,
            holdings=self._holdings,
            transcriptions=self._transcriptions,
            end_response=self._requests.end,
            echoes=echoes,
        )
        self._listings = McpListings(
            view=record,
            emit=emit,
            error=error,
            ids=ids,
            edge=self._edge,
            limits=limits,
            holdings=self._holdings,
        )
        self._configuration = Configuration(
            record=record,
            edge=self._edge,
            ids=ids,
            writer=self._writer,
            buffer=self._buffer,
            listings=self._listings,
            extras=self._extras,
            model_open=not (model is not None if model_fixed is None else model_fixed),
            limits=limits,
            holdings=self._holdings,
            echoes=echoes,
        )
        self._buffer.configure()

    def _event_table(self) -> dict[str, Handler]:
        """The whole machine: every client event type (of either dialect) and its handler
        (``EVENT_TABLE`` bound to this session's parts)."""
        return {
            kind: getattr(getattr(self, part), name) for kind, (part, name) in EVENT_TABLE.items()
        }

    # -- reading --------------------------------------------------------------------------

    @property
    def state(self) -> Snapshot:
        """The server's own snapshot: what its clients rebuild from its events."""
        return self._record.state

    @property
    def session(self) -> SessionState:
        """The effective session configuration (the same vocabulary in both dialects)."""
        return self._record.config

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
        return self._holdings.audio.get(item_id)

    # -- output ---------------------------------------------------------------------------

    @property
    def has_output(self) -> bool:
        """Whether events are waiting in ``events_to_send``."""
        return bool(self._record.out)

    def events_to_send(self) -> list[ev.ServerEvent]:
        """The server events produced since the last call, in protocol order."""
        record = self._record
        out, record.out = record.out, []
        return out

    def messages_to_send(self) -> list[bytes]:
        """The same as ``events_to_send``, encoded (one text frame each)."""
        if not self._record.out:  # after most appends: nothing to say
            return []
        encode = ev.encode_event
        return [encode(event) for event in self.events_to_send()]

    # -- input ----------------------------------------------------------------------------

    def receive_message(self, data: bytes | str) -> list[Received]:
        """Handle one client message: the decoded event and its effects (``[]`` for bad input)."""
        if self._ended:
            return []
        try:
            event = self._decode(data, True)
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
            self._record.error(error.code, _decode_error_message(error), error.path, error.event_id)

    def reject_unknown(self, event: ev.UnknownEvent) -> None:
        """Answer a client event of a type this dialect does not have."""
        if self._ended:
            return
        allowed = ", ".join(repr(t) for t in ev.client_events(self.dialect))
        self._record.error(
            "invalid_value",
            f"Invalid value: {event.type!r}. Supported values are: {allowed}.",
            "type",
            event.event_id,
        )

    def receive_event(self, event: ev.ClientEvent) -> list[Effect]:
        """Handle one decoded client event; returns the effects for the app."""
        if self._ended:
            return []
        route = EVENT_TABLE.get(event.type)
        raw_id = event.event_id
        event_id = raw_id if isinstance(raw_id, str) else None
        edge = self._edge
        if route is None or type(event) not in edge.client_events:
            self._record.error(
                "invalid_value",
                f"Invalid value: {event.type!r} is not an event of the {self.dialect} dialect.",
                "type",
                event_id,
            )
            return []
        try:
            if event_id is not None:  # most events carry none (an append, say)
                check_event_id(event, edge.max_event_id_length)
            part, name = route
            handler: Handler = getattr(getattr(self, part), name)
            return handler(event, event_id)
        except Invalid as bad:
            self._record.error(bad.code, bad.message, bad.param, event_id)
            return []

    # -- a response's end -----------------------------------------------------------------------------

    def _response_ended(self, run: Run) -> None:
        """A response wrote its ``response.done``: count what it holds; silence begins after
        its playback."""
        self._buffer.played(self._requests.ended(run))

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
        item = self._record.state.item(run.open_item)
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
        return self._requests.end(run, "client_cancelled")

    def transcription_pending(self, item_id: str) -> bool:
        """Whether item ``item_id`` still waits for its transcription result."""
        return self._transcriptions.pending(item_id)

    def transcription_delta(self, item_id: str, delta: str, content_index: int = 0) -> None:
        self._transcriptions.delta(item_id, delta, content_index)

    def complete_transcription(self, item_id: str, transcript: str, content_index: int = 0) -> None:
        """The transcriber's result for a committed item (exactly one per item)."""
        self._transcriptions.complete(item_id, transcript, content_index)

    def fail_transcription(
        self, item_id: str, error: ev.TranscriptionError, content_index: int = 0
    ) -> None:
        self._transcriptions.fail(item_id, error, content_index)

    def mcp_listing_pending(self, item_id: str) -> bool:
        """Whether the listing into item ``item_id`` is still owed (and the item still exists)."""
        return not self._ended and self._listings.pending(item_id)

    def complete_mcp_listing(self, item_id: str, tools: Iterable[ga.McpListedTool]) -> None:
        """The tools the MCP server of item ``item_id`` offers (the answer to ``ListMcpTools``)."""
        self._listings.complete(item_id, tools, ended=self._ended)

    def fail_mcp_listing(self, item_id: str) -> None:
        """The tools of item ``item_id``'s MCP server could not be listed."""
        self._listings.fail(item_id, ended=self._ended)

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
        self._record.error("session_expired", expiry_message(minutes))
        self._ended = True
        return effects


def _weakly(session: ServerSession) -> Callable[[Run], None]:
    """The session's ``_response_ended`` without a strong reference to the session: a part
    calling back into the session must not keep it alive (no reference cycle)."""
    ref = weakref.ref(session)

    def call(run: Run) -> None:
        alive = ref()
        if alive is not None:
            alive._response_ended(run)

    return call


def expiry_message(minutes: float) -> str:
    """The ``session_expired`` text: whole minutes as the service says them, else seconds."""
    if minutes >= 1 and minutes == int(minutes):
        return f"Your session hit the maximum duration of {int(minutes)} minutes."
    return f"Your session hit the maximum duration of {round(minutes * 60)} seconds."
