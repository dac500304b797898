"""One admitted connection of ``rtcore serve``: its session's life, in its own failure domain.

``_Connection`` drives one ``ServerSession`` over one socket once the handshake
has been accepted. Its reader, its backend and transcription tasks and its
writer run in one nursery inside one cancel scope of their own, so:

* an exception in any of them (a handler, the decoder, the writer) is
  logged once with its traceback and closes this connection with 1011; it
  never reaches the server's nursery or another session. A backend's
  exception (in ``respond``, a transcription or an MCP listing) is logged
  with its traceback too, but fails only what it was making: the response
  ends ``failed`` (``backend_error``), the transcription or listing fails,
  and the session goes on;
* a write that does not finish within ``write_timeout`` (the client stopped
  reading) cancels the scope; the socket is closed only afterwards, by the
  task that owns it, so no task ever reads or writes a closed socket;
* the session's time limits are deadlines on the read, not a polling task:
  the idle timeout, the maximum session length (``session_expired``), the
  frame timeout (a frame or fragmented message begun and not finished, from
  ``ServerConnection.partial_since``) and shutdown. Activity only records the
  time; when a deadline passes early because the connection was busy, the
  next one is computed from what was recorded. An idle connection is one task
  parked in the kernel's readiness wait and costs no CPU.

Its reads come one of two ways (``RealtimeServer(io=...)``): the task reads its
socket itself (``per-task``), or it parks in the server's one reader
(``reader.py``, ``epoll``), which feeds it with ``absorb`` (the read loop's
body without its waits) and wakes it only for what must wait. Its writes are
``writing.py``'s.

A large message (``STEP_BYTES`` or more) is worked on in parts: its reading and
decoding, the session's handling of it, the encoding and writing of what the
session answers. After each of the first two the connection gives the loop back
for as long as that part took (``_give_back``, at most ``GIVE_BACK_MAX``), so
that another session's turn, which takes several steps of the loop, waits for
one part at most, not for their sum; on the ``epoll`` path the reader hands a
large message to the task for that. One maximal message (a 15 MiB tool schema)
is some 30-60 ms of work per part on the 2-core machine.

Faults (``faults.py``), when the server has any, are applied here, where
events come in and go out: client events held before the session sees them
(``latency ... direction=up``), server events held and written one by one
(``direction=down``, counted for ``after=N``), and the close or drop they end
with. Without faults the paths are the plain ones.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import trio

from rtcore import events as ev
from rtcore.server import (
    CancelResponse,
    Effect,
    ListMcpTools,
    ServerSession,
    StartResponse,
    Transcribe,
)
from rtcore.server.session import expiry_message
from rtcore.wire import ClientMessageError, ConnectionClosed, ServerConnection
from rtcore.wire.server import ServerConnectionEvent
from rtcore_sim import ResponseRequest, TranscriptionFailed

from .fastio import READ_SIZE, read_fd
from .listing import answer_listing
from .pacing import PING_FLOOD_SECONDS, PINGS_PER_SECOND, PingPacer
from .writing import WRITE_BATCH, _Writes

if TYPE_CHECKING:
    from .server import RealtimeServer

__all__ = [
    "answer_listing",
    "EVENTS_PER_STEP",
    "PINGS_PER_SECOND",
    "PING_FLOOD_SECONDS",
    "WRITE_BATCH",
]

EVENTS_PER_STEP = 16
"""Client events handled in one go; then the loop runs every other task (one read holds up to ~3000).
A message weighs one event more per ``STEP_BYTES`` of it: a large message takes a step of its own."""
STEP_BYTES = 1 << 20
"""From this size on a message is large: its work is cut in parts, and the loop given back after
each for as long as it took (``_Connection._give_back``)."""
GIVE_BACK_MAX = 0.25
"""The longest a connection gives the loop back after one part of a large message's work."""
_DECODED = (ev.ClientEvent, ev.UnknownEvent, ClientMessageError)
"""The events ``ServerConnection.events`` makes of a message (``message_size`` is its size)."""


def _leaf(error: BaseException) -> BaseException:
    """The one exception inside nested single-member groups (what actually went wrong)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


_Ending = tuple[list[Effect], int, str]
"""How a session ends on our side: the session's final effects, the close code and reason."""


