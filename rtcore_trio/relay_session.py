"""One relayed session over trio: the client's socket and its upstream client, both directions.

``RelayServer`` (``relay.py``) accepts the client and opens the upstream
connection; ``Link`` then runs the session in one nursery, its own failure
domain: the downstream reader (decode, the mirror's checks, translation, the
client hook, the upstream send), the wait for the upstream's end, the
session's deadlines (its length, the idle and frame timeouts) and the
faults. The upstream's events come from its reader (``RelayUpstream``), one
by one as they are read (``upstream_event``: the server hook, translation,
the mirror's fold), and what one read made is written to the client in one
go (``upstream_read_done``), so that a burst of deltas costs one write.
When both sides speak one dialect and no hook is set, an event goes to the
client as the upstream sent it, once both machines have taken it. When the
upstream ends, the client gets an ``error`` and a close frame (``failure``);
when a hook or the relay fails, ``error`` ``server_error`` and 1011.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from rtcore import events as ev
from rtcore.client import ClientSession, ReceivedEvent
from rtcore.errors import LocalProtocolError, RemoteProtocolError
from rtcore.ids import DeterministicIds
from rtcore.translate import Loss, Translator, Untranslatable
from rtcore.wire import ClientMessageError, ConnectionClosed, ServerConnection, text_frame

from .errors import ConnectionClosedError
from .fastio import READ_SIZE, receive, write_now
from .faults import Fault
from .relay_hooks import RelayContext
from .relay_record import Recorder
from .relay_upstream import RelayUpstream

if TYPE_CHECKING:
    from .relay import RelayServer

__all__ = ["Link", "close_code", "fail", "failure"]

_SENDABLE_CLOSE = range(1000, 5000)
_RESERVED_CLOSE = frozenset({1004, 1005, 1006, 1015})
_MAX_PENDING_FRAMES = 64
"""Frames held for one write at most, however many events one upstream read brings."""


def close_code(code: int) -> int:
    """The upstream's close code if a peer may send it, else 1011 (internal error)."""
    if code in _SENDABLE_CLOSE and code not in _RESERVED_CLOSE:
        return code
    return 1011


def failure(
    conn: ServerConnection, ids: DeterministicIds, code: str, message: str, close: int
) -> bytes:
    """The bytes of an ``error`` event (``server_error``, with ``code``) and a close frame."""
    details = ev.ErrorDetails(type="server_error", message=message, code=code)
    return conn.send(ev.ErrorEvent(event_id=ids("event"), error=details)) + conn.close(close, code)


