"""rtcore_trio: the trio adapter for rtcore, and the ``rtcore`` command line.

It moves bytes between trio streams and rtcore's sans-IO connections; every
protocol rule lives in ``rtcore``, and the simulated models that answer in
``rtcore serve`` live in ``rtcore_sim``.

Public names:

* The client: ``connect`` (open a WebSocket and drive a ``ClientSession``
  over it), ``open_client``, ``attach`` (drive an already open
  ``trio_websocket`` connection) and ``RealtimeClient``, what they yield.
* The server: ``RealtimeServer`` (a Realtime endpoint over TCP or TLS) and
  ``serve`` (run one until cancelled).
* Cassettes (sessions ``rtcore relay --record`` wrote) played back:
  ``CassetteServer``, a ``RealtimeServer`` that answers from one, and
  ``Divergence``, what it reports when a client strays from the recording.
* Faults either server injects on purpose (``faults=``, ``--fault``):
  ``Fault`` and ``parse_fault``, which reads a SPEC such as
  ``"close=1011,after=5"``.
* The relay: ``RelayServer`` (a Realtime endpoint that relays each session
  to an upstream one, translating between the dialects, with hooks) and
  ``relay`` (run one until cancelled); ``RelayContext``, what hooks are given.
* Their errors: ``HandshakeError``, ``ConnectionClosedError``.
* What a server's backend is given and may raise (defined in ``rtcore_sim``,
  re-exported here since a ``RealtimeServer`` takes them): ``Backend``,
  ``Transcriber``, ``ResponseRequest``, ``TranscriptionFailed``,
  ``McpListingFailed``, and ``run_off_loop`` / ``BACKEND_THREADS`` for a
  backend's CPU-heavy steps.

The command line (``rtcore serve``, ``relay``, ``demo``, ``replay``, ``loadtest``) is
``rtcore_trio.cli``. ``rtcore_trio.locust.RealtimeUser`` is a Locust user
for load beyond one machine (the ``rtcore[locust]`` extra; nothing here
imports it). ``rtcore_trio.asgi`` is the endpoint as an ASGI application for
hypercorn's trio worker (the ``rtcore[asgi]`` extra), and
``rtcore_trio.workers`` runs ``rtcore serve --workers N``.
"""

from rtcore_sim import (
    BACKEND_THREADS,
    Backend,
    McpListingFailed,
    ResponseRequest,
    Transcriber,
    TranscriptionFailed,
    run_off_loop,
)

from .cassette import CassetteServer, Divergence
from .client import RealtimeClient, attach, connect, open_client
from .errors import ConnectionClosedError, HandshakeError
from .faults import Fault, parse_fault
from .relay import RelayContext, RelayServer, relay
from .server import RealtimeServer, serve

__all__ = [
    "BACKEND_THREADS",
    "Backend",
    "CassetteServer",
    "ConnectionClosedError",
    "Divergence",
    "Fault",
    "HandshakeError",
    "McpListingFailed",
    "RealtimeClient",
    "RealtimeServer",
    "RelayContext",
    "RelayServer",
    "ResponseRequest",
    "Transcriber",
    "TranscriptionFailed",
    "attach",
    "connect",
    "open_client",
    "parse_fault",
    "relay",
    "run_off_loop",
    "serve",
]
