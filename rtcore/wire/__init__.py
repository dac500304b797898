"""The WebSocket layer in the core (wsproto), for both roles.

``ClientConnection`` and ``ServerConnection`` are byte-level: feed them what the
socket gave with ``receive_data(bytes)``, iterate ``events()``, and write what
``data_to_send()``, ``send(event)``, ``accept()``/``reject()`` and
``close()`` return. No I/O happens here.
"""

from .client import AuthStyle, ClientConnection, ClientConnectionEvent
from .events import (
    ClientMessageError,
    Connected,
    ConnectionClosed,
    Credentials,
    HandshakeFailed,
    HandshakeRequest,
    Headers,
    HealthCheck,
    PongReceived,
    Rejected,
)
from .framing import DEFAULT_MAX_MESSAGE_SIZE
from .server import (
    DEFAULT_MAX_MESSAGE_VALUES,
    HEALTH_PATH,
    ServerConnection,
    ServerConnectionEvent,
    asks_for_beta,
    chosen_subprotocol,
    credentials_of,
    dialect_refusal,
    error_body,
    handshake_request,
    served_dialects,
    text_frame,
)

__all__ = [
    "AuthStyle",
    "ClientConnection",
    "ClientConnectionEvent",
    "ClientMessageError",
    "Connected",
    "ConnectionClosed",
    "Credentials",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_MAX_MESSAGE_VALUES",
    "HandshakeFailed",
    "HEALTH_PATH",
    "HandshakeRequest",
    "Headers",
    "HealthCheck",
    "PongReceived",
    "Rejected",
    "ServerConnection",
    "ServerConnectionEvent",
    "asks_for_beta",
    "chosen_subprotocol",
    "credentials_of",
    "dialect_refusal",
    "error_body",
    "handshake_request",
    "served_dialects",
    "text_frame",
]
