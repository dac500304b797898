"""``rtcore relay`` over trio: a Realtime endpoint that forwards each session to an upstream one.

Each downstream connection that passes the handshake (path, the relay's own
API keys, the dialects it serves: as ``RealtimeServer`` checks them) opens
one upstream connection with the trio client (``connect``), authenticated
with the upstream key, and then both directions flow event by event through
the sans-IO engine:

* downstream client events are decoded by the relay's ``ServerConnection``,
  checked by a ``ClientSession`` of the client's dialect that mirrors what
  the client sees (so a request the client's own server would refuse gets
  that server's ``error``), translated by ``rtcore.translate.Translator`` when
  the dialects differ (docs/protocol/relay.md), passed to the ``on_client_event``
  hook, and sent by the upstream ``ClientSession``, which checks them again
  in the upstream's dialect;
* upstream server events are read by that upstream session (a malformed or
  contradictory event is logged and not forwarded), passed to the
  ``on_server_event`` hook, translated, folded into the mirror and written
  downstream.

Hooks see and return events in the upstream's dialect, whatever the client
speaks, so an app's rewrite is written once. A loss of the translation is
logged once per kind per connection and counted; the connection's last log
line has the counts.

Failure: an upstream that refuses the handshake, cannot be reached, closes
or breaks gives its downstream client an ``error`` event
(``upstream_unavailable`` / ``upstream_closed``) and a close frame (the
upstream's close code when it is one a peer may send, else 1011), never a
hang; each connection is its own failure domain, as in ``RealtimeServer``:
an exception in a hook or in the relay is logged with its traceback and ends
that session only, with an ``error`` (``server_error``) and close code 1011.

Keys: the upstream key is sent only in the upstream handshake; neither it nor
a downstream key is ever logged (``Credentials`` prints no key).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import trio

from rtcore import events as ev
from rtcore.client import ClientSession
from rtcore.errors import LocalProtocolError, RemoteProtocolError
from rtcore.ids import DeterministicIds
from rtcore.translate import Loss, Translator, Untranslatable
from rtcore.wire import (
    ClientMessageError,
    ConnectionClosed,
    HandshakeRequest,
    ServerConnection,
    error_body,
)

from .client import RealtimeClient, connect
from .errors import ConnectionClosedError, HandshakeError
from .faults import Fault
from .relay_hooks import ClientHook, RelayContext, ServerHook
from .relay_record import Recorder
from .server import RealtimeServer
from .throttle import DEFAULT_LOG_INTERVAL, DEFAULT_LOG_LINES, ThrottledLog

__all__ = ["ClientHook", "RelayContext", "RelayServer", "ServerHook", "relay"]

log = logging.getLogger("rtcore.relay")
_READ_SIZE = 65536
_SENDABLE_CLOSE = range(1000, 5000)
_RESERVED_CLOSE = frozenset({1004, 1005, 1006, 1015})


def _close_code(code: int) -> int:
    """The upstream's close code if a peer may send it, else 1011 (internal error)."""
    if code in _SENDABLE_CLOSE and code not in _RESERVED_CLOSE:
        return code
    return 1011


