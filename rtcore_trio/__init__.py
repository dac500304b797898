"""rtcore_trio: the trio adapter for rtcore, and the ``rtcore`` command line.

It moves bytes between trio streams and rtcore's sans-IO connections; every
protocol rule lives in ``rtcore``.
"""

from .backends import (
    BACKEND_THREADS,
    MAX_ECHO_CHARS,
    Backend,
    EchoBackend,
    EchoTranscriber,
    ResponseRequest,
    Scenario,
    ScriptBackend,
    Transcriber,
    TranscriptionFailed,
    run_off_loop,
)
from .client import RealtimeClient, attach, connect, open_client
from .errors import ConnectionClosedError, HandshakeError
from .server import RealtimeServer, serve

__all__ = [
    "BACKEND_THREADS",
    "MAX_ECHO_CHARS",
    "run_off_loop",
    "Backend",
    "EchoBackend",
    "EchoTranscriber",
    "RealtimeServer",
    "ResponseRequest",
    "Scenario",
    "ScriptBackend",
    "Transcriber",
    "TranscriptionFailed",
    "serve",
    "ConnectionClosedError",
    "HandshakeError",
    "RealtimeClient",
    "attach",
    "connect",
    "open_client",
]
