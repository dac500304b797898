"""Bounded sessions: audio retention, the memory budget, the item limit on every path, the
out-of-band cap, and a prompt that costs nothing to hand over (issue 12)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serverkit import Harness, errors, silence, tone

from rtcore import ClientSession
from rtcore import events as ev
from rtcore.errors import RemoteProtocolError
from rtcore.events import beta
from rtcore.server import ServerLimits, ServerSession, StartResponse
from rtcore.server.core import item_cost
from rtcore.server.costs import ITEM_BYTES
from rtcore.server.effects import Transcribe
from rtcore.state import ByteChunks, TextChunks
from rtcore.state.chunks import AudioLength
from rtcore.state.model import ConversationView


def create(text: str = "Hello!", **extra: Any) -> dict[str, Any]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item, **extra}


def audio_response(h: Harness, chunks: list[int], transcript: str = "Hi there") -> str:
    """A response of audio chunks of the given lengths (ms); returns its item id."""
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_transcript(start.response_id, transcript)
    for ms in chunks:
        h.server.add_audio(start.response_id, tone(ms))
    h.server.finish_response(start.response_id)
    h.flush()
    [item] = h.client.state.response_items(start.response_id)
    return item.id


# -- AudioLength: the count-only twin of ByteChunks ------------------------------------------------


@given(st.lists(st.binary(max_size=64), max_size=20), st.integers(min_value=-5, max_value=1500))
def test_audio_length_agrees_with_byte_chunks(deltas: list[bytes], cut: int) -> None:
    data, length = ByteChunks.of(), AudioLength.of()
    for delta in deltas:
        data, length = data.append(delta), length.append(delta)
    assert length.size == data.size == len(length)
    assert length.head(cut).size == data.head(cut).size
    assert not length and length.value == b""  # no bytes held, whatever the length
    assert AudioLength.of(data.value) == length


# -- ByteChunks: one shared buffer, every version sees its own bytes -------------------------------

VERSION_STEPS = st.lists(
    st.tuples(
        st.integers(min_value=0),  # which earlier version to start from
        st.sampled_from(["append", "head", "of"]),
        st.binary(max_size=40),
        st.integers(min_value=-3, max_value=200),
    ),
    max_size=40,
)


@given(VERSION_STEPS)
def test_every_version_of_a_byte_chunk_keeps_its_own_bytes(steps: list[Any]) -> None:
    # Versions branch as snapshots do: appending to an old one, cutting one, appending
    # to a cut one. Each must always read as the bytes it was made with.
    versions = [(ByteChunks.of(), b"")]
    for pick, op, data, cut in steps:
        chunks, expected = versions[pick % len(versions)]
        if op == "append":
            versions.append((chunks.append(data), expected + data))
        elif op == "head":
            versions.append((chunks.head(cut), expected[: max(cut, 0)]))
        else:
            versions.append((ByteChunks.of(data), data))
        for made, bytes_of in versions:
            assert made.size == len(made) == len(bytes_of)
            assert made.value == bytes(made) == bytes_of
            # Read again without the cached value: the shared buffer may have grown since.
            uncached = ByteChunks(made.blocks, made.tail, made.tail_size, made.size)
            assert uncached.value == bytes_of
            assert bool(made) == bool(bytes_of)
    for made, bytes_of in versions:
        assert made == ByteChunks.of(bytes_of) and hash(made) == hash(ByteChunks.of(bytes_of))


def test_appending_to_the_newest_version_grows_one_buffer_in_place() -> None:
    chunks = ByteChunks.of()
    for _ in range(100):
        chunks = chunks.append(b"\x01" * 4800)
    assert not chunks.blocks and len(chunks.tail) == chunks.size == 480_000
    older = chunks
    newer = chunks.append(b"\x02")
    assert newer.tail is older.tail  # shared, grown in place
    branch = older.append(b"\x03")  # older no longer ends the buffer: a block by reference
    assert branch.blocks[0][0] is older.tail and branch.value[-1:] == b"\x03"
    assert older.value == b"\x01" * 480_000 and newer.value[-1:] == b"\x02"


TEXT_STEPS = st.lists(
    st.tuples(
        st.integers(min_value=0),  # which earlier version to start from
        st.sampled_from(["append", "of"]),
        st.text(max_size=12),
    ),
    max_size=40,
)


@given(TEXT_STEPS)
def test_every_version_of_a_text_chunk_keeps_its_own_text(steps: list[Any]) -> None:
    # Text shares one growing list along a stream as audio shares its buffer: versions
    # branch as snapshots do, and each must always read as the text it was made with.
    versions = [(TextChunks.of(), "")]
    for pick, op, text in steps:
        chunks, expected = versions[pick % len(versions)]
        if op == "append":
            versions.append((chunks.append(text), expected + text))
        else:
            versions.append((TextChunks.of(text), text))
        for made, text_of in versions:
            assert made.size == len(made) == len(text_of) and bool(made) == bool(text_of)
            assert made.value == str(made) == "".join(made.parts) == text_of
            uncached = TextChunks(made.blocks, made.tail, made.tail_count, made.size)
            assert uncached.value == text_of
    for made, text_of in versions:
        assert made == TextChunks.of(text_of) and hash(made) == hash(TextChunks.of(text_of))


def test_appending_to_the_newest_text_grows_one_list_in_place() -> None:
    chunks = TextChunks.of("a")
    for _ in range(100):
        chunks = chunks.append("b")
    older = chunks
    newer = chunks.append("c")
    assert newer.tail is older.tail and not newer.blocks  # shared, grown in place
    branch = older.append("d")  # older no longer ends the list: a block by reference
    assert branch.blocks[-1][0] is older.tail and branch.value == "a" + "b" * 100 + "d"
    assert older.value == "a" + "b" * 100 and newer.value == "a" + "b" * 100 + "c"
    assert len(newer.parts) == 102


# -- retention in the client -----------------------------------------------------------------------


@given(
    st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=6),
    st.floats(min_value=0, max_value=1),
)
def test_durations_and_truncation_do_not_depend_on_retention(
    chunks: list[int], where: float
) -> None:
    kept, counted = Harness(retain_audio=True), Harness(retain_audio=False)
    parts = []
    for h in (kept, counted):
        h.no_vad()
        item_id = audio_response(h, chunks)
        total = h.client.state.item(item_id).content[0].audio_ms  # type: ignore[union-attr]
        h.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": int(total * where),
            }
        )
        assert h.in_step()
        parts.append(h.client.state.item(item_id).content[0])  # type: ignore[union-attr]
    held, count = parts
    assert isinstance(held.audio, ByteChunks) and isinstance(count.audio, AudioLength)
    assert held.audio.size == count.audio.size
    assert held.audio_ms == count.audio_ms
    assert held.generated_audio_ms == count.generated_audio_ms == sum(chunks)
    assert held.truncated_at_ms == count.truncated_at_ms
    assert held.generated_transcript == count.generated_transcript == "Hi there"


def test_client_retention_is_a_choice_defaulting_to_bytes() -> None:
    assert ClientSession().state.retain_audio
    assert not ClientSession(retain_audio=False).state.retain_audio
    # A given state keeps its own policy unless told otherwise.
    state = ClientSession(retain_audio=False).state
    assert not ClientSession(state=state).state.retain_audio
    assert ClientSession(state=state, retain_audio=True).state.retain_audio


# -- retention in the server -----------------------------------------------------------------------


def test_the_server_keeps_durations_by_default() -> None:
    assert not ServerSession().state.retain_audio
    h = Harness(retain_audio=False)
    h.new()
    effects = h.append_audio(silence(500) + tone(1000) + silence(300))
    start = h.start(effects)
    [user_id] = start.input_audio
    assert len(start.input_audio[user_id]) == 1500 * 48  # handed to the backend in full ...
    assert h.server.item_audio(user_id) is None  # ... and dropped then
    h.server.add_audio(start.response_id, tone(200))
    h.server.finish_response(start.response_id)
    h.flush()
    [out] = h.server.state.response_items(start.response_id)
    assert isinstance(out.content[0].audio, AudioLength) and out.content[0].audio_ms == 200
    h.new()
    h.send({"type": "conversation.item.retrieve", "item_id": user_id})
    h.send({"type": "conversation.item.retrieve", "item_id": out.id})
    user, assistant = h.new()
    assert isinstance(user, beta.ConversationItemRetrieved)
    assert isinstance(assistant, beta.ConversationItemRetrieved)
    assert isinstance(user.item.content[0].audio, ev.UnsetType)  # type: ignore[union-attr, index]
    assert isinstance(assistant.item.content[0].audio, ev.UnsetType)  # type: ignore[union-attr, index]
    assert h.in_step()


def test_user_audio_is_kept_until_a_response_hands_it_over() -> None:
    h = Harness(retain_audio=False)
    h.no_vad()
    h.send(ev.InputAudioBufferAppend(audio=tone(200)))
    h.send({"type": "input_audio_buffer.commit"})
    [item_id] = h.server.state.order
    assert h.server.item_audio(item_id) == tone(200)  # no response yet: still needed
    h.send({"type": "conversation.item.retrieve", "item_id": item_id})
    [retrieved] = h.new()[-1:]
    assert retrieved.item.content[0].audio == tone(200)  # type: ignore[attr-defined]
    start = h.start(h.send({"type": "response.create"}))
    assert start.input_audio == {item_id: tone(200)}
    assert h.server.item_audio(item_id) is None


def test_with_retention_the_server_keeps_every_byte() -> None:
    h = Harness(retain_audio=True)
    effects = h.append_audio(silence(500) + tone(1000) + silence(300))
    [user_id] = h.start(effects).input_audio
    assert h.server.item_audio(user_id) is not None


def test_a_transcription_session_drops_audio_once_transcribe_is_handed_out() -> None:
    h = Harness(retain_audio=False, intent="transcription")
    effects = h.append_audio(silence(500) + tone(1000) + silence(300))
    [transcribe] = [e for e in effects if isinstance(e, Transcribe)]
    assert len(transcribe.audio) == 1500 * 48
    assert h.server.item_audio(transcribe.item_id) is None


# -- the memory budget -----------------------------------------------------------------------------


def test_a_create_past_the_budget_is_refused_and_changes_nothing() -> None:
    h = Harness(limits=ServerLimits(max_session_bytes=2 * ITEM_BYTES + 200))
    h.no_vad()
    h.send(create("a" * 100))
    before = h.server.state
    h.send(create("b" * 100, event_id="big"))
    [error] = errors(h.new())
    assert error.code == "session_memory_exceeded" and error.event_id == "big"
    assert h.server.state.order == before.order
    # Deleting frees the budget.
    h.send({"type": "conversation.item.delete", "item_id": before.order[-1]})
    h.send(create("b" * 100))
    assert errors(h.new()) == []
    assert h.in_step()


def test_appends_and_responses_count_toward_the_budget() -> None:
    h = Harness(limits=ServerLimits(max_session_bytes=48 * 300))
    h.no_vad()
    h.send(ev.InputAudioBufferAppend(audio=tone(200)))
    h.send(ev.InputAudioBufferAppend(audio=tone(200), event_id="a2"))
    [error] = errors(h.new())
    assert error.code == "session_memory_exceeded" and error.event_id == "a2"
    h.send({"type": "input_audio_buffer.clear"})
    # A retained response's audio is counted when it ends; then no response starts.
    audio_response(h, [400])
    h.new()
    h.send({"type": "response.create", "event_id": "r"})
    [error] = errors(h.new())
    assert error.code == "session_memory_exceeded" and error.event_id == "r"
    assert h.server.active_responses == ()


def test_a_commit_over_the_budget_is_refused() -> None:
    # A retained response pushes the session over its budget while audio is buffered.
    h = Harness(limits=ServerLimits(max_session_bytes=48 * 500))
    h.no_vad()
    h.send(ev.InputAudioBufferAppend(audio=tone(200)))
    audio_response(h, [400])
    h.new()
    h.send({"type": "input_audio_buffer.commit", "event_id": "m"})
    [error] = errors(h.new())
    assert error.code == "session_memory_exceeded" and error.event_id == "m"
    assert h.server.state.input_audio_buffer == h.client.state.input_audio_buffer
    assert len(h.server.state.order) == 1  # only the response's item


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=25))
def test_the_budget_tracks_exactly_what_items_hold(steps: list[tuple[bool, int]]) -> None:
    h = Harness()
    h.no_vad()
    for add, size in steps:
        order = h.server.state.order
        if add or not order:
            h.send(create("x" * size))
        else:
            h.send({"type": "conversation.item.delete", "item_id": order[size % len(order)]})
    server: Any = h.server
    assert server._holdings.used == sum(item_cost(i) for i in h.server.state.items)
    assert server._holdings.used == sum(server._holdings.costs.values())


# -- the item limit on every path ------------------------------------------------------------------


def full(max_items: int = 2, **options: Any) -> Harness:
    h = Harness(limits=ServerLimits(max_items=max_items), **options)
    h.no_vad()
    for _ in range(max_items):
        h.send(create())
    h.new()
    return h


def test_a_create_and_a_commit_at_the_limit_are_refused() -> None:
    h = full()
    h.send(create(event_id="c"))
    h.send(ev.InputAudioBufferAppend(audio=tone(200)))
    h.send({"type": "input_audio_buffer.commit", "event_id": "m"})
    assert [(e.code, e.event_id) for e in errors(h.new())] == [
        ("conversation_full", "c"),
        ("conversation_full", "m"),
    ]
    assert len(h.server.state.order) == 2


def test_a_vad_commit_at_the_limit_is_dropped_with_an_error() -> None:
    h = full()
    h.send({"type": "session.update", "session": {"turn_detection": {"type": "server_vad"}}})
    h.new()
    effects = h.append_audio(silence(500) + tone(1000) + silence(300))
    assert effects == []  # no commit, no response
    assert h.types() == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "error",
    ]
    assert len(h.server.state.order) == 2 and h.server.state.input_audio_buffer
    assert h.in_step()


def test_an_idle_timeout_commit_at_the_limit_is_dropped_with_an_error() -> None:
    h = full()
    h.send({"type": "session.update", "session": {"turn_detection": {"idle_timeout_ms": 5000}}})
    h.new()
    assert h.append_audio(silence(5100)) == []
    events = h.new()
    assert [e.type for e in events] == ["input_audio_buffer.timeout_triggered", "error"]
    assert errors(events)[0].code == "conversation_full"
    assert len(h.server.state.order) == 2
    assert h.in_step()


def test_a_response_that_would_add_an_item_past_the_limit_fails() -> None:
    h = full()
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_text(start.response_id, "no room")
    assert not h.server.is_active(start.response_id)
    h.flush()
    [done] = [e for e in h.new() if isinstance(e, beta.ResponseDone)]
    assert done.response.status == "failed"
    assert done.response.status_details.error.code == "conversation_full"  # type: ignore[union-attr]
    assert done.response.output == ()
    assert len(h.server.state.order) == 2
    assert h.in_step()


def test_out_of_band_output_is_not_limited_by_the_conversation() -> None:
    h = full()
    start = h.start(h.send({"type": "response.create", "response": {"conversation": "none"}}))
    h.server.add_text(start.response_id, "fine")
    h.server.finish_response(start.response_id)
    h.flush()
    [done] = [e for e in h.new() if isinstance(e, beta.ResponseDone)]
    assert done.response.status == "completed"


# -- out-of-band responses -------------------------------------------------------------------------


def test_out_of_band_responses_are_capped() -> None:
    h = Harness(limits=ServerLimits(max_out_of_band_responses=2))
    h.no_vad()
    oob = {"type": "response.create", "response": {"conversation": "none"}}
    first = h.start(h.send(oob))
    h.start(h.send(oob))
    h.send({**oob, "event_id": "third"})
    [error] = errors(h.new())
    assert error.code == "too_many_out_of_band_responses" and error.event_id == "third"
    assert len(h.server.active_responses) == 2
    # An in-conversation response is not counted, and a finished one frees a place.
    h.start(h.send({"type": "response.create"}))
    h.server.finish_response(first.response_id)
    h.start(h.send(oob))
    assert errors(h.new()) == []


# -- the prompt as a view --------------------------------------------------------------------------


@given(st.integers(0, 12), st.integers(-14, 14), st.integers(-14, 14))
def test_the_conversation_view_reads_like_the_tuple(n: int, a: int, b: int) -> None:
    h = Harness()
    h.no_vad()
    for i in range(n):
        h.send(create(f"m{i}"))
    state = h.server.state
    view, items = state.conversation, state.items
    assert isinstance(view, ConversationView)
    assert view == items and list(view) == list(items) and len(view) == n
    assert list(reversed(view)) == list(reversed(items))
    assert view[a:b] == items[a:b]
    if -n <= a < n:
        assert view[a] == items[a]
    else:
        with pytest.raises(IndexError):
            view[a]


def test_response_create_hands_over_a_view_not_a_copy() -> None:
    h = Harness()
    h.no_vad()
    h.send(create())
    start = h.start(h.send({"type": "response.create"}))
    assert isinstance(start, StartResponse) and isinstance(start.items, ConversationView)
    assert start.items == start.snapshot.items


def test_the_active_response_is_the_running_one_in_the_conversation() -> None:
    h = Harness()
    h.no_vad()
    oob = h.start(h.send({"type": "response.create", "response": {"conversation": "none"}}))
    assert h.client.state.active_response is None
    start = h.start(h.send({"type": "response.create"}))
    active = h.client.state.active_response
    assert active is not None and active.id == start.response_id
    h.server.finish_response(start.response_id)
    h.flush()
    assert h.client.state.active_response is None
    assert h.client.state.response(oob.response_id).done is False  # type: ignore[union-attr]


def test_an_input_transcript_counts_toward_the_budget() -> None:
    h = Harness(intent="transcription")
    effects = h.append_audio(silence(500) + tone(1000) + silence(300))
    [transcribe] = [e for e in effects if isinstance(e, Transcribe)]
    server: Any = h.server
    before = server._holdings.used
    h.server.complete_transcription(transcribe.item_id, "hello world")
    assert server._holdings.used == before + len("hello world")


def test_a_function_call_that_does_not_fit_ends_the_response() -> None:
    from rtcore.errors import LocalProtocolError

    h = full()
    start = h.start(h.send({"type": "response.create"}))
    with pytest.raises(LocalProtocolError):
        h.server.start_function_call(start.response_id, "lookup")
    assert not h.server.is_active(start.response_id)


# -- what a server can make a client hold beyond the conversation ----------------------------------


def test_a_client_holds_back_a_bounded_number_of_early_events() -> None:
    """Events about items never announced are held up to a bound, then refused (and nothing changes)."""
    from rtcore.state.model import MAX_HELD_EVENTS, MAX_HELD_ITEMS

    client = ClientSession()

    def delta(item_id: str) -> bytes:
        return ev.encode_event(
            ev.ConversationItemInputAudioTranscriptionDelta(
                event_id="e", item_id=item_id, content_index=0, delta="x"
            )
        )

    for _ in range(MAX_HELD_EVENTS):
        client.receive_message(delta("late"))
    for n in range(1, MAX_HELD_ITEMS):
        client.receive_message(delta(f"other{n}"))
    assert client.state.protocol_errors == []
    before = client.state
    [refused] = client.receive_message(delta("late"))  # one more for a held item
    [refused_too] = client.receive_message(delta("one-too-many"))  # one item too many
    for error in (refused, refused_too):
        assert isinstance(error, RemoteProtocolError)
        assert error.code == "unknown_item"
    assert client.state._early == before._early
    assert len(client.state.protocol_errors) == 2

    # The held events still apply when their item comes.
    added = {
        "type": "conversation.item.added",
        "event_id": "a",
        "previous_item_id": None,
        "item": {
            "id": "late",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        },
    }
    client.receive_message(json.dumps(added))
    [late] = client.state.items
    assert str(late.content[0].transcript) == "x" * MAX_HELD_EVENTS
    assert "late" not in client.state._early


def test_error_records_are_bounded_and_the_rest_counted() -> None:
    from rtcore.state.model import MAX_RECORDS

    client = ClientSession()
    error = ev.encode_event(
        ev.ErrorEvent(event_id="e", error=ev.ErrorDetails(type="t", message="m"))
    )
    for _ in range(MAX_RECORDS + 5):
        client.receive_message(error)
        client.receive_message(b"{not json")
    state = client.state
    assert len(state.errors) == len(state.protocol_errors) == MAX_RECORDS
    assert state.records_dropped == 10
    assert state.to_dict()["records_dropped"] == 10
