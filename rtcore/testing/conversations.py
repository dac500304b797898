"""Hypothesis strategies for whole conversations: valid server and client streams, invalid events.

A conversation is drawn as a short list of ``Step`` values (a text answer, a
spoken one, a tool call round trip, a cancel, a truncation, an item created
and deleted or retrieved, a session update, user audio committed and
transcribed, an invalid event; MCP is not drawn yet) and played
through a real ``ServerSession`` of the dialect asked, which answers as the
reference server does. So a drawn stream is valid by construction: every
event in it is one the server role emits, in the order it emits them
(docs/protocol/flows.md#event-order-per-flow). Shrinking works on the steps and their
texts, which is why a counterexample reads as a few steps and a few dozen
events rather than as a heap of JSON.

* ``server_streams(dialect)``: ``Conversation`` values whose ``server``
  messages a conforming client must take without a protocol error or an
  anomaly.
* ``client_streams(dialect)``: the client's side of such conversations
  without invalid steps: event sequences a conforming server accepts
  without an ``error``.
* ``invalid_events(dialect)``: ``InvalidEvent`` values, a message and the
  ``error`` (type, code, param) a conforming server answers it with
  (docs/protocol/connection.md#envelope): made-up item ids, unknown event
  types, malformed JSON, missing required fields, and a valid event with an
  unknown field added (strict servers answer ``unknown_parameter``).

``play(dialect, steps)`` is the player itself, for a test that wants a fixed
conversation. It checks its own work: a step that is meant to be valid and
draws an ``error`` from the server raises ``AssertionError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

import msgspec
from hypothesis import strategies as st

from .. import events as ev
from ..events import beta, ga
from ..server import (
    ArgumentsChunk,
    AudioChunk,
    Finish,
    FunctionCallChunk,
    OutputChunk,
    ServerSession,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)
from .vocabulary import events_of

__all__ = [
    "Conversation",
    "InvalidEvent",
    "Step",
    "StepKind",
    "client_streams",
    "invalid_events",
    "play",
    "server_streams",
    "steps",
]

StepKind = Literal[
    "text",
    "audio",
    "call",
    "cancel",
    "truncate",
    "delete",
    "retrieve",
    "session",
    "transcription",
    "invalid",
]
VALID_KINDS: tuple[StepKind, ...] = (
    "text",
    "audio",
    "call",
    "cancel",
    "truncate",
    "delete",
    "retrieve",
    "session",
    "transcription",
)
AUDIO_BYTES_PER_CHAR = 2400
"""pcm16 at 24 kHz: 50 ms of (silent) model audio per character of its transcript."""


class Step(msgspec.Struct, frozen=True):
    """One step of a drawn conversation: what the client does and what the model answers.

    ``text`` is what the user says (or the instructions, for ``session``) and
    what the model answers, sent in pieces of ``chunk`` characters;
    ``invalid`` picks the entry of the invalid events for ``invalid``.
    """

    kind: StepKind
    text: str = "hi"
    chunk: int = 4
    invalid: int = 0


class InvalidEvent(msgspec.Struct, frozen=True):
    """A client message and the ``error`` a conforming server answers it with."""

    message: bytes
    code: str
    param: str | None
    type: str = "invalid_request_error"


class Conversation(msgspec.Struct, frozen=True):
    """A played conversation: its steps, and the messages of each direction in order."""

    dialect: ev.Dialect
    steps: tuple[Step, ...]
    client: tuple[bytes, ...]
    """What the client sent, one JSON message each."""
    server: tuple[bytes, ...]
    """What the server sent, one JSON message each, in order."""
    invalid: tuple[InvalidEvent, ...] = ()
    """The invalid events the conversation's ``invalid`` steps sent."""

    def server_types(self) -> list[str]:
        """The server events' ``type`` names, for a readable failure message."""
        return [json.loads(m)["type"] for m in self.server]


def _fixed_invalid(dialect: ev.Dialect) -> tuple[InvalidEvent, ...]:
    def j(obj: object) -> bytes:
        return json.dumps(obj).encode()

    unknown_session = (
        InvalidEvent(
            j({"type": "session.update", "session": {"bogus": 1}}),
            "missing_required_parameter",
            "session.type",
        )
        if dialect == "ga"
        else InvalidEvent(
            j({"type": "session.update", "session": {"bogus": 1}}),
            "unknown_parameter",
            "session.bogus",
        )
    )
    return (
        InvalidEvent(
            j({"type": "conversation.item.delete", "item_id": "nope"}), "invalid_value", "item_id"
        ),
        InvalidEvent(
            j({"type": "conversation.item.retrieve", "item_id": "nope"}), "invalid_value", "item_id"
        ),
        InvalidEvent(
            j(
                {
                    "type": "conversation.item.truncate",
                    "item_id": "nope",
                    "content_index": 0,
                    "audio_end_ms": 0,
                }
            ),
            "invalid_value",
            "item_id",
        ),
        InvalidEvent(j({"type": "no.such.event"}), "invalid_value", "type"),
        InvalidEvent(b"not json", "invalid_event", None),
        InvalidEvent(b"[1]", "invalid_event", None),
        InvalidEvent(
            j({"type": "conversation.item.delete"}), "missing_required_parameter", "item_id"
        ),
        InvalidEvent(j({"type": "response.cancel"}), "response_cancel_not_active", None),
        unknown_session,
    )


