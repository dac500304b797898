"""The real-time audio load of the end-to-end benchmarks, from one process with no event loop.

``load`` opens N WebSocket sessions to a server on loopback (the handshake
and a ``session.update`` turning on server VAD, with ``rtcore.wire``'s
``ClientConnection``) and streams real-time audio into each: a 20 ms pcm16
append every 20 ms, one second of speech then one second of silence. It
times every ``speech_started`` and ``speech_stopped`` from the moment the
frame that completes it was sent, and measures the server's CPU over the
steady state (after a second of warm-up).

It is made to cost the machine little, so that it falls behind after the
server does: the two frames (speech, silence) are encoded and masked once
(any mask key is as good as another), each send is one ``os.write`` from a
plain ``select.epoll`` loop that follows a time schedule (the sessions in
``GROUPS`` groups spread over the 20 ms period, so that the sends do not all
line up), and the answers are not decoded: the two event types are found in
the raw bytes (the server's frames are unmasked and its events begin with
their type). Its sockets send at once (``TCP_NODELAY``, as trio's, browsers'
and every real-time client's do): with Nagle's algorithm a frame written
while the last one waited for the server's delayed acknowledgement left up
to a frame later, and a third of the VAD latencies measured that, not the
server (p99 25 ms at 50 sessions on an idle server; 1.8 ms without it).
Speakers are independent: session ``i``'s turns begin ``i % CYCLE`` frames
after the first session's, so as many turns end in every 20 ms period;
``together=True`` puts every turn in step, a burst of commits in one period
kept as the worst case. Its own CPU share is reported (``generator_cpu``), and how late
it sent (``generator_p99_lag_ms``): a run where it fell behind says nothing
about the server.
"""

from __future__ import annotations

import os
import select
import socket
import time
from typing import Any

import numpy as np

from rtcore import events as ev
from rtcore.wire import ClientConnection, Connected
from rtcore_trio.loadtest_scenario import client_frame

from .processes import cpu_seconds

__all__ = [
    "CYCLE",
    "FRAME_S",
    "GROUPS",
    "SILENCE_FRAMES",
    "SPEECH_FRAMES",
    "STARTED",
    "STOPPED",
    "load",
]

FRAME_S = 0.020
SPEECH_FRAMES = 50
SILENCE_FRAMES = 50
CYCLE = SPEECH_FRAMES + SILENCE_FRAMES
GROUPS = 20
STARTED = "input_audio_buffer.speech_started"
STOPPED = "input_audio_buffer.speech_stopped"
WARM_UP_S = 1.0
LAST_ANSWERS_S = 0.5
_MARKS = {
    STARTED: b'{"type":"' + STARTED.encode() + b'"',
    STOPPED: b'{"type":"' + STOPPED.encode() + b'"',
}
_ERROR = b'{"type":"error"'
_TAIL = max(len(mark) for mark in [*_MARKS.values(), _ERROR]) - 1
"""Bytes of one read kept for the next: a mark split between two reads is still found, and
a whole one never counted twice."""
# GA, the dialect of a connection without the beta header.
_UPDATE = (
    b'{"type":"session.update","session":{"type":"realtime","audio":{"input":'
    b'{"turn_detection":{"type":"server_vad","create_response":false,'
    b'"silence_duration_ms":200}}}}}'
)


