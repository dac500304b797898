"""Frames through ``ClientConnection.receive_data`` against plain wsproto on the same bytes.

The subject does everything a client does with a frame: WebSocket parsing
(wsproto inside), JSON decoding to typed events, and the snapshot update. The
baseline only parses the same frames with wsproto.
"""

from __future__ import annotations

import base64

import wsproto.handshake
from wsproto.connection import Connection, ConnectionType

from rtcore.wire import ClientConnection, ServerConnection, text_frame

from .harness import Result, compare
from .workloads import audio_response

_NONCE = base64.b64encode(b"rtcore-benchmark")


def _handshake_answer() -> bytes:
    original = wsproto.handshake.generate_nonce
    wsproto.handshake.generate_nonce = lambda: _NONCE
    try:
        client = ClientConnection("ws://127.0.0.1:1/v1/realtime")
        server = ServerConnection()
        server.receive_data(client.data_to_send())
        list(server.events())
        return server.accept()
    finally:
        wsproto.handshake.generate_nonce = original


_CHUNK = 65536  # what one socket read typically gives


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)]


def _connected(answer: bytes) -> ClientConnection:
    original = wsproto.handshake.generate_nonce
    wsproto.handshake.generate_nonce = lambda: _NONCE
    try:
        client = ClientConnection("ws://127.0.0.1:1/v1/realtime")
    finally:
        wsproto.handshake.generate_nonce = original
    client.receive_data(answer)
    list(client.events())
    return client


def _run_rtcore(answer: bytes, chunks: list[bytes]) -> int:
    client = _connected(answer)
    n = 0
    for chunk in chunks:
        client.receive_data(chunk)
        for _ in client.events():
            n += 1
    return n


def _run_wsproto(chunks: list[bytes]) -> int:
    conn = Connection(ConnectionType.CLIENT)
    n = 0
    for chunk in chunks:
        conn.receive_data(chunk)
        for event in conn.events():
            n += event.message_finished  # type: ignore[attr-defined]
    return n


def run(quick: bool = False) -> list[Result]:
    repeats = 5 if quick else 15
    answer = _handshake_answer()
    results = []
    workloads = [
        (
            "text deltas (600 transcript deltas)",
            audio_response(600, transcript_every=1, audio=False),
        ),
        ("100 ms audio deltas (600 x 6.4 KB)", audio_response(600, 100)),
    ]
    for name, lines in workloads:
        chunks = _chunks(b"".join(text_frame(line) for line in lines))
        assert _run_rtcore(answer, chunks) == _run_wsproto(chunks)
        result = compare(
            "wire",
            name,
            ("ClientConnection.receive_data", lambda chunks=chunks: _run_rtcore(answer, chunks)),
            ("wsproto", lambda chunks=chunks: _run_wsproto(chunks)),
            repeats=repeats,
            target_s=0.05,
        )
        result.extra["frames_per_s"] = len(lines) / (result.subject_value / 1e6)
        result.extra["baseline_frames_per_s"] = len(lines) / (result.baseline_value / 1e6)
        results.append(result)
    return results
