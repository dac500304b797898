"""The client role at message level: ``ClientSession``.

It takes the server's messages one by one, decodes them and folds them into a
``Snapshot`` (``.state``), and checks the client's own events against that
state before turning them into bytes. The rules it enforces:

* Nothing the server sends can make ``receive_message`` raise or corrupt the
  state. A malformed message, or an event that contradicts the state (a delta
  for an item never announced), is returned as a ``RemoteProtocolError`` value
  and recorded in the snapshot's ``protocol_errors``; the rest of the snapshot
  stays as it was.
* ``send`` refuses, with ``LocalProtocolError``, what the server of its
  dialect would refuse, with the ``code`` and ``param`` of the server's
  ``error``: the checks of ``rtcore.client_checks``, made with the server's
  own rule functions (``rtcore.rules``) on the client's snapshot. Refusals
  that depend on what only the server knows - its limits and what its VAD
  left in the input buffer - are not made here:
  ``input_audio_buffer_commit_empty``, ``conversation_full``,
  ``session_memory_exceeded``, ``input_audio_buffer_full``,
  ``too_many_out_of_band_responses``, and ``invalid_value`` for an append
  over the server's ``max_append_bytes`` (``client_checks.SERVER_ONLY_CODES``).
* The voice lock follows whether the model has ever spoken in the session
  (an audio delta received), as the server's does, not the items present now.
* The model lock (``rtcore.rules.model``) follows what the client was told at
  connection time (``model_fixed``: the URL named the model) and the
  ``session.update`` events naming a model that the server answered with
  ``session.updated``; while one is unanswered, a model is let through.
* Client events get an ``event_id`` when they have none, and the session
  remembers recent ones, so that an ``error`` naming one in ``error.event_id``
  is linked to it (``ErrorRecord.client_event``).
* A session speaks one dialect (``dialect="ga"``, the default, or ``"beta"``)
  through its client edge (``rtcore.client_edge``): it decodes the server's
  messages with that vocabulary, and reads every event it sends the way that
  dialect's server does (a beta ``SessionUpdate`` on a GA session is refused
  for its missing ``session.type``, as the GA server refuses it).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Literal

from msgspec.structs import replace

from . import events as ev
from .client_checks import check_client_event
from .client_edge import ClientEdge, client_edge
from .errors import LocalProtocolError, RemoteProtocolError
from .events import beta, ga
from .events.codec import server_decoder
from .ids import DeterministicIds, IdFactory
from .rules.conversation import is_assistant_audio
from .rules.refusal import Invalid
from .rules.wire_items import function_call_output_wire, function_call_wire
from .state import ItemState, PartState, Snapshot, apply, initial_snapshot, record_protocol_error
from .state.transitions import step_for

__all__ = ["ClientSession", "ReceivedEvent", "replay_events"]

ReceivedEvent = ev.ServerEvent | ev.UnknownEvent | RemoteProtocolError
"""What ``receive_message`` returns: a server event, an unknown event, or the peer's protocol error."""


