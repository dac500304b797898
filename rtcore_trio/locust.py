"""``RealtimeUser``: a Locust user that holds a Realtime conversation, for load beyond one machine.

Locust (``pip install 'rtcore[locust]'``) spreads users over many machines
(a master and its workers) and shows their figures in its web UI and CSV
files. Each ``RealtimeUser`` is one session: the sans-IO ``ClientConnection``
over a socket (TLS for ``wss://``) that gevent makes cooperative (Locust
patches the standard library when it is imported), with one greenlet
reading. The same client, scenarios and measurements serve ``rtcore
loadtest`` over trio: only the moving of bytes differs, which is what a
sans-IO core is for.

A user plays a scenario of ``rtcore loadtest`` (``scenario``: a built-in name
or a JSON file), its turns in order and over again; audio goes out in
``frame_ms`` frames on the audio clock. Each figure of
``rtcore_trio.loadtest_metrics`` becomes a Locust request of type
``realtime`` named after it: ``handshake``, ``speech_stopped``,
``first_delta``, ``first_audio``, ``response``. Each error (an ``error``
event's code, a refused handshake's ``http_503``, a server's close code
``close_1011``, a connection that dropped, ``close_1006``, a timeout) is a
failed request named ``error`` whose message is the code. A session
that ended (refused, closed by the server) is not reopened: its user stops,
as ``rtcore loadtest`` never opens more than its sessions. A barge-in turn
is played as an ordinary spoken turn (the answer before it is heard to the end).

Nothing else in rtcore imports this module, Locust or gevent. A locustfile::

    from rtcore_trio.locust import RealtimeUser

    class Caller(RealtimeUser):
        scenario = "mixed"

and ``locust -f locustfile.py --host ws://127.0.0.1:8765/v1/realtime``.
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

# gevent has no type information; Locust has.
import gevent  # type: ignore[import-untyped]
from gevent.event import Event  # type: ignore[import-untyped]
from gevent.lock import Semaphore  # type: ignore[import-untyped]
from locust import User, constant, task
from locust.env import Environment
from locust.exception import StopUser

from rtcore import events as ev
from rtcore.errors import LocalProtocolError, ProtocolError
from rtcore.wire import ClientConnection, Connected, ConnectionClosed, HandshakeFailed, Rejected

from .loadtest_metrics import Interval, Recorder, error_code
from .loadtest_scenario import (
    Scenario,
    audio_frames,
    client_event,
    load_scenario,
    session_update,
    user_text,
)

__all__ = ["RealtimeUser", "REQUEST_TYPE"]

REQUEST_TYPE = "realtime"
"""The request type of every figure and error a ``RealtimeUser`` reports to Locust."""
_CLOSE_WAIT = 1.0  # seconds for the server's answer to our close, when a user stops


@functools.lru_cache(maxsize=16)
def _plan(spec: str, frame_ms: int) -> tuple[Scenario, dict[int, tuple[list[bytes], int]]]:
    """A scenario and its audio turns' frames: read and built once per worker, shared by users."""
    scenario = load_scenario(spec)
    frames = {
        i: audio_frames(t.audio, scenario.silence_ms, frame_ms)
        for i, t in enumerate(scenario.turns)
        if t.audio is not None
    }
    return scenario, frames


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection whose small writes leave at once (``TCP_NODELAY``): with Nagle's
    algorithm an audio frame written while the last one awaits the server's delayed
    acknowledgement waits too, and the latencies measured would include it."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _LocustRecorder(Recorder):
    """One user's figures, each handed to Locust as it comes; Locust keeps them over time."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(time.monotonic())
        self.environment = environment
        self._scratch = Interval(0)
        self.per_session = False  # Locust keeps the figures

    def at(self, now: float) -> Interval:
        return self._scratch  # no per-interval history here: Locust has its own

    def sample(self, now: float, metric: str, seconds: float) -> None:
        self._report(metric, seconds, None)

    def count_error(self, now: float, code: str) -> None:
        super().count_error(now, code)
        self._report("error", 0.0, RuntimeError(code))

    def _report(self, name: str, seconds: float, exception: Exception | None) -> None:
        self.environment.events.request.fire(  # type: ignore[no-untyped-call]
            request_type=REQUEST_TYPE,
            name=name,
            response_time=seconds * 1000,
            response_length=0,
            exception=exception,
            context={},
        )


class RealtimeUser(User):
    """One Realtime session per user: set ``host`` (``ws://`` or ``wss://``) and ``scenario``."""

    abstract = True
    wait_time = constant(0)  # the scenario's think times are the pauses
    scenario = "mixed"
    """A built-in scenario of ``rtcore loadtest`` (text, audio, tools, barge-in, mixed) or a file."""
    dialect: ev.Dialect = "ga"
    api_key: str | None = None
    """Sent as a bearer token; ``$OPENAI_API_KEY`` when it is not set."""
    frame_ms = 20
    turn_timeout = 30.0
    """Seconds to wait for the handshake or an answer before counting a timeout."""
    silence_duration_ms = 200
    """The server VAD's silence before it ends a turn (sent in the first ``session.update``)."""
    ssl_context: ssl.SSLContext | None = None
    """For ``wss://``: the system's trust store when ``None``."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._recorder = _LocustRecorder(environment)
        self._timeline = self._recorder.session()
        self._changed = Event()  # set by the reader on every event and at the end
        self._writing = Semaphore()  # one greenlet writes at a time: frames must not interleave
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._index = 0
        self._done = 0  # response.done events so far
        self._calls: list[str] = []  # call_ids of the last response's function calls
        self._closed = False
        self._closing = False

    def on_start(self) -> None:
        if not self.host:
            raise ValueError(
                "RealtimeUser needs a host: --host ws://HOST:PORT/PATH, or on the class"
            )
        self._scenario, self._frames = _plan(self.scenario, self.frame_ms)
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        conn = self._conn = ClientConnection(str(self.host), api_key=key, dialect=self.dialect)
        self._timeline.connecting(time.monotonic())
        try:
            sock = _connect(conn.host, conn.port, self.turn_timeout)
            if conn.secure:
                context = self.ssl_context or ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=conn.host)
        except OSError:
            self._timeline.failed(time.monotonic(), "connect_failed")
            self._closed = True
            return
        sock.settimeout(None)
        self._sock = sock
        self._send_bytes(conn.data_to_send())
        self._reader = gevent.spawn(self._read)
        if not self._wait(lambda: conn.accepted or self._closed, self.turn_timeout):
            self._timeline.timed_out(time.monotonic(), "handshake")
            self._closed = True
            return
        if not self._closed:
            self._send(session_update(self._scenario, self.dialect, self.silence_duration_ms))

    def on_stop(self) -> None:
        if not self._closed and self._conn.accepted:
            self._closing = True
            self._send_bytes(self._conn.close(1000))
            self._wait(lambda: self._closed, _CLOSE_WAIT)
        self._closed = True
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._reader is not None:
            self._reader.kill(block=False)

    # -- the conversation --------------------------------------------------------------------------

    @task
    def converse(self) -> None:
        """One turn of the scenario and its answer, then the turn's think time."""
        if self._closed:
            raise StopUser()  # the session ended; like `rtcore loadtest`, no second one
        index = self._index
        turn = self._scenario.turns[index]
        self._index = (index + 1) % len(self._scenario.turns)
        if turn.audio is not None:
            self._speak(*self._frames[index])
        elif turn.say is not None:
            self._send(client_event(user_text(turn.say), self.dialect))
            if self._respond() and turn.tool_output is not None:
                for call_id in self._calls:
                    output = {"call_id": call_id, "output": turn.tool_output}
                    item = {"type": "function_call_output", **output}
                    create = {"type": "conversation.item.create", "item": item}
                    self._send(client_event(create, self.dialect))
                self._respond()
        if not self._closed:
            gevent.sleep(turn.think_s)

    def _speak(self, frames: list[bytes], speech: int) -> None:
        """Speech then silence, a frame every ``frame_ms`` as a microphone sends them."""
        target = self._done + 1
        start = time.monotonic()
        for n, frame in enumerate(frames):
            if self._closed:
                return
            gevent.sleep(max(0.0, start + n * self.frame_ms / 1000 - time.monotonic()))
            if n == speech:
                self._timeline.speech_ended(time.monotonic())
            self._send_bytes(frame)
        self._until_done(target)

    def _respond(self) -> bool:
        target = self._done + 1
        self._timeline.request_sent(time.monotonic())
        self._send(client_event({"type": "response.create"}, self.dialect))
        return self._until_done(target)

    def _until_done(self, target: int) -> bool:
        """Wait for the ``target``-th ``response.done``; False (a timeout, counted) if none came."""
        if not self._wait(lambda: self._done >= target or self._closed, self.turn_timeout):
            self._timeline.timed_out(time.monotonic(), "response")
            return False
        return not self._closed

    def _wait(self, ready: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not ready():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            if not ready():
                self._changed.wait(left)
        return True

    # -- bytes -------------------------------------------------------------------------------------

    def _send(self, event: ev.ClientEvent) -> None:
        if self._closed:
            return
        try:
            data = self._conn.send(event)
        except LocalProtocolError as err:
            self._timeline.error(time.monotonic(), f"refused_by_client_{err.code}")
            return
        self._send_bytes(data)

    def _send_bytes(self, data: bytes) -> None:
        sock = self._sock
        if not data or sock is None:
            return
        with self._writing:
            try:
                sock.sendall(data)
            except OSError:
                pass  # the reader sees the end of the connection

    def _read(self) -> None:
        """The reader greenlet: everything the server sends, until the connection ends."""
        conn = self._conn
        while not conn.closed and self._sock is not None:
            try:
                data = self._sock.recv(65536)
            except OSError:
                data = b""
            conn.receive_data(data)
            now = time.monotonic()
            for event in conn.events():
                self._take(now, event)
            self._send_bytes(conn.data_to_send())
            self._changed.set()
            if not data:
                break
        if not self._closed:  # the transport ended without a close handshake
            self._timeline.closed(time.monotonic(), 1006, True)
        self._closed = True
        self._changed.set()

    def _take(self, now: float, event: Any) -> None:
        timeline = self._timeline
        if isinstance(event, ev.ServerEvent):
            timeline.event(now, event.type, error_code(event))
            if event.type == "response.done":
                output = getattr(getattr(event, "response", None), "output", None) or ()
                self._calls = [
                    str(i.call_id) for i in output if getattr(i, "type", "") == "function_call"
                ]
                self._done += 1
        elif isinstance(event, ev.UnknownEvent):
            timeline.event(now, str(event.payload.get("type", "unknown")))
        elif isinstance(event, ProtocolError):
            timeline.event(now, "error", f"protocol_{event.code}")
        elif isinstance(event, Connected):
            timeline.connected(now)
        elif isinstance(event, Rejected):
            timeline.rejected(now, event.status_code)
            self._closed = True
        elif isinstance(event, HandshakeFailed):
            timeline.failed(now, "handshake_failed")
            self._closed = True
        elif isinstance(event, ConnectionClosed):
            timeline.closed(now, event.code, event.initiator != "local" or not self._closing)
            self._closed = True
