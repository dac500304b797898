"""One machine, two dialects: the same conversation told in beta and in GA gives equal snapshots.

A hypothesis state machine drives two ``ServerSession``s in lockstep, one per
dialect, with the same client actions written in each dialect's words
(flat vs nested ``session.update``, ``text`` vs ``output_text`` parts,
``modalities`` vs ``output_modalities``, ...) and the same backend output. A
``ClientSession`` of the matching dialect rebuilds each server's conversation
from its bytes. After every step the two client snapshots must be equal,
except for what only one dialect can say:

* the session record's GA-only settings (``truncation``; beta never reports
  one);
* ``rate_limits``: a snapshot keeps the latest report, and beta reports at a
  response's first output, GA after its last part (docs/protocol/flows.md#responses), so with
  overlapping responses the latest report is another response's;
* the image counters of ``usage`` (``image_tokens``), which a GA server
  always sends and beta has no word for;
* the ids of error events and of the anomalies (GA sends more events:
  ``conversation.item.done``), and the client event an error names (a beta
  or a GA class); errors are compared by code.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from msgspec.structs import replace
from pyrsistent import pvector
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
from rtcore.state import ErrorRecord, Snapshot

TEXT = st.text(alphabet="abc é", max_size=5)
IDS = st.sampled_from(["item_1", "item_2", "item_3", "item_5", "ghost", "resp_1", "resp_2"])

CHUNKS = st.one_of(
    st.builds(TextChunk, TEXT),
    st.builds(TranscriptChunk, TEXT),
    st.builds(AudioChunk, st.just(b"\x00\x01" * 240)),
    st.builds(lambda a: FunctionCallChunk(name="f", arguments=a), st.sampled_from(["", "{}"])),
    st.builds(ArgumentsChunk, st.sampled_from(['{"a":', "1}"])),
    st.just(EndItem()),
    st.builds(lambda s: Finish(status=s), st.sampled_from(["completed", "incomplete"])),
)

SETTINGS = st.fixed_dictionaries(
    {},
    optional={
        "audio": st.booleans(),
        "voice": st.sampled_from(["alloy", "marin"]),
        "vad": st.one_of(st.none(), st.sampled_from([0.3, 0.6])),
        "transcribe": st.booleans(),
        "tools": st.booleans(),
        "instructions": TEXT,
        "max_tokens": st.sampled_from([100, "inf"]),
    },
)


def beta_session(s: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "audio" in s:
        out["modalities"] = ["text", "audio"] if s["audio"] else ["text"]
    if "voice" in s:
        out["voice"] = s["voice"]
    if "vad" in s:
        out["turn_detection"] = (
            None if s["vad"] is None else {"type": "server_vad", "threshold": s["vad"]}
        )
    if "transcribe" in s:
        out["input_audio_transcription"] = {"model": "whisper-1"} if s["transcribe"] else None
    if "tools" in s:
        out["tools"] = [{"type": "function", "name": "f"}] if s["tools"] else []
    if "instructions" in s:
        out["instructions"] = s["instructions"]
    if "max_tokens" in s:
        out["max_response_output_tokens"] = s["max_tokens"]
    return out


def ga_session(s: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "realtime"}
    audio_in: dict[str, Any] = {}
    if "audio" in s:
        out["output_modalities"] = ["audio"] if s["audio"] else ["text"]
    if "voice" in s:
        out["audio"] = {"output": {"voice": s["voice"]}}
    if "vad" in s:
        audio_in["turn_detection"] = (
            None if s["vad"] is None else {"type": "server_vad", "threshold": s["vad"]}
        )
    if "transcribe" in s:
        audio_in["transcription"] = {"model": "whisper-1"} if s["transcribe"] else None
    if audio_in:
        out.setdefault("audio", {})["input"] = audio_in
    if "tools" in s:
        out["tools"] = [{"type": "function", "name": "f"}] if s["tools"] else []
    if "instructions" in s:
        out["instructions"] = s["instructions"]
    if "max_tokens" in s:
        out["max_output_tokens"] = s["max_tokens"]
    return out


def without_image_tokens(usage: ev.Usage) -> ev.Usage:
    details = usage.input_token_details
    if not isinstance(details, ev.InputTokenDetails):
        return usage
    cached = details.cached_tokens_details
    if isinstance(cached, ev.CachedTokensDetails):
        cached = replace(cached, image_tokens=ev.UNSET)
    details = replace(details, image_tokens=ev.UNSET, cached_tokens_details=cached)
    return replace(usage, input_token_details=details)


def comparable(s: Snapshot) -> Snapshot:
    """A snapshot without what only one dialect reports (see the module docstring)."""
    session = s.session if s.session is None else replace(s.session, truncation=None)
    errors = pvector(
        ErrorRecord(
            error=ev.ErrorDetails(type=r.error.type, message="", code=r.error.code), event_id=""
        )
        for r in s.errors
    )
    anomalies = pvector(replace(a, event_id=None) for a in s.anomalies)
    responses = pvector(
        r if r.usage is None else replace(r, usage=without_image_tokens(r.usage))
        for r in s.responses
    )
    return replace(
        s,
        responses=responses,
        session=session,
        errors=errors,
        anomalies=anomalies,
        rate_limits=(),
        events_applied=0,
    )


@settings(stateful_step_count=25)
class SameConversation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.beta = Harness(dialect="beta", model="gpt-realtime")
        self.ga = Harness(dialect="ga", model="gpt-realtime")
        self.transcriptions: list[str] = []

    def both(self, beta: dict[str, Any], ga: dict[str, Any]) -> None:
        effects = self.beta.send(beta)
        other = self.ga.send(ga)
        assert [type(e) for e in effects] == [type(e) for e in other]
        for effect in effects:
            if isinstance(effect, Transcribe):
                self.transcriptions.append(effect.item_id)

    def same(self, message: dict[str, Any]) -> None:
        self.both(message, message)

    @rule(settings=SETTINGS)
    def session_update(self, settings: dict[str, Any]) -> None:
        self.both(
            {"type": "session.update", "session": beta_session(settings)},
            {"type": "session.update", "session": ga_session(settings)},
        )

    @rule(speech=st.booleans())
    def append(self, speech: bool) -> None:
        audio = tone(200) if speech else silence(300)
        for offset in range(0, len(audio), 4800):
            chunk = ev.InputAudioBufferAppend(audio=audio[offset : offset + 4800])
            data = json.loads(ev.encode_event(chunk))
            self.same(data)

    @rule(kind=st.sampled_from(["input_audio_buffer.commit", "input_audio_buffer.clear"]))
    def buffer(self, kind: str) -> None:
        self.same({"type": kind})

    @rule(
        text=TEXT,
        role=st.sampled_from(["user", "assistant", "system"]),
        anchor=st.one_of(st.none(), IDS),
    )
    def create(self, text: str, role: str, anchor: str | None) -> None:
        beta_part = {"type": "text" if role == "assistant" else "input_text", "text": text}
        ga_part = {"type": "output_text" if role == "assistant" else "input_text", "text": text}
        extra = {} if anchor is None else {"previous_item_id": anchor}
        self.both(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": role, "content": [beta_part]},
                **extra,
            },
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": role, "content": [ga_part]},
                **extra,
            },
        )

    @rule()
    def call_output(self) -> None:
        item = {"type": "function_call_output", "call_id": "call_1", "output": "{}"}
        self.same({"type": "conversation.item.create", "item": item})

    @rule(item_id=IDS, ms=st.integers(min_value=0, max_value=30))
    def truncate(self, item_id: str, ms: int) -> None:
        self.same(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": ms,
            }
        )

    @rule(
        kind=st.sampled_from(["conversation.item.delete", "conversation.item.retrieve"]),
        item_id=IDS,
    )
    def by_id(self, kind: str, item_id: str) -> None:
        self.same({"type": kind, "item_id": item_id})

    @rule(out_of_band=st.booleans(), text_only=st.booleans())
    def response_create(self, out_of_band: bool, text_only: bool) -> None:
        beta: dict[str, Any] = {}
        ga: dict[str, Any] = {}
        if out_of_band:
            beta["conversation"] = ga["conversation"] = "none"
        if text_only:
            beta["modalities"], ga["output_modalities"] = ["text"], ["text"]
        self.both(
            {"type": "response.create", "response": beta},
            {"type": "response.create", "response": ga},
        )

    @rule()
    def response_cancel(self) -> None:
        self.same({"type": "response.cancel"})

    @precondition(lambda self: bool(self.beta.server.active_responses))
    @rule(data=st.data(), chunk=CHUNKS)
    def produce(self, data: st.DataObject, chunk: Any) -> None:
        response_id = data.draw(st.sampled_from(self.beta.server.active_responses))
        outcomes = []
        for h in (self.beta, self.ga):
            try:
                h.server.produce(response_id, chunk)
                outcomes.append(True)
            except LocalProtocolError:
                outcomes.append(False)
            h.flush()
        assert outcomes[0] == outcomes[1]

    @precondition(lambda self: bool(self.transcriptions))
    @rule(data=st.data(), ok=st.booleans())
    def transcribe(self, data: st.DataObject, ok: bool) -> None:
        item_id = data.draw(st.sampled_from(self.transcriptions))
        self.transcriptions.remove(item_id)
        for h in (self.beta, self.ga):
            if not h.server.transcription_pending(item_id):
                continue
            if ok:
                h.server.complete_transcription(item_id, "heard")
            else:
                h.server.fail_transcription(
                    item_id, ev.TranscriptionError(type="transcription_error")
                )
            h.flush()

    @invariant()
    def equal_snapshots(self) -> None:
        for h in (self.beta, self.ga):
            assert not h.client.state.protocol_errors, h.client.state.protocol_errors
            assert h.in_step()
        beta, ga = comparable(self.beta.client.state), comparable(self.ga.client.state)
        assert beta.to_dict() == ga.to_dict()
        assert beta == ga
        assert self.beta.server.session == self.ga.server.session


TestSameConversation = SameConversation.TestCase