class ClientSession:
    """The client side of one Realtime session, without I/O.

    ``receive_message(data)`` for every message from the server; ``send(event)``
    for every event the client wants to send (put the returned bytes in a text
    frame); ``state`` is the snapshot after the last server event.
    ``retain_audio=False`` keeps only the length of streamed output audio in
    the snapshot (``AudioLength``), not its bytes; the default keeps them.
    """

    def __init__(
        self,
        *,
        id_factory: IdFactory | None = None,
        state: Snapshot | None = None,
        remember: int = 1024,
        dialect: ev.Dialect = ev.DEFAULT_DIALECT,
        retain_audio: bool | None = None,
        model_fixed: bool = False,
    ) -> None:
        self._edge: ClientEdge = client_edge(dialect)
        self._decode = server_decoder(dialect)
        self._model_open = not model_fixed
        """Whether an update naming a model still sets it (the URL named none, or a deployment)."""
        self._updates: deque[tuple[str, bool]] = deque()
        """The session updates sent and not yet answered: ``event_id`` and whether it names a
        model (the server answers them in order, each with ``session.updated`` or an ``error``)."""
        self.dialect: ev.Dialect = dialect
        self._reported_session: object = None
        self._audio_produced = False
        """Whether the model has spoken in this session (the voice is locked from then on)."""
        self._call_ids: set[str] = set()
        """Every function call id the session has seen (an output may answer any of them)."""
        self._calls_sent: dict[str, str] = {}
        """Function calls this client created, by the ``event_id`` of their
        ``conversation.item.create``: the server knows them before it reads what
        follows (``replay_events`` sends a call and its output back to back),
        unless it refused the create."""
        self._creates_unanswered = 0
        """``response.create`` events sent and not yet answered (``response.created`` or an
        ``error`` naming them): while one is, a response may be running that the state
        does not show yet, so a ``response.cancel`` is not refused."""
        # retain_audio=False keeps only the length of streamed audio (durations and
        # truncation still work; the bytes are the application's to keep or drop).
        base = state if state is not None else initial_snapshot()
        # None: the given state's policy (a fresh state retains).
        if retain_audio is not None and base.retain_audio != retain_audio:
            base = replace(base, retain_audio=retain_audio)
        self._state = base
        # A session resumed from a snapshot: what it shows has been heard already.
        for item in base.conversation if state is not None else ():
            if any(p.type == "audio" and p.audio is not None for p in item.content):
                self._audio_produced = True
            if item.type == "function_call" and item.call_id is not None:
                self._call_ids.add(item.call_id)
        self._unwatched = _UNWATCHED_SPOKEN if self._audio_produced else _UNWATCHED
        """The steps ``receive_message`` takes without a watcher: ``_UNWATCHED``, and the audio
        deltas once the model has spoken (the voice lock then has nothing left to note). Shared
        by every session (never changed, only replaced): a session makes no copy of its own."""
        self._ids: IdFactory = id_factory or DeterministicIds(b"rtcore-client")
        self._sent: OrderedDict[str, ev.ClientEvent] = OrderedDict()
        self._remember = remember

    @property
    def state(self) -> Snapshot:
        """The snapshot after the last server event (immutable; keep it as long as you like)."""
        return self._state

    @property
    def reported_session(
        self,
    ) -> (
        beta.Session
        | beta.TranscriptionSession
        | ga.RealtimeSession
        | ga.TranscriptionSession
        | None
    ):
        """The session object exactly as the server last reported it, in its dialect.

        The snapshot holds the same settings read into one vocabulary
        (``Snapshot.session``); this is the place for what only one dialect
        reports, such as beta's ``temperature``.
        """
        return self._reported_session  # type: ignore[return-value]

    # -- receiving ---------------------------------------------------------------------

    def receive_message(self, data: bytes | str) -> list[ReceivedEvent]:
        """Decode and apply one server message; never raises for anything the server sends."""
        try:
            event = self._decode(data)
        except ev.DecodeError as err:
            error = RemoteProtocolError(
                f"malformed server message: {err}",
                code=err.code,
                param=err.path,
                event_id=err.event_id,
                event_type=err.event_type,
            )
            self._state = record_protocol_error(self._state, error)
            return [error]
        # ``receive_event``, inlined: this runs once per message, and the call was a
        # measurable share of the pipeline (tests/test_client_pipeline.py checks that the
        # two agree). Most events are neither watched nor a session report: their step is
        # the whole of ``apply``, found with one look-up.
        current = self._state
        try:
            step = self._unwatched.get(type(event))
            if step is not None:
                state = step(current, event)
            else:
                state = self._watched(current, event)
        except RemoteProtocolError as error:
            self._state = record_protocol_error(current, error)
            return [error]
        self._state = state
        return [event]

    def receive_event(self, event: ev.ServerEvent | ev.UnknownEvent) -> ReceivedEvent:
        """Apply one already decoded server event; returns it, or the protocol error it caused."""
        try:
            state = self._watched(self._state, event)
        except RemoteProtocolError as error:
            self._state = record_protocol_error(self._state, error)
            return error
        self._state = state
        return event

    def _watched(self, current: Snapshot, event: ev.ServerEvent | ev.UnknownEvent) -> Snapshot:
        """``apply``, then what the client notes beyond the snapshot (``_WATCHED``)."""
        kind = type(event)
        step = _STEPS.get(kind)
        state = apply(current, event) if step is None else step(current, event)
        watch = _WATCHED.get(kind)
        return state if watch is None else watch(self, state, event)

    def _link_error(self, state: Snapshot, event: ev.ErrorEvent) -> Snapshot:
        client_event_id = event.error.event_id
        if not isinstance(client_event_id, str):
            return state
        client_event = self._sent.get(client_event_id)
        if client_event is None:
            return state
        if isinstance(client_event, beta.ResponseCreate | ga.ResponseCreate):
            self._creates_unanswered = max(0, self._creates_unanswered - 1)
        elif self._updates and self._updates[0][0] == client_event_id:
            self._updates.popleft()  # refused: the model stays as it was
        self._calls_sent.pop(client_event_id, None)  # refused: the server has no such call
        record = replace(state.errors[-1], client_event=client_event)
        return replace(state, errors=state.errors.set(len(state.errors) - 1, record))

    def _session_reported(self, state: Snapshot, event: object) -> Snapshot:
        if state.session is not self._state.session:
            self._reported_session = getattr(event, "session", None)
        return state

    def _session_updated(self, state: Snapshot, event: object) -> Snapshot:
        state = self._session_reported(state, event)
        if self._updates and self._updates.popleft()[1]:
            self._model_open = False
        return state

    def _spoke(self, state: Snapshot, event: object) -> Snapshot:
        self._audio_produced = True
        self._unwatched = _UNWATCHED_SPOKEN
        return state

    def _saw_item(self, state: Snapshot, event: object) -> Snapshot:
        item = getattr(event, "item", None)
        if isinstance(item, ev.FunctionCallItem) and isinstance(item.call_id, str):
            self._call_ids.add(item.call_id)
        return state

    def _response_started(self, state: Snapshot, event: object) -> Snapshot:
        self._creates_unanswered = max(0, self._creates_unanswered - 1)
        return state

    def _saw_response(self, state: Snapshot, event: object) -> Snapshot:
        response = getattr(event, "response", None)
        for item in getattr(response, "output", ()):
            if isinstance(item, ev.FunctionCallItem) and isinstance(item.call_id, str):
                self._call_ids.add(item.call_id)
        return state

    # -- sending -----------------------------------------------------------------------

    def send(self, event: ev.ClientEvent) -> bytes:
        """Check ``event`` against the state and return the bytes to send in one text frame.

        Raises ``LocalProtocolError`` (and remembers nothing) if the server
        would refuse it; its ``code`` and ``param`` are those of the server's
        ``error``.
        """
        return ev.encode_event(self.prepare(event))

    def prepare(self, event: ev.ClientEvent, *, decoded: bool = False) -> ev.ClientEvent:
        """``send`` without the encoding: the checked event as it goes out (with its ``event_id``).

        ``decoded=True`` says that ``event`` came from the strict decoder of a
        dialect whose class it has here (``ServerConnection``'s, as in a relay),
        so it is not read again the way this dialect's server reads it: that
        would give the same event back.
        """
        if not decoded or type(event) not in self._edge.client_events:
            event = self._in_dialect(event)
        try:
            check_client_event(
                self._edge,
                self._state,
                event,
                call_ids=self._known_calls(),
                audio_produced=self._audio_produced,
                response_pending=self._creates_unanswered > 0,
                model_open=self._model_open or any(named for _, named in self._updates),
            )
        except Invalid as bad:
            raise _refuse(event, bad.code, bad.message, bad.param) from None
        if isinstance(event.event_id, ev.UnsetType):
            event = replace(event, event_id=self._ids("event"))
        self.note_sent(event)
        if isinstance(event, beta.ResponseCreate | ga.ResponseCreate):
            self._creates_unanswered += 1
        elif isinstance(event, _SESSION_UPDATES):
            assert isinstance(event.event_id, str)
            self._updates.append((event.event_id, _names_model(event)))
        elif isinstance(event, beta.ConversationItemCreate | ga.ConversationItemCreate):
            item = event.item
            if isinstance(item, ev.FunctionCallItem) and isinstance(item.call_id, str):
                assert isinstance(event.event_id, str)
                self._calls_sent[event.event_id] = item.call_id
        return event

    def _known_calls(self) -> set[str] | frozenset[str]:
        if not self._calls_sent:
            return self._call_ids
        return self._call_ids | set(self._calls_sent.values())

    def note_sent(self, event: ev.ClientEvent) -> None:
        """Remember a client event sent by other means (e.g. when replaying a recording)."""
        if isinstance(event.event_id, str):
            self._sent[event.event_id] = event
            if len(self._sent) > self._remember:
                self._sent.popitem(last=False)

    def sent_event(self, event_id: str) -> ev.ClientEvent | None:
        """A recently sent client event by ``event_id``."""
        return self._sent.get(event_id)

    def _in_dialect(self, event: ev.ClientEvent) -> ev.ClientEvent:
        """``event`` read the way this dialect's server reads it: its JSON decoded strictly.

        ``beta.ResponseCreate()`` is the same message in both dialects and may be
        sent on a GA session; a beta ``SessionUpdate`` (a flat session without
        ``type``) may not, and neither may a class whose JSON the dialect reads
        differently (a beta ``text`` part in a GA assistant message). A value
        the codec refuses is refused with the codec's code and path, as the
        server answers it.
        """
        try:
            same = ev.decode_client_event(ev.encode_event(event), dialect=self.dialect, strict=True)
        except ev.DecodeError as err:
            # Point at the right namespace only when the class came from the other one.
            hint = (
                ""
                if type(event) in self._edge.client_events
                else f"; this session speaks {self.dialect}: use the classes of"
                f" {self._edge.namespace}"
            )
            raise _refuse(
                event, err.code, f"not a valid {self.dialect} event ({err}){hint}", err.path
            ) from None
        if isinstance(same, ev.UnknownEvent) or type(same) not in self._edge.client_events:
            raise _refuse(
                event,
                "invalid_value",
                f"{event.type!r} is not an event of the {self.dialect} dialect",
                "type",
            )
        return same

    # -- helpers apps need -------------------------------------------------------------

    def truncate_playback(
        self, item_id: str, played_ms: int, *, content_index: int = 0
    ) -> ev.ConversationItemTruncate | None:
        """The ``conversation.item.truncate`` to send after playing ``played_ms`` of an item.

        ``played_ms`` is clamped to the audio received so far. Returns ``None``
        when there is nothing to cut: the item's audio is complete and all of it
        was played. Raises ``LocalProtocolError`` for an item that is not
        assistant audio.
        """
        item = self._state.item(item_id)
        if item is None or not is_assistant_audio(item, content_index):
            raise LocalProtocolError(
                f"item {item_id!r} has no assistant audio at content index {content_index}",
                code="unsupported_content_type",
            )
        part = item.content[content_index]
        received = part.audio_ms
        if part.audio_done and played_ms >= received:
            return None
        return ev.ConversationItemTruncate(
            item_id=item_id,
            content_index=content_index,
            audio_end_ms=max(0, min(played_ms, received)),
        )