async def fail(
    server: RelayServer,
    stream: trio.abc.Stream,
    conn: ServerConnection,
    ids: DeterministicIds,
    code: str,
    message: str,
    close: int,
) -> None:
    """An ``error`` event and a close frame, then wait briefly for the client's close.

    Only where no other task reads the client's stream (before or after a ``Link`` runs).
    """
    await server._send(stream, failure(conn, ids, code, message, close))
    with trio.move_on_after(server.close_timeout):
        while not conn.closed:
            try:
                received = await stream.receive_some(READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            conn.receive_data(received or None)
            for _ in conn.events():
                pass
            if not received:
                return


class Link:
    """One relayed session: the downstream socket and its upstream client, both directions."""

    def __init__(
        self,
        server: RelayServer,
        stream: trio.SocketStream,
        conn: ServerConnection,
        upstream: RelayUpstream,
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
        self._pending: list[bytes] = []
        """Frames for the client not written yet: the upstream's events are written in one
        go once its queue is empty, so that a burst of deltas costs one write, not one each."""
        self._scope = trio.CancelScope()
        self.faults = server._fault_plan
        """The relay's faults as they were when this session was accepted."""
        self._over = False
        """The session has ended: events the upstream's reader still hands over are dropped."""
        self._failure: Exception | None = None
        """What failed while relaying an upstream event (in the upstream's reader), for ``run``."""
        self._passthrough = not self.translator.translating and server.on_server_event is None
        """Upstream events go to the client as they came (both machines still take them)."""

    def stop(self) -> None:
        """End the session as the server shuts down: close 1001 downstream, then upstream."""
        self._stopping.set()

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                self.upstream.attach(self)
                nursery.start_soon(self._downstream, nursery.cancel_scope)
                nursery.start_soon(self._upstream_end, nursery.cancel_scope)
                nursery.start_soon(self._stop_when_asked, nursery.cancel_scope)
                faults = self.faults
                for fault in faults.timed if faults is not None else ():
                    nursery.start_soon(self._inflict_later, fault)
            self._over = True
            if self._failure is not None:
                raise self._failure
        except Exception as exc:  # a hook's or the relay's own: this session only, 1011
            self._over = True
            self.server.failures += 1
            self.server.logs.emit("failure", logging.ERROR, "%s failed", self.peer, exc_info=exc)
            self.ending = "failed (1011)"
            if self._pending and self.conn.open:  # the events before the failure go first
                with trio.move_on_after(self.server.write_timeout):
                    await self.server._send(self.stream, b"".join(self._pending))
                self._pending.clear()
            if self.conn.open:
                message = "The relay failed on this session."
                await fail(
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
        """Write the pending frames, then ``data`` (``b""``: just the pending frames).

        When no other write is under way, what fits in the socket's buffer goes out
        at once (``write_now``, the client's fast path), with no trip through trio's
        scheduler; the rest, or another transport's bytes, through ``send_all`` with
        the write lock held, so that frames are never interleaved.
        """
        if self._pending:
            data = b"".join(self._pending) + data
            self._pending.clear()
        if not data:
            return
        lock = self._write_lock
        if lock.locked():
            await lock.acquire()  # a write under way: this one goes after it, in order
        else:
            data = write_now(self.stream, data)
            if not data:
                return
            lock.acquire_nowait()
        try:
            data = write_now(self.stream, data)
            if data:
                with trio.move_on_after(self.server.write_timeout) as scope:
                    await self.stream.send_all(data)
                if scope.cancelled_caught:
                    raise trio.BrokenResourceError("the client stopped reading")
        finally:
            lock.release()

    async def _emit(
        self, event: ev.ServerEvent | ev.UnknownEvent, message: bytes | str | None = None
    ) -> None:
        """Send one event downstream and fold it into the mirror of the client's view.

        ``message`` is the event as the upstream sent it, when the client gets it
        unchanged (no translation, no hook): it goes as it came, not encoded again.
        Without faults the frame only joins the pending ones: the caller writes them
        (``_write``) when it has no more to send at once, or when they reach
        ``_MAX_PENDING_FRAMES``. A fault's delay and count are per event, so with
        faults each is written as it comes.
        """
        self.mirror.receive_event(event)
        if not self.conn.open:
            return
        if message is None:
            payload = ev.encode_event(event)
        else:
            payload = message if type(message) is bytes else message.encode()  # type: ignore[union-attr]
        if self.recorder is not None:
            self.recorder.write(trio.current_time(), "server", "down", payload)
        faults = self.faults
        if faults is None:
            pending = self._pending
            pending.append(text_frame(payload))  # the connection is open: checked above
            if len(pending) >= _MAX_PENDING_FRAMES:
                await self._write(b"")
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
        await self._write(b"")

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
                data = await receive(self.stream)
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
                if self.ending == "ended":  # not after the upstream's end, which says more
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
        """Check a client event with the mirror, translate it, hook it and send it upstream.

        The event the mirror checked (with the ``event_id`` it gave, if the client
        gave none) is what goes on, so that both sessions know it by one id. An
        event that went through unchanged came from the strict decoder of the
        client's dialect with a class the upstream's dialect shares, so neither
        session reads it again (``ClientSession.prepare``).
        """
        event_id = event.event_id if isinstance(event.event_id, str) else None
        try:
            event = self.mirror.prepare(event, decoded=True)
        except LocalProtocolError as refused:
            await self._refuse(refused.code, refused.message, refused.param, event_id)
            return
        outs: tuple[ev.ClientEvent | ev.UnknownEvent | ev.ServerEvent, ...] = (event,)
        if self.translator.translating:
            try:
                translation = self.translator.client_event(event)
            except Untranslatable as refused:
                await self._refuse(refused.code, refused.message, refused.param, event_id)
                return
            self._note(translation.losses)
            outs = translation.events
        for out in outs:
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
                await self.upstream.send(hooked, decoded=hooked is event)
                if self.recorder is not None:
                    self.recorder.write(
                        trio.current_time(), "client", "up", ev.encode_event(hooked)
                    )
            except LocalProtocolError as refused:
                await self._refuse(refused.code, refused.message, refused.param, event_id)
            except ConnectionClosedError:
                return  # the upstream has gone: its reader ends the session

    # --- upstream to downstream -------------------------------------------------------

    async def upstream_event(self, event: ReceivedEvent, message: bytes | str) -> None:
        """Relay one upstream event (``message``: as it came); the upstream's reader calls this.

        Nothing here ends the reader: a client gone ends the session as the
        downstream reader would, and any other exception (a hook's) is kept for
        ``run``, which reports it (1011) once the session's tasks have stopped.
        """
        if self._over:
            return
        try:
            await self._server_event(event, message)
        except Exception as exc:
            self._end_from_upstream_reader(exc)

    async def upstream_read_done(self) -> None:
        """The events of one upstream read are relayed: write what they made, in one go."""
        if self._pending and not self._over:
            try:
                await self._write(b"")
            except Exception as exc:
                self._end_from_upstream_reader(exc)

    def _end_from_upstream_reader(self, exc: Exception) -> None:
        """End the session for what went wrong relaying an upstream event (see ``upstream_event``)."""
        self._over = True
        if isinstance(exc, trio.BrokenResourceError | trio.ClosedResourceError):
            self.ending = f"client dropped ({exc})"
        else:
            self._failure = exc
        self._scope.cancel()

    async def _upstream_end(self, scope: trio.CancelScope) -> None:
        """Wait for the upstream to end; then end the client's session alike.

        The upstream's events do not come this way (its reader relays them as it
        reads them: ``upstream_event``); iterating the client only waits for its
        end. The client's answer to our close frame is read by the downstream
        reader (the one task that reads the client's stream), within ``close_timeout``.
        """
        upstream = self.upstream
        try:
            async for _ in upstream:
                pass  # nothing: RelayUpstream hands every event to upstream_event
        except ConnectionClosedError as closed:
            self.ending = f"upstream closed ({closed.code})"
            self.server.logs.note("upstream", "%s upstream closed: %s", self.peer, closed)
            if self.conn.open:
                message = f"The upstream connection closed ({closed.code})."
                last = failure(
                    self.conn, self.ids, "upstream_closed", message, close_code(closed.code)
                )
                await self._write_or_end(last, scope)
        else:
            # A clean end upstream (1000, or 1001 when its session expired) ends this one alike.
            ended = self.upstream.closed
            code = ended.code if ended is not None else 1000
            self.ending = f"upstream closed ({code})"
            if self.conn.open:
                await self._write_or_end(
                    self.conn.close(code, ended.reason if ended else ""), scope
                )
        scope.deadline = min(scope.deadline, trio.current_time() + self.server.close_timeout)

    async def _write_or_end(self, data: bytes, scope: trio.CancelScope) -> None:
        """Write our last words to the client; a client gone or not reading ends the session now."""
        try:
            await self._write(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.ending += f"; client dropped ({exc})"
            scope.cancel()

    async def _server_event(self, event: ReceivedEvent, message: bytes | str) -> None:
        if isinstance(event, RemoteProtocolError):
            self.server.logs.note(
                "upstream", "%s upstream broke the protocol: %s", self.peer, event
            )
            return
        if self.recorder is not None:
            self.recorder.write(trio.current_time(), "server", "up", ev.encode_event(event))
        if self._passthrough:
            await self._emit(event, message)
            return
        if self.server.on_server_event is not None:
            hooked = self.server.on_server_event(event, self.context)
            if hooked is None:
                return
            event = hooked
        translation = self.translator.server_event(event)
        self._note(translation.losses)
        for out in translation.events:
            if isinstance(out, ev.ServerEvent | ev.UnknownEvent):
                await self._emit(out)
