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
from rtcore.ids import DeterministicIds
from rtcore.wire import (
    HandshakeRequest,
)

from .client import connect
from .errors import HandshakeError
from .relay_hooks import ClientHook, RelayContext, ServerHook
from .relay_record import Recorder
from .relay_session import Link, fail
from .relay_upstream import RelayUpstream
from .server import RealtimeServer
from .throttle import DEFAULT_LOG_INTERVAL, DEFAULT_LOG_LINES, ThrottledLog

__all__ = ["ClientHook", "RelayContext", "RelayServer", "ServerHook", "relay"]

log = logging.getLogger("rtcore.relay")


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
        self._links: set[Link] = set()

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
        admitted = await self._admit(stream, peer)
        if admitted is None:
            return
        conn, request = admitted
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
                _client_class=RelayUpstream,
            ) as upstream:
                assert isinstance(upstream, RelayUpstream)
                await self._send(stream, conn.accept())
                link = Link(self, stream, conn, upstream, peer, ids)
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
            await fail(
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
