"""rtcore: a sans-IO engine for the OpenAI Realtime WebSocket protocol, GA and beta dialects.

Both roles (``ClientSession``, ``ServerSession``) speak both dialects of the
protocol: GA, the default, and beta, chosen per connection. The vocabulary of
each dialect is its namespace, ``rtcore.events.ga`` and ``rtcore.events.beta``;
``rtcore.events`` holds what the two share, and this package re-exports the
codec functions and errors from it.

Layers (each imports only from those above it): ``rtcore.events`` (the typed
vocabulary and its codec), ``rtcore.audio``, ``rtcore.state`` (immutable
snapshots), ``rtcore.rules`` (the protocol's rules, each written once for both
roles and both dialects), the role machines ``rtcore.client`` and
``rtcore.server``, and ``rtcore.wire`` (WebSocket framing). Nothing here
performs I/O, reads a clock or draws random numbers. The simulated models of
``rtcore serve`` are the package ``rtcore_sim``; sockets, the servers and the
command line are ``rtcore_trio``.
"""

from . import events
from .client import ClientSession, ReceivedEvent, replay_events
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .events import (
    DecodeError,
    UnknownEvent,
    decode_client_event,
    decode_server_event,
    encode_event,
)
from .ids import DeterministicIds, IdFactory, SequentialIds
from .server import CancelResponse, ServerSession, StartResponse, Transcribe
from .state import ItemState, PartState, ResponseState, Snapshot
from .wire import ClientConnection, ServerConnection

__version__ = "0.1.0"

__all__ = [
    "CancelResponse",
    "ClientConnection",
    "ClientSession",
    "DecodeError",
    "DeterministicIds",
    "IdFactory",
    "ItemState",
    "LocalProtocolError",
    "PartState",
    "ProtocolError",
    "ReceivedEvent",
    "RemoteProtocolError",
    "ResponseState",
    "SequentialIds",
    "ServerConnection",
    "ServerSession",
    "Snapshot",
    "StartResponse",
    "Transcribe",
    "UnknownEvent",
    "__version__",
    "decode_client_event",
    "decode_server_event",
    "encode_event",
    "events",
    "replay_events",
]
