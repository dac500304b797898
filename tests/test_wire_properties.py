"""Wire properties, in both dialects: chunking invariance and byte fuzzing."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import pytest
import wsproto.handshake
from builders import Server, audio_response
from hypothesis import given
from hypothesis import strategies as st
from serverkit import Harness, silence, tone
from wirekit import URL, frame, parse_frames, raw_socket, session_created

from rtcore import events as ev
from rtcore.errors import RemoteProtocolError
from rtcore.events import beta
from rtcore.server import StartResponse, Transcribe
from rtcore.wire import ClientConnection, ConnectionClosed, HandshakeRequest, ServerConnection

NONCE = base64.b64encode(b"0123456789abcdef")


@pytest.fixture(autouse=True)
def fixed_nonce(monkeypatch: pytest.MonkeyPatch) -> None:
    # The handshake key is random by design; fix it so one recorded byte stream
    # can be fed to several client connections.
    monkeypatch.setattr(wsproto.handshake, "generate_nonce", lambda: NONCE)


def server_stream() -> bytes:
    """Everything a server sends: handshake answer, a conversation, a ping, and a close."""
    client = ClientConnection(URL, api_key="k", dialect="beta")
    server = ServerConnection()
    server.receive_data(client.data_to_send())
    list(server.events())
    out = server.accept()
    srv = Server()
    events: list[Any] = [session_created(), srv.user_text("u", "hi", None)]
    events += audio_response(
        srv, "r1", "a", "u", ["Hel", "lo", " ✓"], [b"\x01\x00" * 300, b"\x02\x00" * 700]
    )
    for event in events:
        out += server.send(event)
    out += frame(9, b"p") + frame(1, b"{not json") + frame(1, b'{"type":"x.y","event_id":"u"}')
    out += server.close(1000, "bye")
    return out


STREAM = None


def stream() -> bytes:
    global STREAM
    if STREAM is None:
        STREAM = server_stream()
    return STREAM


def run_client(chunks: Iterator[bytes]) -> tuple[list[Any], Any, bytes]:
    client = ClientConnection(URL, api_key="k", dialect="beta")
    client.data_to_send()
    events: list[Any] = []
    replies = b""
    for chunk in chunks:
        client.receive_data(chunk)
        events.extend(client.events())
        replies += client.data_to_send()
    # Client frames are masked with random keys: compare what they carry.
    return events, client.state, parse_frames(replies)


def splits(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    """``data`` cut at the given points (never an empty piece: ``b""`` means end of file)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    start = 0
    for p in [*points, len(data)]:
        if p > start:
            yield data[start:p]
            start = p


def comparable(events: list[Any]) -> list[Any]:
    return [
        (type(e).__name__, e.message if isinstance(e, RemoteProtocolError) else e) for e in events
    ]


def test_the_recorded_stream_gives_the_whole_conversation() -> None:
    events, state, reply = run_client(iter([stream()]))
    assert [type(e).__name__ for e in events][:2] == ["Connected", "SessionCreated"]
    assert type(events[-1]).__name__ == "ConnectionClosed"
    assert [i.id for i in state.items] == ["u", "a"]
    assert state.item("a").content[0].audio.size == 2000  # type: ignore[union-attr]
    assert len(state.protocol_errors) == 1 and state.unknown_events == 1
    assert reply == [(10, True, b"p"), (8, True, b"\x03\xe8bye")]  # the pong and the close reply


def test_byte_by_byte_equals_whole() -> None:
    data = stream()
    whole = run_client(iter([data]))
    bytewise = run_client(data[i : i + 1] for i in range(len(data)))
    assert comparable(whole[0]) == comparable(bytewise[0])
    assert whole[1] == bytewise[1]
    assert whole[2] == bytewise[2]


@given(st.lists(st.integers(min_value=0), max_size=40))
def test_random_splits_give_the_same_events_and_snapshots(cuts: list[int]) -> None:
    data = stream()
    whole = run_client(iter([data]))
    split = run_client(splits(data, cuts))
    assert comparable(split[0]) == comparable(whole[0])
    assert split[1] == whole[1]
    assert split[2] == whole[2]


