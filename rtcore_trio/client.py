"""The client role over trio: ``connect`` (a socket) and ``attach`` (an existing trio-websocket).

The adapter only moves bytes or messages between trio and the sans-IO core.
One reader task feeds the core and puts each server event, with the snapshot
after it, into a bounded memory channel: when the consumer falls behind, the
reader stops reading the socket, and the server's TCP window pushes back,
instead of memory growing. All writes - the client's events, pongs and close
frames - go through one ``trio.StrictFIFOLock``. A send is never cut in half:
once a frame starts it is written whole (shielded, bounded by
``write_timeout``), so cancelling ``send`` cannot corrupt the stream.
"""

from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio_websocket

from rtcore import events as ev
from rtcore.client import ClientSession, ReceivedEvent
from rtcore.errors import RemoteProtocolError
from rtcore.events import DEFAULT_DIALECT, Dialect
from rtcore.state import Snapshot
from rtcore.wire import (
    AuthStyle,
    ClientConnection,
    Connected,
    ConnectionClosed,
    HandshakeFailed,
    PongReceived,
    Rejected,
)
from rtcore.wire.framing import DEFAULT_MAX_MESSAGE_SIZE

from .errors import ConnectionClosedError, HandshakeError
from .fastio import READ_SIZE, receive, write_now

__all__ = ["RealtimeClient", "connect", "attach", "open_client"]

_RECEIVED = (ev.ServerEvent, ev.UnknownEvent, RemoteProtocolError)


