"""The server role over trio: ``serve`` runs a Realtime endpoint on TCP.

Each connection is one ``ServerConnection`` (bytes) feeding one
``ServerSession`` (protocol). The adapter's jobs, and only these: admit at
most ``max_connections`` clients, and at most ``max_connections_per_client``
from one address when set (503 with ``Retry-After`` beyond, before any
session starts, over TLS too; a refused client's descriptor is released as
soon as it has its answer, and one that never finished its TLS handshake is
closed without a TLS close); back off, with one throttled log line, when the
process runs out of descriptors (``EMFILE``);
answer a load balancer's health check (``GET /healthz``: 200); check the
path (``/v1/realtime`` and Azure's ``/openai/realtime`` and
``/openai/v1/realtime`` by default) and the API key (Bearer, Azure's
``api-key`` or the browser subprotocol, compared in constant time; anything else gets HTTP 404 or 401
and no session); carry out the handshake's protocol decisions, which
``ServerConnection`` makes (the dialect and the refusal of one not served,
the session type and the model the URL asks for); run each response's backend and each transcription in a
task of its own, cancelled through trio cancellation when the client cancels
or barges in; write the session's events in order under one write lock; and
end sessions on time and on shutdown (open responses get ``response.done``).

Every connection is its own failure domain (``connection.py``): an exception
in it closes that connection with 1011 and reaches nothing else, a client
that stops reading is dropped by the write timeout, and its time limits are
deadlines, so that idle connections cost no CPU.

Every bound has a default and an option (``rtcore serve --help``):
``max_connections`` admitted at once (the handshake phase counts; beyond it
HTTP 503; beyond ``MAX_TURNING_AWAY`` clients being answered at once, one
more is answered only if its request comes within ``FLOOD_TURN_AWAY_TIMEOUT``,
and over TLS it is closed without one); ``max_message_size`` per message (its frame
headers included, which bounds a fragmented message too); the handshake must arrive within ``handshake_timeout``; a frame or
fragmented message begun must end within ``frame_timeout`` (1008); the client
must send something every ``idle_timeout`` (off by default); a session lasts
at most ``max_session_seconds`` (``session_expired``); a write must finish
within ``write_timeout``; the close handshake takes at most ``close_timeout``;
logs are throttled to ``log_lines`` lines per kind per ``log_interval``.

Faults (``faults``, ``rtcore serve --fault``; ``faults.py``) are injected on
purpose, to rehearse what a real endpoint does only by chance: latency per
message, a close with a code or a dropped connection after so many events or
seconds, a refused handshake.
"""

from __future__ import annotations

import errno
import logging
import os
import ssl
import time
from collections.abc import Collection, Sequence
from typing import Any

import trio

from rtcore.ids import DeterministicIds
from rtcore.server import ServerLimits, ServerSession
from rtcore.server.config import MAX_SESSION_SECONDS
from rtcore.wire import (
    HandshakeFailed,
    HandshakeRequest,
    HealthCheck,
    ServerConnection,
    error_body,
    served_dialects,
)
from rtcore.wire.framing import DEFAULT_MAX_MESSAGE_SIZE
from rtcore.wire.server import DEFAULT_MAX_MESSAGE_VALUES
from rtcore_sim import Backend, EchoBackend, EchoTranscriber, Transcriber

from .admission import Admission, ApiKeys
from .connection import _Connection
from .fastio import READ_SIZE
from .faults import Fault, FaultPlan
from .reader import OneReader, resolve_io, resolve_read_tick
from .throttle import DEFAULT_LOG_INTERVAL, DEFAULT_LOG_LINES, ThrottledLog

__all__ = ["RealtimeServer", "serve", "DEFAULT_PATH", "DEFAULT_PATHS", "DEFAULT_MAX_CONNECTIONS"]

log = logging.getLogger("rtcore.serve")

DEFAULT_PATH = "/v1/realtime"
DEFAULT_PATHS = (DEFAULT_PATH, "/openai/realtime", "/openai/v1/realtime")
"""OpenAI's path, then Azure's preview and GA paths (docs/protocol/connection.md#azure)."""
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
DEFAULT_FRAME_TIMEOUT = 30.0
DEFAULT_WRITE_TIMEOUT = 10.0
DEFAULT_CLOSE_TIMEOUT = 5.0
MAX_TURNING_AWAY = 64
"""Clients over the connection limit being answered 503 at once; beyond that they are just closed."""
TURN_AWAY_TIMEOUT = 2.0
"""How long a client over the limit has to send its request before it is closed without an answer."""
FLOOD_TURN_AWAY_TIMEOUT = 0.1
"""Beyond ``MAX_TURNING_AWAY`` clients being answered, how long one more has to send its request
(plain ``ws://``; over TLS it is closed at once)."""
ACCEPT_BACKOFF = 0.1
"""How long accepting pauses when the process is out of descriptors (``EMFILE``, ``ENFILE``)."""
_CAPACITY_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EMFILE", "ENFILE", "ENOMEM", "ENOBUFS")
    if hasattr(errno, name)
)