# -- the player -----------------------------------------------------------------------------


class _Player:
    """One ``ServerSession`` and the messages of both directions."""

    def __init__(self, dialect: ev.Dialect) -> None:
        self.dialect = dialect
        self.server = ServerSession(dialect=dialect)
        self.client: list[bytes] = []
        self.received: list[bytes] = list(self.server.messages_to_send())
        self.calls = 0

    def send(
        self, message: bytes, step: Step, answer: Callable[[StartResponse], None]
    ) -> list[bytes]:
        """Send one message; the backend ``answer``s each response it starts. Returns what came back."""
        self.client.append(message)
        for effect in self.server.receive_message(message):
            if isinstance(effect, StartResponse):
                answer(effect)
            elif isinstance(effect, Transcribe):
                self.server.complete_transcription(effect.item_id, step.text)
        out = self.server.messages_to_send()
        self.received.extend(out)
        if step.kind != "invalid":
            errors = [m for m in out if json.loads(m).get("type") == "error"]
            assert not errors, f"step {step!r} drew {errors[0]!r}"
        return out

    def event(
        self, event: ev.ClientEvent, step: Step, answer: Callable[[StartResponse], None]
    ) -> list[bytes]:
        return self.send(ev.encode_event(event), step, answer)

    def produce(
        self, start: StartResponse, chunks: Sequence[OutputChunk], finish: bool = True
    ) -> None:
        rid = start.response_id
        for chunk in [*chunks, Finish()] if finish else chunks:
            if self.server.is_active(rid):
                self.server.produce(rid, chunk)

    def user_message(self, text: str, step: Step) -> None:
        content = (ev.InputTextContent(text=text),)
        create: ev.ClientEvent = (
            ga.ConversationItemCreate(item=ga.MessageItem(role="user", content=content))
            if self.dialect == "ga"
            else beta.ConversationItemCreate(item=beta.MessageItem(role="user", content=content))
        )
        self.event(create, step, _no_response)

    def response_create(self, text_only: bool) -> ev.ClientEvent:
        if self.dialect == "ga":
            params = ga.ResponseParams(output_modalities=("text",)) if text_only else ev.UNSET
            return ga.ResponseCreate(response=params)
        beta_params = beta.ResponseParams(modalities=("text",)) if text_only else ev.UNSET
        return beta.ResponseCreate(response=beta_params)

    def last_item(self) -> str:
        return self.server.state.order[-1]


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _no_response(start: StartResponse) -> None:
    raise AssertionError(f"no response was asked for, yet {start.response_id} started")


def _spoken(player: _Player, step: Step) -> Callable[[StartResponse], None]:
    """A backend that answers with ``step.text``: spoken when the response has audio, else written."""

    def answer(start: StartResponse) -> None:
        chunks: list[OutputChunk] = []
        for piece in _pieces(step.text, step.chunk):
            if start.settings.audio:
                chunks += [
                    TranscriptChunk(piece),
                    AudioChunk(bytes(AUDIO_BYTES_PER_CHAR * len(piece))),
                ]
            else:
                chunks.append(TextChunk(piece))
        player.produce(start, chunks)

    return answer


