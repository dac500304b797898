"""A ``ClientSession`` refuses what its dialect's ``ServerSession`` refuses, with the same code.

The two are piped in lockstep, as h11's ``ConnectionPair``: every server
message goes into the client, so both hold the same state; for each client
event the client's ``send`` (a ``LocalProtocolError`` with ``code`` and
``param``, or bytes) is compared with the server's answer to the same bytes
(an ``error`` event's code and param, or none). The only allowed difference
is a refusal the client cannot know about: the codes of
``rtcore.client_checks.SERVER_ONLY_CODES`` (the server's limits and what its
VAD left in the input buffer), which the client lets through.

The streams mix valid and invalid events of both dialects (and events of the
other dialect): item ids drawn from the conversation and made up, truncations
within and past the audio, voice changes before and after the model spoke,
function-call outputs for calls that exist, existed or never did, responses
overlapping, cancels with nothing running, session updates with values in
and out of range, and now and then an arbitrary event of the dialect
(``strategies.events_of``). A scripted backend answers each response with audio, text
or a function call, or leaves it running.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace
from strategies import events_of

from rtcore import ClientSession
from rtcore import events as ev
from rtcore.client import replay_events
from rtcore.client_checks import SERVER_ONLY_CODES
from rtcore.errors import LocalProtocolError
from rtcore.events import beta, ga
from rtcore.ids import SequentialIds
from rtcore.server import ServerLimits, ServerSession
from rtcore.server.effects import (
    ArgumentsChunk,
    AudioChunk,
    Finish,
    FunctionCallChunk,
    OutputChunk,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)

Answer = tuple[str | None, str | None] | None
"""A refusal's (code, param), or ``None`` when the event was accepted."""


class Pair:
    """A client and a server of one dialect, every server event fed to the client."""

    def __init__(
        self, dialect: ev.Dialect, *, transcription: bool = False, model: str | None = None
    ) -> None:
        self.dialect = dialect
        self.server = ServerSession(
            dialect=dialect,
            # Readable ids, which a client's own ids can collide with (core.FreshIds).
            id_factory=SequentialIds(),
            intent="transcription" if transcription else "conversation",
            # Small limits, so that the refusals only the server can know happen too.
            limits=ServerLimits(max_items=6, max_out_of_band_responses=1),
            model=model,
        )
        # A model the URL named is fixed on both ends (docs/protocol/flows.md#session-model).
        self.client = ClientSession(
            dialect=dialect, id_factory=SequentialIds(), model_fixed=model is not None
        )
        self.sent = 0
        self.pump()

    def pump(self) -> None:
        for data in self.server.messages_to_send():
            for out in self.client.receive_message(data):
                assert not isinstance(out, Exception), out

    def step(self, event: ev.ClientEvent, backend: list[str]) -> tuple[Answer, Answer]:
        """Send ``event`` from both ends' point of view; the backend answers responses."""
        client: Answer = None
        try:
            self.client.send(event)
        except LocalProtocolError as refusal:
            client = (refusal.code, refusal.param)
        effects = self.server.receive_message(ev.encode_event(event))
        events = self.server.events_to_send()
        errors = [e.error for e in events if isinstance(e, ev.ErrorEvent)]
        server: Answer = (errors[0].code, errors[0].param) if errors else None
        for data in (ev.encode_event(e) for e in events):
            for out in self.client.receive_message(data):
                assert not isinstance(out, Exception), out
        self._answer(effects, backend)
        self.pump()
        return client, server

    def _answer(self, effects: list[Any], backend: list[str]) -> None:
        for effect in effects:
            if isinstance(effect, Transcribe):
                self.server.complete_transcription(effect.item_id, "heard")
            if not isinstance(effect, StartResponse):
                continue
            plan = backend.pop(0) if backend else "audio"
            rid = effect.response_id
            if plan == "running":
                continue
            chunks: list[OutputChunk]
            if plan == "audio" and effect.settings.audio:
                chunks = [TranscriptChunk("hello"), AudioChunk(bytes(4800))]
            elif plan == "call":
                chunks = [
                    FunctionCallChunk(name="lookup", call_id=f"call_{rid}"),
                    ArgumentsChunk("{}"),
                ]
            else:
                chunks = [TextChunk("hello")]
            # A full conversation (max_items) ends the response at its first item.
            for chunk in [*chunks, Finish(status="completed")]:
                if self.server.is_active(rid):
                    self.server.produce(rid, chunk)


# -- strategies ------------------------------------------------------------------------------

VOICES = st.sampled_from(["alloy", "ash", "verse"])
# The first update naming a model sets it (the pair's URL named none); later ones may not change it.
MODELS = st.sampled_from(["gpt-realtime", "gpt-realtime", "gpt-4o-realtime-preview"])
# Mostly none (the client numbers them), at times the client's own, at times over GA's limit.
EVENT_IDS = st.sampled_from([ev.UNSET] * 8 + ["mine", "x" * 513])


