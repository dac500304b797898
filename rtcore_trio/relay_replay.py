"""Playing a cassette back: ``CassetteServer``, a Realtime endpoint that answers from a recording.

A client that connects in the cassette's client dialect gets the server
messages the cassette recorded on the client's side, in their order: those before the first client message at once, and after each
client message the ones that followed it in the recording. The client's
messages are compared with the recorded ones by ``type``, one by one; the
first that differs ends the session with an ``error`` naming both (code
``cassette_divergence``, the event's index, what was sent and what was
recorded, and the cassette's line) and close code 1008. ``pace=True`` keeps
the recording's pacing (each answer as long after its client message as it
was recorded), otherwise everything is sent as fast as possible; the order
is the recording's either way, so a scripted client sees the same session
every time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from rtcore import events as ev
from rtcore.wire import ClientMessageError, ConnectionClosed, ServerConnection, error_body

from .relay_record import Cassette, Entry, read_cassette
from .server import RealtimeServer

__all__ = ["CassetteServer", "Divergence"]

_READ_SIZE = 65536


class Divergence(Exception):
    """The client sent something else than the recording at this point."""

    def __init__(self, index: int, sent: str, recorded: str | None, line: int | None) -> None:
        where = f"line {line} of the cassette" if line is not None else "the end of the cassette"
        expected = repr(recorded) if recorded is not None else "nothing more"
        super().__init__(
            f"client event {index} is {sent!r}, the recording has {expected} ({where})"
        )
        self.index = index
        self.sent = sent
        self.recorded = recorded
        self.line = line


class CassetteServer(RealtimeServer):
    """Serves one cassette to every client (a path or a ``Cassette``); see the module docstring.

    ``divergences`` lists what went wrong, one ``Divergence`` per diverging
    session. The other options are ``RealtimeServer``'s (path, keys, limits, TLS).
    """

    def __init__(
        self, cassette: Cassette | str | Path, *, pace: bool = False, **options: Any
    ) -> None:
        if not isinstance(cassette, Cassette):
            cassette = read_cassette(Path(cassette))
        super().__init__(dialects=(cassette.client_dialect,), **options)
        self.cassette = cassette
        self.pace = pace
        self.divergences: list[Divergence] = []
        if cassette.side != "down":
            raise ValueError("a cassette of the upstream's side cannot be played to a client")
        self._script = cassette.entries

    async def _handle(self, stream: trio.SocketStream, peer: str, started: float) -> None:
        conn = self._new_connection()
        request = await self._handshake(stream, conn, peer, self.handshake_timeout)
        if request is None:
            return
        refusal = self._refuse(request)
        if refusal is not None:
            status, message, code = refusal
            await self._send(stream, conn.reject(status, error_body(message, code)))
            return
        if not conn.dialect_served:
            await self._send(stream, conn.refuse_dialect("event_cassette_refused"))
            return
        await self._send(stream, conn.accept())
        self.logs.note("connection", "%s connected: playing a cassette", peer)
        await _Playback(self, stream, conn).run()


class _Playback:
    def __init__(
        self, server: CassetteServer, stream: trio.SocketStream, conn: ServerConnection
    ) -> None:
        self.server = server
        self.stream = stream
        self.conn = conn
        self.position = 0
        self.sent = 0

    async def _answers(self, anchor: Entry | None) -> None:
        """The recorded server messages up to the next client message, paced after ``anchor``."""
        script = self.server._script
        began = trio.current_time()
        while self.position < len(script) and script[self.position].dir == "server":
            entry = script[self.position]
            self.position += 1
            if self.server.pace and anchor is not None:
                await trio.sleep_until(began + max(0.0, entry.t - anchor.t))
            await self.stream.send_all(self.conn.send_message(entry.raw))

    async def run(self) -> None:
        try:
            await self._answers(None)
            while not self.conn.closed:
                data = await self.stream.receive_some(_READ_SIZE)
                self.conn.receive_data(data or None)
                for event in self.conn.events():
                    if isinstance(event, ConnectionClosed):
                        await self.stream.send_all(self.conn.data_to_send())
                        return
                    kind = (
                        event.type if isinstance(event, ev.ClientEvent | ev.UnknownEvent) else None
                    )
                    if isinstance(event, ClientMessageError):
                        kind = event.error.event_type or "(not an event)"
                    if kind is not None:
                        await self._client(kind)
                await self.stream.send_all(self.conn.data_to_send())
                if not data:
                    return
        except Divergence as divergence:
            self.server.divergences.append(divergence)
            self.server.logs.note("divergence", "cassette: %s", divergence)
            details = ev.ErrorDetails(
                type="invalid_request_error", message=str(divergence), code="cassette_divergence"
            )
            error = ev.ErrorEvent(event_id="event_cassette_divergence", error=details)
            await self.stream.send_all(
                self.conn.send(error) + self.conn.close(1008, "cassette_divergence")
            )
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    async def _client(self, kind: str) -> None:
        script = self.server._script
        self.sent += 1
        if self.position >= len(script):
            raise Divergence(self.sent, kind, None, None)
        entry = script[self.position]
        if entry.type != kind:
            raise Divergence(self.sent, kind, entry.type, entry.line)
        self.position += 1
        await self._answers(entry)