class RelayServer(RealtimeServer):
    """A Realtime endpoint relaying each session to ``upstream`` (a ``ws://`` or ``wss://`` URL).

    ``upstream_dialect`` is what the upstream speaks; ``dialects`` what the
    relay serves its clients (translated when they differ). ``upstream_key``
    authenticates the relay upstream; ``api_keys`` authenticate its own
    clients. ``on_client_event`` / ``on_server_event`` are the hooks (see
    ``ClientHook``, ``ServerHook``). ``upstream_timeout`` bounds the upstream
    handshake and, as the keep-alive's pong timeout, an upstream that stalls.
    The other options are ``RealtimeServer``'s, ``faults`` among them: on a
    relay, ``latency`` with ``direction=up`` holds the events going upstream.
    """

    def __init__(
        self,
        upstream: str,
        *,
        upstream_dialect: ev.Dialect = "ga",
        upstream_key: str | None = None,
        dialects: Collection[str] = ("ga", "beta"),
        on_client_event: ClientHook | None = None,
        on_server_event: ServerHook | None = None,
        upstream_timeout: float = 10.0,
        upstream_ping_interval: float | None = 20.0,
        record: str | Path | None = None,
        **options: Any,
    ) -> None:
        super().__init__(dialects=dialects, **options)
        # The relay's lines go to its own logger, throttled like the server's.
        self.logs = ThrottledLog(
            log,
            options.get("log_lines", DEFAULT_LOG_LINES),
            options.get("log_interval", DEFAULT_LOG_INTERVAL),
        )
        parts = urlsplit(upstream)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"the upstream must be a ws:// or wss:// URL, not {upstream!r}")
        self.upstream = upstream
        self.upstream_dialect: ev.Dialect = upstream_dialect
        self._upstream_key = upstream_key
        self.on_client_event = on_client_event
        self.on_server_event = on_server_event
        self.upstream_timeout = upstream_timeout
        self.upstream_ping_interval = upstream_ping_interval
        self.record = Path(record) if record is not None else None
        if self.record is not None:
            self.record.mkdir(parents=True, exist_ok=True)
        self.losses: dict[str, int] = {}
        """Translation losses of every connection so far, by kind."""
        self._links: set[_Link] = set()

    def shutdown(self) -> None:
        """Stop accepting; close every relayed session (1001 to the client, 1000 upstream)."""
        super().shutdown()
        for link in self._links:
            link.stop()

    def upstream_url(self, request: HandshakeRequest) -> str:
        """The upstream URL for one client: the client's ``model`` and ``intent`` carried over."""
        parts = urlsplit(self.upstream)
        query = dict(parse_qsl(parts.query))
        for name in ("model", "intent"):
            value = request.query.get(name)
            if value is not None:
                query[name] = value
        return urlunsplit(parts._replace(query=urlencode(query)))

    async def _handle(self, stream: trio.SocketStream, peer: str, started: float) -> None:
        conn = self._new_connection()
        request = await self._handshake(stream, conn, peer, self.handshake_timeout)
        if request is None:
            return
        refusal = self._refuse(request)
        if refusal is not None:
            status, message, code = refusal
            self.logs.note("refused", "%s refused (%d): %s", peer, status, message)
            await self._send(stream, conn.reject(status, error_body(message, code)))
            return
        self._sessions += 1
        ids = DeterministicIds(self._seed + b"/relay/%d" % self._sessions)
        if not conn.dialect_served:
            self.logs.note(
                "refused", "%s refused: the %s dialect is not served", peer, conn.dialect
            )
            await self._send(stream, conn.refuse_dialect(ids("event")))
            return
        try:
            async with connect(
                self.upstream_url(request),
                api_key=self._upstream_key,
                dialect=self.upstream_dialect,
                connect_timeout=self.upstream_timeout,
                close_timeout=self.close_timeout,
                write_timeout=self.write_timeout,
                ping_interval=self.upstream_ping_interval,
                ping_timeout=self.upstream_timeout,
            ) as upstream:
                await self._send(stream, conn.accept())
                link = _Link(self, stream, conn, upstream, peer, ids)
                if self.record is not None:
                    name = time.strftime("%Y%m%dT%H%M%S") + f"-{self._sessions:05d}.jsonl"
                    link.recorder = Recorder(
                        self.record / name,
                        request,
                        conn.dialect,
                        self.upstream_dialect,
                        trio.current_time(),
                    )
                self.logs.note(
                    "connection",
                    "%s connected: relaying %s to a %s upstream",
                    peer,
                    conn.dialect,
                    self.upstream_dialect,
                )
                self._links.add(link)
                if self._shutdown.is_set():
                    link.stop()
                try:
                    await link.run()
                finally:
                    self._links.discard(link)
                    if link.recorder is not None:
                        link.recorder.close()
        except HandshakeError as exc:
            # The upstream's body is not repeated: a 401's names part of the key.
            why = f"HTTP {exc.status_code}" if exc.status_code else str(exc)
            self.logs.note("upstream", "%s upstream refused or unreachable: %s", peer, why)
            await self._send(stream, conn.accept())
            await _fail(
                self,
                stream,
                conn,
                ids,
                "upstream_unavailable",
                f"The upstream server could not be reached ({why}).",
                1011,
            )
            return
        self.logs.note(
            "connection",
            "%s ended after %.1f s: %s; translation losses: %s",
            peer,
            trio.current_time() - started,
            link.ending,
            link.translator.summary(),
        )


