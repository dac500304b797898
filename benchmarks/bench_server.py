"""The server engine on a stream of 20 ms pcm16 appends through server VAD.

Two figures. The engine alone (``ServerSession.receive_message`` on the JSON
message) against ``json.loads`` of the same bytes; and the whole byte path
(``ServerConnection`` framing and unmasking, decoding, the session) against
wsproto parsing the same frames. Both also report the cost as a fraction of
the 20 ms of audio each append carries, and how many real-time sessions one
core could carry on that cost alone.
"""

from __future__ import annotations

import base64
import json

from wsproto.connection import Connection, ConnectionType

from rtcore.server import ServerSession
from rtcore.wire import ClientConnection, HandshakeRequest, ServerConnection

from .harness import Result, compare
from .workloads import pcm_tone

FRAME_MS = 20


def _appends(seconds: int) -> list[bytes]:
    """Speech and silence in turns of one second, as 20 ms appends."""
    speech = pcm_tone(FRAME_MS)
    quiet = bytes(len(speech))
    out = []
    for i in range(seconds * 1000 // FRAME_MS):
        audio = speech if (i // 50) % 2 else quiet
        out.append(
            json.dumps(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}
            ).encode()
        )
    return out


def _session() -> ServerSession:
    session = ServerSession(dialect="ga")
    session.receive_message(
        b'{"type":"session.update","session":{"type":"realtime","audio":{"input":'
        b'{"turn_detection":{"type":"server_vad","create_response":false}}}}}'
    )
    # A refused update would leave automatic responses on and measure something else.
    sent = session.messages_to_send()
    assert not any(b'"type":"error"' in m for m in sent), sent
    return session


def _engine(messages: list[bytes]) -> None:
    session = _session()
    receive, out = session.receive_message, session.messages_to_send
    for message in messages:
        receive(message)
        out()


def _loads(messages: list[bytes]) -> None:
    for message in messages:
        json.loads(message)


def _masked_frames(messages: list[bytes]) -> bytes:
    client = ClientConnection("ws://127.0.0.1:1/v1/realtime")
    server = ServerConnection()
    server.receive_data(client.data_to_send())
    list(server.events())
    client.receive_data(server.accept())
    list(client.events())
    from wsproto.events import TextMessage

    return b"".join(client._ws.send(TextMessage(data=m.decode())) for m in messages)


def _wire(handshake: bytes, frames: list[bytes]) -> None:
    conn = ServerConnection()
    conn.receive_data(handshake)
    for event in conn.events():
        assert isinstance(event, HandshakeRequest)
    conn.accept()
    session = _session()
    receive, out = session.receive_event, session.messages_to_send
    for chunk in frames:
        conn.receive_data(chunk)
        for event in conn.events():
            receive(event)  # type: ignore[arg-type]
        for message in out():
            conn.send_message(message)


def _wsproto(frames: list[bytes]) -> None:
    conn = Connection(ConnectionType.SERVER)
    for chunk in frames:
        conn.receive_data(chunk)
        for _ in conn.events():
            pass


def run(quick: bool = False) -> list[Result]:
    repeats = 5 if quick else 15
    seconds = 4 if quick else 20
    messages = _appends(seconds)
    results = []
    engine = compare(
        "server",
        f"{len(messages)} appends of 20 ms through VAD",
        ("ServerSession.receive_message", lambda: _engine(messages)),
        ("json.loads", lambda: _loads(messages)),
        repeats=repeats,
        target_s=0.05,
    )
    per_append = engine.subject_value / len(messages)
    engine.extra = {
        "us_per_append": round(per_append, 2),
        "fraction_of_real_time": per_append / (FRAME_MS * 1000),
        "sessions_per_core_engine_only": int(FRAME_MS * 1000 / per_append),
    }
    engine.goal = f"{per_append / (FRAME_MS * 10):.3f}% of real time"
    results.append(engine)

    helper = ClientConnection("ws://127.0.0.1:1/v1/realtime")
    handshake = helper.data_to_send()
    raw = _masked_frames(messages)
    frames = [raw[i : i + 65536] for i in range(0, len(raw), 65536)]
    wire = compare(
        "server",
        f"{len(messages)} masked append frames, bytes in",
        ("ServerConnection + ServerSession", lambda: _wire(handshake, frames)),
        ("wsproto parsing", lambda: _wsproto(frames)),
        repeats=repeats,
        target_s=0.05,
    )
    per_frame = wire.subject_value / len(messages)
    wire.extra = {
        "us_per_append": round(per_frame, 2),
        "sessions_per_core_without_io": int(FRAME_MS * 1000 / per_frame),
    }
    wire.goal = f"{per_frame / (FRAME_MS * 10):.3f}% of real time"
    results.append(wire)
    return results
