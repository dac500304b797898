"""The server role over trio: ``serve`` runs a Realtime endpoint on TCP.

Each connection is one ``ServerConnection`` (bytes) feeding one
``ServerSession`` (protocol). The adapter's jobs, and only these: check the
API key before the session starts (Bearer, ``api-key`` or the browser
subprotocol; anything else gets HTTP 401 and no session); run each response's
backend and each transcription in a task of its own, cancelled through trio
cancellation when the client cancels or barges in; write the session's
events in order under one write lock; enforce the handshake and idle
timeouts and the maximum session length; and on shutdown end every open
response with ``response.done`` before closing (1001).
"""

from __future__ import annotations

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
from rtcore.wire.framing import DEFAULT_MAX_MESSAGE_SIZE

from .backends import (
    Backend,
    EchoBackend,
    EchoTranscriber,
    ResponseRequest,
    Transcriber,
    TranscriptionFailed,
)

__all__ = ["RealtimeServer", "serve"]

log = logging.getLogger("rtcore.serve")
_READ_SIZE = 65536


def _error_body(message: str, code: str) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    ).encode()


class _Connection:
    """One accepted client: its session, its writer, its backend tasks."""

    def __init__(
        self,
        server: RealtimeServer,
        stream: trio.abc.Stream,
        conn: ServerConnection,
        session: ServerSession,
        peer: str,
    ) -> None:
        self.server = server
        self.stream = stream
        self.conn = conn
        self.session = session
        self.peer = peer
        self.write_lock = trio.StrictFIFOLock()
        self.responses: dict[str, trio.CancelScope] = {}
        self.transcripts: dict[str, trio.Event] = {}
        self.last_activity = trio.current_time()
        self.closed: ConnectionClosed | None = None
        self.errors = 0
        sock = getattr(stream, "socket", None)
        self.fd = (
            sock.fileno() if isinstance(stream, trio.SocketStream) and sock is not None else -1
        )

    async def flush(self) -> None:
        """Write every event the session produced, in order."""
        if not self.session.has_output:
            return  # the common case for audio appends: nothing to say, no lock to take
        async with self.write_lock:
            events = self.session.events_to_send()
            if not events or not self.conn.open:
                return
            frames = []
            for event in events:
                if type(event) is ev.ErrorEvent:
                    self.errors += 1
                    log.info("%s error %s: %s", self.peer, event.error.code, event.error.message)
                frames.append(self.conn.send_message(ev.encode_event(event)))
            await self._write(b"".join(frames))

    async def send_raw(self, data: bytes) -> None:
        if data:
            async with self.write_lock:
                await self._write(data)

    async def _write(self, data: bytes) -> None:
        """Write with the lock held, shielded from cancellation.

        The events in ``data`` have left the session's queue, and a backend task
        is cancelled whenever its response is: an interrupted write would lose
        them (a ``response.done`` among them) or cut a frame in half. A client
        that stops reading for ``close_timeout`` has the connection closed.
        """
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + self.server.close_timeout
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return  # the reader sees the end of the connection and cleans up
        if scope.cancelled_caught:
            log.info("%s stopped reading; closing the connection", self.peer)
            await trio.aclose_forcefully(self.stream)

    # -- effects ---------------------------------------------------------------------------

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
            chunks = self.server.backend.respond(request)
            try:
                async for chunk in chunks:
                    if not session.is_active(start.response_id):
                        break
                    session.produce(start.response_id, chunk)
                    await self.flush()
            except Exception as exc:  # a broken backend fails its response, not the server
                log.exception("%s backend failed on %s", self.peer, start.response_id)
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
            log.exception("%s transcriber failed on %s", self.peer, request.item_id)
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
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch_limits, nursery)
            try:
                await self.flush()
                await self._read(nursery)
            finally:
                nursery.cancel_scope.cancel()

    async def _receive(self) -> bytes | bytearray:
        """The next bytes from the client (``b""`` at the end).

        A plain TCP socket is read with one ``os.read`` after trio says it is
        readable: the same scheduling as ``receive_some``, without its per-call
        wrapper and the failed optimistic read before each wait, which is most
        of the cost of a 20 ms audio frame. Other streams use ``receive_some``.
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
        conn, session = self.conn, self.session
        while not conn.closed:
            data = await self._receive()
            self.last_activity = trio.current_time()
            conn.receive_data(data)
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
            if not data:
                break
        self.handle(nursery, session.disconnect())

    async def _watch_limits(self, nursery: trio.Nursery) -> None:
        """Idle timeout, maximum session length and shutdown, checked once a second."""
        server = self.server
        deadline = trio.current_time() + server.max_session_seconds
        while True:
            wake = min(deadline, trio.current_time() + 1.0)
            if server.idle_timeout is not None:
                wake = min(wake, self.last_activity + server.idle_timeout)
            with trio.move_on_at(wake):
                await server._shutdown.wait()
            now = trio.current_time()
            if server._shutdown.is_set():
                await self.end(nursery, self.session.shutdown(), 1001, "server shutting down")
                return
            if now >= deadline:
                minutes = int(server.max_session_seconds // 60)
                await self.end(
                    nursery,
                    self.session.expire(minutes),
                    1001,
                    f"Your session hit the maximum duration of {minutes} minutes.",
                )
                return
            if server.idle_timeout is not None and now - self.last_activity >= server.idle_timeout:
                await self.end(
                    nursery,
                    self.session.shutdown("The connection was idle for too long."),
                    1001,
                    "idle timeout",
                )
                return

    async def end(
        self, nursery: trio.Nursery, effects: list[Effect], code: int, reason: str
    ) -> None:
        """Close every response, send the final events and a close frame.

        The reader task completes the close handshake and ends the connection;
        if the client never answers, ``close_timeout`` later it ends anyway.
        """
        self.handle(nursery, effects)
        await self.flush()
        await self.send_raw(self.conn.close(code, reason))
        await trio.sleep(self.server.close_timeout)
        nursery.cancel_scope.cancel()


class RealtimeServer:
    """A Realtime endpoint over TCP: configure it, then ``await serve(...)``; ``shutdown()`` ends it."""

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        transcriber: Transcriber | None = None,
        api_keys: Collection[str] | None = None,
        model: str = DEFAULT_MODEL,
        limits: ServerLimits | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        handshake_timeout: float = 10.0,
        idle_timeout: float | None = None,
        close_timeout: float = 5.0,
        max_session_seconds: float = MAX_SESSION_SECONDS,
        conversation_created: bool = False,
        seed: bytes | None = None,
    ) -> None:
        self.backend: Backend = backend or EchoBackend()
        self.transcriber: Transcriber = transcriber or EchoTranscriber()
        self.api_keys = frozenset(api_keys) if api_keys else None
        self.model = model
        self.limits = limits or ServerLimits()
        self.max_message_size = max_message_size
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.close_timeout = close_timeout
        self.max_session_seconds = max_session_seconds
        self.conversation_created = conversation_created
        self._seed = seed if seed is not None else os.urandom(16)
        self._sessions = 0
        self._shutdown = trio.Event()
        self._connections = 0
        self.port: int | None = None
        self.host: str | None = None

    @property
    def connections(self) -> int:
        """Connections open right now."""
        return self._connections

    def shutdown(self) -> None:
        """Stop accepting; end every session gracefully (open responses get ``response.done``)."""
        self._shutdown.set()

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
        log.info("listening on ws://%s:%d/v1/realtime", self.host, self.port)
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
            with trio.move_on_after(self.close_timeout + 5):
                while self._connections:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
        log.info("stopped")

    async def _connection(self, stream: trio.SocketStream) -> None:
        self._connections += 1
        try:
            host, port = stream.socket.getpeername()[:2]
            peer = f"{host}:{port}"
        except OSError:
            peer = "unknown"
        started = trio.current_time()
        try:
            async with stream:
                await self._handle(stream, peer, started)
        finally:
            self._connections -= 1

    async def _handle(self, stream: trio.SocketStream, peer: str, started: float) -> None:
        conn = ServerConnection(max_message_size=self.max_message_size)
        request: HandshakeRequest | None = None
        with trio.move_on_after(self.handshake_timeout):
            while request is None:
                try:
                    data = await stream.receive_some(_READ_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
                conn.receive_data(data)
                for event in conn.events():
                    if isinstance(event, HandshakeRequest):
                        request = event
                    elif isinstance(event, HandshakeFailed):
                        log.info("%s bad handshake: %s", peer, event.message)
                        await stream.send_all(conn.data_to_send())
                        return
                if not data and request is None:
                    return
        if request is None:
            log.info("%s handshake timed out", peer)
            return
        refusal = self._refuse(request)
        if refusal is not None:
            status, message, code = refusal
            log.info("%s rejected (%d): %s", peer, status, message)
            await stream.send_all(conn.reject(status, _error_body(message, code)))
            return
        await stream.send_all(conn.accept())
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
        log.info(
            "%s connected: session %s, model %s", peer, session.session.id, session.session.model
        )
        connection = _Connection(self, stream, conn, session, peer)
        await connection.run()
        closed = connection.closed
        how = f"closed {closed.code} by {closed.initiator}" if closed else "ended"
        log.info(
            "%s %s after %.1f s: %d items, %d responses, %d errors",
            peer,
            how,
            trio.current_time() - started,
            len(session.state.order),
            len(session.state.responses),
            connection.errors,
        )

    def _refuse(self, request: HandshakeRequest) -> tuple[int, str, str] | None:
        if not request.path.rstrip("/").endswith("/realtime"):
            return 404, f"No Realtime endpoint at {request.path}; use /v1/realtime.", "not_found"
        if self.api_keys is None:
            return None
        credentials = request.credentials
        if credentials is None:
            return (
                401,
                "You didn't provide an API key (Authorization: Bearer, api-key, or the browser subprotocol).",
                "missing_api_key",
            )
        if credentials.key not in self.api_keys:
            return 401, f"Incorrect API key provided: …{credentials.key[-4:]}.", "invalid_api_key"
        return None


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