def _refuse(
    event: ev.ClientEvent, code: str | None, message: str, param: str | None = None
) -> LocalProtocolError:
    event_id = event.event_id if isinstance(event.event_id, str) else None
    return LocalProtocolError(
        message, code=code, param=param, event_id=event_id, event_type=event.type
    )


_Watch = Callable[[ClientSession, Snapshot, ev.ServerEvent | ev.UnknownEvent], Snapshot]

# Server events the client notes beyond the snapshot: errors (linked to the event they
# name), audio (the voice lock), items that may carry a function call (the calls an
# output may answer, deleted ones included), and the session as reported.
_WATCHED: dict[type, _Watch] = {
    ev.ErrorEvent: ClientSession._link_error,  # type: ignore[dict-item]
    beta.ResponseAudioDelta: ClientSession._spoke,
    ga.ResponseOutputAudioDelta: ClientSession._spoke,
    beta.ConversationItemCreated: ClientSession._saw_item,
    ga.ConversationItemAdded: ClientSession._saw_item,
    ga.ConversationItemCreated: ClientSession._saw_item,
    beta.ResponseOutputItemAdded: ClientSession._saw_item,
    ga.ResponseOutputItemAdded: ClientSession._saw_item,
    beta.ResponseOutputItemDone: ClientSession._saw_item,
    ga.ResponseOutputItemDone: ClientSession._saw_item,
    beta.ResponseCreated: ClientSession._response_started,
    ga.ResponseCreated: ClientSession._response_started,
    beta.ResponseDone: ClientSession._saw_response,
    ga.ResponseDone: ClientSession._saw_response,
    beta.SessionUpdated: ClientSession._session_updated,
    beta.TranscriptionSessionUpdated: ClientSession._session_updated,
    ga.SessionUpdated: ClientSession._session_updated,
    beta.SessionCreated: ClientSession._session_reported,
    beta.TranscriptionSessionCreated: ClientSession._session_reported,
    ga.SessionCreated: ClientSession._session_reported,
}

