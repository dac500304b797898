"""Hypothesis state machines, one per dialect: random client streams (valid and not) and random
backend output.

After every step: at most one response writes to the conversation; every
``response.created`` has at most one ``response.done`` and nothing of a
response follows it; every ``*.added`` is closed before its ``response.done``;
a ``ClientSession`` fed the server's bytes holds exactly the server's
snapshot and never saw a protocol error; every server message decodes
strictly; bad input changes nothing but the errors.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from serverkit import Harness, silence, tone

from rtcore import events as ev
from rtcore.errors import LocalProtocolError
from rtcore.server import (
    ArgumentsChunk,
    AudioChunk,
    EndItem,
    Finish,
    FunctionCallChunk,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)

IDS = st.sampled_from(
    ["item_1", "item_2", "item_3", "item_5", "item_8", "ghost", "root", "resp_1", "resp_2"]
)
TEXT = st.text(alphabet="abc é", max_size=5)

SESSION_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "modalities": st.sampled_from([["text"], ["text", "audio"], ["audio"]]),
        "voice": st.sampled_from(["alloy", "ash", "robot"]),
        "turn_detection": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {},
                optional={
                    "threshold": st.sampled_from([0.2, 0.5, 1.5]),
                    "silence_duration_ms": st.sampled_from([100, 200]),
                    "create_response": st.booleans(),
                    "interrupt_response": st.booleans(),
                },
            ),
        ),
        "input_audio_transcription": st.one_of(st.none(), st.just({"model": "whisper-1"})),
        "temperature": st.sampled_from([0.7, 5.0]),
        "input_audio_format": st.sampled_from(["pcm16", "g711_alaw"]),
        "tools": st.just([{"name": "f", "parameters": {"type": "object"}}]),
        "bogus": st.just(1),
    },
)

ITEMS = st.one_of(
    st.builds(
        lambda t: {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": t}],
        },
        TEXT,
    ),
    st.just(
        {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "earlier"}]}
    ),
    st.just(
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "AAAA"}]}
    ),
    st.just(
        {"type": "message", "role": "assistant", "content": [{"type": "audio", "audio": "AAAA"}]}
    ),
    st.just({"type": "function_call_output", "call_id": "call_1", "output": "{}"}),
    st.just({"type": "function_call", "call_id": "call_9", "name": "f", "arguments": "{}"}),
    st.just({"type": "message", "role": "system"}),
)

CHUNKS = st.one_of(
    st.builds(TextChunk, TEXT),
    st.builds(TranscriptChunk, TEXT),
    st.builds(AudioChunk, st.sampled_from([b"\x00\x01" * 240, b"\x00" * 3])),
    st.builds(lambda n: FunctionCallChunk(name="f", arguments=n), st.sampled_from(["", "{}"])),
    st.builds(ArgumentsChunk, st.sampled_from(['{"a":', "1}"])),
    st.just(EndItem()),
    st.builds(lambda s: Finish(status=s), st.sampled_from(["completed", "incomplete", "failed"])),
)


def core(h: Harness) -> tuple[Any, ...]:
    s = h.server.state
    return (s.session, s.order, s._slots, s._newest, s.responses, s.pending_calls, h.server.session)


class ServerStreams(RuleBasedStateMachine):
    """Beta streams; ``GAServerStreams`` below tells the same kinds of story in GA."""

    dialect: ev.Dialect = "beta"

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(dialect=self.dialect)
        self.transcriptions: list[Transcribe] = []
        self.n = 0

    def send(self, message: Any) -> None:
        self.n += 1
        if isinstance(message, dict):
            message = {**message, "event_id": f"c{self.n}"}
        for effect in self.h.send(message):
            if isinstance(effect, Transcribe):
                self.transcriptions.append(effect)

    # -- client side ---------------------------------------------------------------------------

    @rule(session=SESSION_FIELDS)
    def session_update(self, session: dict[str, Any]) -> None:
        self.send({"type": "session.update", "session": session})

    @rule(kind=st.sampled_from(["speech", "silence", "odd", "long"]))
    def append(self, kind: str) -> None:
        data = {
            "speech": tone(300),
            "silence": silence(300),
            "odd": b"\x00" * 3,
            "long": tone(100) + silence(300),
        }[kind]
        for offset in range(0, len(data), 960):
            self.send(
                ev.InputAudioBufferAppend(event_id=f"a{self.n}", audio=data[offset : offset + 960])
            )

    @rule(kind=st.sampled_from(["input_audio_buffer.commit", "input_audio_buffer.clear"]))
    def buffer(self, kind: str) -> None:
        self.send({"type": kind})

    @rule(item=ITEMS, anchor=st.one_of(st.just(ev.UNSET), st.none(), IDS))
    def create(self, item: dict[str, Any], anchor: Any) -> None:
        message: dict[str, Any] = {"type": "conversation.item.create", "item": item}
        if not isinstance(anchor, ev.UnsetType):
            message["previous_item_id"] = anchor
        self.send(message)

    @rule(target_id=IDS, ms=st.integers(min_value=-1, max_value=400))
    def truncate(self, target_id: str, ms: int) -> None:
        self.send(
            {
                "type": "conversation.item.truncate",
                "item_id": target_id,
                "content_index": 0,
                "audio_end_ms": ms,
            }
        )

    @rule(
        kind=st.sampled_from(["conversation.item.delete", "conversation.item.retrieve"]),
        target_id=IDS,
    )
    def by_id(self, kind: str, target_id: str) -> None:
        self.send({"type": kind, "item_id": target_id})

    @rule(
        params=st.fixed_dictionaries(
            {},
            optional={
                "conversation": st.sampled_from(["auto", "none"]),
                "modalities": st.sampled_from([["text"], ["audio", "text"]]),
                "input": st.sampled_from([[], [{"type": "item_reference", "id": "item_1"}]]),
                "temperature": st.sampled_from([0.9, 0.1]),
            },
        )
    )
    def response_create(self, params: dict[str, Any]) -> None:
        self.send(
            {"type": "response.create", "response": params}
            if params
            else {"type": "response.create"}
        )

    @rule(response_id=st.one_of(st.none(), IDS))
    def response_cancel(self, response_id: str | None) -> None:
        self.send(
            {"type": "response.cancel", **({"response_id": response_id} if response_id else {})}
        )

    @rule(
        data=st.sampled_from(
            [
                b"{",
                b"[]",
                b'{"type":"nope"}',
                b'{"type":"session.update"}',
                b'{"type":"output_audio_buffer.clear"}',
            ]
        )
    )
    def garbage(self, data: bytes) -> None:
        before = core(self.h)
        errors_before = len(self.h.server.state.errors)
        self.h.send(data)
        assert core(self.h) == before
        assert len(self.h.server.state.errors) == errors_before + 1

    # -- the app's side -------------------------------------------------------------------------

    @precondition(lambda self: bool(self.h.server.active_responses))
    @rule(data=st.data(), chunk=CHUNKS)
    def produce(self, data: st.DataObject, chunk: Any) -> None:
        response_id = data.draw(st.sampled_from(self.h.server.active_responses))
        before = self.h.server.state
        try:
            self.h.server.produce(response_id, chunk)
        except LocalProtocolError:
            assert self.h.server.state == before  # refused output changes nothing
        self.h.flush()

    @precondition(lambda self: bool(self.transcriptions))
    @rule(data=st.data(), ok=st.booleans())
    def transcribe(self, data: st.DataObject, ok: bool) -> None:
        request = data.draw(st.sampled_from(self.transcriptions))
        self.transcriptions.remove(request)
        if not self.h.server.transcription_pending(request.item_id):
            return
        if ok:
            self.h.server.complete_transcription(request.item_id, "heard")
        else:
            self.h.server.fail_transcription(
                request.item_id, ev.TranscriptionError(type="transcription_error")
            )
        self.h.flush()

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def client_and_server_agree(self) -> None:
        h = self.h
        assert not h.client.state.protocol_errors, h.client.state.protocol_errors
        assert not h.client.state.anomalies, h.client.state.anomalies
        assert h.client.state == h.server.state

    @invariant()
    def at_most_one_response_writes_to_the_conversation(self) -> None:
        active = [r for r in self.h.server.state.responses if not r.done and not r.out_of_band]
        assert len(active) <= 1

    @invariant()
    def responses_are_well_formed(self) -> None:
        created: dict[str, int] = defaultdict(int)
        done: set[str] = set()
        open_items: dict[str, set[str]] = defaultdict(set)
        open_parts: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for event in self.h.log:
            kind = event.type
            rid = getattr(event, "response_id", None)
            if kind == "response.created":
                created[event.response.id] += 1  # type: ignore[attr-defined]
                continue
            if kind == "response.done":
                rid = event.response.id  # type: ignore[attr-defined]
                assert rid not in done
                assert not open_items[rid] and not open_parts[rid], (
                    rid,
                    open_items[rid],
                    open_parts[rid],
                )
                done.add(rid)
                continue
            if rid is None:
                continue
            assert rid not in done, f"{kind} after response.done of {rid}"
            if kind == "response.output_item.added":
                open_items[rid].add(str(event.item.id))  # type: ignore[attr-defined]
            elif kind == "response.output_item.done":
                open_items[rid].discard(str(event.item.id))  # type: ignore[attr-defined]
            elif kind == "response.content_part.added":
                open_parts[rid].add((event.item_id, event.content_index))  # type: ignore[attr-defined]
            elif kind == "response.content_part.done":
                open_parts[rid].discard((event.item_id, event.content_index))  # type: ignore[attr-defined]
        assert all(n == 1 for n in created.values())
        assert done <= set(created)

    def teardown(self) -> None:
        h = self.h
        h.server.shutdown()
        h.flush()
        self.responses_are_well_formed()
        created = {e.response.id for e in h.log if e.type == "response.created"}  # type: ignore[attr-defined]
        done = {e.response.id for e in h.log if e.type == "response.done"}  # type: ignore[attr-defined]
        assert created == done  # every response ended, on every path
        for raw in h.raw:
            assert not isinstance(
                ev.decode_server_event(raw, dialect=self.dialect, strict=True), ev.UnknownEvent
            )
        assert h.client.state == h.server.state


TestServerStreams = ServerStreams.TestCase


# -- the same machine, in GA words -----------------------------------------------------------------

GA_SESSION_FIELDS = st.fixed_dictionaries(
    {"type": st.sampled_from(["realtime", "realtime", "realtime", "transcription"])},
    optional={
        "output_modalities": st.sampled_from([["text"], ["audio"], ["text", "audio"]]),
        "audio": st.fixed_dictionaries(
            {},
            optional={
                "input": st.fixed_dictionaries(
                    {},
                    optional={
                        "format": st.sampled_from(
                            [{"type": "audio/pcm", "rate": 24000}, {"type": "audio/pcma"}]
                        ),
                        "transcription": st.one_of(st.none(), st.just({"model": "whisper-1"})),
                        "turn_detection": st.one_of(
                            st.none(),
                            st.fixed_dictionaries(
                                {"type": st.sampled_from(["server_vad", "semantic_vad"])},
                                optional={
                                    "create_response": st.booleans(),
                                    "interrupt_response": st.booleans(),
                                },
                            ),
                            st.just({"type": "server_vad", "silence_duration_ms": 100}),
                        ),
                    },
                ),
                "output": st.fixed_dictionaries(
                    {}, optional={"voice": st.sampled_from(["alloy", "marin", "robot"])}
                ),
            },
        ),
        "max_output_tokens": st.sampled_from([1, 50, "inf"]),
        "tools": st.just([{"type": "function", "name": "f", "parameters": {"type": "object"}}]),
        "temperature": st.just(0.7),  # a beta field: unknown_parameter in GA
        "bogus": st.just(1),
    },
)

GA_ITEMS = st.one_of(
    ITEMS,
    st.just(
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "earlier"}],
        }
    ),
    st.just(
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "audio": "AAAA", "transcript": "hm"}],
        }
    ),
)


class GAServerStreams(ServerStreams):
    dialect: ev.Dialect = "ga"

    @rule(session=GA_SESSION_FIELDS)
    def session_update(self, session: dict[str, Any]) -> None:
        self.send({"type": "session.update", "session": session})

    @rule(item=GA_ITEMS, anchor=st.one_of(st.just(ev.UNSET), st.none(), IDS))
    def create(self, item: dict[str, Any], anchor: Any) -> None:
        super().create(item, anchor)

    @rule(
        params=st.fixed_dictionaries(
            {},
            optional={
                "conversation": st.sampled_from(["auto", "none"]),
                "output_modalities": st.sampled_from([["text"], ["audio"]]),
                "input": st.sampled_from([[], [{"type": "item_reference", "id": "item_1"}]]),
                "max_output_tokens": st.sampled_from([5, "inf"]),
                "tools": st.just([]),
                "modalities": st.just(["text"]),  # beta: unknown_parameter in GA
            },
        )
    )
    def response_create(self, params: dict[str, Any]) -> None:
        super().response_create(params)


TestGAServerStreams = GAServerStreams.TestCase
