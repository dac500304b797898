"""A conversation relayed across dialects ends where the same conversation told directly ends.

A hypothesis state machine drives two conversations in lockstep. One is
direct: a client of dialect D talks to a server of dialect D. The other is
relayed: the same client messages, in D, go through a ``Translator`` to a
server of the other dialect, whose messages come back through the translator
to a client of dialect D. After every step the relayed client's snapshot must
equal the direct client's, and the far server's session the direct server's,
except for what ``comparable`` (from the dialect equivalence test) already
sets aside because only one dialect can say it, and except for the losses the
translation reports (docs/protocol/relay.md#lossy-steps), which must all be
of the kinds this conversation can produce.
"""

from __future__ import annotations

import json
from typing import Any

import test_dialect_equivalence as eq
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from serverkit import Harness, silence, tone

from rtcore import ClientSession, SequentialIds, ServerSession
from rtcore import events as ev
from rtcore.errors import LocalProtocolError
from rtcore.server import Transcribe
from rtcore.translate import LossKind, Translator

EXPECTED_LOSSES: dict[str, set[LossKind]] = {
    # A beta client before a GA server: "either" modalities collapse, GA's `done` is dropped,
    # the client's (default) temperature is echoed, the GA session's `truncation` is dropped.
    "beta": {
        "modalities_collapsed",
        "item_done_dropped",
        "temperature_echoed",
        "ga_only_field_dropped",
    },
    # A GA client before a beta server: `done` is synthesised, usage is invented, the beta
    # session's "either" modalities collapse and its temperature is dropped.
    "ga": {
        "item_done_synthesised",
        "transcription_usage_invented",
        "modalities_collapsed",
        "temperature_dropped",
    },
}


class Relayed:
    """A client of ``dialect`` talking through a translator to a server of the other one."""

    def __init__(self, dialect: ev.Dialect) -> None:
        other: ev.Dialect = "ga" if dialect == "beta" else "beta"
        self.dialect = dialect
        self.server = ServerSession(
            id_factory=SequentialIds(), dialect=other, model="gpt-realtime", retain_audio=True
        )
        self.client = ClientSession(dialect=dialect, retain_audio=True)
        self.translator = Translator(client=dialect, server=other)
        self.pump()

    def pump(self) -> None:
        for message in self.server.messages_to_send():
            event = ev.decode_server_event(message, dialect=self.translator.server)
            for out in self.translator.server_event(event).events:
                [received] = self.client.receive_message(ev.encode_event(out))
                assert isinstance(received, ev.ServerEvent), received

    def send(self, message: dict[str, Any]) -> list[Any]:
        event = ev.decode_client_event(json.dumps(message), dialect=self.dialect)
        effects: list[Any] = []
        for out in self.translator.client_event(event).events:
            effects += self.server.receive_message(ev.encode_event(out))
        self.pump()
        return [e for e in effects if not isinstance(e, ev.ClientEvent)]