def _speech(ms: int) -> bytes:
    """A 220 Hz tone at about -15 dBFS: speech to the energy detector."""
    rate = 24000
    t = np.arange(rate * ms // 1000)
    return (8000 * np.sin(2 * np.pi * 220 * t / rate)).astype("<i2").tobytes()


def _frames() -> tuple[bytes, bytes, bytes]:
    """The masked frames: the session update, 20 ms of speech, 20 ms of silence."""
    update = ev.decode_client_event(_UPDATE, dialect="ga", strict=True)
    assert isinstance(update, ev.EventBase)
    speech = client_frame(ev.InputAudioBufferAppend(audio=_speech(20)))
    silence = client_frame(ev.InputAudioBufferAppend(audio=bytes(960)))
    return client_frame(update), speech, silence


def _open(port: int, update: bytes) -> socket.socket:
    """One session, its update sent: then a non-blocking socket whose bytes are raw (a refused
    update, which would leave automatic responses on, is found there as an error event)."""
    conn = ClientConnection(f"ws://127.0.0.1:{port}/v1/realtime")
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(conn.data_to_send())
    while not any(isinstance(event, Connected) for event in conn.events()):
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("the server closed a session during its handshake")
        conn.receive_data(data)
    sock.sendall(update)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


class _Run:
    """One load's sessions and what was measured."""

    def __init__(self, socks: list[socket.socket]) -> None:
        self.socks = socks
        self.fds = [s.fileno() for s in socks]
        self.index = {fd: i for i, fd in enumerate(self.fds)}
        self.expected: list[list[tuple[str, float]]] = [[] for _ in socks]
        self.tails = [b""] * len(socks)
        self.pending: dict[int, tuple[bytes, list[float]]] = {}
        """Sessions whose socket took part of a frame: the rest, and the frames' due times."""
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.epoll = select.epoll()
        for fd in self.fds:
            self.epoll.register(fd, select.EPOLLIN)

    def send(self, group: range, frame: bytes, position: int, due: float) -> None:
        """One frame to each session of ``group``, due at ``due``."""
        fds, lags, pending = self.fds, self.lags, self.pending
        write, clock = os.write, time.monotonic
        opens = position == 1  # the 2nd speech frame opens a turn
        closes = position == SPEECH_FRAMES + 9  # the 10th frame of silence (200 ms) closes it
        for i in group:
            sent = clock()
            # Noted before sending: the answer may arrive before the write returns.
            if opens:
                self.expected[i].append((STARTED, sent))
            elif closes:
                self.expected[i].append((STOPPED, sent))
            if i in pending:
                rest, dues = pending[i]
                pending[i] = (rest + frame, [*dues, due])
                continue
            try:
                written = write(fds[i], frame)
            except BlockingIOError:
                written = 0
            if written == len(frame):
                lags.append(sent - due)
            else:  # the server is not reading: late until the kernel takes the rest
                pending[i] = (frame[written:], [due])
                self.epoll.modify(fds[i], select.EPOLLIN | select.EPOLLOUT)

    def _flush(self, i: int) -> None:
        rest, dues = self.pending[i]
        try:
            written = os.write(self.fds[i], rest)
        except BlockingIOError:
            return
        if written < len(rest):
            self.pending[i] = (rest[written:], dues)
            return
        del self.pending[i]
        now = time.monotonic()
        self.lags.extend(now - due for due in dues)
        self.epoll.modify(self.fds[i], select.EPOLLIN)

    def _receive(self, i: int) -> None:
        try:
            data = os.read(self.fds[i], 65536)
        except BlockingIOError:
            return
        now = time.monotonic()
        if not data:
            self.epoll.unregister(self.fds[i])
            return
        data = self.tails[i] + data
        self.tails[i] = data[-_TAIL:]
        if _ERROR in data:
            raise RuntimeError(f"the server sent an error: {data[data.find(_ERROR) :][:300]!r}")
        found = []
        for kind, mark in _MARKS.items():
            at = data.find(mark)
            while at >= 0:
                found.append((at, kind))
                at = data.find(mark, at + 1)
        if not found:
            return
        expected = self.expected[i]
        for _, kind in sorted(found):
            # Match the oldest expectation of this kind; older ones of the other kind were missed.
            while expected and expected[0][0] != kind:
                expected.pop(0)
            if expected:
                self.latencies.append(now - expected.pop(0)[1])

    def wait(self, until: float) -> None:
        """Read the answers (and write what was left) until ``until``."""
        poll, index = self.epoll.poll, self.index
        while (left := until - time.monotonic()) > 0:
            for fd, mask in poll(left, 1024):
                i = index[fd]
                if mask & select.EPOLLOUT:
                    self._flush(i)
                if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    self._receive(i)

    def close(self) -> None:
        self.epoll.close()
        for sock in self.socks:
            sock.close()


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("inf")


def _phases(count: int, together: bool) -> list[list[tuple[int, range]]]:
    """Per send group (session ``i`` is in group ``i % GROUPS``), its sessions by the frame
    their first turn begins at: ``i % CYCLE`` apart, 0 together (the module docstring)."""
    if together:
        return [[(0, range(g, count, GROUPS))] for g in range(GROUPS)]
    return [
        [(phase, range(phase, count, CYCLE)) for phase in range(g, CYCLE, GROUPS)]
        for g in range(GROUPS)
    ]


def load(
    port: int, pid: int | list[int], count: int, seconds: float, together: bool = False
) -> dict[str, Any]:
    """``count`` sessions for ``seconds``; ``server_cpu`` is the busiest of the ``pid`` processes'
    (``rtcore serve --workers``: each worker's), ``server_cpu_total`` their sum. ``together``:
    every session's turns in step (``_phases``)."""
    pids = pid if isinstance(pid, list) else [pid]
    update, speech, silence = _frames()
    run = _Run([_open(port, update) for _ in range(count)])
    try:
        groups = _phases(count, together)
        start = time.monotonic() + 0.5
        warm, stop = start + WARM_UP_S, start + seconds
        measuring = False
        cpu_start: list[float] = []
        wall_start = sent_start = 0.0
        own_start = os.times()
        n = 0
        while (due := start + n * FRAME_S) < stop:
            if not measuring and due >= warm:
                run.wait(warm)
                cpu_start, wall_start = [cpu_seconds(p) for p in pids], time.monotonic()
                sent_start, own_start, measuring = len(run.lags), os.times(), True
            for g, phases in enumerate(groups):
                # Groups are spread across the 20 ms period so the sends do not line up.
                at = due + FRAME_S * g / GROUPS
                run.wait(at)
                for phase, sessions in phases:
                    # Silence until a session's first turn begins at frame ``phase``.
                    position = (n - phase) % CYCLE if n >= phase else -1
                    frame = speech if 0 <= position < SPEECH_FRAMES else silence
                    run.send(sessions, frame, position, at)
            n += 1
        run.wait(stop)
        wall = time.monotonic() - wall_start
        used = [cpu_seconds(p) - c for p, c in zip(pids, cpu_start, strict=True)]
        own_end = os.times()
        sent = len(run.lags) - sent_start
        run.wait(stop + LAST_ANSWERS_S)  # the last answers
    finally:
        run.close()
    own = (own_end.user - own_start.user) + (own_end.system - own_start.system)
    cycles = int(seconds / ((SPEECH_FRAMES + SILENCE_FRAMES) * FRAME_S))
    return {
        "sessions": count,
        "server_cpu": max(u / wall for u in used),
        "server_cpu_total": sum(used) / wall,
        # CPU per frame sent: on a shared machine, steadier than the share of a core.
        "server_us_per_frame": 1e6 * sum(used) / max(sent, 1),
        "p50_ms": _pct(run.latencies, 0.50) * 1000,
        "p99_ms": _pct(run.latencies, 0.99) * 1000,
        "generator_p99_lag_ms": _pct(run.lags, 0.99) * 1000,
        "generator_cpu": own / wall,
        "vad_events": len(run.latencies),
        "vad_events_expected_about": count * 2 * cycles,
    }
