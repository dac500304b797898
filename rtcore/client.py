"""The client role at message level: ``ClientSession``.

It takes the server's messages one by one, decodes them and folds them into a
``Snapshot`` (``.state``), and checks the client's own events against that
state before turning them into bytes. The rules it enforces:

* Nothing the server sends can make ``receive_message`` raise or corrupt the
  state. A malformed message, or an event that contradicts the state (a delta
  for an item never announced), is returned as a ``RemoteProtocolError`` value
  and recorded in the snapshot's ``protocol_errors``; the rest of the snapshot
  stays as it was.
* ``send`` refuses, with ``LocalProtocolError``, what the server would reject
  and the client can already know is wrong (EVENTS.md section 3, SEQUENCES.md
  sections 8-10): truncating an item that is not assistant audio or past the
  audio received, deleting or inserting after an unknown item, a
  ``function_call_output`` for a call that does not exist, odd-length pcm16.
* Client events get an ``event_id`` when they have none, and the session
  remembers recent ones, so that an ``error`` naming one in ``error.event_id``
  is linked to it (``ErrorRecord.client_event``).
* A session speaks one dialect (``dialect="ga"``, the default, or ``"beta"``):
  it decodes the server's messages with that vocabulary and refuses to send an
  event class the dialect does not have (a beta ``SessionUpdate`` on a GA
  session would be refused by the server for its flat session).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from msgspec.structs import replace

from . import events as ev
from .audio.formats import FORMATS
from .errors import LocalProtocolError, RemoteProtocolError
from .events import beta, ga
from .ids import DeterministicIds, IdFactory
from .state import ItemState, PartState, Snapshot, apply, initial_snapshot, record_protocol_error

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
    ) -> None:
        if dialect not in ("ga", "beta"):
            raise ValueError(f"unknown dialect {dialect!r}; expected 'ga' or 'beta'")
        self.dialect: ev.Dialect = dialect
        self._client_events = frozenset(ev.client_events(dialect).values())
        self._reported_session: object = None
        # retain_audio=False keeps only the length of streamed audio (durations and
        # truncation still work; the bytes are the application's to keep or drop).
        base = state if state is not None else initial_snapshot()
        # None: the given state's policy (a fresh state retains).
        if retain_audio is not None and base.retain_audio != retain_audio:
            base = replace(base, retain_audio=retain_audio)
        self._state = base
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
            event = ev.decode_server_event(data, dialect=self.dialect)
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
        return [self.receive_event(event)]

    def receive_event(self, event: ev.ServerEvent | ev.UnknownEvent) -> ReceivedEvent:
        """Apply one already decoded server event; returns it, or the protocol error it caused."""
        try:
            state = apply(self._state, event)
        except RemoteProtocolError as error:
            self._state = record_protocol_error(self._state, error)
            return error
        if type(event) is ev.ErrorEvent:
            state = self._link_error(state, event)
        elif state.session is not self._state.session:
            self._reported_session = event.session  # type: ignore[union-attr]
        self._state = state
        return event

    def _link_error(self, state: Snapshot, event: ev.ErrorEvent) -> Snapshot:
        client_event_id = event.error.event_id
        if not isinstance(client_event_id, str):
            return state
        client_event = self._sent.get(client_event_id)
        if client_event is None:
            return state
        record = replace(state.errors[-1], client_event=client_event)
        return replace(state, errors=state.errors.set(len(state.errors) - 1, record))

    # -- sending -----------------------------------------------------------------------

    def send(self, event: ev.ClientEvent) -> bytes:
        """Check ``event`` against the state and return the bytes to send in one text frame.

        Raises ``LocalProtocolError`` (and remembers nothing) if the server would
        have to reject it.
        """
        event = self._in_dialect(event)
        self._check(event)
        if isinstance(event.event_id, ev.UnsetType):
            event = replace(event, event_id=self._ids("event"))
        self.note_sent(event)
        return ev.encode_event(event)

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
        """``event`` as its dialect's class; a class of the other dialect passes if its JSON is valid here.

        ``beta.ResponseCreate()`` is the same message in both dialects and may be
        sent on a GA session; a beta ``SessionUpdate`` (a flat session without
        ``type``) may not.
        """
        if type(event) in self._client_events:
            return event
        try:
            same = ev.decode_client_event(ev.encode_event(event), dialect=self.dialect, strict=True)
        except ev.DecodeError as err:
            raise _refuse(
                event,
                "wrong_dialect",
                f"not a valid {self.dialect} event ({err}); this session speaks {self.dialect}"
                + (": use the classes of rtcore.events.ga" if self.dialect == "ga" else ""),
            ) from None
        assert not isinstance(same, ev.UnknownEvent)
        return same

    def _check(self, event: ev.ClientEvent) -> None:
        s = self._state
        if isinstance(event, ev.ConversationItemTruncate):
            _check_truncate(s, event)
        elif isinstance(event, ev.ConversationItemDelete):
            if s.item(event.item_id) is None:
                raise _refuse(event, "unknown_item", f"no item {event.item_id!r} to delete")
        elif isinstance(event, (beta.ConversationItemCreate, ga.ConversationItemCreate)):
            _check_create(s, event)
        elif isinstance(event, ev.InputAudioBufferAppend):
            fmt = (s.session.input_format if s.session is not None else None) or "pcm16"
            if len(event.audio) % FORMATS[fmt].sample_width:
                raise _refuse(
                    event,
                    "invalid_audio",
                    f"{len(event.audio)} bytes is not a whole number of {fmt} samples",
                )
        elif isinstance(event, (beta.SessionUpdate, ga.SessionUpdate)):
            _check_voice(s, event)

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
        if item is None or not _is_assistant_audio(item, content_index):
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


def _refuse(event: ev.ClientEvent, code: str, message: str) -> LocalProtocolError:
    event_id = event.event_id if isinstance(event.event_id, str) else None
    return LocalProtocolError(message, code=code, event_id=event_id, event_type=event.type)


def _is_assistant_audio(item: ItemState, content_index: int) -> bool:
    return (
        item.type == "message"
        and item.role == "assistant"
        and 0 <= content_index < len(item.content)
        and item.content[content_index].type == "audio"
    )


def _check_truncate(s: Snapshot, event: ev.ConversationItemTruncate) -> None:
    item = s.item(event.item_id)
    if item is None:
        raise _refuse(event, "unknown_item", f"no item {event.item_id!r} to truncate")
    if not _is_assistant_audio(item, event.content_index):
        raise _refuse(
            event,
            "unsupported_content_type",
            "Only model output audio messages can be truncated",
        )
    received = item.content[event.content_index].audio_ms
    if not 0 <= event.audio_end_ms <= received:
        raise _refuse(
            event,
            "invalid_value",
            f"audio_end_ms {event.audio_end_ms} is outside the {received} ms of audio received",
        )


def _check_create(
    s: Snapshot, event: beta.ConversationItemCreate | ga.ConversationItemCreate
) -> None:
    anchor = event.previous_item_id
    if isinstance(anchor, str) and anchor != "root" and s.item(anchor) is None:
        raise _refuse(event, "unknown_item", f"previous_item_id {anchor!r} names no item")
    item = event.item
    if isinstance(item.id, str) and s.item(item.id) is not None:
        raise _refuse(event, "duplicate_item", f"an item {item.id!r} already exists")
    if isinstance(item, ev.FunctionCallOutputItem):
        calls = (i for i in s.items if i.type == "function_call" and i.call_id == item.call_id)
        if next(calls, None) is None:
            raise _refuse(event, "unknown_call", f"no function_call with call_id {item.call_id!r}")
    elif isinstance(item, (beta.MessageItem, ga.MessageItem)) and not isinstance(
        item.content, ev.UnsetType
    ):
        allowed = (_ALLOWED_GA_PARTS if isinstance(item, ga.MessageItem) else _ALLOWED_PARTS)[
            item.role
        ]
        for i, part in enumerate(item.content):
            if part.type not in allowed:
                raise _refuse(
                    event,
                    "invalid_value",
                    f"item.content[{i}]: a {item.role} message cannot hold a {part.type} part",
                )


_ALLOWED_PARTS: dict[str, frozenset[str]] = {
    "user": frozenset({"input_text", "input_audio"}),
    "system": frozenset({"input_text"}),
    "assistant": frozenset({"text"}),
}
_ALLOWED_GA_PARTS: dict[str, frozenset[str]] = {
    "user": frozenset({"input_text", "input_audio", "input_image"}),
    "system": frozenset({"input_text"}),
    "assistant": frozenset({"output_text"}),
}


def _requested_voice(event: beta.SessionUpdate | ga.SessionUpdate) -> object:
    session = event.session
    if isinstance(session, beta.SessionConfig):
        return session.voice
    if not isinstance(session, ga.RealtimeSessionConfig):
        return None
    audio = session.audio
    if audio is None or isinstance(audio, ev.UnsetType):
        return None
    output = audio.output
    return None if output is None or isinstance(output, ev.UnsetType) else output.voice


def _check_voice(s: Snapshot, event: beta.SessionUpdate | ga.SessionUpdate) -> None:
    voice = _requested_voice(event)
    if voice is None or isinstance(voice, ev.UnsetType) or s.session is None:
        return
    if s.session.voice == voice:
        return
    for item in s.items:
        if item.role == "assistant" and any(p.type == "audio" for p in item.content):
            raise _refuse(
                event,
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
            )


def replay_events(
    snapshot: Snapshot,
    *,
    keep_ids: bool = True,
    unheard: Literal["drop", "keep"] = "drop",
    dialect: ev.Dialect = ev.DEFAULT_DIALECT,
) -> list[beta.ConversationItemCreate | ga.ConversationItemCreate]:
    """``conversation.item.create`` events that rebuild ``snapshot``'s conversation in a new session.

    State is not kept across connections (SEQUENCES.md section 17), and a
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
    out: list[beta.ConversationItemCreate | ga.ConversationItemCreate] = []
    for item in snapshot.items:
        wire = _replayed_item(item, unheard, dialect)
        if wire is None:
            continue
        if not keep_ids:
            wire = replace(wire, id=ev.UNSET)
        if dialect == "ga":
            assert not isinstance(wire, beta.MessageItem)
            out.append(ga.ConversationItemCreate(item=wire))
        else:
            assert not isinstance(wire, ga.MessageItem)
            out.append(beta.ConversationItemCreate(item=wire))
    return out