def client_stream() -> bytes:
    client = ClientConnection(URL, api_key="k", auth="subprotocol", dialect="beta")
    out = client.data_to_send()
    server = ServerConnection()
    server.receive_data(out)
    list(server.events())
    client.receive_data(server.accept())
    list(client.events())
    client.receive_data(server.send(session_created()))
    list(client.events())
    for event in [
        beta.SessionUpdate(session=beta.SessionConfig(voice="ash", turn_detection=None)),
        ev.InputAudioBufferAppend(audio=bytes(4800)),
        ev.InputAudioBufferCommit(),
        beta.ResponseCreate(response=beta.ResponseParams(modalities=("text",))),
    ]:
        out += client.send(event)
    out += frame(1, b'{"type":"session.update","session":{"bogus":1}}', mask=True)
    out += client.close()
    return out


def run_server(chunks: Iterator[bytes]) -> list[Any]:
    server = ServerConnection()
    events: list[Any] = []
    for chunk in chunks:
        server.receive_data(chunk)
        events.extend(server.events())
        if any(isinstance(e, HandshakeRequest) for e in events) and not server.accepted:
            server.accept()
            events.extend(server.events())
    return events


def comparable_server(events: list[Any]) -> list[Any]:
    out = []
    for e in events:
        if hasattr(e, "error") and isinstance(e.error, ev.DecodeError):
            out.append(("ClientMessageError", str(e.error)))
        else:
            out.append(e)
    return out


@given(st.lists(st.integers(min_value=0), max_size=40), st.data())
def test_server_side_splits_give_the_same_events(cuts: list[int], data: st.DataObject) -> None:
    raw = client_stream()
    whole = comparable_server(run_server(iter([raw])))
    assert [type(e).__name__ for e in whole][0] == "HandshakeRequest"
    assert len(whole) == 7
    assert comparable_server(run_server(splits(raw, cuts))) == whole


# -- fuzzing ------------------------------------------------------------------------------------

OPCODES = st.sampled_from([0, 1, 2, 3, 8, 9, 10, 11, 15])


@st.composite
def frames(draw: st.DrawFn, masked: bool) -> bytes:
    payload = draw(
        st.one_of(
            st.binary(max_size=300),
            st.builds(
                lambda e: json.dumps(e).encode(),
                st.dictionaries(st.text(max_size=5), st.text(max_size=5)),
            ),
            st.just(b'{"type":"response.create"}'),
        )
    )
    return frame(
        draw(OPCODES), payload, fin=draw(st.booleans()), mask=masked, rsv=draw(st.integers(0, 1))
    )


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    raw = bytearray(data)
    for _ in range(draw(st.integers(0, 5))):
        if not raw:
            break
        i = draw(st.integers(0, len(raw) - 1))
        raw[i] = draw(st.integers(0, 255))
    return bytes(raw)


@st.composite
def odd_frames(draw: st.DrawFn, masked: bool) -> bytes:
    """A frame whose payload length is not in its shortest form, or has the 64-bit top bit set."""
    opcode = draw(OPCODES)
    first = (0x80 if draw(st.booleans()) else 0) | opcode
    mask_bit = 0x80 if masked else 0
    n = draw(st.integers(0, 125))
    length = draw(
        st.sampled_from(
            [
                bytes((first, mask_bit | 126)) + struct.pack("!H", n),
                bytes((first, mask_bit | 127)) + struct.pack("!Q", n),
                bytes((first, mask_bit | 127)) + struct.pack("!Q", (1 << 63) | n),
            ]
        )
    )
    return length + (b"\0\0\0\0" if masked else b"") + b"x" * n


@given(st.lists(frames(masked=False), max_size=8), st.binary(max_size=64))
def test_fuzzed_frames_never_break_the_client(chunks: list[bytes], tail: bytes) -> None:
    client = ClientConnection(URL)
    server = ServerConnection()
    server.receive_data(client.data_to_send())
    list(server.events())
    client.receive_data(server.accept())
    list(client.events())
    for chunk in [*chunks, tail]:
        client.receive_data(chunk)
        for _ in client.events():  # finishes: never hangs, never raises
            pass
    client.receive_data(b"")
    list(client.events())
    assert client.closed


@given(st.data())
def test_mutated_streams_never_break_either_side(data: st.DataObject) -> None:
    server_bytes = data.draw(mutated(stream()))
    client = ClientConnection(URL, api_key="k", dialect="beta")
    client.data_to_send()
    client.receive_data(server_bytes)
    list(client.events())
    client_bytes = data.draw(mutated(client_stream()))
    server = ServerConnection()
    server.receive_data(client_bytes)
    for event in server.events():
        if isinstance(event, HandshakeRequest):
            server.accept()
    list(server.events())