class RelayedConversation(RuleBasedStateMachine):
    dialect: ev.Dialect = "beta"

    def __init__(self) -> None:
        super().__init__()
        self.direct = Harness(dialect=self.dialect, model="gpt-realtime")
        self.relayed = Relayed(self.dialect)
        self.transcriptions: list[str] = []

    def send(self, beta: dict[str, Any], ga: dict[str, Any] | None = None) -> None:
        message = beta if self.dialect == "beta" or ga is None else ga
        effects = self.direct.send(message)
        other = self.relayed.send(message)
        assert [type(e) for e in effects] == [type(e) for e in other]
        for effect in effects:
            if isinstance(effect, Transcribe):
                self.transcriptions.append(effect.item_id)

    @rule(settings=eq.SETTINGS)
    def session_update(self, settings: dict[str, Any]) -> None:
        self.send(
            {"type": "session.update", "session": eq.beta_session(settings)},
            {"type": "session.update", "session": eq.ga_session(settings)},
        )

    @rule(speech=st.booleans())
    def append(self, speech: bool) -> None:
        audio = tone(200) if speech else silence(300)
        for offset in range(0, len(audio), 4800):
            chunk = ev.InputAudioBufferAppend(audio=audio[offset : offset + 4800])
            self.send(json.loads(ev.encode_event(chunk)))

    @rule(kind=st.sampled_from(["input_audio_buffer.commit", "input_audio_buffer.clear"]))
    def buffer(self, kind: str) -> None:
        self.send({"type": kind})

    @rule(text=eq.TEXT, role=st.sampled_from(["user", "assistant", "system"]))
    def create(self, text: str, role: str) -> None:
        beta_part = {"type": "text" if role == "assistant" else "input_text", "text": text}
        ga_part = {"type": "output_text" if role == "assistant" else "input_text", "text": text}
        self.send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": role, "content": [beta_part]},
            },
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": role, "content": [ga_part]},
            },
        )

    @rule()
    def call_output(self) -> None:
        item = {"type": "function_call_output", "call_id": "call_1", "output": "{}"}
        self.send({"type": "conversation.item.create", "item": item})

    @rule(
        kind=st.sampled_from(["conversation.item.delete", "conversation.item.retrieve"]),
        item_id=eq.IDS,
    )
    def by_id(self, kind: str, item_id: str) -> None:
        self.send({"type": kind, "item_id": item_id})

    @rule(out_of_band=st.booleans(), text_only=st.booleans())
    def response_create(self, out_of_band: bool, text_only: bool) -> None:
        beta: dict[str, Any] = {}
        ga: dict[str, Any] = {}
        if out_of_band:
            beta["conversation"] = ga["conversation"] = "none"
        if text_only:
            beta["modalities"], ga["output_modalities"] = ["text"], ["text"]
        self.send(
            {"type": "response.create", "response": beta},
            {"type": "response.create", "response": ga},
        )

    @rule()
    def response_cancel(self) -> None:
        self.send({"type": "response.cancel"})

    @precondition(lambda self: bool(self.direct.server.active_responses))
    @rule(data=st.data(), chunk=eq.CHUNKS)
    def produce(self, data: st.DataObject, chunk: Any) -> None:
        response_id = data.draw(st.sampled_from(self.direct.server.active_responses))
        outcomes = []
        for server, flush in (
            (self.direct.server, self.direct.flush),
            (self.relayed.server, self.relayed.pump),
        ):
            try:
                server.produce(response_id, chunk)
                outcomes.append(True)
            except LocalProtocolError:
                outcomes.append(False)
            flush()
        assert outcomes[0] == outcomes[1]

    @precondition(lambda self: bool(self.transcriptions))
    @rule(data=st.data(), ok=st.booleans())
    def transcribe(self, data: st.DataObject, ok: bool) -> None:
        item_id = data.draw(st.sampled_from(self.transcriptions))
        self.transcriptions.remove(item_id)
        for server, flush in (
            (self.direct.server, self.direct.flush),
            (self.relayed.server, self.relayed.pump),
        ):
            if not server.transcription_pending(item_id):
                continue
            if ok:
                server.complete_transcription(item_id, "heard")
            else:
                server.fail_transcription(
                    item_id, ev.TranscriptionError(type="transcription_error")
                )
            flush()

    @invariant()
    def same_snapshots(self) -> None:
        relayed = self.relayed.client.state
        assert not relayed.protocol_errors, relayed.protocol_errors
        direct, through = eq.comparable(self.direct.client.state), eq.comparable(relayed)
        assert direct.to_dict() == through.to_dict()
        assert direct == through
        assert self.direct.server.session == self.relayed.server.session
        assert set(self.relayed.translator.counts) <= EXPECTED_LOSSES[self.dialect]


@settings(stateful_step_count=25)
class BetaClientGAServer(RelayedConversation):
    dialect = "beta"


@settings(stateful_step_count=25)
class GAClientBetaServer(RelayedConversation):
    dialect = "ga"


TestBetaClientGAServer = BetaClientGAServer.TestCase
TestGAClientBetaServer = GAClientBetaServer.TestCase
