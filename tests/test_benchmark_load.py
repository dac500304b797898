"""The benchmarks' real-time audio load: who speaks when, and sockets that send at once."""

from __future__ import annotations

import socket
import threading

import pytest

from benchmarks import audio_load
from rtcore.wire import HandshakeRequest, ServerConnection


@pytest.mark.parametrize("count", [1, 7, 20, 99, 100, 250, 1001])
@pytest.mark.parametrize("together", [False, True])
def test_every_session_is_sent_to_once_per_period_in_its_group(count: int, together: bool) -> None:
    groups = audio_load._phases(count, together)
    assert len(groups) == audio_load.GROUPS
    seen = []
    for g, phases in enumerate(groups):
        for phase, sessions in phases:
            assert all(i % audio_load.GROUPS == g for i in sessions)
            assert phase == (0 if together else sessions.start % audio_load.CYCLE)
            seen += sessions
    assert sorted(seen) == list(range(count))


def test_apart_as_many_turns_end_in_every_period() -> None:
    count = 1000
    ends = [0] * audio_load.CYCLE
    for phases in audio_load._phases(count, together=False):
        for phase, sessions in phases:
            ends[(phase + audio_load.SPEECH_FRAMES + 9) % audio_load.CYCLE] += len(sessions)
    assert ends == [count // audio_load.CYCLE] * audio_load.CYCLE
    together = [phase for phases in audio_load._phases(count, True) for phase, _ in phases]
    assert set(together) == {0}


def test_the_generator_sockets_send_without_waiting_for_acknowledgements() -> None:
    """Nagle's algorithm held a frame written while the last one was unacknowledged (the
    server's delayed ACK): latencies then measured the generator's kernel."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            server = ServerConnection()
            while server.request is None:
                server.receive_data(conn.recv(65536))
                for event in server.events():
                    if isinstance(event, HandshakeRequest):
                        conn.sendall(server.accept())
            conn.recv(65536)  # the session update

    thread = threading.Thread(target=serve)
    thread.start()
    update, _, _ = audio_load._frames()
    sock = audio_load._open(port, update)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()
        thread.join(5)
        listener.close()