# The audio deltas' steps, unwatched once the model has spoken (``ClientSession._spoke``).
_SPOKEN: dict[type, Callable[[Snapshot, Any], Snapshot]] = {
    kind: step
    for kind in (beta.ResponseAudioDelta, ga.ResponseOutputAudioDelta)
    if (step := step_for(kind)) is not None
}

# Every event class of either dialect and its step of the state machine (``apply``).
_STEPS: dict[type, Callable[[Snapshot, Any], Snapshot]] = {
    kind: step
    for kind in (*beta.SERVER_EVENTS.values(), *ga.SERVER_EVENTS.values())
    if (step := step_for(kind)) is not None
}

# Those the client does not watch: their step is all there is to receiving them.
_UNWATCHED = {kind: step for kind, step in _STEPS.items() if kind not in _WATCHED}
_UNWATCHED_SPOKEN = {**_UNWATCHED, **_SPOKEN}

_SESSION_UPDATES = (beta.SessionUpdate, beta.TranscriptionSessionUpdate, ga.SessionUpdate)


def _names_model(
    event: beta.SessionUpdate | beta.TranscriptionSessionUpdate | ga.SessionUpdate,
) -> bool:
    """Whether a session update names the session's model (a transcription session has none)."""
    return isinstance(getattr(event.session, "model", None), str)