async def _fail(
    server: RelayServer,
    stream: trio.abc.Stream,
    conn: ServerConnection,
    ids: DeterministicIds,
    code: str,
    message: str,
    close: int,
) -> None:
    """An ``error`` event and a close frame, then wait briefly for the client's close."""
    details = ev.ErrorDetails(type="server_error", message=message, code=code)
    data = conn.send(ev.ErrorEvent(event_id=ids("event"), error=details))
    data += conn.close(close, code)
    await server._send(stream, data)
    with trio.move_on_after(server.close_timeout):
        while not conn.closed:
            try:
                received = await stream.receive_some(_READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            conn.receive_data(received or None)
            for _ in conn.events():
                pass
            if not received:
                return


class _Link:
    """One relayed session: the downstream socket and its upstream client, both directions."""

    def __init__(
        self,
        server: RelayServer,
        stream: trio.SocketStream,
        conn: ServerConnection,
        upstream: RealtimeClient,
        peer: str,
        ids: DeterministicIds,
    ) -> None:
        self.server = server
        self.stream = stream
        self.conn = conn
        self.upstream = upstream
        self.peer = peer
        self.ids = ids
        self.translator = Translator(client=conn.dialect, server=server.upstream_dialect)
        self.mirror = ClientSession(dialect=conn.dialect, retain_audio=False)
        self.context = RelayContext(peer, self.mirror, upstream, self.translator)
        self._write_lock = trio.StrictFIFOLock()
        self.ending = "ended"
        self._deadline = trio.current_time() + server.max_session_seconds
        self._partial_at: int | None = None
        self._frame_started: float | None = None
        self._stopping = trio.Event()
        self.recorder: Recorder | None = None
        self._sent = 0
        self._scope = trio.CancelScope()
        self.faults = server._fault_plan
        """The relay's faults as they were when this session was accepted."""

    def stop(self) -> None:
        """End the session as the server shuts down: close 1001 downstream, then upstream."""
        self._stopping.set()

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                nursery.start_soon(self._downstream, nursery.cancel_scope)
                nursery.start_soon(self._upstream_events, nursery.cancel_scope)
                nursery.start_soon(self._stop_when_asked, nursery.cancel_scope)
                faults = self.faults
                for fault in faults.timed if faults is not None else ():
                    nursery.start_soon(self._inflict_later, fault)
        except Exception as exc:  # a hook's or the relay's own: this session only, 1011
            self.server.failures += 1
            self.server.logs.emit("failure", logging.ERROR, "%s failed", self.peer, exc_info=exc)
            self.ending = "failed (1011)"
            if self.conn.open:
                message = "The relay failed on this session."
                await _fail(
                    self.server, self.stream, self.conn, self.ids, "server_error", message, 1011
                )

    async def _inflict_later(self, fault: Fault) -> None:
        assert fault.after_seconds is not None
        await trio.sleep(fault.after_seconds)
        await self._inflict(fault)

    async def _inflict(self, fault: Fault) -> None:
        """A ``close`` or ``drop`` fault: end the client's connection as it says."""
        self.server.logs.note("fault", "%s fault: %s", self.peer, fault.spec)
        if fault.kind == "close":
            self.ending = f"closed {fault.code} by --fault"
            if self.conn.open:
                await self._write(self.conn.close(fault.code, "fault_injected"))
        else:
            self.ending = "dropped by --fault (no close frame)"
            await trio.aclose_forcefully(self.stream)
        self._scope.cancel()

    async def _stop_when_asked(self, scope: trio.CancelScope) -> None:
        await self._stopping.wait()
        self.ending = "closed by the relay (shutting down)"
        if self.conn.open:
            await self._write(self.conn.close(1001, "server shutting down"))
        scope.cancel()

    # --- writing downstream -----------------------------------------------------------

    async def _write(self, data: bytes) -> None:
        if not data:
            return
        async with self._write_lock:
            with trio.move_on_after(self.server.write_timeout) as scope:
                await self.stream.send_all(data)
            if scope.cancelled_caught:
                raise trio.BrokenResourceError("the client stopped reading")

    async def _emit(self, event: ev.ServerEvent | ev.UnknownEvent) -> None:
        """Send one event downstream and fold it into the mirror of the client's view."""
        self.mirror.receive_event(event)
        if not self.conn.open:
            return
        payload = ev.encode_event(event)
        if self.recorder is not None:
            self.recorder.write(trio.current_time(), "server", "down", payload)
        faults = self.faults
        if faults is None:
            await self._write(self.conn.send_message(payload))
            return
        delay = faults.delay("down")
        if delay:
            await trio.sleep(delay)
        await self._write(self.conn.send_message(payload))
        self._sent += 1
        due = faults.after_events(self._sent)
        if due is not None:
            await self._inflict(due)

    async def _refuse(
        self, code: str | None, message: str, param: str | None, event_id: str | None
    ) -> None:
        details = ev.ErrorDetails(
            type="invalid_request_error", message=message, code=code, param=param, event_id=event_id
        )
        await self._emit(ev.ErrorEvent(event_id=self.ids("event"), error=details))

    def _note(self, losses: tuple[Loss, ...]) -> None:
        for loss in losses:
            self.server.losses[loss.kind] = self.server.losses.get(loss.kind, 0) + 1
            if loss.first:
                self.server.logs.note(
                    "loss",
                    "%s translation loses %s at %s of %s (%s)",
                    self.peer,
                    loss.kind,
                    loss.path,
                    loss.event_type,
                    loss.explained_at,
                )

    # --- downstream to upstream -------------------------------------------------------

    async def _downstream(self, scope: trio.CancelScope) -> None:
        try:
            await self._read_downstream()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.ending = f"client dropped ({exc})"
        scope.cancel()

    def _read_deadline(self) -> float:
        deadline = self._deadline
        if self.server.idle_timeout is not None:
            deadline = min(deadline, trio.current_time() + self.server.idle_timeout)
        # A frame begun must end within the frame timeout (slow-loris protection).
        since = self.conn.partial_since
        if since is None:
            self._frame_started = None
        elif since != self._partial_at:
            self._frame_started = trio.current_time()
        self._partial_at = since
        if self._frame_started is not None and self.server.frame_timeout is not None:
            deadline = min(deadline, self._frame_started + self.server.frame_timeout)
        return deadline

    async def _read_downstream(self) -> None:
        while True:
            data: bytes | None = None
            with trio.move_on_at(self._read_deadline()):
                data = await self.stream.receive_some(_READ_SIZE)
            if data is None:
                # A deadline passed: the session's length, a frame left unfinished, or the
                # client was idle too long.
                now = trio.current_time()
                code, why = 1001, "idle_timeout"
                if now >= self._deadline:
                    why = "session_expired"
                elif self._frame_started is not None:
                    code, why = 1008, "frame_timeout"
                self.ending = f"closed by the relay ({why})"
                await self._write(self.conn.close(code, why))
                return
            if await self._take(data):
                return

    async def _take(self, data: bytes) -> bool:
        """Handle what one read brought; true when the downstream connection has ended."""
        self.conn.receive_data(data or None)
        for event in self.conn.events():
            if isinstance(event, ConnectionClosed):
                self.ending = f"closed {event.code} by {event.initiator}"
                await self._write(self.conn.data_to_send())
                return True
            if isinstance(event, ClientMessageError):
                error = event.error
                await self._refuse(error.code, str(error), error.path, error.event_id)
            elif isinstance(event, ev.UnknownEvent):
                await self._refuse(
                    "invalid_value", f"Invalid value: {event.type!r}.", "type", event.event_id
                )
            elif isinstance(event, ev.ClientEvent):
                if self.recorder is not None:
                    self.recorder.write(
                        trio.current_time(), "client", "down", ev.encode_event(event)
                    )
                await self._client_event(event)
        await self._write(self.conn.data_to_send())
        if not data:
            self.ending = "client dropped (no close frame)"
            return True
        return False

    async def _client_event(self, event: ev.ClientEvent) -> None:
        event_id = event.event_id if isinstance(event.event_id, str) else None
        try:
            self.mirror.send(event)
        except LocalProtocolError as refused:
            await self._refuse(refused.code, refused.message, refused.param, event_id)
            return
        try:
            translation = self.translator.client_event(event)
        except Untranslatable as refused:
            await self._refuse(refused.code, refused.message, refused.param, event_id)
            return
        self._note(translation.losses)
        for out in translation.events:
            if not isinstance(out, ev.ClientEvent):
                continue
            hooked: ev.ClientEvent | None = out
            if self.server.on_client_event is not None:
                hooked = self.server.on_client_event(out, self.context)
            if hooked is None:
                continue
            faults = self.faults
            if faults is not None:
                delay = faults.delay("up")
                if delay:
                    await trio.sleep(delay)
            try:
                await self.upstream.send(hooked)
                if self.recorder is not None:
                    self.recorder.write(
                        trio.current_time(), "client", "up", ev.encode_event(hooked)
                    )
            except LocalProtocolError as refused:
                await self._refuse(refused.code, refused.message, refused.param, event_id)
            except ConnectionClosedError:
                return  # the upstream has gone: its reader ends the session

    # --- upstream to downstream -------------------------------------------------------

    async def _upstream_events(self, scope: trio.CancelScope) -> None:
        try:
            async for event, _ in self.upstream:
                await self._server_event(event)
        except ConnectionClosedError as closed:
            self.ending = f"upstream closed ({closed.code})"
            self.server.logs.note("upstream", "%s upstream closed: %s", self.peer, closed)
            if self.conn.open:
                code = _close_code(closed.code)
                await _fail(
                    self.server,
                    self.stream,
                    self.conn,
                    self.ids,
                    "upstream_closed",
                    f"The upstream connection closed ({closed.code}).",
                    code,
                )
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.ending = f"client dropped ({exc})"
        else:
            # A clean end upstream (1000, or 1001 when its session expired) ends this one alike.
            ended = self.upstream.closed
            code = ended.code if ended is not None else 1000
            self.ending = f"upstream closed ({code})"
            if self.conn.open:
                await self._write(self.conn.close(code, ended.reason if ended else ""))
        scope.cancel()

    async def _server_event(self, event: Any) -> None:
        if isinstance(event, RemoteProtocolError):
            self.server.logs.note(
                "upstream", "%s upstream broke the protocol: %s", self.peer, event
            )
            return
        if self.recorder is not None:
            self.recorder.write(trio.current_time(), "server", "up", ev.encode_event(event))
        if self.server.on_server_event is not None:
            event = self.server.on_server_event(event, self.context)
            if event is None:
                return
        translation = self.translator.server_event(event)
        self._note(translation.losses)
        for out in translation.events:
            if isinstance(out, ev.ServerEvent | ev.UnknownEvent):
                await self._emit(out)


async def relay(
    upstream: str,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    task_status: Any = trio.TASK_STATUS_IGNORED,
    **options: Any,
) -> None:
    """Run a relay to ``upstream`` (see ``RelayServer`` for the options) until cancelled or shut down.

    With ``nursery.start(relay, ...)`` the started value is the ``RelayServer``.
    """
    server = RelayServer(upstream, **options)
    await server.serve(host, port, task_status=task_status)
