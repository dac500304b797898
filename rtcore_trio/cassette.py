"""Playing a cassette back: ``CassetteServer``, a Realtime endpoint that answers from a recording.

``rtcore serve --backend cassette:FILE`` runs one; a test embeds one as it
would a ``RealtimeServer``. A cassette is what ``rtcore relay --record DIR``
writes (``relay_record.py``): the client's side of one session.

A client that connects in the cassette's client dialect gets the server
messages the cassette recorded on the client's side, in their order: those
before the first client message at once, and after each client message the
ones that followed it in the recording. The client's messages are compared
with the recorded ones by ``type``, one by one; the first that differs ends
the session with an ``error`` naming both (code ``cassette_divergence``, the
event's index, what was sent and what was recorded, and the cassette's line)
and close code 1008, and the server logs the same line. ``pace=True`` keeps
the recording's pacing (each answer as long after its client message as it
was recorded), otherwise everything is sent as fast as possible; the order
is the recording's either way, so a scripted client sees the same session
every time.

Faults (``faults=``, ``--fault``) apply as on ``RealtimeServer``: the
recorded messages are held by the down latency (the client's, before they
are compared, by the up latency) and counted for a close or a drop after N
events; a timed close or drop, and a refused handshake, too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from rtcore import events as ev
from rtcore.wire import ClientMessageError, ConnectionClosed, ServerConnection

from .fastio import READ_SIZE
from .faults import Fault, FaultPlan
from .relay_record import Cassette, Entry, read_cassette
from .server import RealtimeServer

__all__ = ["CASSETTE_PREFIX", "CassetteServer", "Divergence", "read_playable_cassette"]

CASSETTE_PREFIX = "cassette:"
"""``rtcore serve --backend cassette:FILE``."""


def read_playable_cassette(path: Path) -> Cassette:
    """A cassette a client can be played (its client's side); ``ValueError`` names what is wrong."""
    cassette = read_cassette(path)
    if cassette.side != "down":
        raise ValueError(
            f"{path}: a cassette of the upstream's side (NAME.upstream.jsonl) cannot be played "
            "to a client: play NAME.jsonl"
        )
    return cassette


class Divergence(Exception):
    """The client sent something else than the recording at this point.

    ``index`` counts the client's events from 1; ``sent`` is its ``type``,
    ``recorded`` the type the recording has there (``None``: the recording
    had ended), ``line`` the cassette's line of that recorded event,
    ``event_id`` the client event's own id, if it had one.
    """

    def __init__(
        self,
        index: int,
        sent: str,
        recorded: str | None,
        line: int | None,
        event_id: str | None = None,
    ) -> None:
        where = f"line {line} of the cassette" if line is not None else "the end of the cassette"
        expected = repr(recorded) if recorded is not None else "nothing more"
        super().__init__(
            f"client event {index} is {sent!r}, the recording has {expected} ({where})"
        )
        self.index = index
        self.sent = sent
        self.recorded = recorded
        self.line = line
        self.event_id = event_id


class CassetteServer(RealtimeServer):
    """Serves one cassette to every client (a path or a ``Cassette``); see the module docstring.

    ``divergences`` lists what went wrong, one ``Divergence`` per diverging
    session. The other options are ``RealtimeServer``'s (path, keys, limits,
    TLS, faults); the dialect served is the cassette's client dialect.
    """

    def __init__(
        self, cassette: Cassette | str | Path, *, pace: bool = False, **options: Any
    ) -> None:
        if not isinstance(cassette, Cassette):
            cassette = read_playable_cassette(Path(cassette))
        elif cassette.side != "down":
            raise ValueError("a cassette of the upstream's side cannot be played to a client")
        super().__init__(dialects=(cassette.client_dialect,), **options)
        self.cassette = cassette
        self.pace = pace
        self.divergences: list[Divergence] = []
        self._script = cassette.entries

    async def _handle(self, stream: trio.SocketStream, peer: str, started: float) -> None:
        admitted = await self._admit(stream, peer)
        if admitted is None:
            return
        conn, request = admitted
        if not conn.dialect_served:
            self.logs.note(
                "refused", "%s refused: the cassette is %s", peer, self.cassette.client_dialect
            )
            await self._send(stream, conn.refuse_dialect("event_cassette_refused"))
            return
        await self._send(stream, conn.accept())
        self.logs.note("connection", "%s connected: playing a cassette", peer)
        playback = _Playback(self, stream, conn, peer)
        await playback.run()
        self.logs.note("connection", "%s %s", peer, playback.ending)


class _Playback:
    def __init__(
        self, server: CassetteServer, stream: trio.SocketStream, conn: ServerConnection, peer: str
    ) -> None:
        self.server = server
        self.stream = stream
        self.conn = conn
        self.peer = peer
        self.position = 0
        self.received = 0
        self.sent = 0
        self.faults: FaultPlan | None = server._fault_plan
        self.ending = "ended"
        self._lock = trio.StrictFIFOLock()
        self._scope = trio.CancelScope()

    async def _write(self, data: bytes) -> None:
        """Write within ``write_timeout``; a client gone or not reading ends the session."""
        if not data:
            return
        async with self._lock:
            with trio.move_on_after(self.server.write_timeout) as deadline:
                try:
                    await self.stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self.ending = "client dropped"
                    self._scope.cancel()
            if deadline.cancelled_caught:
                self.ending = "client stopped reading"
                self._scope.cancel()

    async def _answers(self, anchor: Entry | None) -> None:
        """The recorded server messages up to the next client message, paced after ``anchor``."""
        script = self.server._script
        began = trio.current_time()
        while self.position < len(script) and script[self.position].dir == "server":
            entry = script[self.position]
            self.position += 1
            if self.server.pace and anchor is not None:
                await trio.sleep_until(began + max(0.0, entry.t - anchor.t))
            faults = self.faults
            if faults is None:
                await self._write(self.conn.send_message(entry.raw))
                continue
            delay = faults.delay("down")
            if delay:
                await trio.sleep(delay)
            await self._write(self.conn.send_message(entry.raw))
            self.sent += 1
            due = faults.after_events(self.sent)
            if due is not None:
                await self._inflict(due)

    async def _inflict(self, fault: Fault) -> None:
        """A ``close`` or ``drop`` fault: a close frame with its code, or none at all."""
        self.server.logs.note("fault", "%s fault: %s", self.peer, fault.spec)
        if fault.kind == "close":
            self.ending = f"closed {fault.code} by the fault {fault.spec}"
            if self.conn.open:
                await self._write(self.conn.close(fault.code, "fault_injected"))
        else:
            # The server closes the socket once this session ends: TCP's end, no close frame.
            self.ending = f"dropped by the fault {fault.spec} (no close frame)"
        self._scope.cancel()

    async def _inflict_later(self, fault: Fault) -> None:
        assert fault.after_seconds is not None
        await trio.sleep(fault.after_seconds)
        await self._inflict(fault)

    async def run(self) -> None:
        divergence: Divergence | None = None
        async with trio.open_nursery() as nursery:
            self._scope = nursery.cancel_scope
            for fault in self.faults.timed if self.faults is not None else ():
                nursery.start_soon(self._inflict_later, fault)
            try:
                await self._play()
            except Divergence as diverged:
                divergence = diverged
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.ending = "client dropped"
            nursery.cancel_scope.cancel()
        if divergence is not None:
            self.server.divergences.append(divergence)
            self.ending = f"diverged from the cassette: {divergence}"
            self.server.logs.note("divergence", "%s cassette: %s", self.peer, divergence)
            details = ev.ErrorDetails(
                type="invalid_request_error",
                message=str(divergence),
                code="cassette_divergence",
                event_id=divergence.event_id,
            )
            error = ev.ErrorEvent(event_id="event_cassette_divergence", error=details)
            await self._write(self.conn.send(error) + self.conn.close(1008, "cassette_divergence"))

    async def _play(self) -> None:
        await self._answers(None)
        while not self.conn.closed:
            data = await self.stream.receive_some(READ_SIZE)
            self.conn.receive_data(data or None)
            for event in self.conn.events():
                if isinstance(event, ConnectionClosed):
                    self.ending = f"closed {event.code} by {event.initiator}"
                    await self._write(self.conn.data_to_send())
                    return
                if isinstance(event, ClientMessageError):
                    await self._client(event.error.event_type or "(not an event)", None)
                elif isinstance(event, ev.ClientEvent | ev.UnknownEvent):
                    event_id = event.event_id if isinstance(event.event_id, str) else None
                    await self._client(event.type, event_id)
            await self._write(self.conn.data_to_send())
            if not data:
                self.ending = "client dropped (no close frame)"
                return

    async def _client(self, kind: str, event_id: str | None) -> None:
        script = self.server._script
        self.received += 1
        if self.faults is not None and self.faults.delays_up:
            await trio.sleep(self.faults.delay("up"))
        if self.position >= len(script):
            raise Divergence(self.received, kind, None, None, event_id)
        entry = script[self.position]
        if entry.type != kind:
            raise Divergence(self.received, kind, entry.type, entry.line, event_id)
        self.position += 1
        await self._answers(entry)
