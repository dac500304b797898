"""The Realtime endpoint as an ASGI application, for hypercorn's trio worker.

``hypercorn --worker-class trio rtcore_trio.asgi:app`` serves the echo backend;
``create_app(backend, api_keys=..., dialects=..., limits=...)`` takes the
options of ``RealtimeServer`` (``rtcore serve``). hypercorn owns TLS, HTTP,
WebSocket framing and processes; this module works at WebSocket-message level
and runs everything above it exactly as the native server does, through the
same ``RealtimeServer`` and ``_Connection``:

* the handshake is read by the shared rule (``rtcore.wire.handshake_request``:
  path, query, credentials, the dialect asked for) and admitted by the same
  checks: the connection limits (503 with ``Retry-After``), the path (404), the
  API key (401), a dialect not served (GA: 400; beta: accepted, one
  ``beta_api_shape_disabled`` error, close 4000). Refusals before the upgrade
  are HTTP answers through the ASGI denial extension
  (``websocket.http.response``) when the server offers it, hypercorn does; else
  a close before accepting, which the server answers with 403;
* each session is a ``_Connection`` in its own failure domain, with the
  session limits, the idle timeout, the session length, the write and close
  timeouts of the native server. A binary message is closed 1003 and one
  larger than ``max_message_size`` 1009, as ``MessageSocket`` does on bytes;
* ``GET /healthz`` (``HEALTH_PATH``) is answered 200; any other HTTP request 404.

What is hypercorn's, not ours: TLS, the opening handshake's timeout and size,
frames (hypercorn answers pings, checks UTF-8 and its own
``websocket_max_message_size``), and shutdown: on SIGTERM hypercorn stops
accepting and gives each open connection ``graceful_timeout`` seconds, then
cancels it. So ``handshake_timeout``, ``frame_timeout``, ``ssl_context`` and
``faults`` are refused by ``create_app``.

The sessions run on trio. Under an asyncio ASGI server (hypercorn's default
worker, uvicorn) the application fails at once and says so: the lifespan
startup fails with that message (the server exits), and, without lifespan,
every request and handshake is answered 500 with it and it is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from typing import Any, Literal

import sniffio
import trio

from rtcore import events as ev
from rtcore.server import ServerSession
from rtcore.wire import (
    HEALTH_PATH,
    ClientMessageError,
    ConnectionClosed,
    HandshakeRequest,
    chosen_subprotocol,
    dialect_refusal,
    error_body,
    handshake_request,
)
from rtcore_sim import Backend

from .connection import _Connection
from .server import RealtimeServer

__all__ = ["RealtimeASGI", "app", "create_app", "NEEDS_TRIO"]

log = logging.getLogger("rtcore.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

NEEDS_TRIO = (
    "rtcore_trio.asgi needs trio, and this ASGI server runs {library}: "
    "run it with hypercorn --worker-class trio"
)
"""What the application says, and logs, under an asyncio ASGI server."""
_NOT_ASGI = ("handshake_timeout", "frame_timeout", "ssl_context", "faults")
_CLOSE_PENDING = b"close"  # the link's marker for _Connection: a close is waiting to be sent


class _MessageLink:
    """What ``_Connection`` asks of a ``ServerConnection``, over ASGI messages.

    It is fed whole messages (``receive_data``) and hands out decoded events; the
    frames, pings and the close handshake are the ASGI server's. The message
    rules of ``MessageSocket`` that the ASGI server does not apply are applied
    here: a binary message closes 1003, one over ``max_message_size`` 1009.
    """

    def __init__(self, dialect: ev.Dialect, max_message_size: int, max_values: int | None) -> None:
        self.dialect: ev.Dialect = dialect
        self.max_message_size = max_message_size
        self.max_values = max_values
        self.message_size = 0  # of the last message handed out, as ServerConnection tells it
        self._message: str | None = None
        self._ended: ConnectionClosed | None = None
        self.close_to_send: tuple[int, str] | None = None
        self.close_sent = False
        self.close_received = False
        self.pings_received = 0  # answered by the ASGI server: never paced here
        self.partial_since: int | None = None  # frames are the ASGI server's

    @property
    def open(self) -> bool:
        return self.close_to_send is None and not self.close_sent and not self.close_received

    @property
    def closed(self) -> bool:
        """Nothing more will be read: the client has gone, or we are closing (the close
        handshake is the ASGI server's)."""
        return self.close_received or self.close_to_send is not None

    def receive_data(self, message: Mapping[str, Any]) -> None:
        """Take one ASGI message (``websocket.receive`` or ``websocket.disconnect``)."""
        kind = message["type"]
        if kind == "websocket.disconnect":
            self.close_received = True
            code = int(message.get("code", 1005))
            initiator: Literal["peer", "local", "abnormal"] = (
                "abnormal" if code == 1006 else "local" if self.close_sent else "peer"
            )
            self._ended = ConnectionClosed(code, message.get("reason") or "", initiator)
            return
        if kind != "websocket.receive" or not self.open:
            return
        text = message.get("text")
        if text is None:
            self._fail(1003, "binary messages are not accepted")
        elif len(text) > self.max_message_size or (
            4 * len(text) > self.max_message_size and len(text.encode()) > self.max_message_size
        ):
            self._fail(1009, f"message larger than {self.max_message_size} bytes")
        else:
            self._message = text

    def _fail(self, code: int, reason: str) -> None:
        self.close_to_send = (code, reason)
        self._ended = ConnectionClosed(code, reason, "local")

    def events(self) -> Iterator[Any]:
        """The client event of the last message (decoded strictly), or the connection's end."""
        text, self._message = self._message, None
        if text is not None:
            self.message_size = len(text)
            try:
                yield ev.decode_client_event(
                    text, dialect=self.dialect, strict=True, max_values=self.max_values
                )
            except ev.DecodeError as err:
                yield ClientMessageError(error=err, data=text)
        if self._ended is not None:
            ended, self._ended = self._ended, None
            yield ended

    def data_to_send(self) -> bytes:
        return _CLOSE_PENDING if self.close_to_send is not None and not self.close_sent else b""

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        if self.open:
            self.close_to_send = (code, reason)
        return self.data_to_send()


class _AsgiConnection(_Connection):
    """A ``_Connection`` whose transport is an ASGI server's ``receive`` and ``send``."""

    def __init__(
        self,
        server: RealtimeServer,
        link: _MessageLink,
        session: ServerSession,
        peer: str,
        receive: Receive,
        send: Send,
    ) -> None:
        super().__init__(server, None, link, session, peer)  # type: ignore[arg-type]
        self.link = link
        self._asgi_receive = receive
        self._asgi_send = send

    async def _receive(self) -> Any:
        """The next ASGI message (``_MessageLink.receive_data`` takes it, not bytes)."""
        if self.link.close_received:
            return {"type": "websocket.disconnect", "code": 1005}
        return await self._asgi_receive()

    async def flush(self) -> None:
        """Send every event the session produced, in order, one text message each."""
        if not self.session.has_output:
            return
        async with self.write_lock:
            events = self.session.events_to_send()
            if not events or not self.link.open or self.broken is not None:
                return
            for event in events:
                if type(event) is ev.ErrorEvent:
                    self.errors += 1
                    self.server.logs.note(
                        "error", "%s error %s: %s", self.peer, event.error.code, event.error.message
                    )
                await self._send(
                    {"type": "websocket.send", "text": ev.encode_event(event).decode()}
                )
                if self.broken is not None:
                    return

    async def send_raw(self, data: bytes) -> None:
        """The link's close, as ``websocket.close`` (never lost to cancellation)."""
        link = self.link
        if link.close_to_send is None or link.close_sent:
            return
        with trio.CancelScope(shield=True):
            async with self.write_lock:
                if link.close_sent:
                    return
                code, reason = link.close_to_send
                link.close_sent = True
                await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def _send(self, message: Message) -> None:
        """One ASGI send with the lock held: shielded, within ``write_timeout`` (as ``_write``)."""
        if self.broken is not None:
            return
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + self.server.write_timeout
            try:
                await self._asgi_send(message)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._abort(f"write failed: {exc}")
                return
        if scope.cancelled_caught:
            self._stopped_reading()


class RealtimeASGI:
    """An ASGI 3 application serving a ``RealtimeServer``'s endpoint (``create_app`` makes one)."""

    def __init__(self, server: RealtimeServer) -> None:
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        library = _async_library()
        if kind == "lifespan":
            await self._lifespan(receive, send, library)
        elif library != "trio":
            message = NEEDS_TRIO.format(library=library)
            log.error("%s", message)
            await _answer(
                scope, receive, send, 500, error_body(message, "trio_required", "server_error")
            )
        elif kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send, library: str) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if library != "trio":
                    text = NEEDS_TRIO.format(library=library)
                    log.error("%s", text)
                    await send({"type": "lifespan.startup.failed", "message": text})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.server.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == HEALTH_PATH and scope.get("method") == "GET":
            await _answer(scope, receive, send, 200, b'{"status":"ok"}')
        else:
            served = ", ".join(self.server.paths)
            body = error_body(
                f"Not found; the Realtime endpoint is a WebSocket at {served}.", "not_found"
            )
            await _answer(scope, receive, send, 404, body)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        server = self.server
        client = scope.get("client")
        host = str(client[0]) if client else "unknown"
        peer = f"{host}:{client[1]}" if client else "unknown"
        started = trio.current_time()
        why = server._enter(host)
        if why is not None:
            server.logs.note("refused", "%s refused (503): %s", peer, why)
            body = error_body(why, "server_busy", "server_error")
            await _deny(scope, send, 503, body, [(b"retry-after", b"1")])
            return
        try:
            try:
                request = _request_of(scope)
            except ValueError as exc:  # urlsplit: a target such as http://[::1/..., as on bytes
                server.logs.note("handshake", "%s bad handshake: %s", peer, exc)
                await _deny(
                    scope, send, 400, error_body(f"bad handshake request: {exc}", "bad_request")
                )
                return
            await self._session(scope, receive, send, request, peer, started)
        finally:
            server._leave(host)

    async def _session(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: HandshakeRequest,
        peer: str,
        started: float,
    ) -> None:
        server = self.server
        refusal = server._refuse(request)
        if refusal is not None:
            status, message, code = refusal
            server.logs.note("refused", "%s refused (%d): %s", peer, status, message)
            await _deny(scope, send, status, error_body(message, code))
            return
        if request.dialect not in server.dialects:
            server.logs.note(
                "refused", "%s refused: the %s dialect is not served", peer, request.dialect
            )
            refused = dialect_refusal(request.dialect, server._refusal_event_id())
            if refused.status is not None:
                await _deny(scope, send, refused.status, refused.body)
                return
            assert refused.error is not None
            await send(
                {
                    "type": "websocket.accept",
                    "subprotocol": chosen_subprotocol(request.subprotocols),
                }
            )
            await send({"type": "websocket.send", "text": ev.encode_event(refused.error).decode()})
            await send(
                {
                    "type": "websocket.close",
                    "code": refused.close_code,
                    "reason": refused.close_reason,
                }
            )
            return
        await send(
            {"type": "websocket.accept", "subprotocol": chosen_subprotocol(request.subprotocols)}
        )
        session = server._new_session(request, peer)
        link = _MessageLink(request.dialect, server.max_message_size, server.max_message_values)
        connection = _AsgiConnection(server, link, session, peer, receive, send)
        await server._run(connection, started)