class _Connection(_Writes):
    """One admitted client: its session, its writer (``writing.py``), its backend tasks, its
    deadlines."""

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
        self._pings = PingPacer(now)
        self._flooded = False
        self.waited_for_close = False
        """The session's end already waited ``close_timeout`` for the client's close frame."""
        sock = getattr(stream, "socket", None)
        self.fd = (
            sock.fileno() if isinstance(stream, trio.SocketStream) and sock is not None else -1
        )
        self.faults = server._fault_plan
        """The server's faults as they were when this connection was accepted."""
        self.sent = 0
        """Server events written so far (counted only with faults, for ``after=N``)."""
        self.reader = server._reader if self.fd >= 0 else None
        """The server's one reader (``reader.py``), when it serves this socket."""
        self.parked_task: trio.lowlevel.Task | None = None
        """This connection's task while it waits in the reader."""
        self._nursery: trio.Nursery | None = None
        self._unfinished: Iterator[ServerConnectionEvent] | None = None
        """Events of a read the reader began and left to the task (after ``EVENTS_PER_STEP``)."""
        self._backlog = b""
        """Bytes the reader wrote in part (the socket's buffer was full): written first."""
        self._unsent: list[ev.ServerEvent] = []
        """Events the reader took and did not encode (beyond ``WRITE_BATCH``): sent first."""
        self._began = now
        """When this connection's current step of work began (a read, or the end of a wait)."""
        self._heavy = False
        """The session has just handled a large message: the loop is given back before more."""

    async def _hold_up(self) -> None:
        """A ``latency ... direction=up`` fault: hold the next client event (shielded, so
        that no event a read brought is dropped half way)."""
        assert self.faults is not None
        delay = self.faults.delay("up")
        if delay:
            with trio.CancelScope(shield=True):
                await trio.sleep(delay)

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
            elif isinstance(effect, ListMcpTools):
                nursery.start_soon(
                    answer_listing,
                    self.session,
                    self.server.backend,
                    effect,
                    self.flush,
                    self._listing_failed,
                )

    def _listing_failed(self, exc: BaseException) -> None:
        """A broken backend failed an MCP listing: the listing fails, the log says why."""
        self._backend_failed("backend failed listing MCP tools", exc)

    def _backend_failed(self, what: str, exc: BaseException) -> None:
        """Log a backend's or transcriber's exception with its traceback (throttled)."""
        self.server.logs.emit("backend", logging.ERROR, "%s %s", self.peer, what, exc_info=exc)

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
                self._backend_failed(f"backend failed on {start.response_id}", exc)
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
            self._backend_failed(f"transcriber failed on {request.item_id}", exc)
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
                    if self.faults is not None:
                        for fault in self.faults.timed:
                            nursery.start_soon(self._inflict_later, fault)
                    try:
                        await self.flush()
                        ending = await self._serve(nursery)
                        if ending is not None:
                            await self._end(nursery, *ending)
                    finally:
                        nursery.cancel_scope.cancel()
        except* Exception as group:
            failure = _leaf(group)
        finally:
            if self.reader is not None:
                self.reader.forget(self)
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
        if self._flooded:
            message = f"More than {PINGS_PER_SECOND} pings a second."
            return session.shutdown(message), 1008, "ping flood"
        if self._stopping:
            return session.shutdown(), 1001, "server shutting down"
        if now >= self.expires:
            minutes = server.max_session_seconds / 60
            return session.expire(minutes), 1001, expiry_message(minutes)
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
                return await self.stream.receive_some(READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return b""
        return await read_fd(fd)

    async def _read(self, nursery: trio.Nursery) -> None:
        """Process what the client sent, then read more, until nothing more will come."""
        conn, session = self.conn, self.session
        frame_timeout = self.server.frame_timeout
        held = self.faults is not None and self.faults.delays_up
        reader = self.reader
        self._nursery = nursery
        while True:
            # Events already buffered come first: messages pipelined behind the handshake,
            # or those of a read the reader began.
            events = self._unfinished
            if events is None:
                events = conn.events()
            self._unfinished = None
            handled = 0
            for event in events:
                if held:
                    await self._hold_up()
                if conn.message_size >= STEP_BYTES and isinstance(event, _DECODED):
                    # A large message was read and decoded in this step: every other session
                    # runs before the session handles it, and again before its answer is
                    # encoded, so that none waits for more than one part of its work.
                    await self._give_back()
                    self._heavy = True
                self._dispatch(nursery, event)
                handled += 1 + conn.message_size // STEP_BYTES
                if handled >= EVENTS_PER_STEP:
                    # One read can hold thousands of small events: every other session
                    # gets the loop between batches of them.
                    handled = 0
                    await self._between_batches()
            if self._heavy:
                await self._give_back()
            # Most reads (audio appends) leave nothing to write: no coroutine, no lock then.
            pending = conn.data_to_send()
            if pending:
                await self.send_raw(pending)
            if session.has_output or self._unsent or self._backlog:
                await self.flush()
            if conn.closed:
                break
            if frame_timeout is not None:
                self._track_partial(frame_timeout, None)
            if conn.pings_received != self._pings.seen:
                await self._pace_pings()
            if reader is not None:
                await reader.wait(self)  # the reader feeds conn (absorb) meanwhile
                continue
            data = await self._receive()
            self.last_activity = self._began = trio.current_time()
            conn.receive_data(data)
        self.handle(nursery, session.disconnect())

    def _dispatch(self, nursery: trio.Nursery, event: ServerConnectionEvent) -> None:
        """Give one event from the client to the session (or note the connection's end)."""
        session = self.session
        if isinstance(event, ev.ClientEvent):
            self.handle(nursery, session.receive_event(event))
        elif isinstance(event, ev.UnknownEvent):
            session.reject_unknown(event)
        elif isinstance(event, ClientMessageError):
            session.reject_message(event.error)
        elif isinstance(event, ConnectionClosed):
            self.closed = event

    def _track_partial(self, frame_timeout: float, now: float | None) -> None:
        """A frame or fragmented message begun and not finished gets a deadline of its own;
        a new one (a new position) restarts it, so a client that streams big frames back to
        back is not mistaken for one that trickles one forever. (``now``: ``None`` asks trio,
        only when it is needed.)"""
        since = self.conn.partial_since
        if since is None:
            self.frame_started = self._partial_at = None
        elif since != self._partial_at:
            self._partial_at = since
            if now is None:
                now = trio.current_time()
            self.frame_started = now
            scope = self._read_scope
            if scope is not None:
                scope.deadline = min(scope.deadline, now + frame_timeout)

    def absorb(self, data: bytes | memoryview, now: float) -> bool:
        """The one reader's step for this connection, its task parked: ``data`` was read at
        ``now``. True when it is all done; false when the task must take over (it goes on
        where this left off: events left, writes that must wait, pings, faults, the end).
        ``data`` may be a view of the reader's buffer, valid during this call only:
        ``receive_data`` copies it.

        What it does is the task's loop body, minus every wait; its common case (nearly
        every read: an append) without the helpers' calls.
        """
        conn = self.conn
        self.last_activity = now
        conn.receive_data(data)
        if not data or self.faults is not None:
            return False
        nursery = self._nursery
        assert nursery is not None
        session = self.session
        events = conn.events()
        handled = 0
        for event in events:
            size = conn.message_size
            if size >= STEP_BYTES and isinstance(event, _DECODED):
                # A large message: the task handles it, once it has given the loop back for
                # as long as this step took (``_read``).
                self._unfinished = itertools.chain((event,), events)
                self._began = now
                return False
            if not isinstance(event, ev.ClientEvent):
                self._dispatch(nursery, event)
            elif effects := session.receive_event(event):  # an append has none
                self.handle(nursery, effects)
            handled += 1 + size // STEP_BYTES
            if handled >= EVENTS_PER_STEP:
                # One read can hold thousands of events: the task takes the rest, a batch
                # at a time, and every other session gets the loop between batches.
                self._unfinished = events
                return False
        if conn.closed or conn.pings_received != self._pings.seen:
            return False
        if session.has_output:
            if not self.write_now():
                return False
        else:
            pending = conn.data_to_send()  # pongs and close frames come with a hand-over anyway
            if pending:
                self._backlog += pending
                return False
        # Only when a frame was begun or finished (``_partial_at`` is None iff ``frame_started`` is).
        if conn.partial_since != self._partial_at and self.server.frame_timeout is not None:
            self._track_partial(self.server.frame_timeout, now)
        return True

    async def _pace_pings(self) -> None:
        """A client over ``PINGS_PER_SECOND`` is not read until its pings are back under it:
        a flood costs its own connection, and every other session keeps its share of the loop."""
        wait = self._pings.wait(self.conn.pings_received, trio.current_time())
        scope = self._read_scope
        if wait > PING_FLOOD_SECONDS and scope is not None and not self._flooded:
            # Far over the rate: a flood, not a keep-alive. The session ends (1008).
            self._flooded = True
            scope.cancel()
            await trio.lowlevel.checkpoint()
        elif wait > 0:
            # Also while the session ends: the flooder is not read before its close timeout.
            await trio.sleep(wait)

    async def _between_batches(self) -> None:
        """Send what a batch of one read's events produced, then let every other task run.

        Shielded: a cancellation (shutdown, a deadline, a write that timed out)
        is taken at the next read, so a read's events are never dropped half way;
        what this waits for is bounded by the write timeout.
        """
        if self._heavy:
            await self._give_back()
        with trio.CancelScope(shield=True):
            pending = self.conn.data_to_send()
            if pending:
                await self.send_raw(pending)
            if self.session.has_output:
                await self.flush()
        await trio.lowlevel.cancel_shielded_checkpoint()
        self._began = trio.current_time()

    async def _give_back(self) -> None:
        """Let every other task run for as long as this connection's step has taken so far
        (at most ``GIVE_BACK_MAX``): after each part of a large message's work.

        One maximal message is some 30-80 ms of work in a few parts (its decoding, the
        session's handling of it, the encoding of its answer): run back to back, a
        healthy session's turn, which takes several steps of the loop, waited for their
        sum. With the loop given back between them it waits for one part at most, and
        the sender of large messages gets about half of the loop while others need it.
        Shielded, like ``_between_batches``: an event already read is never dropped.
        """
        self._heavy = False
        with trio.CancelScope(shield=True):
            await trio.sleep(min(trio.current_time() - self._began, GIVE_BACK_MAX))
        self._began = trio.current_time()

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
        self.waited_for_close = True
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