class RealtimeClient(ABC):
    """A live client connection: ``send`` events, iterate ``(event, snapshot)`` pairs.

    Iteration ends when the connection closes normally and raises
    ``ConnectionClosedError`` when it breaks.
    """

    def __init__(self, session: ClientSession, queue_size: int, write_timeout: float) -> None:
        self._session = session
        self._write_lock = trio.StrictFIFOLock()
        self._send_events, self._receive_events = trio.open_memory_channel[
            tuple[ReceivedEvent, Snapshot]
        ](queue_size)
        self._write_timeout = write_timeout
        self.closed: ConnectionClosed | None = None
        """How the connection ended, once it has."""
        self._broken: str | None = None
        self._discarding = False
        self._reader_done = trio.Event()

    @property
    def state(self) -> Snapshot:
        """The snapshot after the last server event the reader processed."""
        return self._session.state

    @property
    def session(self) -> ClientSession:
        return self._session

    @property
    def queued(self) -> int:
        """Events received and processed, waiting to be taken (by ``receive`` or iteration)."""
        return self._receive_events.statistics().current_buffer_used

    # -- receiving ------------------------------------------------------------------------

    def __aiter__(self) -> RealtimeClient:
        return self

    async def __anext__(self) -> tuple[ReceivedEvent, Snapshot]:
        try:
            return await self._receive_events.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            pass
        if self._broken is None and self.closed is not None and self.closed.clean:
            raise StopAsyncIteration
        raise self._closed_error()

    async def receive(self) -> tuple[ReceivedEvent, Snapshot]:
        """The next ``(event, snapshot)``; raises ``ConnectionClosedError`` at the end."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise self._closed_error() from None

    def _closed_error(self) -> ConnectionClosedError:
        if self._broken is not None:
            return ConnectionClosedError(1006, self._broken)
        if self.closed is not None:
            return ConnectionClosedError(self.closed.code, self.closed.reason)
        return ConnectionClosedError(1006, "connection closed")

    async def _deliver(self, event: ReceivedEvent) -> None:
        if self._discarding:
            return
        try:
            await self._send_events.send((event, self._session.state))
        except trio.BrokenResourceError:
            self._discarding = True  # nobody is listening any more

    def _delivering(self) -> bool:
        """Whether the reader is waiting to hand an event over (and so is not reading)."""
        return bool(self._send_events.statistics().tasks_waiting_send)

    def _stop_delivering(self) -> None:
        """The app is done with events: unblock the reader and drop what else comes."""
        self._discarding = True
        self._receive_events.close()

    # -- sending -----------------------------------------------------------------------------

    async def send(self, event: ev.ClientEvent) -> None:
        """Send one client event (checked against the state; see ``ClientSession.send``)."""
        if self.closed is not None or self._broken is not None:
            raise self._closed_error()
        async with self._write_lock:
            data = self._encode(event)
            await self._write(data)

    @abstractmethod
    async def ping(self, timeout: float = 20.0) -> float:
        """Send a WebSocket ping and wait for its pong; returns the round trip in seconds.

        Raises ``trio.TooSlowError`` when no pong comes within ``timeout`` (the
        connection stays open; what to do about it is the caller's choice) and
        ``ConnectionClosedError`` when the connection ends first.
        """

    async def _keepalive(self, interval: float, timeout: float) -> None:
        """Ping every ``interval`` seconds; a missing pong means the connection is dead."""
        while True:
            await trio.sleep(interval)
            try:
                await self.ping(timeout)
            except trio.TooSlowError:
                if self._delivering():
                    # The reader is waiting for the app to take an event, so it
                    # is not reading: the pong may well be in the socket unread.
                    continue
                self._broken = f"no pong within {timeout} s"
                await self._abort()
                return
            except ConnectionClosedError:
                return

    @abstractmethod
    async def _abort(self) -> None:
        """Drop the transport at once (the reader then ends with ``_broken`` as the reason)."""

    @abstractmethod
    def _encode(self, event: ev.ClientEvent) -> Any:
        """Check and encode a client event for this transport."""

    @abstractmethod
    async def _write(self, data: Any) -> None:
        """Write encoded data; the caller holds the write lock."""

    @abstractmethod
    async def _reader(self) -> None:
        """Read until the connection ends, delivering events."""

    @abstractmethod
    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection normally."""


class _StreamClient(RealtimeClient):
    """Drives a ``ClientConnection`` over a trio stream (TCP or TLS)."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        conn: ClientConnection,
        queue_size: int,
        write_timeout: float,
        close_timeout: float,
    ) -> None:
        super().__init__(conn.session, queue_size, write_timeout)
        self._stream = stream
        self._conn = conn
        self._close_timeout = close_timeout
        self._pings_sent = 0
        # Pings waiting for their pong, by number (the payload is the number).
        self._pongs: dict[int, trio.Event] = {}

    async def _handshake(self, timeout: float) -> None:
        try:
            await self._exchange(timeout)
        except trio.BrokenResourceError as exc:
            # Over TLS this is where the TLS handshake runs: an untrusted certificate,
            # a server that does not speak TLS, a reset connection.
            cause = exc.__cause__ or exc
            raise HandshakeError(f"the connection broke during the handshake: {cause}") from exc

    async def _exchange(self, timeout: float) -> None:
        conn = self._conn
        with trio.move_on_after(timeout) as scope:
            await self._stream.send_all(conn.data_to_send())
            while True:
                data = await self._stream.receive_some(READ_SIZE)
                conn.receive_data(data)
                for event in conn.events():
                    if isinstance(event, Connected):
                        return
                    if isinstance(event, Rejected):
                        raise HandshakeError(
                            event.message,
                            status_code=event.status_code,
                            body=event.body,
                            headers=event.headers,
                        )
                    if isinstance(event, HandshakeFailed):
                        raise HandshakeError(event.message)
                if not data:
                    raise HandshakeError("the server closed the connection during the handshake")
        if scope.cancelled_caught:
            raise HandshakeError(f"no handshake answer within {timeout} s")

    def _encode(self, event: ev.ClientEvent) -> bytes:
        return self._conn.send(event)

    async def _write(self, data: bytes) -> None:
        """Write whole frames, shielded, within ``write_timeout``.

        A write that fails or times out may have left half a frame on the wire:
        nothing may follow it. The connection is broken from then on, and the
        transport is dropped so that the reader ends too, instead of waiting
        for a server that may never send another byte.
        """
        if not data:
            return
        if self._broken is not None:
            raise self._closed_error()
        data = write_now(self._stream, data)
        if not data:
            return  # all of it fitted in the socket's buffer: the common case
        failure: Exception | None = None
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + self._write_timeout
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._broken = f"write failed: {exc}"
                failure = exc
        if scope.cancelled_caught:
            self._broken = f"a write took longer than {self._write_timeout} s"
        if self._broken is not None:
            await self._abort()
            raise self._closed_error() from failure

    async def _read_done(self) -> None:
        """The events of one read are delivered (a subclass that takes them one by one, such
        as the relay's upstream, writes what they made here: one write per read)."""

    async def _flush(self) -> None:
        pending = self._conn.data_to_send()
        if pending:
            async with self._write_lock:
                await self._write(pending)

    async def ping(self, timeout: float = 20.0) -> float:
        if self.closed is not None or self._broken is not None or self._reader_done.is_set():
            raise self._closed_error()
        self._pings_sent += 1
        number = self._pings_sent
        answered = self._pongs[number] = trio.Event()
        start = trio.current_time()
        try:
            async with self._write_lock:
                frame = self._conn.ping(number.to_bytes(8, "big"))
                if not frame:
                    raise self._closed_error()  # closing: no more pings
                await self._write(frame)
            with trio.fail_after(timeout):
                await answered.wait()
        finally:
            unanswered = self._pongs.pop(number, None) is not None
        if unanswered:
            raise self._closed_error()  # woken by the reader's end, not by a pong
        return trio.current_time() - start

    def _pong(self, payload: bytes) -> None:
        """A pong answers its ping and every earlier one (RFC 6455 5.5.3)."""
        if len(payload) != 8:
            return  # unsolicited, or not one of ours
        number = int.from_bytes(payload, "big")
        for waiting in [n for n in self._pongs if n <= number]:
            self._pongs.pop(waiting).set()

    async def _abort(self) -> None:
        # Closing a trio stream wakes its reader with ClosedResourceError, which it
        # takes for the end of the connection: no task is left using a closed socket.
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(self._stream)

    async def _reader(self) -> None:
        conn = self._conn
        try:
            # The first events may have arrived with the handshake answer.
            while True:
                for event in conn.events():
                    if isinstance(event, ConnectionClosed):
                        self.closed = event
                    elif isinstance(event, PongReceived):
                        self._pong(event.payload)
                    elif isinstance(event, _RECEIVED):
                        await self._flush()
                        await self._deliver(event)
                await self._flush()
                await self._read_done()
                if conn.closed:
                    break
                data = await receive(self._stream)
                conn.receive_data(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosedError) as exc:
            if self.closed is None:
                self._broken = self._broken or f"connection broken: {exc}"
        finally:
            self._send_events.close()
            self._reader_done.set()
            for waiting in self._pongs.values():
                waiting.set()  # no pong will come now; ``ping`` sees it was not answered
            await trio.aclose_forcefully(self._stream)

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close normally: send a close frame, wait for the server's (up to ``close_timeout``)."""
        self._stop_delivering()
        if not self._reader_done.is_set() and self._broken is None:
            async with self._write_lock:
                try:
                    await self._write(self._conn.close(code, reason))
                except ConnectionClosedError:
                    pass
            with trio.move_on_after(self._close_timeout):
                await self._reader_done.wait()
        await trio.aclose_forcefully(self._stream)


class _WebSocketClient(RealtimeClient):
    """Drives a ``ClientSession`` over an existing ``trio_websocket.WebSocketConnection``."""

    def __init__(
        self,
        ws: trio_websocket.WebSocketConnection,
        session: ClientSession,
        queue_size: int,
        write_timeout: float,
    ) -> None:
        super().__init__(session, queue_size, write_timeout)
        self._ws = ws

    def _encode(self, event: ev.ClientEvent) -> str:
        return self._session.send(event).decode("utf-8")

    async def _write(self, data: str) -> None:
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + self._write_timeout
            try:
                await self._ws.send_message(data)
            except trio_websocket.ConnectionClosed as exc:
                self._note_close(exc.reason)
                raise self._closed_error() from exc
        if scope.cancelled_caught:
            self._broken = f"a write took longer than {self._write_timeout} s"
            raise self._closed_error()

    async def ping(self, timeout: float = 20.0) -> float:
        if self.closed is not None or self._broken is not None:
            raise self._closed_error()
        start = trio.current_time()
        try:
            with trio.fail_after(timeout):
                await self._ws.ping()
        except trio_websocket.ConnectionClosed as exc:
            self._note_close(exc.reason)
            raise self._closed_error() from exc
        return trio.current_time() - start

    async def _abort(self) -> None:
        # trio-websocket closes its stream when the close handshake is cut short.
        with trio.move_on_after(self._write_timeout):
            await self._ws.aclose(1011, self._broken)

    def _note_close(self, reason: Any) -> None:
        if self.closed is None and reason is not None:
            code = int(reason.code)
            self.closed = ConnectionClosed(
                code=code,
                reason=reason.reason or "",
                initiator="abnormal" if code == 1006 else "peer",
            )

    async def _reader(self) -> None:
        try:
            while True:
                message = await self._ws.get_message()
                if isinstance(message, bytes):
                    await self._ws.aclose(
                        1003, "binary frames are not part of the Realtime protocol"
                    )
                    self.closed = ConnectionClosed(
                        code=1003,
                        reason="binary frames are not part of the Realtime protocol",
                        initiator="local",
                    )
                    break
                for event in self._session.receive_message(message):
                    await self._deliver(event)
        except trio_websocket.ConnectionClosed as exc:
            self._note_close(exc.reason)
        finally:
            self._send_events.close()
            self._reader_done.set()

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        self._stop_delivering()
        await self._ws.aclose(code, reason)
        if self.closed is None:
            self.closed = ConnectionClosed(code=code, reason=reason, initiator="local")


@asynccontextmanager
async def connect(
    url: str,
    *,
    api_key: str | None = None,
    auth: AuthStyle = "bearer",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    subprotocols: Iterable[str] = (),
    session: ClientSession | None = None,
    dialect: Dialect | None = None,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
    close_timeout: float = 5.0,
    write_timeout: float = 10.0,
    queue_size: int = 256,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ping_interval: float | None = 20.0,
    ping_timeout: float = 20.0,
    _client_class: type[_StreamClient] | None = None,
) -> AsyncIterator[RealtimeClient]:
    """Open a Realtime connection (``ws://`` or ``wss://``) and yield a ``RealtimeClient``.

    ``dialect`` is ``"ga"`` (the default) or ``"beta"``; it decides the
    handshake (a beta connection sends ``OpenAI-Beta: realtime=v1``) and the
    vocabulary of the events (or give a ``session`` of that dialect).
    ``wss`` uses the system's trust store unless ``ssl_context`` is given.
    Raises ``HandshakeError`` when the server refuses the connection (with its
    HTTP status and body) or does not answer within ``connect_timeout``.

    Keep-alive: every ``ping_interval`` seconds (``None``: never) the client
    pings the server; without a pong within ``ping_timeout`` the connection
    counts as dead and iteration raises ``ConnectionClosedError`` (1006).
    """
    conn = ClientConnection(
        url,
        api_key=api_key,
        auth=auth,
        headers=headers,
        subprotocols=subprotocols,
        session=session,
        dialect=dialect,
        max_message_size=max_message_size,
    )
    stream: trio.abc.Stream
    try:
        with trio.fail_after(connect_timeout):
            if conn.secure:
                stream = await trio.open_ssl_over_tcp_stream(
                    conn.host, conn.port, ssl_context=ssl_context or ssl.create_default_context()
                )
            else:
                stream = await trio.open_tcp_stream(conn.host, conn.port)
    except trio.TooSlowError:
        raise HandshakeError(
            f"could not connect to {conn.host}:{conn.port} within {connect_timeout} s"
        ) from None
    except OSError as exc:
        raise HandshakeError(f"could not connect to {conn.host}:{conn.port}: {exc}") from exc
    async with open_client(
        stream,
        conn,
        connect_timeout=connect_timeout,
        close_timeout=close_timeout,
        write_timeout=write_timeout,
        queue_size=queue_size,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        _client_class=_client_class,
    ) as client:
        yield client


@asynccontextmanager
async def open_client(
    stream: trio.abc.Stream,
    conn: ClientConnection,
    *,
    connect_timeout: float = 10.0,
    close_timeout: float = 5.0,
    write_timeout: float = 10.0,
    queue_size: int = 256,
    ping_interval: float | None = 20.0,
    ping_timeout: float = 20.0,
    _client_class: type[_StreamClient] | None = None,
) -> AsyncIterator[RealtimeClient]:
    """Run a ``ClientConnection`` over an already open trio stream (any transport).

    Keep-alive works as for ``connect``. (``_client_class``, here and in
    ``connect``, is for adapters built on this one: the relay runs its own
    subclass, which hands events on as they are read.)
    """
    kind = _client_class or _StreamClient
    client = kind(stream, conn, queue_size, write_timeout, close_timeout)
    try:
        await client._handshake(connect_timeout)
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    async with _running(client, ping_interval=ping_interval, ping_timeout=ping_timeout) as running:
        yield running


@asynccontextmanager
async def attach(
    ws: trio_websocket.WebSocketConnection,
    *,
    session: ClientSession | None = None,
    dialect: Dialect = DEFAULT_DIALECT,
    queue_size: int = 256,
    write_timeout: float = 10.0,
    ping_interval: float | None = None,
    ping_timeout: float = 20.0,
) -> AsyncIterator[RealtimeClient]:
    """Drive the client engine over a WebSocket the app already owns, at message level.

    Keep-alive is off by default here, since the app owns the connection;
    with ``ping_interval`` set, a missing pong closes it with code 1011.
    """
    client = _WebSocketClient(
        ws,
        session if session is not None else ClientSession(dialect=dialect),
        queue_size,
        write_timeout,
    )
    async with _running(
        client, close=False, ping_interval=ping_interval, ping_timeout=ping_timeout
    ) as running:
        yield running


@asynccontextmanager
async def _running(
    client: RealtimeClient,
    close: bool = True,
    *,
    ping_interval: float | None,
    ping_timeout: float,
) -> AsyncIterator[RealtimeClient]:
    """Run the reader (and the pinger) beside the body; the body's exception comes out unwrapped."""
    error: BaseException | None = None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client._reader)
        if ping_interval is not None:
            nursery.start_soon(client._keepalive, ping_interval, ping_timeout)
        try:
            yield client
        except BaseException as exc:  # re-raised below, outside the nursery
            error = exc
        finally:
            with trio.CancelScope(shield=True):
                if close:
                    await client.aclose()
                else:
                    client._stop_delivering()
            nursery.cancel_scope.cancel()
    if error is not None:
        raise error