def _play_step(player: _Player, step: Step) -> InvalidEvent | None:
    kind = step.kind
    if kind == "invalid":
        table = _fixed_invalid(player.dialect)
        invalid = table[step.invalid % len(table)]
        player.send(invalid.message, step, _no_response)
        return invalid
    if kind == "session":
        session: ev.ClientEvent = (
            ga.SessionUpdate(session=ga.RealtimeSessionConfig(instructions=step.text))
            if player.dialect == "ga"
            else beta.SessionUpdate(session=beta.SessionConfig(instructions=step.text))
        )
        player.event(session, step, _no_response)
        return None
    if kind == "transcription":
        _transcription(player, step)
        return None
    player.user_message(step.text, step)
    if kind in ("delete", "retrieve"):
        target = ev.ConversationItemDelete if kind == "delete" else ev.ConversationItemRetrieve
        player.event(target(item_id=player.last_item()), step, _no_response)
        return None
    if kind in ("text", "audio", "truncate"):
        player.event(player.response_create(kind == "text"), step, _spoken(player, step))
        if kind == "truncate":
            # Truncate the spoken answer within what was sent (50 ms a character).
            ms = 50 * max(len(step.text) // 2, 0)
            truncate = ev.ConversationItemTruncate(
                item_id=player.last_item(), content_index=0, audio_end_ms=ms
            )
            player.event(truncate, step, _no_response)
        return None
    if kind == "cancel":
        started: list[str] = []

        def begin(start: StartResponse) -> None:
            started.append(start.response_id)
            player.produce(start, [TextChunk(p) for p in _pieces(step.text, step.chunk)[:1]], False)

        player.event(player.response_create(True), step, begin)
        player.event(ev.ResponseCancel(response_id=started[0]), step, _no_response)
        return None
    # "call": the model calls a tool, the client answers it, the model reads the answer.
    player.calls += 1
    call_id = f"call_{player.calls}"
    arguments = json.dumps({"q": step.text})

    def call(start: StartResponse) -> None:
        chunks: list[OutputChunk] = [FunctionCallChunk(name="lookup", call_id=call_id)]
        chunks += [ArgumentsChunk(p) for p in _pieces(arguments, step.chunk)]
        player.produce(start, chunks)

    player.event(player.response_create(True), step, call)
    output = ev.FunctionCallOutputItem(call_id=call_id, output=json.dumps({"answer": step.text}))
    create: ev.ClientEvent = (
        ga.ConversationItemCreate(item=output)
        if player.dialect == "ga"
        else beta.ConversationItemCreate(item=output)
    )
    player.event(create, step, _no_response)
    player.event(player.response_create(True), step, _spoken(player, step))
    return None


def _transcription(player: _Player, step: Step) -> None:
    """User audio committed by hand with input transcription on; the transcript is ``step.text``."""
    update: ev.ClientEvent
    if player.dialect == "ga":
        audio_input = ga.AudioInput(
            transcription=ga.Transcription(model="whisper-1"), turn_detection=None
        )
        update = ga.SessionUpdate(
            session=ga.RealtimeSessionConfig(audio=ga.AudioConfig(input=audio_input))
        )
    else:
        update = beta.SessionUpdate(
            session=beta.SessionConfig(
                input_audio_transcription=beta.InputAudioTranscription(model="whisper-1"),
                turn_detection=None,
            )
        )
    player.event(update, step, _no_response)
    audio = bytes(AUDIO_BYTES_PER_CHAR * max(len(step.text), 2))
    player.event(ev.InputAudioBufferAppend(audio=audio), step, _no_response)
    player.event(ev.InputAudioBufferCommit(), step, _no_response)


def play(dialect: ev.Dialect, steps: Sequence[Step]) -> Conversation:
    """Play ``steps`` through a ``ServerSession`` of ``dialect``; the messages of both directions."""
    player = _Player(dialect)
    invalid = [found for step in steps if (found := _play_step(player, step)) is not None]
    return Conversation(
        dialect=dialect,
        steps=tuple(steps),
        client=tuple(player.client),
        server=tuple(player.received),
        invalid=tuple(invalid),
    )


# -- strategies -----------------------------------------------------------------------------

TEXTS = st.text(alphabet="abcdefghij ", min_size=1, max_size=24)


def steps(kinds: Sequence[StepKind] = (*VALID_KINDS, "invalid")) -> st.SearchStrategy[Step]:
    """One ``Step`` of the ``kinds`` given (shrinking prefers the first kind, ``text``)."""
    return st.builds(
        Step,
        kind=st.sampled_from(list(kinds)),
        text=TEXTS,
        chunk=st.integers(min_value=1, max_value=8),
        invalid=st.integers(min_value=0, max_value=8),
    )


def server_streams(
    dialect: ev.Dialect = "ga", *, invalid: bool = True, max_steps: int = 5
) -> st.SearchStrategy[Conversation]:
    """Played conversations of ``dialect``; ``.server`` is what a conforming client must accept.

    ``invalid=False`` leaves out the steps that send an invalid event (and so
    the ``error`` events they draw).
    """
    kinds: tuple[StepKind, ...] = (*VALID_KINDS, "invalid") if invalid else VALID_KINDS
    return st.lists(steps(kinds), min_size=1, max_size=max_steps).map(
        lambda drawn: play(dialect, drawn)
    )


def client_streams(
    dialect: ev.Dialect = "ga", *, max_steps: int = 5
) -> st.SearchStrategy[tuple[bytes, ...]]:
    """Client messages that a conforming server of ``dialect`` accepts without an ``error``.

    The server's answers matter to them (a tool output answers the call the
    model made): play them against a server whose model answers as
    ``play``'s does, or take the whole ``Conversation`` from ``server_streams``.
    """
    return server_streams(dialect, invalid=False, max_steps=max_steps).map(lambda c: c.client)


@st.composite
def _unknown_field(draw: st.DrawFn, dialect: ev.Dialect) -> InvalidEvent:
    classes = sorted(ev.client_events(dialect).values(), key=lambda c: c.type)
    event: Any = draw(st.sampled_from(classes).flatmap(events_of))
    body = json.loads(ev.encode_event(event))
    name = draw(st.sampled_from(["bogus", "x_extra", "colour"]))
    body[name] = draw(st.integers(0, 9))
    return InvalidEvent(json.dumps(body).encode(), "unknown_parameter", name)


def invalid_events(dialect: ev.Dialect = "ga") -> st.SearchStrategy[InvalidEvent]:
    """Invalid client messages, each with the ``error`` a conforming server answers first."""
    return st.one_of(st.sampled_from(_fixed_invalid(dialect)), _unknown_field(dialect))
