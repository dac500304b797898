"""The server role over trio: ``serve`` runs a Realtime endpoint on TCP.

Each connection is one ``ServerConnection`` (bytes) feeding one
``ServerSession`` (protocol). The adapter's jobs, and only these: admit at
most ``max_connections`` clients (503 beyond, before any session starts);
check the path and the API key (Bearer, ``api-key`` or the browser
subprotocol, compared in constant time; anything else gets HTTP 404 or 401
and no session); run each response's backend and each transcription in a
task of its own, cancelled through trio cancellation when the client cancels
or barges in; write the session's events in order under one write lock; and
end sessions on time and on shutdown (open responses get ``response.done``).

Every connection is its own failure domain. Its tasks run in its own nursery
inside its own cancel scope, so an exception anywhere in them (handler,
decoder, backend, writer) is logged once with its traceback, closes that
connection with 1011 and reaches nothing else. A peer that stops reading is
caught by the write timeout: the connection's tasks are cancelled and only
then is the socket closed, by the one task that owns it - nothing ever reads
or writes a closed socket.

Timeouts are trio deadlines on the read, never a polling task: an idle
connection is one task parked in the kernel's readiness wait with one
deadline (the next limit), and costs no CPU until that deadline or its next
byte. The deadline is re-armed lazily: activity only records the time, and
when a deadline passes early (the connection was busy) the next one is
computed from the recorded times. The limits: the handshake must arrive
within ``handshake_timeout``; a frame that has started must finish within
``frame_timeout``; the client must send something every ``idle_timeout``
(off by default); a session lasts at most ``max_session_seconds``
(``session_expired``); a write must finish within ``write_timeout``; the
close handshake takes at most ``close_timeout``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Collection
from typing import Any

import trio

from rtcore import events as ev
from rtcore.ids import DeterministicIds
from rtcore.server import (
    CancelResponse,
    Effect,
    ServerLimits,
    ServerSession,
    StartResponse,
    Transcribe,
)
from rtcore.server.config import DEFAULT_MODEL, MAX_SESSION_SECONDS
from rtcore.wire import (
    ClientMessageError,
    ConnectionClosed,
    HandshakeFailed,
    HandshakeRequest,
    ServerConnection,
)
from rtcore.wire.framing import DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE

from .backends import (
    Backend,
    EchoBackend,
    EchoTranscriber,
    ResponseRequest,
    Transcriber,
    TranscriptionFailed,
)
from .throttle import DEFAULT_LOG_INTERVAL, DEFAULT_LOG_LINES, ThrottledLog

__all__ = ["RealtimeServer", "serve", "DEFAULT_PATH", "DEFAULT_MAX_CONNECTIONS"]

log = logging.getLogger("rtcore.serve")
_READ_SIZE = 65536

DEFAULT_PATH = "/v1/realtime"
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
DEFAULT_FRAME_TIMEOUT = 30.0
DEFAULT_WRITE_TIMEOUT = 10.0
DEFAULT_CLOSE_TIMEOUT = 5.0
_MAX_TURNING_AWAY = 64
"""Clients over the connection limit being answered 503 at once; beyond that they are just closed."""
_TURN_AWAY_TIMEOUT = 2.0
"""How long a client over the limit has to send its request before it is closed without an answer."""


def _error_body(message: str, code: str, kind: str = "invalid_request_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


def _leaf(error: BaseException) -> BaseException:
    """The one exception inside nested single-member groups (what actually went wrong)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


_Ending = tuple[list[Effect], int, str]
"""How a session ends on our side: the session's final effects, the close code and reason."""


