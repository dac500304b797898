"""The relay's upstream connection: the trio client, its events relayed as they are read.

``RelayUpstream`` is the trio client (``connect``) with two changes that
take trio's scheduler out of a relayed event's path:

* Its reader hands each event, with the message it came in, straight to the
  session (``Link.upstream_event``) instead of to a memory channel that a
  second task reads: an event costs no task switch, the upstream snapshot a
  hook sees is the one right after that event, and a client that does not
  read holds the reader (the upstream's TCP window pushes back). After each
  read the session writes what the read's events made in one write
  (``Link.upstream_read_done``). Events that arrive before the session is
  attached (``session.created``, right after the handshake) wait for it.
* ``send`` writes at once when no other write is under way, without the
  write lock and its checkpoint; a write that does not fit in the socket's
  buffer finishes under the lock, whole, as the client's always do.
  The relay's own tasks checkpoint on every read, so skipping it costs no
  fairness.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from rtcore import events as ev
from rtcore.client import ReceivedEvent
from rtcore.wire import ClientConnection

from .client import _StreamClient
from .fastio import write_now

if TYPE_CHECKING:
    from .relay_session import Link

__all__ = ["RelayUpstream"]


class RelayUpstream(_StreamClient):
    """The upstream client of one relayed session (see the module docstring)."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        conn: ClientConnection,
        queue_size: int,
        write_timeout: float,
        close_timeout: float,
    ) -> None:
        super().__init__(stream, conn, queue_size, write_timeout, close_timeout)
        self._link: Link | None = None
        self._attached = trio.Event()
        self._handing_over = False

    def attach(self, link: Link) -> None:
        """Relay events to ``link`` from now on (those read before wait for it)."""
        self._link = link
        self._attached.set()

    def _delivering(self) -> bool:
        # The reader is in the session's hands (a client that reads slowly, a fault's latency):
        # a pong may be waiting unread, so a slow one says nothing about the upstream.
        return self._handing_over

    async def _deliver(self, event: ReceivedEvent) -> None:
        if self._discarding:
            return
        self._handing_over = True
        try:
            if self._link is None:
                await self._attached.wait()
            assert self._link is not None
            await self._link.upstream_event(event, self._conn.last_message)
        finally:
            self._handing_over = False

    async def _read_done(self) -> None:
        if self._link is not None and not self._discarding:
            await self._link.upstream_read_done()

    async def send(self, event: ev.ClientEvent, *, decoded: bool = False) -> None:
        """Send ``event`` upstream (``decoded``: see ``ClientSession.prepare``)."""
        lock = self._write_lock
        if lock.locked() or self.closed is not None or self._broken is not None:
            await super().send(event)  # waits its turn, or raises as the client does
            return
        # Checked by the upstream session; a refusal raises before anything is written.
        data = write_now(self._stream, self._conn.send(event, decoded=decoded))
        if not data:
            return  # the socket's buffer took it all: no other task can have written meanwhile
        lock.acquire_nowait()
        try:
            await self._write(data)  # the rest, whole, within the write timeout
        finally:
            lock.release()
