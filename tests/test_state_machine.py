"""Hypothesis state machine: generated well-formed server streams against a simple model.

A model server emits a random but well-formed event stream (items inserted at
random anchors, responses with text, audio and function calls, truncations,
deletions, transcriptions, cancellations) and keeps the plain facts it expects;
a ``ClientSession`` receives the same stream as bytes. After every step:
the conversation order matches ``previous_item_id``; joined deltas equal the
settled values; audio lengths equal the bytes sent; old snapshots are
unchanged; malformed, unknown or contradicting input leaves the state as it
was (apart from the record of it).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rtcore import ClientSession, RemoteProtocolError
from rtcore import events as ev
from rtcore.events import beta, encode_event
from rtcore.state import Snapshot

WORDS = st.text(alphabet="abcdefgh é", min_size=0, max_size=6)
AUDIO = st.integers(min_value=0, max_value=40).map(lambda n: bytes(range(2 * n)))


def core(s: Snapshot) -> tuple[Any, ...]:
    """Everything in a snapshot except the record of bad input."""
    return (
        s.session,
        s.conversation_id,
        s.order,
        s._slots,
        s._newest,
        s.responses,
        s.input_audio_buffer,
        s.pending_calls,
        s._early,
        s.errors,
        s.anomalies,
    )


class ServerStreams(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.client = ClientSession(dialect="beta")
        self.n = 0
        self.order: list[str] = []
        self.items: dict[str, dict[str, Any]] = {}
        self.response: str | None = None
        self.response_in_band = True
        self.response_items: list[str] = []
        self.open_item: str | None = None
        self.open_part = False
        self.history: list[tuple[Snapshot, str]] = []
        self.counter = 0
        self.send(
            beta.SessionCreated,
            session=beta.Session(
                id="sess_1", input_audio_format="pcm16", output_audio_format="pcm16"
            ),
        )

    # -- plumbing -------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def send(self, cls: type[Any], **fields: Any) -> None:
        self.n += 1
        event = cls(event_id=f"event_{self.n}", **fields)
        [received] = self.client.receive_message(encode_event(event))
        assert not isinstance(received, RemoteProtocolError), received
        if self.n % 7 == 0:
            state = self.client.state
            self.history.append((state, json.dumps(state.to_dict(), sort_keys=True)))

    def place(self, item_id: str, anchor: Any) -> None:
        if anchor is None:
            self.order.insert(0, item_id)
        elif isinstance(anchor, str) and anchor in self.order:
            self.order.insert(self.order.index(anchor) + 1, item_id)
        else:
            self.order.append(item_id)

    # -- conversation items ---------------------------------------------------------------

    @rule(data=st.data(), kind=st.sampled_from(["text", "audio"]))
    def create_user_item(self, data: st.DataObject, kind: str) -> None:
        anchor = data.draw(
            st.one_of(
                st.just(ev.UNSET),
                st.none(),
                st.sampled_from(self.order or ["x"]),
                st.just("nowhere"),
            )
        )
        item_id = self.new_id("item")
        part: beta.ContentPart = (
            ev.InputTextContent(text="hi")
            if kind == "text"
            else ev.InputAudioContent(transcript=None)
        )
        item = beta.MessageItem(id=item_id, status="completed", role="user", content=(part,))
        self.send(beta.ConversationItemCreated, previous_item_id=anchor, item=item)
        self.place(item_id, anchor)
        self.items[item_id] = {"kind": kind, "transcript": None}

    @precondition(
        lambda self: any(
            i["kind"] == "audio" and i["transcript"] is None for i in self.items.values()
        )
    )
    @rule(data=st.data(), text=WORDS)
    def transcribe(self, data: st.DataObject, text: str) -> None:
        pending = [
            k for k, i in self.items.items() if i["kind"] == "audio" and i["transcript"] is None
        ]
        item_id = data.draw(st.sampled_from(pending))
        self.send(
            ev.ConversationItemInputAudioTranscriptionDelta,
            item_id=item_id,
            content_index=0,
            delta=text,
        )
        self.send(
            ev.ConversationItemInputAudioTranscriptionCompleted,
            item_id=item_id,
            content_index=0,
            transcript=text,
        )
        self.items[item_id]["transcript"] = text

    @precondition(
        lambda self: any(k != self.open_item and k not in self.response_items for k in self.order)
    )
    @rule(data=st.data())
    def delete_item(self, data: st.DataObject) -> None:
        choices = [k for k in self.order if k != self.open_item and k not in self.response_items]
        item_id = data.draw(st.sampled_from(choices))
        self.send(ev.ConversationItemDeleted, item_id=item_id)
        self.order.remove(item_id)
        del self.items[item_id]

    @precondition(lambda self: bool(self.truncatable()))
    @rule(data=st.data())
    def truncate(self, data: st.DataObject) -> None:
        done = self.truncatable()
        item_id = data.draw(st.sampled_from(done))
        model = self.items[item_id]
        received_ms = len(model["audio"]) // 2 * 1000 // 24000
        end = data.draw(st.integers(min_value=0, max_value=received_ms + 5))
        self.send(ev.ConversationItemTruncated, item_id=item_id, content_index=0, audio_end_ms=end)
        keep = end * 24000 // 1000 * 2
        if model["generated"] is None:
            model["generated"] = model["transcript"]
        model["audio"] = model["audio"][:keep]
        model["transcript"] = ""

    def truncatable(self) -> list[str]:
        return [
            k
            for k, i in self.items.items()
            if i["kind"] == "assistant_audio" and i["done"] and i["parts"]
        ]

    # -- responses -----------------------------------------------------------------------

    @precondition(lambda self: self.response is None)
    @rule(in_band=st.booleans())
    def start_response(self, in_band: bool) -> None:
        self.response = self.new_id("resp")
        self.response_in_band = in_band
        self.response_items = []
        self.send(
            beta.ResponseCreated,
            response=beta.Response(
                id=self.response,
                status="in_progress",
                output=(),
                conversation_id="conv_1" if in_band else None,
            ),
        )

    @precondition(
        lambda self: (
            self.response is not None and self.open_item is None and len(self.response_items) < 2
        )
    )
    @rule(kind=st.sampled_from(["assistant_audio", "assistant_text", "call"]))
    def add_output_item(self, kind: str) -> None:
        assert self.response is not None
        item_id = self.new_id("item")
        item: beta.Item
        if kind == "call":
            call_id = self.new_id("call")
            item = ev.FunctionCallItem(
                id=item_id, status="in_progress", name="f", call_id=call_id, arguments=""
            )
            model: dict[str, Any] = {
                "kind": kind,
                "arguments": "",
                "call_id": call_id,
                "done": False,
            }
        else:
            item = beta.MessageItem(id=item_id, status="in_progress", role="assistant", content=())
            model = {
                "kind": kind,
                "text": "",
                "transcript": "",
                "audio": b"",
                "generated": None,
                "done": False,
                "parts": 0,
            }
        self.send(
            beta.ResponseOutputItemAdded,
            response_id=self.response,
            output_index=len(self.response_items),
            item=item,
        )
        if self.response_in_band:
            anchor = self.order[-1] if self.order else None
            self.send(beta.ConversationItemCreated, previous_item_id=anchor, item=item)
            self.place(item_id, anchor)
        self.items[item_id] = model
        self.open_item = item_id
        self.response_items.append(item_id)

    def ids(self) -> dict[str, Any]:
        assert self.response is not None and self.open_item is not None
        return {
            "response_id": self.response,
            "item_id": self.open_item,
            "output_index": self.response_items.index(self.open_item),
        }

    @precondition(
        lambda self: (
            self.open_item is not None
            and not self.open_part
            and self.items[self.open_item]["kind"] != "call"
            and self.items[self.open_item]["parts"] == 0
        )
    )
    @rule()
    def add_part(self) -> None:
        assert self.open_item is not None
        model = self.items[self.open_item]
        part: beta.ContentPart = (
            ev.AudioContent(transcript="")
            if model["kind"] == "assistant_audio"
            else ev.TextContent(text="")
        )
        self.send(ev.ResponseContentPartAdded, content_index=0, part=part, **self.ids())
        model["parts"] = 1
        self.open_part = True

    @precondition(lambda self: self.open_part)
    @rule(text=WORDS, audio=AUDIO)
    def part_delta(self, text: str, audio: bytes) -> None:
        assert self.open_item is not None
        model = self.items[self.open_item]
        if model["kind"] == "assistant_text":
            self.send(beta.ResponseTextDelta, content_index=0, delta=text, **self.ids())
            model["text"] += text
        else:
            self.send(beta.ResponseAudioTranscriptDelta, content_index=0, delta=text, **self.ids())
            self.send(beta.ResponseAudioDelta, content_index=0, delta=audio, **self.ids())
            model["transcript"] += text
            model["audio"] += audio

    @precondition(
        lambda self: (
            self.open_item is not None
            and self.items[self.open_item]["kind"] == "call"
            and not self.items[self.open_item]["done"]
        )
    )
    @rule(text=WORDS)
    def arguments_delta(self, text: str) -> None:
        assert self.open_item is not None
        model = self.items[self.open_item]
        self.send(
            ev.ResponseFunctionCallArgumentsDelta,
            call_id=model["call_id"],
            delta=text,
            **self.ids(),
        )
        model["arguments"] += text

    def close_open_part(self, final: str | None = None) -> None:
        assert self.open_item is not None
        model = self.items[self.open_item]
        if model["kind"] == "assistant_text":
            value = model["text"] if final is None else final
            self.send(beta.ResponseTextDone, content_index=0, text=value, **self.ids())
            self.send(
                ev.ResponseContentPartDone,
                content_index=0,
                part=ev.TextContent(text=value),
                **self.ids(),
            )
            model["text"] = value
        else:
            value = model["transcript"] if final is None else final
            self.send(beta.ResponseAudioDone, content_index=0, **self.ids())
            self.send(
                beta.ResponseAudioTranscriptDone, content_index=0, transcript=value, **self.ids()
            )
            self.send(
                ev.ResponseContentPartDone,
                content_index=0,
                part=ev.AudioContent(transcript=value),
                **self.ids(),
            )
            model["transcript"] = value
        self.open_part = False

    @precondition(lambda self: self.open_part)
    @rule(override=st.one_of(st.none(), WORDS))
    def close_part(self, override: str | None) -> None:
        self.close_open_part(override)

    def final_item(self, item_id: str, status: ev.ItemStatus) -> beta.Item:
        model = self.items[item_id]
        if model["kind"] == "call":
            return ev.FunctionCallItem(
                id=item_id,
                status=status,
                name="f",
                call_id=model["call_id"],
                arguments=model["arguments"],
            )
        content: tuple[beta.ContentPart, ...] = ()
        if model["parts"]:
            content = (
                (ev.TextContent(text=model["text"]),)
                if model["kind"] == "assistant_text"
                else (
                    ev.AudioContent(
                        transcript=model["generated"]
                        if model["generated"] is not None
                        else model["transcript"]
                    ),
                )
            )
        return beta.MessageItem(id=item_id, status=status, role="assistant", content=content)

    def close_open_item(self, status: ev.ItemStatus) -> None:
        assert self.open_item is not None
        model = self.items[self.open_item]
        if self.open_part:
            self.close_open_part()
        if model["kind"] == "call":
            self.send(
                ev.ResponseFunctionCallArgumentsDone,
                call_id=model["call_id"],
                arguments=model["arguments"],
                **self.ids(),
            )
        ids = self.ids()
        self.send(
            beta.ResponseOutputItemDone,
            response_id=ids["response_id"],
            output_index=ids["output_index"],
            item=self.final_item(self.open_item, status),
        )
        model["done"] = True
        model["status"] = status
        self.open_item = None

    @precondition(lambda self: self.open_item is not None and not self.open_part)
    @rule()
    def close_item(self) -> None:
        self.close_open_item("completed")

    @precondition(lambda self: self.response is not None)
    @rule(cancel=st.booleans())
    def finish_response(self, cancel: bool) -> None:
        assert self.response is not None
        if self.open_item is not None:
            self.close_open_item("incomplete" if cancel else "completed")
        output = tuple(
            self.final_item(i, self.items[i].get("status", "completed"))
            for i in self.response_items
        )
        details = ev.StatusDetails(type="cancelled", reason="client_cancelled") if cancel else None
        self.send(
            beta.ResponseDone,
            response=beta.Response(
                id=self.response,
                status="cancelled" if cancel else "completed",
                status_details=details,
                output=output,
                usage=ev.Usage(total_tokens=0, input_tokens=0, output_tokens=0),
                conversation_id="conv_1" if self.response_in_band else None,
            ),
        )
        self.response = None
        self.response_items = []

    # -- bad input ----------------------------------------------------------------------

    @rule(
        bad=st.sampled_from(
            [
                b"{not json",
                b"[1,2,3]",
                b'{"type":"response.text.delta","event_id":"x"}',
                b'{"type":"mcp_call.done","event_id":"x"}',
                b'{"type":"response.text.delta","event_id":"x","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"d"}',
                b'{"type":"conversation.item.deleted","event_id":"x","item_id":"nobody"}',
                b'{"type":"response.done","event_id":"x","response":{"id":"never","status":"completed","output":[]}}',
            ]
        )
    )
    def bad_input(self, bad: bytes) -> None:
        before = self.client.state
        self.client.receive_message(bad)
        assert core(self.client.state) == core(before)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def order_follows_previous_item_id(self) -> None:
        assert list(self.client.state.order) == self.order

    @invariant()
    def values_equal_what_was_streamed(self) -> None:
        s = self.client.state
        for item_id, model in self.items.items():
            item = s.item(item_id)
            assert item is not None
            if model["kind"] == "audio":
                transcript = item.content[0].transcript
                assert (transcript.value if transcript is not None else None) == model["transcript"]
            elif model["kind"] == "call":
                assert item.arguments is not None and item.arguments.value == model["arguments"]
            elif model["kind"] == "assistant_text" and model["parts"]:
                assert (
                    item.content[0].text is not None and item.content[0].text.value == model["text"]
                )
            elif model["kind"] == "assistant_audio" and model["parts"]:
                part = item.content[0]
                assert part.transcript is not None and part.transcript.value == model["transcript"]
                assert part.audio is not None and part.audio.value == model["audio"]
                assert part.audio_ms == len(model["audio"]) // 2 * 1000 // 24000
                assert part.generated_transcript == model["generated"]

    @invariant()
    def at_most_one_response_is_active(self) -> None:
        active = [r for r in self.client.state.responses if not r.done]
        assert len(active) == (0 if self.response is None else 1)

    @invariant()
    def the_peer_made_no_mistake(self) -> None:
        s = self.client.state
        assert all(e.event_id == "x" or e.code in ("invalid_event",) for e in s.protocol_errors)

    def teardown(self) -> None:
        for snapshot, dumped in self.history:
            assert json.dumps(snapshot.to_dict(), sort_keys=True) == dumped


TestServerStreams = ServerStreams.TestCase
