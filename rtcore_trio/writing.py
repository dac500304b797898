"""How a session's events reach its socket: in order, bounded, on time, never half lost.

``_Writes`` is the writing half of ``_Connection`` (``connection.py``). Every
write holds the connection's one write lock, so events go out in the order
the session made them and no two writers interleave a frame; events are
encoded as they are written, at most ``WRITE_BATCH`` bytes at a time, so a
client that does not read pins about one batch (or one larger event) beside
the kernel's buffer; each write is shielded from cancellation (the events
have left the session's queue) and bounded by ``write_timeout``, after which
the connection is marked broken and its tasks end. An event of ``WRITE_BATCH``
or more (a large ``session.updated``) goes out as its frame's header and then
its payload, never copied into one frame first. With faults, events are
held and written one by one (``latency ... direction=down``) and counted for
``close``/``drop ... after=N``.

The one reader (``reader.py``) writes without a task: ``write_now`` writes
what the socket's buffer takes at once, when no writer holds the lock. What
it could not write stays in ``_backlog`` (at most one batch) or, unencoded,
in ``_unsent``, and the next writer under the lock writes those first.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import trio

from rtcore import events as ev
from rtcore.server import ServerSession
from rtcore.wire import ConnectionClosed, ServerConnection
from rtcore.wire.frames import text_frame_head

from .faults import Fault, FaultPlan

if TYPE_CHECKING:
    from .server import RealtimeServer

__all__ = ["WRITE_BATCH"]

WRITE_BATCH = 1024 * 1024
"""Encoded events written in one go: a client that does not read pins at most this much (or
one larger event) beside the kernel's buffer, however many events are waiting."""