def _is_assistant_audio(item: ItemState, content_index: int) -> bool:
    return (
        item.type == "message"
        and item.role == "assistant"
        and 0 <= content_index < len(item.content)
        and item.content[content_index].type == "audio"
    )


def replay_events(
    snapshot: Snapshot,
    *,
    keep_ids: bool = True,
    unheard: Literal["drop", "keep"] = "drop",
    dialect: ev.Dialect = ev.DEFAULT_DIALECT,
) -> list[beta.ConversationItemCreate | ga.ConversationItemCreate]:
    """``conversation.item.create`` events that rebuild ``snapshot``'s conversation in a new session.

    State is not kept across connections (docs/protocol/flows.md#end-of-session), and a
    client cannot insert assistant audio, so assistant turns come back as text
    (their transcript) and user audio as its input transcription (items whose
    audio was never transcribed are skipped). For a truncated assistant turn,
    ``unheard="drop"`` keeps only the share of the transcript that was heard,
    estimated from the played and received audio and cut at a word boundary;
    ``"keep"`` keeps all of it. Function calls and their outputs are replayed
    as they are; MCP items are the server's own and are not replayed. The
    events are in ``dialect`` (GA assistant text is ``output_text``). Send
    them in order; each appends to the conversation.
    """
    edge = client_edge(dialect)
    out: list[beta.ConversationItemCreate | ga.ConversationItemCreate] = []
    for item in snapshot.items:
        wire = _replayed_item(item, unheard, edge)
        if wire is None:
            continue
        if not keep_ids:
            wire = replace(wire, id=ev.UNSET)
        out.append(edge.item_create(wire))
    return out


def _replayed_item(
    item: ItemState, unheard: str, edge: ClientEdge
) -> beta.Item | ga.MessageItem | None:
    if item.type == "function_call":
        return function_call_wire(item, with_status=False)
    if item.type == "function_call_output":
        return function_call_output_wire(item, with_status=False)
    if item.type != "message":
        return None
    assert item.role is not None
    texts = [t for t in (_replayed_text(p, unheard) for p in item.content) if t is not None]
    if not texts:
        return None
    message = edge.text_message(item.id, item.role, texts)
    assert isinstance(message, beta.MessageItem | ga.MessageItem)
    return message


def _replayed_text(part: PartState, unheard: str) -> str | None:
    if part.type in ("text", "input_text"):
        return part.text.value if part.text is not None else None
    if part.type in ("audio", "input_audio"):
        if part.truncated_at_ms is not None and part.generated_transcript is not None:
            full, total_ms = part.generated_transcript, part.generated_audio_ms
            if unheard == "keep" or not total_ms:
                return full or None
            heard = _heard_share(full, min(part.truncated_at_ms / total_ms, 1.0))
            return heard or None
        if part.transcript is not None and part.transcript.value.strip():
            return part.transcript.value.strip()
    return None


def _heard_share(text: str, fraction: float) -> str:
    """The first ``fraction`` of ``text``, cut back to the last whole word."""
    cut = int(len(text) * fraction)
    if cut >= len(text):
        return text
    head = text[:cut]
    if cut and not text[cut].isspace() and " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip()
