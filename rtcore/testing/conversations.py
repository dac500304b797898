"""Hypothesis strategies for whole conversations: valid server and client streams.

A conversation is drawn as a short list of ``Step`` values (a text answer, a
spoken one, a tool call round trip, a cancel, a truncation, an item deleted
or retrieved, a session update, user audio committed and transcribed (or
its transcription failing), a response that fails or is cut short, an MCP
server listed and its tool called (GA only: with or without an approval,
with an output or an error, or a listing that fails), an invalid event) and
played through a real ``ServerSession`` of the dialect asked, which answers
as the reference server does. So a drawn stream is valid by construction:
every event in it is one the server role emits, in the order it emits them
(docs/protocol/flows.md#event-order-per-flow). Shrinking works on the steps
and their texts, which is why a counterexample reads as a few steps and a
few dozen events rather than as a heap of JSON.

* ``server_streams(dialect)``: ``Conversation`` values whose ``server``
  messages a conforming client must take without a protocol error or an
  anomaly.
* ``client_streams(dialect)``: the client's side of such conversations
  without invalid steps: event sequences a conforming server accepts
  without an ``error``.
* ``invalid_events(dialect)`` (``rtcore.testing.invalid``): invalid
  messages, each with the ``error`` a conforming server answers it with.

``play(dialect, steps)`` is the player itself, for a test that wants a fixed
conversation. It checks its own work: a step that is meant to be valid and
draws an ``error`` from the server raises ``AssertionError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Literal

import msgspec
from hypothesis import strategies as st

from .. import events as ev
from ..events import beta, ga
from ..server import (
    ArgumentsChunk,
    AudioChunk,
    Finish,
    FunctionCallChunk,
    ListMcpTools,
    McpCallChunk,
    McpResultChunk,
    OutputChunk,
    ServerSession,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)
from ..state import Snapshot
from .invalid import InvalidEvent, invalid_table

__all__ = [
    "Conversation",
    "Step",
    "StepKind",
    "client_streams",
    "kinds_of",
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
    "failed",
    "mcp",
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
    "failed",
    "mcp",
)
GA_ONLY: tuple[StepKind, ...] = ("mcp",)
"""Beta sessions have no MCP tools (docs/protocol/flows.md#mcp)."""
AUDIO_BYTES_PER_CHAR = 2400
"""pcm16 at 24 kHz: 50 ms of (silent) model audio per character of its transcript."""
VARIANTS = 4
"""How many ways a step of one kind can go (see ``Step.variant``)."""
COMPLETED = Finish()
MCP_TOOL = ga.McpListedTool(
    name="search",
    input_schema={"type": "object", "properties": {"q": {"type": "string"}}},
    description="Search the documents.",
)


class Step(msgspec.Struct, frozen=True):
    """One step of a drawn conversation: what the client does and what the model answers.

    ``text`` is what the user says (or the instructions, for ``session``) and
    what the model answers, sent in pieces of ``chunk`` characters.
    ``variant`` picks how the step goes: for ``invalid``, the entry of the
    invalid events; for ``mcp`` (modulo 4), a call needing no approval, one
    approved first, one whose tool returns an error, a listing that fails;
    for ``transcription`` (modulo 3), the transcript whole, a failure, or
    the transcript in deltas; for
    ``failed`` (modulo 2), a failed response or one cut by its token limit.
    """

    kind: StepKind
    text: str = "hi"
    chunk: int = 4
    variant: int = 0


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
    state: Snapshot | None = None
    """The server's own snapshot at the end: what a client fed ``server`` must hold too."""

    def server_types(self) -> list[str]:
        """The server events' ``type`` names, for a readable failure message."""
        return [json.loads(m)["type"] for m in self.server]


# -- the player -----------------------------------------------------------------------------


class _Player:
    """One ``ServerSession`` and the messages of both directions."""

    def __init__(self, dialect: ev.Dialect) -> None:
        self.dialect = dialect
        self.server = ServerSession(dialect=dialect)
        self.client: list[bytes] = []
        self.received: list[bytes] = list(self.server.messages_to_send())
        self.calls = 0
        self.mcp_servers = 0

    def send(
        self, message: bytes, step: Step, answer: Callable[[StartResponse], None]
    ) -> list[bytes]:
        """Send one message; the backend ``answer``s each response it starts. Returns what came back."""
        self.client.append(message)
        for effect in self.server.receive_message(message):
            if isinstance(effect, StartResponse):
                answer(effect)
            elif isinstance(effect, Transcribe):
                self.transcribe(effect.item_id, step)
            elif isinstance(effect, ListMcpTools):
                if step.kind == "mcp" and step.variant % VARIANTS == 3:
                    self.server.fail_mcp_listing(effect.item_id)
                else:
                    self.server.complete_mcp_listing(effect.item_id, (MCP_TOOL,))
        out = self.server.messages_to_send()
        self.received.extend(out)
        if step.kind != "invalid":
            errors = [m for m in out if json.loads(m).get("type") == "error"]
            assert not errors, f"step {step!r} drew {errors[0]!r}"
        return out

    def transcribe(self, item_id: str, step: Step) -> None:
        """The transcriber's answer: the text whole, a failure, or the text in deltas."""
        variant = step.variant % 3
        if variant == 1:
            error = ev.TranscriptionError(
                type="transcription_error", code="audio_unintelligible", message="Unclear audio."
            )
            self.server.fail_transcription(item_id, error)
            return
        if variant == 2:
            for piece in _pieces(step.text, step.chunk):
                self.server.transcription_delta(item_id, piece)
        self.server.complete_transcription(item_id, step.text)

    def event(
        self, event: ev.ClientEvent, step: Step, answer: Callable[[StartResponse], None]
    ) -> list[bytes]:
        return self.send(ev.encode_event(event), step, answer)

    def produce(
        self, start: StartResponse, chunks: Sequence[OutputChunk], finish: Finish | None = COMPLETED
    ) -> None:
        rid = start.response_id
        for chunk in [*chunks, finish] if finish is not None else chunks:
            if self.server.is_active(rid):
                self.server.produce(rid, chunk)

    def create(self, item: ga.Item | beta.Item) -> ev.ClientEvent:
        if self.dialect == "ga":
            return ga.ConversationItemCreate(item=item)  # type: ignore[arg-type]
        return beta.ConversationItemCreate(item=item)  # type: ignore[arg-type]

    def user_message(self, text: str, step: Step) -> None:
        content = (ev.InputTextContent(text=text),)
        item = (ga.MessageItem if self.dialect == "ga" else beta.MessageItem)(
            role="user", content=content
        )
        self.event(self.create(item), step, _no_response)

    def response_create(self, text_only: bool) -> ev.ClientEvent:
        if self.dialect == "ga":
            params = ga.ResponseParams(output_modalities=("text",)) if text_only else ev.UNSET
            return ga.ResponseCreate(response=params)
        beta_params = beta.ResponseParams(modalities=("text",)) if text_only else ev.UNSET
        return beta.ResponseCreate(response=beta_params)

    def last_item(self) -> str:
        return self.server.state.order[-1]


def _pieces(text: str, size: int) -> list[str]:
    size = max(size, 1)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _no_response(start: StartResponse) -> None:
    raise AssertionError(f"no response was asked for, yet {start.response_id} started")


def _said(step: Step, start: StartResponse) -> list[OutputChunk]:
    """``step.text`` as the model's output: spoken when the response has audio, else written."""
    chunks: list[OutputChunk] = []
    for piece in _pieces(step.text, step.chunk):
        if start.settings.audio:
            chunks += [TranscriptChunk(piece), AudioChunk(bytes(AUDIO_BYTES_PER_CHAR * len(piece)))]
        else:
            chunks.append(TextChunk(piece))
    return chunks


def _spoken(player: _Player, step: Step) -> Callable[[StartResponse], None]:
    """A backend that answers with ``step.text``."""
    return lambda start: player.produce(start, _said(step, start))


def _play_step(player: _Player, step: Step) -> InvalidEvent | None:
    kind = step.kind
    if kind in GA_ONLY and player.dialect != "ga":
        raise ValueError(f"a {kind!r} step needs the GA dialect")
    if kind == "invalid":
        table = invalid_table(player.dialect)
        invalid = table[step.variant % len(table)]
        player.send(invalid.message, step, _no_response)
        return invalid
    if kind == "session":
        session: ev.ClientEvent = (
            ga.SessionUpdate(session=ga.RealtimeSessionConfig(instructions=step.text))
            if player.dialect == "ga"
            else beta.SessionUpdate(session=beta.SessionConfig(instructions=step.text))
        )
        player.event(session, step, _no_response)
    elif kind == "transcription":
        _transcription(player, step)
    elif kind == "mcp":
        _mcp(player, step)
    elif kind == "call":
        _call(player, step)
    else:
        player.user_message(step.text, step)
        if kind in ("delete", "retrieve"):
            target = ev.ConversationItemDelete if kind == "delete" else ev.ConversationItemRetrieve
            player.event(target(item_id=player.last_item()), step, _no_response)
        elif kind == "cancel":
            _cancel(player, step)
        elif kind == "failed":
            _failed(player, step)
        else:
            player.event(player.response_create(kind == "text"), step, _spoken(player, step))
            if kind == "truncate":
                # Truncate the spoken answer within what was sent (50 ms a character).
                ms = 50 * max(len(step.text) // 2, 0)
                truncate = ev.ConversationItemTruncate(
                    item_id=player.last_item(), content_index=0, audio_end_ms=ms
                )
                player.event(truncate, step, _no_response)
    return None


def _cancel(player: _Player, step: Step) -> None:
    """A response begins (one piece of text), and the client cancels it."""
    started: list[str] = []

    def begin(start: StartResponse) -> None:
        started.append(start.response_id)
        player.produce(start, [TextChunk(p) for p in _pieces(step.text, step.chunk)[:1]], None)

    player.event(player.response_create(True), step, begin)
    player.event(ev.ResponseCancel(response_id=started[0]), step, _no_response)


def _failed(player: _Player, step: Step) -> None:
    """A response ends ``failed`` (a server error) or ``incomplete`` (its token limit) midway."""
    if step.variant % 2:
        end = Finish(
            status="incomplete",
            details=ev.StatusDetails(type="incomplete", reason="max_output_tokens"),
        )
    else:
        error = ev.StatusError(type="server_error", code="overloaded", message="try again")
        end = Finish(status="failed", details=ev.StatusDetails(type="failed", error=error))

    def answer(start: StartResponse) -> None:
        player.produce(start, _said(step, start)[:1], end)

    player.event(player.response_create(False), step, answer)


def _call(player: _Player, step: Step) -> None:
    """The model calls a tool, the client answers it, the model reads the answer."""
    player.user_message(step.text, step)
    player.calls += 1
    call_id = f"call_{player.calls}"
    arguments = json.dumps({"q": step.text})

    def call(start: StartResponse) -> None:
        chunks: list[OutputChunk] = [FunctionCallChunk(name="lookup", call_id=call_id)]
        chunks += [ArgumentsChunk(p) for p in _pieces(arguments, step.chunk)]
        player.produce(start, chunks)

    player.event(player.response_create(True), step, call)
    output = ev.FunctionCallOutputItem(call_id=call_id, output=json.dumps({"answer": step.text}))
    player.event(player.create(output), step, _no_response)
    player.event(player.response_create(True), step, _spoken(player, step))


def _mcp(player: _Player, step: Step) -> None:
    """An MCP server is configured and listed; the model calls its tool and says the result."""
    player.mcp_servers += 1
    label = f"docs{player.mcp_servers}"
    variant = step.variant % VARIANTS
    tool = ga.McpTool(
        server_label=label,
        server_url=f"https://{label}.example/mcp",
        require_approval="always" if variant == 1 else "never",
    )
    update = ga.SessionUpdate(session=ga.RealtimeSessionConfig(tools=(tool,)))
    player.event(update, step, _no_response)
    if variant == 3:
        return  # the listing failed (``send``): no tool to call
    player.user_message(step.text, step)
    call = McpCallChunk(
        server_label=label, name=MCP_TOOL.name, arguments=json.dumps({"q": step.text})
    )
    if variant == 1:
        # The call needs an approval: the response asks for it and ends; the client approves.
        player.event(player.response_create(True), step, lambda s: player.produce(s, [call]))
        approval = ga.McpApprovalResponseItem(
            id=f"approval_{label}", approval_request_id=player.last_item(), approve=True
        )
        player.event(player.create(approval), step, _no_response)
    result = (
        McpResultChunk(error=ga.McpToolExecutionError(message="the index is down"))
        if variant == 2
        else McpResultChunk(output=json.dumps({"found": step.text}))
    )

    def answer(start: StartResponse) -> None:
        player.produce(start, [call, result, *_said(step, start)])

    player.event(player.response_create(True), step, answer)


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
        state=player.server.state,
    )


# -- strategies -----------------------------------------------------------------------------

TEXTS = st.text(alphabet="abcdefghij ", min_size=1, max_size=24)


def kinds_of(dialect: ev.Dialect, *, invalid: bool = True) -> tuple[StepKind, ...]:
    """The step kinds a conversation of ``dialect`` can hold (``invalid``: with invalid events)."""
    kinds = [k for k in VALID_KINDS if dialect == "ga" or k not in GA_ONLY]
    return (*kinds, "invalid") if invalid else tuple(kinds)


def steps(kinds: Sequence[StepKind] = kinds_of("ga")) -> st.SearchStrategy[Step]:
    """One ``Step`` of the ``kinds`` given (shrinking prefers the first kind, ``text``)."""
    return st.builds(
        Step,
        kind=st.sampled_from(list(kinds)),
        text=TEXTS,
        chunk=st.integers(min_value=1, max_value=8),
        variant=st.integers(min_value=0, max_value=8),
    )


def server_streams(
    dialect: ev.Dialect = "ga", *, invalid: bool = True, max_steps: int = 5
) -> st.SearchStrategy[Conversation]:
    """Played conversations of ``dialect``; ``.server`` is what a conforming client must accept.

    ``invalid=False`` leaves out the steps that send an invalid event (and so
    the ``error`` events they draw).
    """
    return st.lists(steps(kinds_of(dialect, invalid=invalid)), min_size=1, max_size=max_steps).map(
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