@given(st.lists(frames(masked=True), max_size=8), st.binary(max_size=64))
def test_fuzzed_frames_never_break_the_server(chunks: list[bytes], tail: bytes) -> None:
    client = ClientConnection(URL)
    server = ServerConnection()
    server.receive_data(client.data_to_send())
    list(server.events())
    server.accept()
    for chunk in [*chunks, tail]:
        server.receive_data(chunk)
        for _ in server.events():
            pass
    server.data_to_send()


# -- the fast path agrees with wsproto ---------------------------------------------------------


def _socket_run(
    chunks: list[bytes], fast: bool, masked: bool
) -> tuple[list[Any], list[tuple[int, bool, bytes]], list[int | None]]:
    sock = raw_socket(fast=fast, masked=masked, size=300)
    out: list[Any] = []
    partial: list[int | None] = []
    for chunk in chunks:
        sock._feed(chunk)
        out.extend(sock._messages())
        partial.append(sock.partial_since)
    sock._feed(None)
    out.extend(sock._messages())
    partial.append(sock.partial_since)
    return [_same_text(m) for m in out], parse_frames(sock.data_to_send()), partial


def _same_text(message: Any) -> Any:
    """What both paths must agree on: the text, and the close code (1007 reasons differ).

    The fast path hands ASCII messages over as bytes, wsproto as str. A 1007
    reason names the decoding error, which the fast path reports for the
    whole frame and wsproto for the piece it decoded.
    """
    if isinstance(message, bytes):
        return message.decode()
    if isinstance(message, ConnectionClosed) and message.code == 1007:
        return (message.code, message.initiator)
    return message


@given(
    st.lists(st.one_of(frames(masked=True), odd_frames(masked=True)), max_size=8),
    st.lists(st.integers(min_value=0), max_size=6),
    st.booleans(),
)
def test_the_fast_path_agrees_with_wsproto(
    chunks: list[bytes], cuts: list[int], masked: bool
) -> None:
    if not masked:
        chunks = [
            frame(c[0] & 0x0F, b"x" * (len(c) % 40), fin=bool(c[0] & 0x80)) for c in chunks
        ] + [
            frame(1, b'{"type":"a"}'),
            frame(1, "é".encode()),
        ]
    data = b"".join(chunks)
    pieces = list(splits(data, cuts)) if data else []
    fast, fast_replies, fast_partial = _socket_run(pieces, True, masked)
    slow, slow_replies, slow_partial = _socket_run(pieces, False, masked)
    assert fast == slow
    assert [(op, fin) for op, fin, _ in fast_replies] == [(op, fin) for op, fin, _ in slow_replies]
    # Both see the same frame or message begun and not finished after every read.
    assert fast_partial == slow_partial


# -- the same properties for a GA stream ---------------------------------------------------------


def ga_messages() -> list[bytes]:
    """What a GA server session sends for a text turn answered in speech and a VAD turn."""
    h = Harness(dialect="ga", model="gpt-realtime")
    h.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "output_modalities": ["audio"],
                "audio": {"input": {"transcription": {"model": "whisper-1"}}},
            },
        }
    )
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    h.send({"type": "conversation.item.create", "item": item})
    start = h.start(h.send({"type": "response.create"}))
    for text, audio in [("Hel", b"\x01\x00" * 300), ("lo ✓", b"\x02\x00" * 700)]:
        h.server.add_transcript(start.response_id, text)
        h.server.add_audio(start.response_id, audio)
    h.server.finish_response(start.response_id)
    h.flush()
    speech = silence(100) + tone(600) + silence(700)
    for offset in range(0, len(speech), 4800):
        effects = h.send(ev.InputAudioBufferAppend(audio=speech[offset : offset + 4800]))
        for effect in effects:
            if isinstance(effect, Transcribe):
                h.server.complete_transcription(effect.item_id, "hello")
            elif isinstance(effect, StartResponse):
                h.server.add_transcript(effect.response_id, "hi")
                h.server.finish_response(effect.response_id)
    h.flush()
    assert h.in_step()
    return h.raw


GA_STREAM = None