def _replayed_item(
    item: ItemState, unheard: str, dialect: ev.Dialect
) -> beta.Item | ga.MessageItem | None:
    if item.type not in ("message", "function_call", "function_call_output"):
        return None
    if item.type == "function_call":
        return ev.FunctionCallItem(
            id=item.id,
            call_id=item.call_id if item.call_id is not None else ev.UNSET,
            name=item.name if item.name is not None else ev.UNSET,
            arguments=item.arguments.value if item.arguments is not None else "",
        )
    if item.type == "function_call_output":
        assert item.call_id is not None
        return ev.FunctionCallOutputItem(id=item.id, call_id=item.call_id, output=item.output or "")
    assert item.role is not None
    texts = [t for t in (_replayed_text(p, unheard) for p in item.content) if t is not None]
    if not texts:
        return None
    if dialect == "ga":
        ga_parts = tuple(
            ga.OutputTextContent(text=t)
            if item.role == "assistant"
            else ev.InputTextContent(text=t)
            for t in texts
        )
        return ga.MessageItem(id=item.id, role=item.role, content=ga_parts)
    parts = tuple(
        ev.TextContent(text=t) if item.role == "assistant" else ev.InputTextContent(text=t)
        for t in texts
    )
    return beta.MessageItem(id=item.id, role=item.role, content=parts)


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