class RealtimeServer:
    """A Realtime endpoint over TCP: configure it, then ``await serve(...)``; ``shutdown()`` ends it.

    Every bound a client can make the server hold has a default and an option:
    ``max_connections`` (503 beyond), ``max_message_size`` (1009 beyond; a
    fragmented message pays each frame's header, so it bounds fragments too),
    ``max_message_values`` (JSON values in one message, refused before decoding),
    the session limits in ``limits`` (buffer, items, ...), ``handshake_timeout``,
    ``frame_timeout``, ``idle_timeout`` (``None``: none), ``max_session_seconds``,
    ``write_timeout`` and ``close_timeout``. Logs are throttled to ``log_lines``
    lines per kind per ``log_interval`` seconds. ``retain_audio`` (default
    false) keeps audio bytes in each session's items, so that
    ``conversation.item.retrieve`` returns them; by default only durations and
    transcripts are kept once the backend has consumed the audio.

    ``faults`` (``Fault`` values, ``parse_fault("close=1011,after=5")``) are
    injected into every connection accepted from then on; ``faults`` may be
    set again while the server runs. ``io``: how sessions' sockets are read, ``"epoll"`` (one
    task for all, ``reader.py``; ``read_tick`` s between its wakeups), ``"per-task"`` or ``"auto"``.
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        transcriber: Transcriber | None = None,
        api_keys: Collection[str] | None = None,
        model: str | None = None,
        dialects: Collection[str] = ("ga", "beta"),
        ssl_context: ssl.SSLContext | None = None,
        path: str | Collection[str] = DEFAULT_PATHS,
        limits: ServerLimits | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_message_values: int | None = DEFAULT_MAX_MESSAGE_VALUES,
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
        retain_audio: bool = False,
        max_connections_per_client: int | None = None,
        faults: Sequence[Fault] = (),
        io: str | None = None,
        read_tick: float | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if max_connections_per_client is not None and max_connections_per_client < 1:
            raise ValueError("max_connections_per_client must be at least 1 (or None)")
        self.backend: Backend = backend or EchoBackend()
        self.transcriber: Transcriber = transcriber or EchoTranscriber()
        self._keys = ApiKeys(api_keys) if api_keys else None
        self.model = model
        self.dialects = served_dialects(dialects)
        self._refusals = 0
        self.ssl_context = ssl_context
        self.paths: tuple[str, ...] = (path,) if isinstance(path, str) else tuple(path)
        """The paths served; any other gets HTTP 404."""
        if not self.paths or not all(p.startswith("/") for p in self.paths):
            raise ValueError(f"paths must be absolute paths, not {path!r}")
        self.limits = limits or ServerLimits()
        self.max_message_size = max_message_size
        self.max_message_values = max_message_values
        """JSON values one client message may hold, checked before decoding (``None``: any)."""
        self.max_connections = max_connections
        self.max_connections_per_client = max_connections_per_client
        """Connections admitted at once from one client address (``None``: no such limit)."""
        self.handshake_timeout = handshake_timeout
        self.frame_timeout = frame_timeout
        self.idle_timeout = idle_timeout
        self.write_timeout = write_timeout
        self.close_timeout = close_timeout
        self.max_session_seconds = max_session_seconds
        self.conversation_created = conversation_created
        self.retain_audio = retain_audio
        self.logs = ThrottledLog(log, log_lines, log_interval)
        self._seed = seed if seed is not None else os.urandom(16)
        self._sessions = 0
        self._shutdown = trio.Event()
        self._admission = Admission()
        self._turning_away = 0
        self._live: set[_Connection] = set()
        self._handshakes: set[trio.CancelScope] = set()
        self._lingering: set[trio.CancelScope] = set()
        self._drained = trio.Event()
        self.failures = 0
        """Connections that ended with an internal error (closed 1011)."""
        self.port: int | None = None
        self.host: str | None = None
        self._fault_plan: FaultPlan | None = None
        self.faults = tuple(faults)
        self.io, self.read_tick = resolve_io(io), resolve_read_tick(read_tick)
        """How sessions' sockets are read: ``epoll`` (one reader, ``reader.py``) or ``per-task``."""
        self._reader: OneReader | None = None

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The faults injected into each new connection (none by default)."""
        return self._fault_plan.faults if self._fault_plan is not None else ()

    @faults.setter
    def faults(self, faults: Sequence[Fault]) -> None:
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"faults are Fault values (parse_fault(spec)), not {fault!r}")
        self._fault_plan = FaultPlan(tuple(faults)) if faults else None

    @property
    def path(self) -> str:
        """The first path served (``paths`` lists them all)."""
        return self.paths[0]

    @property
    def connections(self) -> int:
        """Connections admitted and open right now (in the handshake or in a session)."""
        return self._admission.open

    def shutdown(self) -> None:
        """Stop accepting; end every session gracefully (open responses get ``response.done``)."""
        self._shutdown.set()
        for scope in self._handshakes | self._lingering:
            scope.cancel()
        for connection in self._live:
            connection.stop()

    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        listeners: Sequence[trio.SocketListener] = (),
        task_status: Any = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until ``shutdown()`` has been called and every session has ended (or until
        cancelled), on ``listeners`` when given (``--workers``' shared port), else on host:port."""
        listeners = listeners or await trio.open_tcp_listeners(port, host=host)
        sockname = listeners[0].socket.getsockname()
        self.host, self.port = sockname[0], sockname[1]
        scheme = "wss" if self.ssl_context is not None else "ws"
        base = f"{scheme}://{self.host}:{self.port}"
        log.info("listening on %s", " ".join(base + path for path in self.paths))
        async with trio.open_nursery() as nursery:
            if self.io == "epoll":
                self._reader = OneReader(self.read_tick)
                nursery.start_soon(self._reader.run)
            accept_scope = trio.CancelScope()

            async def accept() -> None:
                with accept_scope:
                    async with trio.open_nursery() as acceptors:
                        for listener in listeners:
                            acceptors.start_soon(self._accept, listener, nursery)

            nursery.start_soon(accept)
            task_status.started(self)
            await self._shutdown.wait()
            accept_scope.cancel()
            for listener in listeners:
                await listener.aclose()
            with trio.move_on_after(self.close_timeout + self.write_timeout):
                if self._admission.open:
                    await self._drained.wait()
            nursery.cancel_scope.cancel()
        log.info("stopped")

    async def _accept(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        """Accept connections until cancelled. Out of descriptors (``EMFILE``, ``ENFILE``), the
        loop backs off for ``ACCEPT_BACKOFF`` and says so in one throttled line, not a traceback
        per attempt: the clients wait in the kernel's queue until descriptors come back."""
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in _CAPACITY_ERRNOS:
                    raise
                self.logs.emit(
                    "accept",
                    logging.WARNING,
                    "cannot accept (%s): %d connections open; pausing %.1f s",
                    os.strerror(exc.errno or 0),
                    self._admission.open,
                    ACCEPT_BACKOFF,
                )
                await trio.sleep(ACCEPT_BACKOFF)
                continue
            nursery.start_soon(self._connection, stream)

    async def _connection(self, stream: trio.SocketStream) -> None:
        """One accepted socket, start to end. Nothing that happens here escapes."""
        try:
            host, port = stream.socket.getpeername()[:2]
            peer = f"{host}:{port}"
        except OSError:
            host = peer = "unknown"
        # Clients over a limit (or arriving during shutdown) are answered 503 and
        # do not count as connections.
        why = self._enter(host)
        refused = why is not None
        try:
            transport: Any = stream
            if self.ssl_context is not None:
                # Everything goes through TLS, a 503 too (in plain text inside a TLS
                # connection it is only a handshake error to the client). The TLS handshake
                # runs on the first read, inside the handshake or turn-away timeout.
                transport = trio.SSLStream(stream, self.ssl_context, server_side=True)
            try:
                if why is not None:
                    await self._turn_away(transport, peer, why)
                else:
                    await self._handle(transport, peer, trio.current_time())
            finally:
                await self._close(transport)
        except Exception as exc:  # before a session exists there is none to close with 1011
            self.failures += 1
            self.logs.emit("failure", logging.ERROR, "%s failed", peer, exc_info=exc)
        finally:
            if not refused:
                self._leave(host)

    def _enter(self, host: str) -> str | None:
        """Admit a client from ``host`` (counted until ``_leave``), or say why it is turned away."""
        per_client = self.max_connections_per_client
        return self._admission.enter(
            host, self.max_connections, per_client, self._shutdown.is_set()
        )

    def _leave(self, host: str) -> None:
        if not self._admission.leave(host) and self._shutdown.is_set():
            self._drained.set()

    async def _close(self, stream: trio.abc.AsyncResource) -> None:
        """Close a connection's stream within ``close_timeout``.

        Closing a TLS stream sends its close alert, a write like any other: a
        client that stopped reading with its window full would hold it forever.
        trio closes a resource whose ``aclose`` is cancelled forcefully, so the
        deadline bounds it and the socket is closed either way. A TLS connection
        whose TLS handshake never finished (a silent client, one turned away
        before it spoke) is closed at once: there is no session to close
        gracefully, and its close alert would first have to finish the handshake.
        """
        if isinstance(stream, trio.SSLStream) and not _handshake_done(stream):
            await trio.aclose_forcefully(stream.transport_stream)
            return
        with trio.move_on_after(self.close_timeout):
            await stream.aclose()

    async def _turn_away(self, stream: trio.abc.Stream, peer: str, why: str) -> None:
        """Answer 503 to a client over a connection limit, holding it as briefly as possible."""
        flood = self._turning_away >= MAX_TURNING_AWAY
        if flood and self.ssl_context is not None:
            return  # a flood over TLS: a TLS handshake each is more than we can afford
        self._turning_away += 1
        try:
            conn = self._new_connection()
            # Beyond MAX_TURNING_AWAY at once, a client gets its 503 only if its request is
            # (all but) there already: its descriptor is held for FLOOD_TURN_AWAY_TIMEOUT at most.
            timeout = min(
                self.handshake_timeout, FLOOD_TURN_AWAY_TIMEOUT if flood else TURN_AWAY_TIMEOUT
            )
            request = await self._handshake(stream, conn, peer, timeout)
            if request is None:
                return
            self.logs.note("refused", "%s refused (503): %s", peer, why)
            body = error_body(why, "server_busy", "server_error")
            await self._send(stream, conn.reject(503, body, headers=[("Retry-After", "1")]))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self._turning_away -= 1

    async def _send(self, stream: trio.abc.Stream, data: bytes) -> None:
        """A handshake-phase write, within ``write_timeout``."""
        with trio.move_on_after(self.write_timeout):
            try:
                await stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    async def _handshake(
        self, stream: trio.abc.Stream, conn: ServerConnection, peer: str, timeout: float
    ) -> HandshakeRequest | None:
        """Read the opening handshake within ``timeout``; ``None`` if there is none to answer."""
        with trio.CancelScope(deadline=trio.current_time() + timeout) as scope:
            self._handshakes.add(scope)
            try:
                while True:
                    try:
                        data = await stream.receive_some(READ_SIZE)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        return None
                    conn.receive_data(data)
                    for event in conn.events():
                        if isinstance(event, HandshakeRequest):
                            return event
                        if isinstance(event, HealthCheck):  # a load balancer's: 200, no log
                            await self._send(stream, conn.data_to_send())
                            return None
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

    async def _admit(
        self, stream: trio.SocketStream, peer: str
    ) -> tuple[ServerConnection, HandshakeRequest] | None:
        """The opening handshake and the checks every endpoint makes (path, key, faults'
        refusals): the connection and its request, or ``None`` when it was refused or failed
        (the refusal already sent). Serve, relay and cassette playback all admit through here."""
        conn = self._new_connection()
        request = await self._handshake(stream, conn, peer, self.handshake_timeout)
        if request is None:
            return None
        refusal = self._refuse(request)
        if refusal is not None:
            status, message, code = refusal
            self.logs.note("refused", "%s refused (%d): %s", peer, status, message)
            await self._send(stream, conn.reject(status, error_body(message, code)))
            return None
        return conn, request

    async def _handle(self, stream: trio.SocketStream, peer: str, started: float) -> None:
        admitted = await self._admit(stream, peer)
        if admitted is None:
            return
        conn, request = admitted
        if not conn.dialect_served:
            self.logs.note(
                "refused", "%s refused: the %s dialect is not served", peer, conn.dialect
            )
            await self._send(stream, conn.refuse_dialect(self._refusal_event_id()))
            await self._linger(stream, conn)
            return
        await self._send(stream, conn.accept())
        session = self._new_session(request, peer)
        connection = _Connection(self, stream, conn, session, peer, started)
        await self._run(connection, started)
        if connection.broken is None and not connection.waited_for_close:
            await self._linger(stream, conn)

    async def _run(self, connection: _Connection, started: float) -> None:
        """Run an admitted session to its end (``shutdown()`` reaches it) and log how it ended."""
        session, peer = connection.session, connection.peer
        self._live.add(connection)
        if self._shutdown.is_set():
            connection.stop()
        try:
            await connection.run()
        finally:
            self._live.discard(connection)
        if connection.failure is not None:
            self.failures += 1
        closed, broken = connection.closed, connection.broken
        how = f"closed {closed.code} by {closed.initiator}" if closed else "ended"
        how = f"dropped ({broken})" if broken is not None else how
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

    def _refusal_event_id(self) -> str:
        """The id of the error event that refuses a dialect not served."""
        self._refusals += 1
        return DeterministicIds(self._seed + b"/refused/%d" % self._refusals)("event")

    def _new_session(self, request: HandshakeRequest, peer: str) -> ServerSession:
        """The session of an accepted handshake, in the dialect it asked for (logged)."""
        self._sessions += 1
        session = ServerSession(
            id_factory=DeterministicIds(self._seed + b"/%d" % self._sessions),
            model=request.model_asked or self.model,
            model_fixed=request.model_fixed,
            created_at=int(time.time()),
            limits=self.limits,
            conversation_created=self.conversation_created,
            intent=request.intent,
            dialect=request.dialect,
            retain_audio=self.retain_audio,
            clock=trio.current_time,  # echoes are paid for from a bucket that refills in time
        )
        info = session.session
        self.logs.note(
            "connection",
            "%s connected: session %s, model %s, dialect %s",
            *(peer, info.id, info.model, session.dialect),
        )
        return session

    async def _linger(self, stream: trio.abc.Stream, conn: ServerConnection) -> None:
        """Let the client's answer to our close frame arrive before the socket closes.

        A socket closed with the client's bytes unread (events it sent before
        it saw our close frame) makes the kernel reset the connection, and a
        reset can destroy what we sent last - the error that says why, the
        close frame - before the client has read it. So after every close we
        began, the client's bytes are read and dropped until its close frame,
        within ``close_timeout``. When we failed the connection its framing
        can no longer be followed: we half-close (our FIN follows the close
        frame, so the client closes too) and read until its end of file
        (docs/protocol/connection.md#refusal-delivery). Shutdown cuts it short.
        """
        if not conn.closing or self._shutdown.is_set():
            return
        with trio.move_on_after(self.close_timeout) as scope:
            self._lingering.add(scope)
            try:
                if conn.failed and isinstance(stream, trio.abc.HalfCloseableStream):
                    await stream.send_eof()
                while conn.closing:
                    data = await stream.receive_some(READ_SIZE)
                    if not data:
                        return
                    conn.receive_data(data)
                    conn.drop_messages()  # the session is over: what the client says is dropped
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            finally:
                self._lingering.discard(scope)

    def _new_connection(self) -> ServerConnection:
        return ServerConnection(
            max_message_size=self.max_message_size,
            dialects=self.dialects,
            max_values=self.max_message_values,
        )

    def _refuse(self, request: HandshakeRequest) -> tuple[int, str, str] | None:
        if request.path not in self.paths:
            served = ", ".join(self.paths)
            return 404, f"No Realtime endpoint at {request.path}; use {served}.", "not_found"
        if self._keys is None:
            return self._refused_by_fault()
        credentials = request.credentials
        if credentials is None:
            return (
                401,
                "You didn't provide an API key (Authorization: Bearer, api-key, or the browser subprotocol).",
                "missing_api_key",
            )
        if not self._keys.match(credentials.key):
            return 401, f"Incorrect API key provided: …{credentials.key[-4:]}.", "invalid_api_key"
        return self._refused_by_fault()

    def _refused_by_fault(self) -> tuple[int, str, str] | None:
        """A ``refuse=STATUS`` fault's answer to a handshake that passed every check."""
        plan = self._fault_plan
        if plan is None or plan.refuse is None:
            return None
        return plan.refuse, plan.refusal_message(), "fault_injected"


def _handshake_done(stream: trio.SSLStream[Any]) -> bool:
    """Whether a TLS stream's handshake has finished (ALPN is known only afterwards)."""
    try:
        stream.selected_alpn_protocol()
    except trio.NeedHandshakeError:
        return False
    return True


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
