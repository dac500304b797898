"""Connection-level events of the wire layer, for both roles.

They sit beside the protocol's own events in what ``ClientConnection.events()``
and ``ServerConnection.events()`` yield: the outcome of the opening handshake,
and the end of the connection with its close code. Every way a connection can
end - a normal close by either side, a protocol violation we answered with a
close code, the peer vanishing - is a ``ConnectionClosed`` the caller sees,
never an exception raised from deep inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec

from ..events import DecodeError, Dialect

__all__ = [
    "Credentials",
    "HandshakeRequest",
    "Connected",
    "Rejected",
    "HandshakeFailed",
    "HealthCheck",
    "ConnectionClosed",
    "ClientMessageError",
    "PongReceived",
    "Headers",
    "url_fixes_model",
]

Headers = tuple[tuple[str, str], ...]
"""HTTP headers as (lower-case name, value) pairs, in the order received."""


class Credentials(msgspec.Struct, frozen=True):
    """The API key a client presented, and how.

    ``scheme`` is ``"bearer"`` (``Authorization: Bearer <key>``), ``"api-key"``
    (the Azure-style ``api-key`` header) or ``"subprotocol"`` (browsers:
    ``openai-insecure-api-key.<key>`` among the WebSocket subprotocols).
    """

    scheme: Literal["bearer", "api-key", "subprotocol"]
    key: str

    def __repr__(self) -> str:  # never print a key
        return f"Credentials(scheme={self.scheme!r}, key='…{self.key[-4:]}')"


def url_fixes_model(path: str, query: Mapping[str, str]) -> bool:
    """Whether a Realtime URL fixes its session's model: a plain ``?model=`` does; Azure's
    ``?deployment=`` and the ``?model=`` of its paths (``/openai/...``) name a deployment
    instead (docs/protocol/flows.md#session-model). Both roles ask this one function."""
    return "model" in query and "deployment" not in query and not path.startswith("/openai/")


class HandshakeRequest(msgspec.Struct, frozen=True):
    """A client asked to open a Realtime WebSocket (server role).

    Answer with ``ServerConnection.accept()`` or ``reject(status)``.
    """

    path: str
    query: dict[str, str]
    headers: Headers
    subprotocols: tuple[str, ...]
    credentials: Credentials | None
    beta: bool
    """Whether the client asked for the beta dialect: ``OpenAI-Beta: realtime=v1``, its
    subprotocol, or Azure's preview ``api-version`` (``rtcore.wire.server.asks_for_beta``)."""

    @property
    def model(self) -> str | None:
        return self.query.get("model")

    @property
    def dialect(self) -> Dialect:
        """The dialect asked for: beta when the handshake says so, else GA
        (docs/protocol/connection.md#dialect-choice)."""
        return "beta" if self.beta else "ga"

    @property
    def intent(self) -> Literal["conversation", "transcription"]:
        """The session type the URL asks for: ``?intent=transcription``, else a conversation."""
        return "transcription" if self.query.get("intent") == "transcription" else "conversation"

    @property
    def deployment(self) -> str | None:
        """The Azure-style ``?deployment=``, which names the model there
        (docs/protocol/connection.md#url)."""
        return self.query.get("deployment")

    @property
    def api_version(self) -> str | None:
        """Azure's ``?api-version=``; a dated preview (``2024-10-01-preview``) asks for beta
        (docs/protocol/connection.md#azure)."""
        return self.query.get("api-version")

    @property
    def model_asked(self) -> str | None:
        """The model the client named: ``?model=``, else the Azure ``?deployment=``."""
        return self.model or self.deployment

    @property
    def model_fixed(self) -> bool:
        """Whether the URL fixed the session's model (docs/protocol/flows.md#session-model).

        Only a plain ``?model=`` does. Azure's ``?deployment=`` and the ``?model=`` of its GA
        path (``/openai/v1/realtime``) name a deployment, which serves whatever model its
        clients then name in ``session.update``.
        """
        return url_fixes_model(self.path, self.query)

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive name)."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None


class Connected(msgspec.Struct, frozen=True):
    """The server accepted the opening handshake (client role)."""

    subprotocol: str | None
    headers: Headers


class Rejected(msgspec.Struct, frozen=True):
    """The server answered the opening handshake with an HTTP error (client role)."""

    status_code: int
    headers: Headers
    body: bytes

    @property
    def message(self) -> str:
        text = self.body.decode("utf-8", errors="replace").strip()
        return f"the server rejected the WebSocket handshake with HTTP {self.status_code}" + (
            f": {text}" if text else ""
        )


class HandshakeFailed(msgspec.Struct, frozen=True):
    """The opening handshake could not be understood (malformed HTTP, bad accept token, ...)."""

    message: str


class HealthCheck(msgspec.Struct, frozen=True):
    """A load balancer's health check (``GET /healthz``, no upgrade) was answered 200 (server role).

    The answer is in ``data_to_send()``; the connection carries nothing else.
    """


class ConnectionClosed(msgspec.Struct, frozen=True):
    """The connection ended.

    ``initiator`` is ``"peer"`` when the peer sent a close frame first,
    ``"local"`` when this side did (including when it closed because the peer
    broke the protocol: 1002 protocol error, 1003 binary frame, 1007 invalid
    UTF-8, 1009 message too big), and ``"abnormal"`` when the transport ended
    without a close handshake (code 1006).
    """

    code: int
    reason: str
    initiator: Literal["peer", "local", "abnormal"]

    @property
    def clean(self) -> bool:
        """A normal end: a completed close handshake with 1000 (normal) or 1001 (going away)."""
        return self.initiator != "abnormal" and self.code in (1000, 1001)


class ClientMessageError(msgspec.Struct, frozen=True):
    """A client message that is not a valid event (server role, without a ``ServerSession``).

    The protocol answers it with an ``error`` event; ``error`` says what is
    wrong and where (``error.code``, ``error.path``, ``error.event_id``).
    """

    error: DecodeError
    data: bytes | str


class PongReceived(msgspec.Struct, frozen=True):
    """The peer answered a ping sent with ``ping()``."""

    payload: bytes
