"""rtcore_trio: the trio adapter for rtcore, and the ``rtcore`` command line.

It moves bytes between trio streams and rtcore's sans-IO connections; every
protocol rule lives in ``rtcore``.
"""

from .client import RealtimeClient, attach, connect, open_client
from .errors import ConnectionClosedError, HandshakeError

__all__ = [
    "ConnectionClosedError",
    "HandshakeError",
    "RealtimeClient",
    "attach",
    "connect",
    "open_client",
]