class _Connection:
    """One admitted client: its session, its writer, its backend tasks, its deadlines."""

    def __init__(
        self,
        server: RealtimeServer,
        stream: trio.abc.Stream,
        conn: ServerConnection,
        session: ServerSession,
        peer: str,
        started: float | None = None,
    ) -> None:
        self.server = server
        self.stream = stream
        self.conn = conn
        self.session = session
        self.peer = peer
        self.write_lock = trio.StrictFIFOLock()
        self.responses: dict[str, trio.CancelScope] = {}
        self.transcripts: dict[str, trio.Event] = {}
        now = trio.current_time()
        self.last_activity = now
        self.expires = (started if started is not None else now) + server.max_session_seconds
        self.frame_started: float | None = None
        """When the client began the frame or message it has not finished (``None``: none)."""
        self._partial_at: int | None = None
        self.closed: ConnectionClosed | None = None
        self.broken: str | None = None
        """Why the transport can take no more bytes (a write failed or timed out)."""
        self.failure: BaseException | None = None
        self.errors = 0
        self._scope = trio.CancelScope()
        self._read_scope: trio.CancelScope | None = None
        self._stopping = False
        self._nursery: trio.Nursery | None = None
        sock = getattr(stream, "socket", None)
        self.fd = (
            sock.fileno() if isinstance(stream, trio.SocketStream) and sock is not None else -1
        )

    # -- writing -----------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write every event the session produced, in order."""
        if not self.session.has_output:
            return  # the common case for audio appends: nothing to say, no lock to take
        async with self.write_lock:
            events = self.session.events_to_send()
            if not events or not self.conn.open or self.broken is not None:
                return
            frames = []
            for event in events:
                if type(event) is ev.ErrorEvent:
                    self.errors += 1
                    self.server.logs.note(
                        "error", "%s error %s: %s", self.peer, event.error.code, event.error.message
                    )
                frames.append(self.conn.send_message(ev.encode_event(event)))
            await self._write(b"".join(frames))

    async def send_raw(self, data: bytes) -> None:
        """Write bytes the wire layer produced (pongs, close frames); never lost to cancellation."""
        if data:
            with trio.CancelScope(shield=True):  # the wait is bounded: every holder's write is
                async with self.write_lock:
                    await self._write(data)

    async def _write(self, data: bytes) -> None:
        """Write with the lock held, shielded from cancellation, within ``write_timeout``.

        The events in ``data`` have left the session's queue, and a backend task
        is cancelled whenever its response is: an interrupted write would lose
        them (a ``response.done`` among them) or cut a frame in half. A write
        that does not finish in time means the client stopped reading: the
        connection is beyond saving (a frame may be half written), so its tasks
        are cancelled and the owner closes the socket once they have ended.
        """
        if self.broken is not None:
            return
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + self.server.write_timeout
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._abort(f"write failed: {exc}")
                return
        if scope.cancelled_caught:
            self.server.logs.note(
                "slow",
                "%s did not read for %.1f s; closing the connection",
                self.peer,
                self.server.write_timeout,
            )
            self._abort("the client stopped reading")

    def _abort(self, why: str) -> None:
        """The transport is unusable: end every task of this connection (not the socket)."""
        if self.broken is None:
            self.broken = why
        self._scope.cancel()

    # -- effects -----------------------------------------------------------------------------

    def handle(self, nursery: trio.Nursery, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, StartResponse):
                scope = trio.CancelScope()
                self.responses[effect.response_id] = scope
                nursery.start_soon(self._respond, effect, scope)
            elif isinstance(effect, CancelResponse):
                running = self.responses.pop(effect.response_id, None)
                if running is not None:
                    running.cancel()
            elif isinstance(effect, Transcribe):
                self.transcripts[effect.item_id] = trio.Event()
                nursery.start_soon(self._transcribe, effect)

    async def _wait_transcript(self, item_id: str) -> str | None:
        done = self.transcripts.get(item_id)
        if done is None:
            return None
        await done.wait()
        item = self.session.state.item(item_id)
        if item is None:
            return None
        for part in item.content:
            if part.type == "input_audio" and part.transcript is not None:
                return part.transcript.value
        return None

    async def _respond(self, start: StartResponse, scope: trio.CancelScope) -> None:
        session = self.session
        request = ResponseRequest(start, self._wait_transcript)
        with scope:
            chunks: Any = None
            try:
                chunks = self.server.backend.respond(request)
                async for chunk in chunks:
                    if not session.is_active(start.response_id):
                        break
                    session.produce(start.response_id, chunk)
                    await self.flush()
            except Exception as exc:  # a broken backend fails its response, not the connection
                self.server.logs.emit(
                    "backend",
                    logging.ERROR,
                    "%s backend failed on %s",
                    self.peer,
                    start.response_id,
                    exc_info=exc,
                )
                if session.is_active(start.response_id):
                    error = ev.StatusError(
                        type="server_error",
                        code="backend_error",
                        message=str(exc) or type(exc).__name__,
                    )
                    session.finish_response(
                        start.response_id, "failed", ev.StatusDetails(type="failed", error=error)
                    )
            finally:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:  # an async generator: let it clean up now, not at GC
                    with trio.CancelScope(shield=True):
                        await aclose()
            if session.is_active(start.response_id):
                # The backend stopped without finishing: the response still gets its response.done.
                session.finish_response(start.response_id)
            await self.flush()
        self.responses.pop(start.response_id, None)

    async def _transcribe(self, request: Transcribe) -> None:
        session = self.session
        text: str | None = None
        error: ev.TranscriptionError | None = None
        try:
            text = await self.server.transcriber.transcribe(request)
        except TranscriptionFailed as failed:
            error = failed.error
        except Exception as exc:  # a broken transcriber fails the transcription, not the server
            self.server.logs.emit(
                "backend",
                logging.ERROR,
                "%s transcriber failed on %s",
                self.peer,
                request.item_id,
                exc_info=exc,
            )
            error = ev.TranscriptionError(
                type="transcription_error", code="transcriber_error", message=str(exc)
            )
        # The item may have been deleted meanwhile; then there is nothing to report.
        if not session.ended and session.transcription_pending(request.item_id):
            if error is not None:
                session.fail_transcription(request.item_id, error, request.content_index)
            else:
                assert text is not None
                session.transcription_delta(request.item_id, text, request.content_index)
                session.complete_transcription(request.item_id, text, request.content_index)
        done = self.transcripts.get(request.item_id)
        if done is not None:
            done.set()
        await self.flush()

    # -- the connection's life ------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the session until it ends; whatever goes wrong stays inside this connection."""
        failure: BaseException | None = None
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    try:
                        await self.flush()
                        ending = await self._serve(nursery)
                        if ending is not None:
                            await self._end(nursery, *ending)
                    finally:
                        nursery.cancel_scope.cancel()
        except* Exception as group:
            failure = _leaf(group)
        if failure is not None:
            await self._fail(failure)

    def stop(self) -> None:
        """Server shutdown: end this session gracefully at the reader's next checkpoint."""
        self._stopping = True
        if self._read_scope is not None:
            self._read_scope.cancel()

    def _deadline(self) -> float:
        """The earliest moment a limit could end the session, from the times recorded so far."""
        server = self.server
        deadline = self.expires
        if server.idle_timeout is not None:
            deadline = min(deadline, self.last_activity + server.idle_timeout)
        if self.frame_started is not None and server.frame_timeout is not None:
            deadline = min(deadline, self.frame_started + server.frame_timeout)
        return deadline

    def _ending(self, now: float) -> _Ending | None:
        """Which limit, if any, ends the session at ``now``."""
        server, session = self.server, self.session
        if self._stopping:
            return session.shutdown(), 1001, "server shutting down"
        if now >= self.expires:
            minutes = int(server.max_session_seconds // 60)
            reason = f"Your session hit the maximum duration of {minutes} minutes."
            return session.expire(minutes), 1001, reason
        frame_timeout = server.frame_timeout
        if (
            self.frame_started is not None
            and frame_timeout is not None
            and now >= self.frame_started + frame_timeout
        ):
            message = f"A frame was not finished within {frame_timeout:g} s."
            return session.shutdown(message), 1008, "frame timeout"
        idle = server.idle_timeout
        if idle is not None and now >= self.last_activity + idle:
            return session.shutdown("The connection was idle for too long."), 1001, "idle timeout"
        return None

    async def _serve(self, nursery: trio.Nursery) -> _Ending | None:
        """Read until the client leaves (``None``) or a limit ends the session (how)."""
        while True:
            with trio.CancelScope(deadline=self._deadline()) as scope:
                self._read_scope = scope
                if self._stopping:
                    scope.cancel()
                await self._read(nursery)
                return None
            self._read_scope = None
            # A deadline passed (or shutdown): a limit, or a deadline made stale by activity.
            ending = self._ending(trio.current_time())
            if ending is not None:
                self.server.logs.note("timeout", "%s ending: %s", self.peer, ending[2])
                return ending

    async def _receive(self) -> bytes | bytearray:
        """The next bytes from the client (``b""`` at the end).

        A plain TCP socket is read with one ``os.read`` after trio says it is
        readable: the same scheduling as ``receive_some``, without its per-call
        wrapper and the failed optimistic read before each wait, which is most
        of the cost of a 20 ms audio frame. Other streams use ``receive_some``.
        The socket is only ever closed after this task has ended.
        """
        fd = self.fd
        if fd < 0:
            try:
                return await self.stream.receive_some(_READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return b""
        while True:
            await trio.lowlevel.wait_readable(fd)
            try:
                return os.read(fd, _READ_SIZE)
            except BlockingIOError:
                continue  # woken without data: wait again
            except OSError:
                return b""

    async def _read(self, nursery: trio.Nursery) -> None:
        """Process what the client sent, then read more, until nothing more will come."""
        conn, session = self.conn, self.session
        frame_timeout = self.server.frame_timeout
        while True:
            # Events already buffered come first: messages pipelined behind the handshake.
            for event in conn.events():
                if isinstance(event, ev.ClientEvent):
                    self.handle(nursery, session.receive_event(event))
                elif isinstance(event, ev.UnknownEvent):
                    session.reject_unknown(event)
                elif isinstance(event, ClientMessageError):
                    session.reject_message(event.error)
                elif isinstance(event, ConnectionClosed):
                    self.closed = event
            # Most reads (audio appends) leave nothing to write: no coroutine, no lock then.
            pending = conn.data_to_send()
            if pending:
                await self.send_raw(pending)
            if session.has_output:
                await self.flush()
            if conn.closed:
                break
            if frame_timeout is not None:
                # A frame or fragmented message begun and not finished gets a deadline of
                # its own; a new one (a new position) restarts it, so a client that streams
                # big frames back to back is not mistaken for one that trickles one forever.
                since = conn.partial_since
                if since is None:
                    self.frame_started = self._partial_at = None
                elif since != self._partial_at:
                    self._partial_at = since
                    self.frame_started = now = trio.current_time()
                    scope = self._read_scope
                    if scope is not None:
                        scope.deadline = min(scope.deadline, now + frame_timeout)
            data = await self._receive()
            self.last_activity = trio.current_time()
            conn.receive_data(data)
        self.handle(nursery, session.disconnect())

    async def _end(
        self, nursery: trio.Nursery, effects: list[Effect], code: int, reason: str
    ) -> None:
        """Close every response, send the final events and a close frame, await the client's.

        If the client does not answer within ``close_timeout``, the connection ends anyway.
        """
        self.handle(nursery, effects)
        await self.flush()
        await self.send_raw(self.conn.close(code, reason))
        if self.closed is None:
            self.closed = ConnectionClosed(code=code, reason=reason, initiator="local")
        with trio.move_on_after(self.server.close_timeout):
            await self._read(nursery)

    async def _fail(self, failure: BaseException) -> None:
        """A bug or a broken plugin ended this connection: log it once, close with 1011."""
        self.failure = failure
        self.server.logs.emit(
            "failure",
            logging.ERROR,
            "%s connection failed: %s: %s",
            self.peer,
            type(failure).__name__,
            failure,
            exc_info=failure,
        )
        reason = "internal error"
        self.closed = ConnectionClosed(code=1011, reason=reason, initiator="local")
        if self.broken is None:
            await self.send_raw(self.conn.close(1011, reason))


class RealtimeServer:
    """A Realtime endpoint over TCP: configure it, then ``await serve(...)``; ``shutdown()`` ends it.

    Every bound a client can make the server hold has a default and an option:
    ``max_connections`` (503 beyond), ``max_message_size`` (1009 beyond),
    ``max_fragments`` (frames in one message, 1009 beyond),
    the session limits in ``limits`` (buffer, items, ...), ``handshake_timeout``,
    ``frame_timeout``, ``idle_timeout`` (``None``: none), ``max_session_seconds``,
    ``write_timeout`` and ``close_timeout``. Logs are throttled to ``log_lines``
    lines per kind per ``log_interval`` seconds.
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        transcriber: Transcriber | None = None,
        api_keys: Collection[str] | None = None,
        model: str = DEFAULT_MODEL,
        path: str = DEFAULT_PATH,
        limits: ServerLimits | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_fragments: int = DEFAULT_MAX_FRAGMENTS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        frame_timeout: float | None = DEFAULT_FRAME_TIMEOUT,
        idle_timeout: float | None = None,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        max_session_seconds: float = MAX_SESSION_SECONDS,
        conversation_created: bool = False,
        log_lines: int = DEFAULT_LOG_LINES,
        log_interval: float = DEFAULT_LOG_INTERVAL,
        seed: bytes | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.backend: Backend = backend or EchoBackend()
        self.transcriber: Transcriber = transcriber or EchoTranscriber()
        # Keys are compared as digests in constant time: neither which key nor
        # how much of it matched shows in the time a refusal takes.
        self._key_digests = (
            tuple(hashlib.sha256(key.encode()).digest() for key in api_keys) if api_keys else None
        )
        self.model = model
        self.path = path
        self.limits = limits or ServerLimits()
        self.max_message_size = max_message_size
        self.max_fragments = max_fragments
        self.max_connections = max_connections
        self.handshake_timeout = handshake_timeout
        self.frame_timeout = frame_timeout
        self.idle_timeout = idle_timeout
        self.write_timeout = write_timeout
        self.close_timeout = close_timeout
        self.max_session_seconds = max_session_seconds
        self.conversation_created = conversation_created
        self.logs = ThrottledLog(log, log_lines, log_interval)
        self._seed = seed if seed is not None else os.urandom(16)
        self._sessions = 0
        self._shutdown = trio.Event()
        self._connections = 0
        self._turning_away = 0
        self._live: set[_Connection] = set()
        self._handshakes: set[trio.CancelScope] = set()
        self._drained = trio.Event()
        self.failures = 0
        """Connections that ended with an internal error (closed 1011)."""
        self.port: int | None = None
        self.host: str | None = None

    @property
    def connections(self) -> int:
        """Connections admitted and open right now (in the handshake or in a session)."""
        return self._connections

    def shutdown(self) -> None:
        """Stop accepting; end every session gracefully (open responses get ``response.done``)."""
        self._shutdown.set()
        for scope in self._handshakes:
            scope.cancel()
        for connection in self._live:
            connection.stop()

    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        task_status: Any = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until ``shutdown()`` has been called and every session has ended (or until cancelled)."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        sockname = listeners[0].socket.getsockname()
        self.host, self.port = sockname[0], sockname[1]
        log.info("listening on ws://%s:%d%s", self.host, self.port, self.path)
        async with trio.open_nursery() as nursery:
            accept_scope = trio.CancelScope()

            async def accept() -> None:
                with accept_scope:
                    await trio.serve_listeners(self._connection, listeners, handler_nursery=nursery)

            nursery.start_soon(accept)
            task_status.started(self)
            await self._shutdown.wait()
            accept_scope.cancel()
            for listener in listeners:
                await listener.aclose()
            with trio.move_on_after(self.close_timeout + self.write_timeout):
                if self._connections:
                    await self._drained.wait()
            nursery.cancel_scope.cancel()
        log.info("stopped")

    async def _connection(self, stream: trio.SocketStream) -> None:
        """One accepted socket, start to end. Nothing that happens here escapes."""
        try:
            host, port = stream.socket.getpeername()[:2]
            peer = f"{host}:{port}"
        except OSError:
            peer = "unknown"
        if self._connections >= self.max_connections or self._shutdown.is_set():
            async with stream:
                await self._turn_away(stream, peer)
            return
        self._connections += 1
        try:
            async with stream:
                await self._handle(stream, peer, trio.current_time())
        except Exception as exc:  # the handshake phase has no session to close with 1011
            self.failures += 1
            self.logs.emit("failure", logging.ERROR, "%s failed", peer, exc_info=exc)
        finally:
            self._connections -= 1
            if not self._connections and self._shutdown.is_set():
                self._drained.set()

    async def _turn_away(self, stream: trio.SocketStream, peer: str) -> None:
        """Answer 503 to a client over the connection limit, holding it as briefly as possible."""
        if self._turning_away >= _MAX_TURNING_AWAY:
            return  # a flood: closing without a word is all we can afford
        self._turning_away += 1
        try:
            conn = self._new_connection()
            timeout = min(self.handshake_timeout, _TURN_AWAY_TIMEOUT)
            request = await self._handshake(stream, conn, peer, timeout)
            if request is None:
                return
            self.logs.note("refused", "%s refused (503): server full", peer)
            body = _error_body(
                f"The server is at its limit of {self.max_connections} connections; try again later.",
                "server_busy",
                "server_error",
            )
            await self._send(stream, conn.reject(503, body, headers=[("Retry-After", "1")]))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self._turning_away -= 1

    async def _send(self, stream: trio.SocketStream, data: bytes) -> None:
        """A handshake-phase write, within ``write_timeout``."""
        with trio.move_on_after(self.write_timeout):
            try:
                await stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    async def _handshake(
        self, stream: trio.SocketStream, conn: ServerConnection, peer: str, timeout: float
    ) -> HandshakeRequest | None:
        """Read the opening handshake within ``timeout``; ``None`` if there is none to answer."""
        with trio.CancelScope(deadline=trio.current_time() + timeout) as scope:
            self._handshakes.add(scope)
            try:
                while True:
                    try:
                        data = await stream.receive_some(_READ_SIZE)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        return None
                    conn.receive_data(data)
                    for event in conn.events():
                        if isinstance(event, HandshakeRequest):
                            return event
                        if isinstance(event, HandshakeFailed):
                            self.logs.note("handshake", "%s bad handshake: %s", peer, event.message)
                            await self._send(stream, conn.data_to_send())
                            return None
                    if not data:
                        return None
            finally:
                self._handshakes.discard(scope)
        if not self._shutdown.is_set():
            self.logs.note("handshake", "%s handshake timed out", peer)
        return None

    async def _handle(self, stream: trio.SocketStream, peer: str, started: float) -> None:
        conn = self._new_connection()
        request = await self._handshake(stream, conn, peer, self.handshake_timeout)
        if request is None:
            return
        refusal = self._refuse(request)
        if refusal is not None:
            status, message, code = refusal
            self.logs.note("refused", "%s refused (%d): %s", peer, status, message)
            await self._send(stream, conn.reject(status, _error_body(message, code)))
            return
        await self._send(stream, conn.accept())
        self._sessions += 1
        session = ServerSession(
            id_factory=DeterministicIds(self._seed + b"/%d" % self._sessions),
            model=request.model or self.model,
            created_at=int(time.time()),
            limits=self.limits,
            conversation_created=self.conversation_created,
            intent="transcription"
            if request.query.get("intent") == "transcription"
            else "conversation",
        )
        self.logs.note(
            "connection",
            "%s connected: session %s, model %s",
            peer,
            session.session.id,
            session.session.model,
        )
        connection = _Connection(self, stream, conn, session, peer, started)
        self._live.add(connection)
        if self._shutdown.is_set():
            connection.stop()
        try:
            await connection.run()
        finally:
            self._live.discard(connection)
        if connection.failure is not None:
            self.failures += 1
        closed = connection.closed
        how = f"closed {closed.code} by {closed.initiator}" if closed else "ended"
        if connection.broken is not None:
            how = f"dropped ({connection.broken})"
        self.logs.note(
            "connection",
            "%s %s after %.1f s: %d items, %d responses, %d errors",
            peer,
            how,
            trio.current_time() - started,
            len(session.state.order),
            len(session.state.responses),
            connection.errors,
        )

    def _new_connection(self) -> ServerConnection:
        return ServerConnection(
            max_message_size=self.max_message_size, max_fragments=self.max_fragments
        )

    def _refuse(self, request: HandshakeRequest) -> tuple[int, str, str] | None:
        if request.path != self.path:
            return 404, f"No Realtime endpoint at {request.path}; use {self.path}.", "not_found"
        if self._key_digests is None:
            return None
        credentials = request.credentials
        if credentials is None:
            return (
                401,
                "You didn't provide an API key (Authorization: Bearer, api-key, or the browser subprotocol).",
                "missing_api_key",
            )
        if not self._key_matches(credentials.key):
            return 401, f"Incorrect API key provided: …{credentials.key[-4:]}.", "invalid_api_key"
        return None

    def _key_matches(self, key: str) -> bool:
        """Constant time: every configured key is compared, each with ``hmac.compare_digest``."""
        assert self._key_digests is not None
        digest = hashlib.sha256(key.encode()).digest()
        matched = False
        for expected in self._key_digests:
            matched |= hmac.compare_digest(digest, expected)
        return matched


async def serve(
    backend: Backend | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    task_status: Any = trio.TASK_STATUS_IGNORED,
    **options: Any,
) -> None:
    """Run a Realtime endpoint (see ``RealtimeServer`` for the options) until cancelled or shut down.

    With ``nursery.start(serve, ...)`` the started value is the ``RealtimeServer``
    (its ``port`` is bound, ``shutdown()`` ends it gracefully).
    """
    server = RealtimeServer(backend, **options)
    await server.serve(host, port, task_status=task_status)