def ga_stream() -> bytes:
    """A GA server's bytes: handshake answer, the conversation, a ping, garbage, a close."""
    global GA_STREAM
    if GA_STREAM is None:
        client = ClientConnection(URL, api_key="k")
        server = ServerConnection()
        server.receive_data(client.data_to_send())
        list(server.events())
        assert server.dialect == "ga"
        out = server.accept()
        for message in ga_messages():
            out += server.send_message(message)
        out += frame(9, b"p") + frame(1, b"{not json") + frame(1, b'{"type":"x.y","event_id":"u"}')
        out += server.close(1000, "bye")
        GA_STREAM = out
    return GA_STREAM


def run_ga_client(chunks: Iterator[bytes]) -> tuple[list[Any], Any, bytes]:
    client = ClientConnection(URL, api_key="k")
    client.data_to_send()
    events: list[Any] = []
    replies = b""
    for chunk in chunks:
        client.receive_data(chunk)
        events.extend(client.events())
        replies += client.data_to_send()
    return events, client.state, parse_frames(replies)


def test_the_ga_stream_gives_the_whole_conversation() -> None:
    events, state, reply = run_ga_client(iter([ga_stream()]))
    names = [getattr(e, "type", type(e).__name__) for e in events]
    assert names[:2] == ["Connected", "session.created"]
    assert "conversation.item.added" in names and "response.output_audio.delta" in names
    assert "conversation.item.created" not in names
    assert type(events[-1]).__name__ == "ConnectionClosed"
    assert state.items[1].content[0].audio.size == 2000  # type: ignore[union-attr]
    assert state.items[1].content[0].transcript.value == "Hello ✓"  # type: ignore[union-attr]
    assert state.items[2].content[0].transcript.value == "hello"  # type: ignore[union-attr]
    assert len(state.protocol_errors) == 1 and state.unknown_events == 1 and not state.anomalies
    assert reply == [(10, True, b"p"), (8, True, b"\x03\xe8bye")]


@given(st.lists(st.integers(min_value=0), max_size=40))
def test_random_splits_of_a_ga_stream_give_the_same_events_and_snapshots(cuts: list[int]) -> None:
    data = ga_stream()
    whole = run_ga_client(iter([data]))
    split = run_ga_client(splits(data, cuts))
    assert comparable(split[0]) == comparable(whole[0])
    assert split[1] == whole[1]
    assert split[2] == whole[2]


def test_a_ga_stream_byte_by_byte_equals_whole() -> None:
    data = ga_stream()
    whole = run_ga_client(iter([data]))
    bytewise = run_ga_client(data[i : i + 1] for i in range(len(data)))
    assert comparable(whole[0]) == comparable(bytewise[0])
    assert whole[1] == bytewise[1]


@given(st.data())
def test_a_mutated_ga_stream_never_breaks_the_client(data: st.DataObject) -> None:
    client = ClientConnection(URL, api_key="k")
    client.data_to_send()
    client.receive_data(data.draw(mutated(ga_stream())))
    list(client.events())
    client.receive_data(b"")
    list(client.events())
    assert client.closed


def ga_client_stream() -> bytes:
    """Everything a GA client sends: handshake, a session update, audio, a commit, a response."""
    client = ClientConnection(URL, api_key="k", auth="subprotocol")
    out = client.data_to_send()
    server = ServerConnection()
    server.receive_data(out)
    list(server.events())
    client.receive_data(server.accept())
    list(client.events())
    for message in [
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}},
        {"type": "input_audio_buffer.append", "audio": "AAAA" * 1600},
        {"type": "input_audio_buffer.commit"},
        {"type": "response.create", "response": {"output_modalities": ["text"]}},
    ]:
        out += frame(1, json.dumps(message).encode(), mask=True)
    out += frame(1, b'{"type":"session.update","session":{"type":"realtime","bogus":1}}', mask=True)
    out += client.close()
    return out


@given(st.lists(st.integers(min_value=0), max_size=40))
def test_server_side_splits_of_a_ga_stream_give_the_same_events(cuts: list[int]) -> None:
    raw = ga_client_stream()
    whole = comparable_server(run_server(iter([raw])))
    names = [getattr(e, "type", type(e).__name__) for e in whole]
    assert names[:5] == [
        "HandshakeRequest",
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "response.create",
    ]
    assert whole[5][0] == "ClientMessageError" and "bogus" in whole[5][1]
    assert isinstance(whole[1], ev.ga.SessionUpdate)
    assert comparable_server(run_server(splits(raw, cuts))) == whole