class _Writes:
    """The writes of one connection (a mixin: ``_Connection`` holds the state)."""

    server: RealtimeServer
    stream: trio.abc.Stream
    conn: ServerConnection
    session: ServerSession
    peer: str
    fd: int
    write_lock: trio.StrictFIFOLock
    faults: FaultPlan | None
    closed: ConnectionClosed | None
    broken: str | None
    errors: int
    sent: int
    _scope: trio.CancelScope
    _backlog: bytes
    _unsent: list[ev.ServerEvent]

    async def flush(self) -> None:
        """Write every event the session produced, in order."""
        if not self.session.has_output and not self._unsent and not self._backlog:
            return  # the common case for audio appends: nothing to say, no lock to take
        async with self.write_lock:
            events = self.session.events_to_send()
            if self._unsent:
                events, self._unsent = self._unsent + events, []
            if self._backlog:
                await self._write(b"")
            if not events or not self.conn.open or self.broken is not None:
                return
            # Encoded as they are written, a batch at a time: what waits for a slow client is
            # the events (which share the session's objects), not their encoding.
            frames: list[bytes] = []
            size = 0
            batched = self.faults is None  # faults write (and count) events one by one
            for event in events:
                if not batched:
                    frames.append(self._encode(event))
                    continue
                payload = self._payload(event)
                if len(payload) < WRITE_BATCH:
                    frame = self.conn.send_message(payload)
                    frames.append(frame)
                    size += len(frame)
                    if size < WRITE_BATCH:
                        continue
                    await self._write(frames[0] if len(frames) == 1 else b"".join(frames))
                elif self.conn.open:
                    # A large event: its frame's header goes out with the frames before it
                    # and its payload on its own, never copied into one frame (15 MiB of
                    # copying, on the loop, for a large session.updated).
                    frames.append(text_frame_head(len(payload)))
                    await self._write(b"".join(frames))
                    await self._write(payload)
                else:
                    return  # closed meanwhile (our close frame is made): nothing more goes out
                frames, size = [], 0
                if self.broken is not None:
                    return
            if not frames:
                return
            if batched:
                await self._write(frames[0] if len(frames) == 1 else b"".join(frames))
            else:
                await self._write_with_faults(frames)

    def _encode(self, event: ev.ServerEvent) -> bytes:
        """One event's frame (an error is counted and noted in the log)."""
        return self.conn.send_message(self._payload(event))

    def _payload(self, event: ev.ServerEvent) -> bytes:
        """One event's encoded message (an error is counted and noted in the log)."""
        if type(event) is ev.ErrorEvent:
            self.errors += 1
            self.server.logs.note(
                "error", "%s error %s: %s", self.peer, event.error.code, event.error.message
            )
        return ev.encode_event(event)

    async def _write_with_faults(self, frames: list[bytes]) -> None:
        """Write events one by one, each held by the down latency, counted for ``after=N``.

        The write lock is held. The wait is shielded like the write: these events
        have left the session's queue, and a cancelled wait would lose them.
        """
        plan = self.faults
        assert plan is not None
        for frame in frames:
            delay = plan.delay("down")
            if delay:
                with trio.CancelScope(shield=True):
                    await trio.sleep(delay)
            if not self.conn.open or self.broken is not None:
                return
            await self._write(frame)
            self.sent += 1
            due = plan.after_events(self.sent)
            if due is not None:
                await self._inflict(due, locked=True)
                return

    async def _inflict_later(self, fault: Fault) -> None:
        """A ``close`` or ``drop`` fault with ``after=DURATION``: its timer."""
        assert fault.after_seconds is not None
        await trio.sleep(fault.after_seconds)
        await self._inflict(fault, locked=False)

    async def _inflict(self, fault: Fault, *, locked: bool) -> None:
        """End the connection as a ``close`` or ``drop`` fault says (``locked``: the lock is held).

        ``close`` sends its close frame and ends every task; the server then
        waits for the client's close frame as after any close. ``drop`` sends
        nothing: the connection is marked broken, so its owner closes the
        socket (TCP's end, no close frame) once every task has ended.
        """
        self.server.logs.note("fault", "%s fault: %s", self.peer, fault.spec)
        if fault.kind == "drop":
            self._abort(f"dropped by the fault {fault.spec} (no close frame)")
            return
        if self.conn.open and self.broken is None:
            data = self.conn.close(fault.code, "fault_injected")
            if locked:
                await self._write(data)
            else:
                await self.send_raw(data)
            if self.closed is None:
                self.closed = ConnectionClosed(
                    code=fault.code, reason="fault_injected", initiator="local"
                )
        self._scope.cancel()

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
        if self._backlog:
            # What the reader began writing goes first (written apart: it is already bounded).
            backlog, self._backlog = self._backlog, b""
            await self._write(backlog)
            if not data or self.broken is not None:
                return
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + self.server.write_timeout
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._abort(f"write failed: {exc}")
                return
        if scope.cancelled_caught:
            self._stopped_reading()

    def _stopped_reading(self) -> None:
        """A write did not finish within ``write_timeout``: the client stopped reading."""
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

    def write_now(self) -> bool:
        """The reader's write: what the connection and the session have to send, written now.

        Only when no other writer holds the lock and nothing is left over from
        before; the bytes the socket's buffer does not take at once stay in
        ``_backlog`` (at most ``WRITE_BATCH`` and one event), events beyond
        ``WRITE_BATCH`` in ``_unsent``, and the task is woken to write them
        (within ``write_timeout``). True when everything was written.
        """
        if self.write_lock.locked() or self._backlog or self._unsent or self.broken is not None:
            return False
        data = self.conn.data_to_send()
        if self.session.has_output:
            events = self.session.events_to_send()
            if self.conn.open:
                frames = [data] if data else []
                size = len(data)
                for index, event in enumerate(events):
                    frame = self._encode(event)
                    frames.append(frame)
                    size += len(frame)
                    if size >= WRITE_BATCH:
                        self._unsent = events[index + 1 :]
                        break
                data = b"".join(frames)
        if not data:
            return not self._unsent
        try:
            sent = os.write(self.fd, data)
        except BlockingIOError:
            sent = 0
        except OSError:
            sent = 0  # the task's write reports the error as trio does
        if sent < len(data):
            self._backlog = data[sent:]
            return False
        return not self._unsent