def _async_library() -> str:
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return "an unknown event loop"


def _request_of(scope: Scope) -> HandshakeRequest:
    """The handshake an ASGI scope describes, read by the rule every server adapter uses."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(scope["path"])
    query = scope.get("query_string", b"")
    target = f"{path}?{query.decode('latin-1')}" if query else path
    headers = tuple(
        (name.decode("latin-1").lower(), value.decode("latin-1"))
        for name, value in scope.get("headers", ())
    )
    return handshake_request(target, headers, scope.get("subprotocols", ()))


async def _deny(
    scope: Scope,
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Refuse a WebSocket before accepting it: an HTTP answer where the server offers the denial
    extension, else a close (the server answers 403)."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    head = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(headers or ()),
    ]
    await send({"type": "websocket.http.response.start", "status": status, "headers": head})
    await send({"type": "websocket.http.response.body", "body": body})


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, body: bytes) -> None:
    """An HTTP answer to an HTTP request, or the refusal of a WebSocket handshake."""
    if scope["type"] == "websocket":
        if (await receive())["type"] == "websocket.connect":
            await _deny(scope, send, status, body)
        return
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def create_app(backend: Backend | None = None, **options: Any) -> RealtimeASGI:
    """An ASGI application serving a Realtime endpoint with ``RealtimeServer``'s options.

    ``backend``, ``transcriber``, ``api_keys``, ``model``, ``dialects``, ``path``,
    ``limits``, ``max_message_size``, ``max_connections``,
    ``max_connections_per_client``, ``idle_timeout``, ``max_session_seconds``,
    ``write_timeout``, ``close_timeout``, ``conversation_created``,
    ``retain_audio``, ``seed``, ``log_lines``, ``log_interval``: as for ``rtcore
    serve``. The limits hold per process: each hypercorn worker has its own.
    ``handshake_timeout``, ``frame_timeout``, ``ssl_context`` and ``faults`` are the
    ASGI server's business and raise ``TypeError``.
    """
    for name in _NOT_ASGI:
        if name in options:
            raise TypeError(
                f"create_app() does not take {name}: under ASGI that is the server's "
                "(hypercorn's configuration)"
            )
    return RealtimeASGI(RealtimeServer(backend, **options))


app = create_app()
"""The echo backend on the default paths, every key accepted: ``hypercorn --worker-class trio
rtcore_trio.asgi:app``. Build your own with ``create_app`` for keys, backends and limits."""
