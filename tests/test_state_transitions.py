"""Table tests: the effect of every server event on the snapshot, and every contradiction."""

from __future__ import annotations

from typing import Any

import pytest
from builders import Server, assistant_item, audio_response, fold

from rtcore import events as ev
from rtcore.errors import RemoteProtocolError
from rtcore.events import beta
from rtcore.state import Snapshot, apply
from rtcore.state.session import session_from_wire

TESTED: set[type[Any]] = set()


def tested(*classes: type[Any]) -> None:
    TESTED.update(classes)


def ids(s: Snapshot) -> list[str]:
    return [item.id for item in s.items]


def contradiction(s: Snapshot, event: Any, code: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        apply(s, event)
    assert info.value.code == code, info.value
    assert info.value.event_id == event.event_id


# -- session and conversation --------------------------------------------------------


def test_session_created_and_updated_replace_the_session() -> None:
    tested(beta.SessionCreated, beta.SessionUpdated)
    srv = Server()
    s = fold([srv.session_created()])
    assert s.session is not None and s.session.voice == "alloy"
    updated = srv(beta.SessionUpdated, session=beta.Session(id="sess_1", voice="ash"))
    s = apply(s, updated)
    assert s.session == session_from_wire(updated.session)
    assert s.session is not None and (s.session.id, s.session.voice) == ("sess_1", "ash")


def test_conversation_created_names_the_conversation() -> None:
    tested(ev.ConversationCreated)
    srv = Server()
    s = fold([srv(ev.ConversationCreated, conversation=ev.Conversation(id="conv_1"))])
    assert s.conversation_id == "conv_1"


def test_transcription_sessions_are_recorded() -> None:
    tested(beta.TranscriptionSessionCreated, beta.TranscriptionSessionUpdated)
    srv = Server()
    created = srv(beta.TranscriptionSessionCreated, session=beta.TranscriptionSession(id="sess_t"))
    updated = srv(
        beta.TranscriptionSessionUpdated,
        session=beta.TranscriptionSession(id="sess_t", input_audio_format="g711_ulaw"),
    )
    first = fold([created]).session
    assert first is not None and (first.kind, first.id) == ("transcription", "sess_t")
    second = fold([created, updated]).session
    assert second == session_from_wire(updated.session)
    assert second is not None and second.input_format == "g711_ulaw"


# -- items ------------------------------------------------------------------------------


def test_items_are_ordered_by_previous_item_id() -> None:
    tested(beta.ConversationItemCreated)
    srv = Server()
    s = fold(
        [
            srv.user_text("a", "first", None),  # null: first of an empty conversation
            srv.user_text("c", "third", "a"),
            srv.user_text("b", "second", "a"),  # inserted right after a
            srv.user_text("d", "last"),  # absent: at the end
            srv.user_text("z", "zeroth", None),  # null: first
        ]
    )
    assert ids(s) == ["z", "a", "b", "c", "d"]
    item = s.item("b")
    assert item is not None and item.role == "user" and item.status == "completed"
    assert item.content[0].text is not None and item.content[0].text.value == "second"


def test_an_unknown_anchor_is_tolerated_and_recorded() -> None:
    srv = Server()
    s = fold([srv.user_text("a", "x", None), srv.user_text("b", "y", "nope")])
    assert ids(s) == ["a", "b"]
    assert [a.kind for a in s.anomalies] == ["unknown_anchor"]


def test_the_same_item_cannot_be_created_twice() -> None:
    srv = Server()
    s = fold([srv.user_text("a", "x", None)])
    contradiction(s, srv.user_text("a", "again", None), "duplicate_item")


def test_deleting_an_item_removes_it_and_its_later_events_are_errors() -> None:
    tested(ev.ConversationItemDeleted)
    srv = Server()
    s = fold([srv.user_text("a", "x", None), srv.user_text("b", "y", "a")])
    s = apply(s, srv(ev.ConversationItemDeleted, item_id="a"))
    assert ids(s) == ["b"]
    assert s.item("a") is None
    contradiction(s, srv(ev.ConversationItemDeleted, item_id="a"), "unknown_item")
    # Neighbours now use the order after the deletion.
    s = apply(s, srv.user_text("c", "z", "b"))
    assert ids(s) == ["b", "c"]


def test_the_newest_item_held_aside_reads_and_streams_like_any_other() -> None:
    """The newest item lives outside the slot vector (``Snapshot._newest``): deltas stream
    into it there, the next item pushes it into the vector, deleting it drops its slot, and
    every snapshot along the way keeps what it showed."""
    srv = Server()
    s = fold([srv.user_text("a", "x", None)])
    assert s._newest is not None and s._newest.id == "a" and len(s._slots) == 0
    events = audio_response(srv, "r1", "b", "a", ["one ", "two"], [b"\0\0" * 4] * 2)
    partway = fold(events[:5], s)  # the first transcript delta
    s = fold(events[5:], partway)
    assert ids(s) == ["a", "b"]
    assert s._newest is not None and s._newest.id == "b" and len(s._slots) == 1
    part = s.conversation[1].content[0]
    assert part.transcript is not None and part.transcript.value == "one two"
    assert part.audio is not None and part.audio.size == 16
    assert partway.item("b").content[0].transcript.value == "one "  # type: ignore[union-attr]
    # Deleting the newest item drops its slot; the next item takes that slot.
    deleted = apply(s, srv(ev.ConversationItemDeleted, item_id="b"))
    assert ids(deleted) == ["a"] and deleted.item("b") is None and deleted._newest is None
    s = fold([srv.user_text("c", "y"), srv.user_text("d", "z")], deleted)
    assert ids(s) == ["a", "c", "d"] and [i.id for i in reversed(s.conversation)] == ["d", "c", "a"]
    assert s.item("c") is not None and s.item("a") is not None
    # Deleting an older item leaves a hole in the vector; the newest stays aside.
    s = apply(s, srv(ev.ConversationItemDeleted, item_id="c"))
    assert ids(s) == ["a", "d"] and s._newest is not None and s._newest.id == "d"
    assert s.item("c") is None
    # Events about an item in the vector find it there and change it there.
    contradiction(
        s,
        srv(ev.ConversationItemTruncated, item_id="a", content_index=0, audio_end_ms=0),
        "not_audio",
    )
    s = fold([srv.user_audio("u"), srv.user_text("e", "w")], s)
    before = s
    s = apply(
        s,
        srv(
            ev.ConversationItemInputAudioTranscriptionCompleted,
            item_id="u",
            content_index=0,
            transcript="heard",
        ),
    )
    heard = s.item("u")
    assert heard is not None and heard.content[0].transcript is not None
    assert heard.content[0].transcript.value == "heard"
    assert s._newest is before._newest and ids(s) == ["a", "d", "u", "e"]
    assert before.item("u") is not None and before.item("u").content[0].transcript is None  # type: ignore[union-attr]


def test_truncation_cuts_audio_and_clears_the_transcript_but_keeps_what_was_said() -> None:
    tested(ev.ConversationItemTruncated)
    srv = Server()
    second = bytes(48000)  # 1 s of pcm16 at 24 kHz
    s = fold(
        [srv.session_created(), srv.user_text("u", "hi", None)]
        + audio_response(srv, "r1", "a", "u", ["Hello", " there"], [second, second])
    )
    part = s.item("a").content[0]  # type: ignore[union-attr]
    assert part.audio_ms == 2000
    s = apply(s, srv(ev.ConversationItemTruncated, item_id="a", content_index=0, audio_end_ms=1500))
    part = s.item("a").content[0]  # type: ignore[union-attr]
    assert part.audio_ms == 1500
    assert part.audio is not None and part.audio.size == 72000
    assert part.transcript is not None and part.transcript.value == ""
    assert part.generated_transcript == "Hello there"
    assert part.truncated_at_ms == 1500


def test_truncation_in_g711_counts_8000_samples_a_second() -> None:
    srv = Server()
    s = fold(
        [srv.session_created(), srv.response_created("r1", output_audio_format="g711_ulaw")]
        + [
            srv.assistant_added("r1", "a"),
            srv.item_created(assistant_item("a", "in_progress", ()), None),
            srv.part_added("r1", "a"),
            srv.part_event(beta.ResponseAudioDelta, "r1", "a", delta=bytes(8000)),
        ]
    )
    part = s.item("a").content[0]  # type: ignore[union-attr]
    assert part.audio_format == "g711_ulaw" and part.audio_ms == 1000
    s = apply(s, srv(ev.ConversationItemTruncated, item_id="a", content_index=0, audio_end_ms=250))
    assert s.item("a").content[0].audio.size == 2000  # type: ignore[union-attr]


def test_truncating_past_the_received_audio_keeps_the_audio_as_is() -> None:
    # WebRTC: the audio travels as media, the server truncates by itself.
    srv = Server()
    s = fold([srv.user_text("u", "hi", None)] + audio_response(srv, "r1", "a", "u", ["Hi"], []))
    s = apply(s, srv(ev.ConversationItemTruncated, item_id="a", content_index=0, audio_end_ms=1860))
    part = s.item("a").content[0]  # type: ignore[union-attr]
    assert part.truncated_at_ms == 1860 and part.audio_ms == 0
    assert part.generated_transcript == "Hi"


def test_truncating_something_that_is_not_audio_is_a_contradiction() -> None:
    srv = Server()
    s = fold([srv.user_text("u", "hi", None)])
    contradiction(
        s,
        srv(ev.ConversationItemTruncated, item_id="u", content_index=0, audio_end_ms=0),
        "not_audio",
    )
    contradiction(
        s,
        srv(ev.ConversationItemTruncated, item_id="x", content_index=0, audio_end_ms=0),
        "unknown_item",
    )


def test_retrieved_items_are_kept_with_the_item() -> None:
    tested(beta.ConversationItemRetrieved)
    srv = Server()
    s = fold([srv.user_audio("u", None)])
    full = beta.MessageItem(id="u", role="user", content=(ev.InputAudioContent(audio=b"\x00\x00"),))
    s = apply(s, srv(beta.ConversationItemRetrieved, item=full))
    copy = s.item("u").retrieved  # type: ignore[union-attr]
    assert copy is not None and copy.content[0].audio is not None
    assert copy.content[0].audio.value == b"\x00\x00"
    contradiction(
        s,
        srv(beta.ConversationItemRetrieved, item=beta.MessageItem(id="x", role="user")),
        "unknown_item",
    )


# -- input transcription --------------------------------------------------------------------


def transcription(srv: Server, cls: type[Any], item_id: str = "u", **fields: Any) -> Any:
    return srv(cls, item_id=item_id, content_index=0, **fields)


def test_transcription_completes_the_input_audio_transcript() -> None:
    tested(
        ev.ConversationItemInputAudioTranscriptionDelta,
        ev.ConversationItemInputAudioTranscriptionCompleted,
    )
    srv = Server()
    s = fold([srv.user_audio("u", None)])
    assert s.item("u").content[0].transcript is None  # type: ignore[union-attr]
    s = apply(
        s, transcription(srv, ev.ConversationItemInputAudioTranscriptionDelta, delta="Hello.\n")
    )
    assert s.item("u").content[0].transcript.value == "Hello.\n"  # type: ignore[union-attr]
    s = apply(
        s,
        transcription(
            srv, ev.ConversationItemInputAudioTranscriptionCompleted, transcript="Hello.\n"
        ),
    )
    part = s.item("u").content[0]  # type: ignore[union-attr]
    assert part.transcript.value == "Hello.\n" and part.transcript_done  # type: ignore[union-attr]
    assert not s.anomalies


def test_transcription_arriving_before_its_item_is_applied_when_the_item_comes() -> None:
    srv = Server()
    early = [
        transcription(srv, ev.ConversationItemInputAudioTranscriptionDelta, delta="Hi"),
        transcription(srv, ev.ConversationItemInputAudioTranscriptionCompleted, transcript="Hi"),
    ]
    s = fold(early)
    assert s.order == [] and "u" in s._early
    s = apply(s, srv.user_audio("u", None))
    assert s.item("u").content[0].transcript.value == "Hi"  # type: ignore[union-attr]
    assert "u" not in s._early


def test_transcription_failure_is_recorded_on_the_part() -> None:
    tested(ev.ConversationItemInputAudioTranscriptionFailed)
    srv = Server()
    error = ev.TranscriptionError(type="transcription_error", code="audio_unintelligible")
    s = fold(
        [
            srv.user_audio("u", None),
            transcription(srv, ev.ConversationItemInputAudioTranscriptionFailed, error=error),
        ]
    )
    assert s.item("u").content[0].transcription_error == error  # type: ignore[union-attr]


def test_transcription_segments_name_a_real_input_audio_part() -> None:
    tested(ev.ConversationItemInputAudioTranscriptionSegment)
    srv = Server()
    seg = dict(id="s1", start=0.0, end=0.5, text="Hi")
    s = fold([srv.user_audio("u", None)])
    assert (
        apply(s, transcription(srv, ev.ConversationItemInputAudioTranscriptionSegment, **seg)).items
        == s.items
    )
    text = fold([srv.user_text("t", "typed", None)])
    contradiction(
        text,
        transcription(srv, ev.ConversationItemInputAudioTranscriptionSegment, item_id="t", **seg),
        "not_input_audio",
    )


# -- input audio buffer ----------------------------------------------------------------------


def test_input_audio_buffer_events_track_speech_and_commits() -> None:
    tested(
        ev.InputAudioBufferSpeechStarted,
        ev.InputAudioBufferSpeechStopped,
        ev.InputAudioBufferCommitted,
        ev.InputAudioBufferCleared,
        ev.InputAudioBufferTimeoutTriggered,
    )
    srv = Server()
    s = fold([srv(ev.InputAudioBufferSpeechStarted, audio_start_ms=4308, item_id="u1")])
    b = s.input_audio_buffer
    assert (b.speech_active, b.speech_item_id, b.audio_start_ms, b.audio_end_ms) == (
        True,
        "u1",
        4308,
        None,
    )
    s = apply(s, srv(ev.InputAudioBufferSpeechStopped, audio_end_ms=4896, item_id="u1"))
    assert not s.input_audio_buffer.speech_active and s.input_audio_buffer.audio_end_ms == 4896
    s = apply(s, srv(ev.InputAudioBufferCommitted, previous_item_id=None, item_id="u1"))
    assert list(s.input_audio_buffer.committed_item_ids) == ["u1"]
    s = apply(s, srv(ev.InputAudioBufferSpeechStarted, audio_start_ms=6000, item_id="u2"))
    s = apply(s, srv(ev.InputAudioBufferCleared))
    assert not s.input_audio_buffer.speech_active and s.input_audio_buffer.speech_item_id is None
    s = apply(
        s,
        srv(
            ev.InputAudioBufferTimeoutTriggered,
            audio_start_ms=7000,
            audio_end_ms=12000,
            item_id="u3",
        ),
    )
    b = s.input_audio_buffer
    assert (b.speech_item_id, b.audio_start_ms, b.audio_end_ms) == ("u3", 7000, 12000)


# -- responses ---------------------------------------------------------------------------------


def test_a_complete_audio_response() -> None:
    tested(
        beta.ResponseCreated,
        beta.ResponseOutputItemAdded,
        ev.ResponseContentPartAdded,
        beta.ResponseAudioTranscriptDelta,
        beta.ResponseAudioDelta,
        beta.ResponseAudioDone,
        beta.ResponseAudioTranscriptDone,
        ev.ResponseContentPartDone,
        beta.ResponseOutputItemDone,
        beta.ResponseDone,
    )
    srv = Server()
    s = fold(
        [srv.session_created(), srv.user_text("u", "hi", None)]
        + audio_response(
            srv, "r1", "a", "u", ["Hi", " there", "!"], [b"\x01\x00" * 100, b"\x02\x00" * 50]
        )
    )
    assert ids(s) == ["u", "a"]
    item = s.item("a")
    assert item is not None and item.status == "completed" and item.response_id == "r1"
    part = item.content[0]
    assert part.transcript is not None and part.transcript.value == "Hi there!"
    assert part.audio is not None and part.audio.value == b"\x01\x00" * 100 + b"\x02\x00" * 50
    assert part.done and part.audio_done and part.transcript_done
    response = s.response("r1")
    assert response is not None and response.status == "completed"
    assert response.output_item_ids == ("a",) and response.usage is not None
    assert s.active_response is None and not s.anomalies and not s.protocol_errors


def test_a_text_response_and_a_mismatching_done_value() -> None:
    tested(beta.ResponseTextDelta, beta.ResponseTextDone)
    srv = Server()
    s = fold(
        [
            srv.response_created("r1"),
            srv.assistant_added("r1", "a"),
            srv.item_created(assistant_item("a", "in_progress", ()), None),
            srv.part_added("r1", "a", "text"),
            srv.part_event(beta.ResponseTextDelta, "r1", "a", delta="Bon"),
            srv.part_event(beta.ResponseTextDelta, "r1", "a", delta="jour"),
        ]
    )
    assert s.item("a").content[0].text.value == "Bonjour"  # type: ignore[union-attr]
    s = apply(s, srv.part_event(beta.ResponseTextDone, "r1", "a", text="Bonjour !"))
    assert s.item("a").content[0].text.value == "Bonjour !"  # type: ignore[union-attr]
    assert [a.kind for a in s.anomalies] == ["done_mismatch"]
    contradiction(
        s, srv.part_event(beta.ResponseTextDelta, "r1", "a", delta="late"), "stream_closed"
    )


def test_a_function_call_is_owed_an_output_until_one_is_created() -> None:
    tested(ev.ResponseFunctionCallArgumentsDelta, ev.ResponseFunctionCallArgumentsDone)
    srv = Server()
    call = ev.FunctionCallItem(
        id="f",
        object="realtime.item",
        status="in_progress",
        name="get_weather",
        call_id="call_1",
        arguments="",
    )
    args = dict(response_id="r1", item_id="f", output_index=0, call_id="call_1")
    s = fold(
        [
            srv.response_created("r1"),
            srv(beta.ResponseOutputItemAdded, response_id="r1", output_index=0, item=call),
            srv.item_created(call, None),
            srv(ev.ResponseFunctionCallArgumentsDelta, delta='{"city":', **args),
            srv(ev.ResponseFunctionCallArgumentsDelta, delta='"Paris"}', **args),
            srv(
                ev.ResponseFunctionCallArgumentsDone,
                arguments='{"city":"Paris"}',
                name="get_weather",
                **args,
            ),
        ]
    )
    assert s.item("f").arguments.value == '{"city":"Paris"}'  # type: ignore[union-attr]
    assert dict(s.pending_calls) == {}
    final = ev.FunctionCallItem(
        id="f",
        status="completed",
        name="get_weather",
        call_id="call_1",
        arguments='{"city":"Paris"}',
    )
    s = apply(s, srv(beta.ResponseOutputItemDone, response_id="r1", output_index=0, item=final))
    s = apply(s, srv.response_done("r1", (final,)))
    assert dict(s.pending_calls) == {"call_1": "f"}
    output = ev.FunctionCallOutputItem(
        id="o", status="completed", call_id="call_1", output='{"temp":20}'
    )
    s = apply(s, srv.item_created(output, "f"))
    assert dict(s.pending_calls) == {}
    assert ids(s) == ["f", "o"]
    contradiction(
        s, srv(ev.ResponseFunctionCallArgumentsDelta, delta="x", **args), "response_finished"
    )


def test_a_cancelled_response_without_output() -> None:
    srv = Server()
    cancelled = ev.StatusDetails(type="cancelled", reason="turn_detected")
    s = fold([srv.response_created("r1"), srv.response_done("r1", (), "cancelled", cancelled)])
    response = s.response("r1")
    assert response is not None and response.status == "cancelled"
    assert response.status_details == cancelled and response.output_item_ids == ()
    assert s.items == ()


def test_response_done_updates_the_status_of_its_items() -> None:
    srv = Server()
    s = fold(
        [
            srv.response_created("r1"),
            srv.assistant_added("r1", "a"),
            srv.item_created(assistant_item("a", "in_progress", ()), None),
            srv.part_added("r1", "a"),
            srv.part_event(beta.ResponseAudioTranscriptDelta, "r1", "a", delta="I am"),
        ]
    )
    partial = assistant_item("a", "incomplete", (ev.AudioContent(transcript="I am"),))
    s = apply(
        s,
        srv.response_done(
            "r1",
            (partial,),
            "cancelled",
            ev.StatusDetails(type="cancelled", reason="client_cancelled"),
        ),
    )
    item = s.item("a")
    assert item is not None and item.status == "incomplete" and item.content[0].done


def test_out_of_band_responses_stay_out_of_the_conversation() -> None:
    srv = Server()
    s = fold(
        [
            srv.user_text("u", "hi", None),
            srv.response_created("oob", conversation_id=None),
            srv.assistant_added("oob", "x"),
            srv.part_added("oob", "x", "text"),
            srv.part_event(beta.ResponseTextDelta, "oob", "x", delta="summary"),
        ]
    )
    final = assistant_item("x", "completed", (ev.TextContent(text="summary"),))
    s = apply(s, srv(beta.ResponseOutputItemDone, response_id="oob", output_index=0, item=final))
    s = apply(s, srv.response_done("oob", (final,), conversation_id=None))
    assert ids(s) == ["u"]
    assert [i.id for i in s.response_items("oob")] == ["x"]
    assert s.response("oob").out_of_band  # type: ignore[union-attr]
    assert not s.anomalies


def test_output_items_never_announced_in_the_conversation_are_appended() -> None:
    # Some servers skip conversation.item.created for output items.
    srv = Server()
    final = assistant_item("a", "completed", (ev.TextContent(text="ok"),))
    s = fold(
        [
            srv.user_text("u", "hi", None),
            srv.response_created("r1"),
            srv.assistant_added("r1", "a"),
            srv(beta.ResponseOutputItemDone, response_id="r1", output_index=0, item=final),
            srv.response_done("r1", (final,)),
        ]
    )
    assert ids(s) == ["u", "a"]
    assert [a.kind for a in s.anomalies] == ["late_conversation_item", "unannounced_part"]


def test_response_contradictions() -> None:
    srv = Server()
    s = fold([srv.response_created("r1"), srv.assistant_added("r1", "a")])
    contradiction(s, srv.response_created("r1"), "duplicate_response")
    contradiction(s, srv.assistant_added("r1", "b", index=5), "output_index")
    contradiction(s, srv.assistant_added("r9", "b"), "unknown_response")
    contradiction(s, srv.part_added("r1", "a", content=3), "content_index")
    contradiction(
        s, srv.part_event(beta.ResponseTextDelta, "r1", "nope", delta="x"), "unknown_item"
    )
    contradiction(s, srv.part_event(beta.ResponseTextDelta, "r1", "a", delta="x"), "unknown_part")
    s = apply(s, srv.part_added("r1", "a", "text"))
    contradiction(
        s, srv.part_event(beta.ResponseAudioDelta, "r1", "a", delta=b"\x00\x00"), "wrong_part_type"
    )
    s = apply(s, srv.response_done("r1"))
    contradiction(s, srv.response_done("r1"), "response_finished")
    contradiction(
        s, srv.part_event(beta.ResponseTextDelta, "r1", "a", delta="x"), "response_finished"
    )


def test_odd_length_pcm16_audio_is_a_contradiction() -> None:
    srv = Server()
    s = fold(
        [srv.response_created("r1"), srv.assistant_added("r1", "a"), srv.part_added("r1", "a")]
    )
    contradiction(
        s,
        srv.part_event(beta.ResponseAudioDelta, "r1", "a", delta=b"\x00\x00\x00"),
        "odd_length_audio",
    )


# -- everything else -----------------------------------------------------------------------------


def test_rate_limits_errors_and_playback() -> None:
    tested(
        ev.RateLimitsUpdated,
        ev.ErrorEvent,
        ev.OutputAudioBufferStarted,
        ev.OutputAudioBufferStopped,
        ev.OutputAudioBufferCleared,
    )
    srv = Server()
    limits = (ev.RateLimit(name="requests", limit=20000, remaining=19999, reset_seconds=0.003),)
    error = ev.ErrorDetails(type="invalid_request_error", code="x", message="bad", event_id="c1")
    s = fold([srv(ev.RateLimitsUpdated, rate_limits=limits), srv(ev.ErrorEvent, error=error)])
    assert s.rate_limits == limits
    assert [(r.error, r.event_id) for r in s.errors] == [(error, "event_2")]
    s = apply(s, srv(ev.OutputAudioBufferStarted, response_id="r1"))
    assert s.output_audio_response_id == "r1"
    assert (
        apply(s, srv(ev.OutputAudioBufferStopped, response_id="r1")).output_audio_response_id
        is None
    )
    assert (
        apply(s, srv(ev.OutputAudioBufferCleared, response_id="r1")).output_audio_response_id
        is None
    )


def test_unknown_events_change_nothing_but_their_count() -> None:
    s = fold([Server().user_text("u", "hi", None)])
    after = apply(s, ev.UnknownEvent(type="mcp_list_tools.in_progress", payload={}))
    assert after.unknown_events == 1
    assert after.items == s.items and after.order == s.order


def test_every_server_event_has_a_table_test() -> None:
    # Runs last in this module (pytest keeps file order); alone it has nothing to check.
    if not TESTED:
        pytest.skip("run together with the rest of the module")
    assert TESTED == set(beta.SERVER_EVENTS.values())


def test_deltas_into_the_usual_part_and_any_other_part_agree() -> None:
    """A delta into the only part of the newest item takes the delta steps' short way
    (``responses._streaming``); into a second part, or into an older item, the general one.
    Both give the same values and refuse the same things."""
    srv = Server()
    one = fold(
        [srv.response_created("r1"), srv.assistant_added("r1", "a"), srv.part_added("r1", "a")]
    )
    two = fold(
        [srv.part_added("r1", "a", "text", content=0), srv.part_added("r1", "a", content=1)],
        fold([srv.response_created("r1"), srv.assistant_added("r1", "a")]),
    )
    for content, s in ((0, one), (1, two)):
        for cls, delta in (
            (beta.ResponseAudioTranscriptDelta, "hel"),
            (beta.ResponseAudioDelta, b"\x01\x00"),
            (beta.ResponseAudioTranscriptDelta, "lo"),
            (beta.ResponseAudioDelta, b"\x02\x00\x03\x00"),
        ):
            s = apply(s, srv.part_event(cls, "r1", "a", content=content, delta=delta))
        part = s.item("a").content[content]  # type: ignore[union-attr]
        assert part.transcript.value == "hello"  # type: ignore[union-attr]
        assert part.audio.value == b"\x01\x00\x02\x00\x03\x00"  # type: ignore[union-attr]
        assert s.events_applied == (3 if content == 0 else 4) + 4
        odd = srv.part_event(beta.ResponseAudioDelta, "r1", "a", content=content, delta=b"\x01")
        contradiction(s, odd, "odd_length_audio")
        text = srv.part_event(beta.ResponseTextDelta, "r1", "a", content=content, delta="x")
        contradiction(s, text, "wrong_part_type")
        done = srv.part_event(beta.ResponseAudioDone, "r1", "a", content=content)
        late = srv.part_event(beta.ResponseAudioDelta, "r1", "a", content=content, delta=b"\0\0")
        contradiction(apply(s, done), late, "stream_closed")
    # An item of another response is not the one a delta of r1 streams into.
    s = fold(
        [srv.response_created("r2", conversation_id=None), srv.assistant_added("r2", "b")], one
    )
    s = apply(s, srv.part_event(beta.ResponseAudioTranscriptDelta, "r1", "a", delta="still"))
    assert s.item("a").content[0].transcript.value == "still"  # type: ignore[union-attr]