def item_ids(pair: Pair) -> st.SearchStrategy[str]:
    """Ids of the conversation (assistant audio first), of calls, and made up."""
    state = pair.client.state
    items = [state.item(i) for i in state.order]
    audio = [i.id for i in items if i is not None and i.role == "assistant"]
    known = audio + list(state.order) + [c for i in items if i and (c := i.call_id)]
    # item_2, call_1: ids the server's SequentialIds would mint next (it must skip them).
    made_up = st.sampled_from(["nope", "item_x", "root", "call_x", "item_2", "call_1"])
    return st.one_of(st.sampled_from(known), made_up) if known else made_up


def _session_update(draw: st.DrawFn, dialect: ev.Dialect) -> ev.ClientEvent:
    voice = draw(VOICES)
    speed = draw(st.sampled_from([1.0, 0.1, 1.4, 3.0]))
    threshold = draw(st.sampled_from([0.5, 1.5, -0.1]))
    if dialect == "beta":
        fields: dict[str, Any] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "voice": st.just(voice),
                    "speed": st.just(speed),
                    "temperature": st.sampled_from([0.8, 0.8, 2.0]),
                    "modalities": st.sampled_from([("text",), ("audio", "text"), ("audio",)]),
                    "turn_detection": st.sampled_from(
                        [
                            None,
                            beta.TurnDetection(type="server_vad", threshold=threshold),
                            beta.TurnDetection(type="semantic_vad", eagerness="low"),
                            beta.TurnDetection(type="semantic_vad", threshold=0.5),
                        ]
                    ),
                    "input_audio_format": st.sampled_from(["pcm16", "g711_ulaw"]),
                    "model": MODELS,
                },
            )
        )
        return beta.SessionUpdate(session=beta.SessionConfig(**fields))
    output: dict[str, Any] = draw(
        st.fixed_dictionaries({}, optional={"voice": st.just(voice), "speed": st.just(speed)})
    )
    if draw(st.integers(0, 4)) == 0:  # the other session type
        return ga.SessionUpdate(session=ga.TranscriptionSessionConfig())
    config = ga.RealtimeSessionConfig(
        audio=ga.AudioConfig(
            output=ga.AudioOutput(**output),
            input=ga.AudioInput(
                turn_detection=draw(
                    st.sampled_from(
                        [ev.UNSET, None, ga.ServerVad(threshold=threshold), ga.SemanticVad()]
                    )
                )
            ),
        ),
        output_modalities=draw(
            st.sampled_from([ev.UNSET, ("text",), ("audio",), ("audio", "text")])
        ),
        model=draw(st.one_of(st.just(ev.UNSET), MODELS)),
    )
    return ga.SessionUpdate(session=config)


def _item(draw: st.DrawFn, dialect: ev.Dialect, pair: Pair) -> Any:
    kind = draw(st.sampled_from(["user", "assistant", "beta_assistant", "output", "call", "audio"]))
    item_id = draw(st.one_of(st.just(ev.UNSET), st.just(""), item_ids(pair), st.just("mine")))
    if kind == "output":
        call = draw(st.one_of(item_ids(pair), st.sampled_from(["call_x", "call_c", "call_1"])))
        return ev.FunctionCallOutputItem(id=item_id, call_id=call, output="{}")
    if kind == "call":
        return ev.FunctionCallItem(
            id=item_id,
            call_id=draw(st.sampled_from(["call_c", "call_1"])),
            name="f",
            arguments="{}",
        )
    if kind == "audio":
        audio = draw(st.sampled_from([b"\x00\x00", b"\x00\x00\x00"]))
        content: tuple[Any, ...] = (ev.InputAudioContent(audio=audio),)
        role = "user"
    elif kind == "user":
        content, role = (ev.InputTextContent(text="hi"),), "user"
    elif kind == "beta_assistant":  # beta's text part: GA refuses it
        content, role = (ev.TextContent(text="hi"),), "assistant"
    else:
        content, role = (ga.OutputTextContent(text="hi"),), "assistant"
    if dialect == "ga" and draw(st.booleans()):
        return ga.MessageItem(id=item_id, role=role, content=content)
    return beta.MessageItem(id=item_id, role=role, content=content)


@st.composite
def client_events(draw: st.DrawFn, pair: Pair) -> ev.ClientEvent:
    dialect = pair.dialect
    kind = draw(
        st.sampled_from(
            ["session", "create", "truncate", "response"] * 3
            + ["append", "commit", "clear", "delete", "retrieve", "cancel"] * 2
            + ["output_clear", "transcription_session", "arbitrary", "arbitrary"]
        )
    )
    if kind == "arbitrary":  # any event of the dialect, every field drawn from its type
        classes = sorted(ev.client_events(dialect).values(), key=lambda c: c.type)
        arbitrary: ev.ClientEvent = draw(st.sampled_from(classes).flatmap(events_of))
        return arbitrary
    ids = item_ids(pair)
    event: ev.ClientEvent
    if kind == "session":
        event = _session_update(draw, dialect)
    elif kind == "transcription_session":
        event = beta.TranscriptionSessionUpdate(
            session=beta.TranscriptionSessionConfig(
                modalities=draw(st.sampled_from([("text",), ("audio",)]))
            )
        )
    elif kind == "append":
        size = draw(st.sampled_from([2, 3, 4800, 9600]))
        event = ev.InputAudioBufferAppend(audio=b"\x01\x00" * (size // 2) + b"\x00" * (size % 2))
    elif kind == "commit":
        event = ev.InputAudioBufferCommit()
    elif kind == "clear":
        event = ev.InputAudioBufferClear()
    elif kind == "output_clear":
        event = ev.OutputAudioBufferClear()
    elif kind == "create":
        item = _item(draw, dialect, pair)
        anchor = draw(st.one_of(st.just(ev.UNSET), st.none(), ids))
        cls = ga.ConversationItemCreate if dialect == "ga" else beta.ConversationItemCreate
        event = cls(item=item, previous_item_id=anchor)
    elif kind == "truncate":
        event = ev.ConversationItemTruncate(
            item_id=draw(ids),
            content_index=draw(st.sampled_from([0, 0, 0, 1])),
            audio_end_ms=draw(st.sampled_from([0, 50, 100, 5000, -1])),
        )
    elif kind == "delete":
        event = ev.ConversationItemDelete(item_id=draw(ids))
    elif kind == "retrieve":
        event = ev.ConversationItemRetrieve(item_id=draw(ids))
    elif kind == "cancel":
        running = [r.id for r in pair.client.state.responses]
        target = st.sampled_from(running) if running else st.just("resp_x")
        event = ev.ResponseCancel(response_id=draw(st.one_of(st.just(ev.UNSET), target)))
    else:
        event = _response_create(draw, dialect, pair)
    return replace(event, event_id=draw(EVENT_IDS))


def _response_create(draw: st.DrawFn, dialect: ev.Dialect, pair: Pair) -> ev.ClientEvent:
    voice = draw(st.one_of(st.just(ev.UNSET), VOICES))
    conversation = draw(st.sampled_from([ev.UNSET, "auto", "none", "other"]))
    refs = draw(st.one_of(st.just(ev.UNSET), st.lists(item_ids(pair), max_size=2)))
    inputs = (
        ev.UNSET if isinstance(refs, ev.UnsetType) else tuple(ev.ItemReference(id=r) for r in refs)
    )
    if dialect == "beta":
        params = beta.ResponseParams(
            voice=voice,
            conversation=conversation,  # type: ignore[arg-type]
            input=inputs,
            temperature=draw(st.sampled_from([ev.UNSET, 0.8, 5.0])),
            max_response_output_tokens=draw(st.sampled_from([ev.UNSET, 100, 0, "inf"])),
        )
        return beta.ResponseCreate(response=draw(st.sampled_from([ev.UNSET, params])))
    audio = (
        ev.UNSET
        if isinstance(voice, ev.UnsetType)
        else ga.ResponseAudio(output=ga.ResponseAudioOutput(voice=voice))
    )
    params_ga = ga.ResponseParams(
        audio=audio,
        conversation=conversation,  # type: ignore[arg-type]
        input=inputs,
        max_output_tokens=draw(st.sampled_from([ev.UNSET, 100, 0, "inf"])),
        output_modalities=draw(st.sampled_from([ev.UNSET, ("text",), ("audio", "text")])),
    )
    cls = draw(st.sampled_from([ga.ResponseCreate, beta.ResponseCreate]))
    if cls is beta.ResponseCreate:
        return beta.ResponseCreate()
    return ga.ResponseCreate(response=draw(st.sampled_from([ev.UNSET, params_ga])))


BACKEND = st.lists(st.sampled_from(["audio", "text", "call", "running"]), max_size=12)


def agree(client: Answer, server: Answer, event: ev.ClientEvent) -> None:
    if client == server:
        return
    assert client is None and server is not None and server[0] in SERVER_ONLY_CODES, (
        f"{event!r}: client {client}, server {server}"
    )


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("transcription", [False, True])
@given(data=st.data(), backend=BACKEND)
def test_client_and_server_refuse_the_same_events(
    dialect: ev.Dialect, transcription: bool, data: st.DataObject, backend: list[str]
) -> None:
    url_model = data.draw(st.sampled_from([None, "gpt-realtime"]), label="url model")
    pair = Pair(dialect, transcription=transcription, model=url_model)
    if data.draw(st.booleans(), label="spoken"):  # the model has spoken: the voice is locked
        agree(*pair.step(beta.ResponseCreate(), ["audio"]), beta.ResponseCreate())
    for _ in range(data.draw(st.integers(min_value=1, max_value=25), label="length")):
        event = data.draw(client_events(pair), label="event")
        client, server = pair.step(event, backend)
        agree(client, server, event)


# -- the cases of the issue, explicitly ----------------------------------------------------------


def refusals(pair: Pair, event: ev.ClientEvent) -> tuple[Answer, Answer]:
    client, server = pair.step(event, [])
    assert client == server, (client, server)
    return client, server


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_the_voice_stays_locked_after_the_spoken_item_is_deleted(dialect: ev.Dialect) -> None:
    pair = Pair(dialect)
    create = ga.ResponseCreate() if dialect == "ga" else beta.ResponseCreate()
    assert refusals(pair, create) == (None, None)
    spoken = [i.id for i in pair.client.state.items if i.role == "assistant"]
    assert spoken and pair.client.state.item(spoken[0]) is not None
    assert refusals(pair, ev.ConversationItemDelete(item_id=spoken[0])) == (None, None)
    assert not any(i.role == "assistant" for i in pair.client.state.items)
    if dialect == "ga":
        update: ev.ClientEvent = ga.SessionUpdate(
            session=ga.RealtimeSessionConfig(
                audio=ga.AudioConfig(output=ga.AudioOutput(voice="ash"))
            )
        )
        param = "session.audio.output.voice"
    else:
        update = beta.SessionUpdate(session=beta.SessionConfig(voice="ash"))
        param = "session.voice"
    client, _ = refusals(pair, update)
    assert client == ("cannot_update_voice", param)


def test_a_ga_client_refuses_a_beta_session_config_as_the_ga_server_does() -> None:
    pair = Pair("ga")
    # The beta (flat) session class under a GA session.update: no session.type.
    event = ga.SessionUpdate(session=beta.SessionConfig(voice="ash"))  # type: ignore[arg-type]
    client, _ = refusals(pair, event)
    assert client == ("missing_required_parameter", "session.type")


def test_a_ga_client_refuses_a_beta_assistant_message_as_the_ga_server_does() -> None:
    pair = Pair("ga")
    item = beta.MessageItem(role="assistant", content=(ev.TextContent(text="Hello"),))
    client, _ = refusals(pair, ga.ConversationItemCreate(item=item))  # type: ignore[arg-type]
    assert client == ("invalid_value", "item.content[0].type")


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_a_replayed_conversation_can_be_sent_back_to_back(dialect: ev.Dialect) -> None:
    """A call and its output sent without waiting for the echo: the client knows its own call."""
    first = Pair(dialect)
    create = ga.ResponseCreate() if dialect == "ga" else beta.ResponseCreate()
    first.step(create, ["call"])
    [call] = [i for i in first.client.state.items if i.type == "function_call"]
    output = ev.FunctionCallOutputItem(call_id=call.call_id or "", output="{}")
    item_create = ga.ConversationItemCreate if dialect == "ga" else beta.ConversationItemCreate
    assert first.step(item_create(item=output), []) == (None, None)
    events = replay_events(first.client.state, dialect=dialect)
    assert [e.item.type for e in events] == ["function_call", "function_call_output"]

    second = Pair(dialect)
    sent = [second.client.send(event) for event in events]  # no echo read in between
    for data in sent:
        second.server.receive_message(data)
    assert not [e for e in second.server.events_to_send() if isinstance(e, ev.ErrorEvent)]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_an_output_may_answer_a_call_whose_item_was_deleted(dialect: ev.Dialect) -> None:
    pair = Pair(dialect)
    create = ga.ResponseCreate() if dialect == "ga" else beta.ResponseCreate()
    assert pair.step(create, ["call"]) == (None, None)
    [call] = [i for i in pair.client.state.items if i.type == "function_call"]
    assert refusals(pair, ev.ConversationItemDelete(item_id=call.id)) == (None, None)
    item_create = ga.ConversationItemCreate if dialect == "ga" else beta.ConversationItemCreate
    output = ev.FunctionCallOutputItem(call_id=call.call_id or "", output="{}")
    assert refusals(pair, item_create(item=output)) == (None, None)
    unknown = ev.FunctionCallOutputItem(call_id="call_never", output="{}")
    client, _ = refusals(pair, item_create(item=unknown))
    assert client == ("invalid_value", "item.call_id")
