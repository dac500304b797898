"""``ServerConnection``: the server role at byte level.

It parses the opening handshake and shows it to the caller as a
``HandshakeRequest`` - path, query (``model``), headers, the credentials
presented (``Authorization: Bearer``, ``api-key``, or the browser subprotocol
``openai-insecure-api-key.<key>``) and whether the beta dialect was asked for
- and lets the caller ``accept()`` (selecting the ``realtime`` subprotocol
when a browser offered it) or ``reject(status)``.

The handshake's protocol decisions are made here, not by the adapter: the
dialect (``dialect``: beta when the ``OpenAI-Beta: realtime=v1`` header or
the ``openai-beta.realtime-v1`` subprotocol asks for it, or when the URL is
Azure's preview form - an ``api-version`` such as ``2024-10-01-preview`` -
else GA; docs/protocol/connection.md#azure), whether
this endpoint serves it (``dialect_served``, from ``dialects``) and how a
dialect not served is refused (``refuse_dialect``), the session type the URL
asks for (``HandshakeRequest.intent``) and the model it names
(``HandshakeRequest.model_asked``: ``model``, else Azure's ``deployment``).
The adapter only checks what is its own (path, API keys, capacity) and
carries the decisions out. After acceptance it yields
the client's events, decoded strictly (unknown fields are errors, as on the
real service), and frames the server's events.

A plain ``GET /healthz`` (``HEALTH_PATH``, no upgrade) is answered 200 and
shown as ``HealthCheck``: the health check of a load balancer in front.

Messages the client pipelines right behind its handshake request are kept and
processed once the handshake is accepted.

Handshake rules enforced before the caller sees a request (RFC 6455 section
4.2.1; wsproto checks the rest - method, ``Upgrade``, ``Connection``,
``Sec-WebSocket-Key``, ``Host``):

* HTTP/1.1 or later: an HTTP/1.0 upgrade is answered with 400.
* ``Sec-WebSocket-Version: 13``: any other version, or none, is answered with
  426 Upgrade Required carrying ``Sec-WebSocket-Version: 13`` (section 4.4),
  which tells the client what to retry with.

After acceptance, frames are read by ``MessageSocket`` with its limits
(message size, UTF-8, length encodings: see ``framing``); a message whose
structure is larger than ``max_values`` (objects, arrays and the commas between
their elements, outside strings) is refused before it is decoded
(``ClientMessageError``, code ``message_above_max_values``), so that no message
costs more than a bounded number of decoded values; and ``partial_since`` lets the adapter time out a frame or
message the client began and never finished.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Iterator
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

import msgspec
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.utilities import RemoteProtocolError as WSRemoteProtocolError

from .. import events as ev
from ..errors import LocalProtocolError
from .events import (
    ClientMessageError,
    ConnectionClosed,
    Credentials,
    HandshakeFailed,
    HandshakeRequest,
    Headers,
    HealthCheck,
    PongReceived,
)
from .frames import text_frame
from .framing import DEFAULT_MAX_MESSAGE_SIZE, MAX_PINGS_AT_ONCE, MessageSocket

__all__ = [
    "DEFAULT_MAX_MESSAGE_VALUES",
    "HEALTH_PATH",
    "DialectRefusal",
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

ServerConnectionEvent = (
    HandshakeRequest
    | ev.ClientEvent
    | ev.UnknownEvent
    | ClientMessageError
    | HandshakeFailed
    | HealthCheck
    | ConnectionClosed
    | PongReceived
)
"""What ``ServerConnection.events()`` yields."""

_KEY_PROTOCOL = "openai-insecure-api-key."
_BETA_PROTOCOL = "openai-beta.realtime-v1"
DEFAULT_MAX_MESSAGE_VALUES = 65536
"""The most values (objects, arrays and their elements) one client message may hold.

Decoding costs about a microsecond per value, so this bounds one message's time on the
event loop to tens of milliseconds, where a 16 MiB message of small values would take
seconds. It is far above what a valid event within the session's other bounds holds
(1024 parts of an item are some 3000; 128 tools with JSON Schemas of a few hundred
values each, some 50 000)."""
MAX_PENDING = 1024 * 1024
"""Bytes a client may send before the handshake is answered (a request head, or events pipelined behind it)."""
_WEBSOCKET_VERSION = b"13"
# Azure's dated preview API versions (``2024-10-01-preview``): its preview protocol is beta.
_AZURE_PREVIEW = re.compile(r"\d{4}-\d{2}-\d{2}-preview")
# The request line's version; h11 has read and checked the line by the time it is looked at.
_REQUEST_VERSION = re.compile(rb"[\r\n]*[^\r\n]* HTTP/(\d)\.(\d)\r?\n")
# The end of the request head, as h11 finds it (h11._receivebuffer.blank_line_regex).
_HEAD_END = re.compile(rb"\n\r?\n")


HEALTH_PATH = "/healthz"
"""The health check path: a plain ``GET`` (no upgrade) is answered 200, for load balancers."""
# A plain GET of the health path (h11 has read and checked the request line by then).
_HEALTH_REQUEST = re.compile(
    rb"[\r\n]*GET " + re.escape(HEALTH_PATH.encode()) + rb"(\?\S*)? HTTP/1\.[01]\r?\n"
)
_HEALTH_BODY = b'{"status":"ok"}'

_BETA_ONLY = "This endpoint speaks the beta dialect only; send OpenAI-Beta: realtime=v1."
_BETA_GONE = "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."


def error_body(message: str, code: str, kind: str = "invalid_request_error") -> bytes:
    """The JSON body of an HTTP refusal, as the service writes it (``{"error": {...}}``)."""
    error = {"message": message, "type": kind, "code": code}
    return json.dumps({"error": error}).encode()


def served_dialects(dialects: Collection[str]) -> frozenset[ev.Dialect]:
    """The dialects an endpoint serves, checked: a non-empty subset of ``ga`` and ``beta``."""
    known: tuple[ev.Dialect, ...] = ("ga", "beta")
    served = frozenset(d for d in known if d in dialects)
    if not served or len(served) != len(set(dialects)):
        raise ValueError(f"dialects must be a non-empty subset of ga, beta, not {dialects!r}")
    return served


def asks_for_beta(query: dict[str, str], headers: Headers, subprotocols: Collection[str]) -> bool:
    """Whether a handshake asks for the beta dialect (docs/protocol/connection.md#dialect-choice).

    It does with the ``OpenAI-Beta: realtime=v1`` header, with the
    ``openai-beta.realtime-v1`` subprotocol, or in Azure's preview form: an
    ``api-version`` that is a dated preview (``2024-10-01-preview``), which
    Azure serves in its preview protocol, the beta dialect, without a beta
    header (docs/protocol/connection.md#azure). Azure's GA forms
    (``/openai/v1/realtime?model=D``, or a GA ``api-version`` such as
    ``2025-08-28``) carry no such sign and are GA.
    """
    if _BETA_PROTOCOL in subprotocols:
        return True
    if any(
        name == "openai-beta" and "realtime=v1" in value.replace(" ", "") for name, value in headers
    ):
        return True
    version = query.get("api-version")
    return version is not None and _AZURE_PREVIEW.fullmatch(version.strip()) is not None


def handshake_request(
    target: str, headers: Headers, subprotocols: Iterable[str]
) -> HandshakeRequest:
    """What a handshake asks for, from its request target (path and query), its headers
    (lower-case names) and the subprotocols offered: the one reading every server adapter
    uses, on bytes (``ServerConnection``) or at message level (an ASGI scope)."""
    split = urlsplit(target)
    offered = tuple(subprotocols)
    query = dict(parse_qsl(split.query))
    return HandshakeRequest(
        path=split.path,
        query=query,
        headers=headers,
        subprotocols=offered,
        credentials=credentials_of(headers, offered),
        beta=asks_for_beta(query, headers, offered),
    )


class DialectRefusal(msgspec.Struct, frozen=True):
    """How a handshake asking for a dialect not served is refused (``dialect_refusal``).

    ``status`` set: an HTTP refusal before the upgrade, with ``body`` (the close fields are
    0 and empty). ``status`` ``None``: the upgrade is accepted, ``error`` is sent, and the
    connection closes with ``close_code`` and ``close_reason``.
    """

    status: int | None
    body: bytes
    error: ev.ErrorEvent | None
    close_code: int
    close_reason: str


def dialect_refusal(dialect: ev.Dialect, event_id: str) -> DialectRefusal:
    """The refusal of a handshake whose ``dialect`` is not served (``event_id`` for its error).

    Beta is refused as OpenAI's endpoint does since May 2026
    (docs/protocol/connection.md#dialect-choice): the upgrade is accepted, one ``error``
    (``beta_api_shape_disabled``) says why, and the connection closes with 4000. GA, on a
    beta-only endpoint, is refused before the upgrade with HTTP 400 (``beta_header_required``),
    as beta-era servers refused clients without the beta header.
    """
    if dialect == "ga":
        body = error_body(_BETA_ONLY, "beta_header_required")
        return DialectRefusal(400, body, None, 0, "")
    error = ev.ErrorEvent(
        event_id=event_id,
        error=ev.ErrorDetails(
            type="invalid_request_error",
            code="beta_api_shape_disabled",
            message=_BETA_GONE,
            param=None,
        ),
    )
    return DialectRefusal(None, b"", error, 4000, "invalid_request_error.beta_api_shape_disabled")


def chosen_subprotocol(offered: Collection[str]) -> str | None:
    """The subprotocol a server accepting a handshake selects: ``realtime`` when the client
    offered it (browsers require the server to pick one they offered), else none."""
    return "realtime" if "realtime" in offered else None


def credentials_of(headers: Headers, subprotocols: Iterable[str]) -> Credentials | None:
    """The API key a handshake presents: Bearer first, then ``api-key``, then the subprotocol."""
    for name, value in headers:
        if name == "authorization":
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return Credentials("bearer", token.strip())
    for name, value in headers:
        if name == "api-key" and value.strip():
            return Credentials("api-key", value.strip())
    for protocol in subprotocols:
        if protocol.startswith(_KEY_PROTOCOL) and len(protocol) > len(_KEY_PROTOCOL):
            return Credentials("subprotocol", protocol[len(_KEY_PROTOCOL) :])
    return None


class ServerConnection:
    """One server-side connection of a Realtime endpoint, without I/O."""

    def __init__(
        self,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        strict: bool = True,
        dialects: Collection[ev.Dialect] = ("ga", "beta"),
        max_values: int | None = DEFAULT_MAX_MESSAGE_VALUES,
    ) -> None:
        self.dialects = served_dialects(dialects)
        """The dialects this endpoint serves; a handshake asking for another is refused."""
        self._ws = WSConnection(ConnectionType.SERVER)
        self._socket = MessageSocket(
            self._ws, max_message_size, masked=True, max_pings_at_once=MAX_PINGS_AT_ONCE
        )
        self._strict = strict
        self._max_values = max_values
        """Values one client message may hold (``None``: no bound); see the module docstring."""
        self._phase: Literal["handshake", "requested", "open", "rejected", "failed"] = "handshake"
        self._pending = bytearray()
        self._failure: HandshakeFailed | HealthCheck | None = None
        self.request: HandshakeRequest | None = None
        self.subprotocol: str | None = None
        self.message_size = 0
        """The size of the last message ``events`` decoded (an adapter may weigh its work by it)."""
        self._dialect: ev.Dialect = "ga"
        """``dialect``, fixed once the handshake is accepted (``events`` reads it per read)."""

    # -- state ------------------------------------------------------------------------------

    @property
    def accepted(self) -> bool:
        return self._phase == "open"

    @property
    def closed(self) -> bool:
        """Nothing more will come from the client (rejected, failed, or closed)."""
        return self._phase in ("rejected", "failed") or self._socket.closed

    @property
    def open(self) -> bool:
        return self._phase == "open" and self._socket.open

    @property
    def closing(self) -> bool:
        """Our close frame has been made and the client's answer has not been read yet.

        Until it has, the client may still be sending: an adapter that closes
        the socket with the client's bytes unread makes the kernel reset the
        connection, which can destroy what was sent last (an error event, the
        close frame) before the client reads it. Read on until ``closing``
        turns false or the client's end of file, within a close timeout
        (docs/protocol/connection.md#refusal-delivery).
        """
        sock = self._socket
        return self._phase == "open" and sock.close_sent and not sock.close_received

    @property
    def failed(self) -> bool:
        """We failed the connection (1002, 1003, 1007, 1009): the client's bytes are no longer
        parsed, so its close frame will not be seen; read until its end of file instead."""
        return self._phase == "open" and self._socket.failed

    @property
    def pings_received(self) -> int:
        """Pings the client has sent so far (each is answered with a pong while the connection
        is open); an adapter paces a client that floods them."""
        return self._socket.pings

    @property
    def partial_since(self) -> int | None:
        """Where the frame or message the client began and has not finished began, if any.

        A position in the bytes received since the handshake; ``None`` when the
        client is between messages, and before acceptance (the handshake has
        its own timeout). Read it after draining ``events()``; re-arm a
        deadline whenever it changes to a new value (see ``MessageSocket.partial_since``).
        """
        return self._socket.partial_since if self._phase == "open" else None

    @property
    def partial(self) -> bool:
        """The client has begun a frame or a fragmented message and not finished it."""
        return self.partial_since is not None

    # -- bytes --------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        return self._socket.data_to_send()

    def receive_data(self, data: bytes | bytearray | memoryview | None) -> None:
        """Take bytes from the socket (any split); ``b""`` or ``None`` means end of file.

        The bytes are copied: ``data`` may be reused once this returns."""
        if self._phase == "open":  # every read after the handshake
            self._socket._feed(data)
            return
        if self._phase in ("rejected", "failed"):
            return
        if data:
            self._pending += data
            if len(self._pending) > MAX_PENDING:
                self._handshake_failed("too much data before the handshake was answered", 400)
                return
        if self._phase == "requested":
            if not data:
                self._phase = "failed"
                self._failure = HandshakeFailed("the client left before the handshake was answered")
            return
        try:
            self._ws.receive_data(bytes(data) if data else None)
        except WSRemoteProtocolError as exc:
            if _HEALTH_REQUEST.match(self._pending):
                self._answer_health()
                return
            hint = exc.event_hint
            if isinstance(hint, RejectConnection) and any(
                name.lower() == b"sec-websocket-version" for name, _ in hint.headers
            ):
                # wsproto answers a missing version with 400; RFC 6455 4.4 asks for 426
                # with the version we speak, whatever the client sent or left out.
                self._handshake_failed(
                    "bad handshake request: Sec-WebSocket-Version must be 13",
                    426,
                    [(b"sec-websocket-version", _WEBSOCKET_VERSION)],
                )
                return
            status = hint.status_code if isinstance(hint, RejectConnection) else 400
            self._handshake_failed(f"bad handshake request: {exc}", status)
        except ValueError as exc:
            # wsproto lets UnicodeDecodeError out of non-ASCII header values and targets.
            self._handshake_failed(f"bad handshake request: {exc}", 400)

    def _answer_health(self) -> None:
        """Answer a health check (a plain ``GET`` of ``HEALTH_PATH``) with 200, and stop."""
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_HEALTH_BODY)).encode()),
        ]
        self._socket._out += self._ws.send(
            RejectConnection(status_code=200, headers=headers, has_body=True)
        )
        self._socket._out += self._ws.send(RejectData(data=_HEALTH_BODY, body_finished=True))
        self._phase = "failed"
        self._failure = HealthCheck()

    def _handshake_failed(
        self, message: str, status: int, extra: list[tuple[bytes, bytes]] | None = None
    ) -> HandshakeFailed:
        """Answer a handshake that cannot be served with an HTTP error, and stop."""
        if self._phase == "handshake" and self._ws.state is ConnectionState.CONNECTING:
            body = message.encode()
            headers = [
                *(extra or ()),
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ]
            self._socket._out += self._ws.send(
                RejectConnection(status_code=status, headers=headers, has_body=True)
            )
            self._socket._out += self._ws.send(RejectData(data=body, body_finished=True))
        self._phase = "failed"
        self._failure = HandshakeFailed(message)
        return self._failure

    def events(self) -> Iterator[ServerConnectionEvent]:
        """The handshake request, then client events (decoded) and the end of the connection."""
        if self._phase == "open":  # after the handshake, every read: the client's events
            return self._client_events()
        return self._handshake_events()

    def _client_events(self) -> Iterator[ServerConnectionEvent]:
        strict = self._strict
        dialect = self._dialect
        max_values = self._max_values
        decode = ev.decode_client_event
        for message in self._socket._messages():
            if type(message) is bytes or type(message) is str:
                self.message_size = len(message)
                try:
                    yield decode(message, dialect=dialect, strict=strict, max_values=max_values)
                except ev.DecodeError as err:
                    yield ClientMessageError(error=err, data=message)
            else:
                yield message  # type: ignore[misc]

    def _handshake_events(self) -> Iterator[ServerConnectionEvent]:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            yield failure
            return
        if self._phase == "handshake":
            for event in self._ws.events():
                if isinstance(event, Request):
                    version = _REQUEST_VERSION.match(self._pending)
                    if version is None or (int(version[1]), int(version[2])) < (1, 1):
                        yield self._handshake_failed(
                            "bad handshake request: a WebSocket upgrade needs HTTP/1.1", 400
                        )
                        self._failure = None  # given to the caller just now
                        return
                    try:
                        self.request = self._describe(event)
                    except ValueError as exc:  # urlsplit: a target such as http://[::1/...
                        yield self._handshake_failed(f"bad handshake request: {exc}", 400)
                        self._failure = None  # given to the caller just now
                        return
                    self._phase = "requested"
                    yield self.request
                    return

    def _describe(self, request: Request) -> HandshakeRequest:
        headers = tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in request.extra_headers
        )
        return handshake_request(request.target, headers, request.subprotocols)

    @property
    def dialect(self) -> ev.Dialect:
        """The connection's dialect: beta when the handshake asked for it, else GA
        (docs/protocol/connection.md#dialect-choice)."""
        return self.request.dialect if self.request is not None else "ga"

    @property
    def dialect_served(self) -> bool:
        """Whether this endpoint serves the dialect the handshake asked for (see ``dialects``)."""
        return self.dialect in self.dialects

    def drop_messages(self) -> None:
        """Read the buffered bytes and drop the client's messages undecoded.

        For the end of a connection whose session is over: pings and the
        client's close frame are still handled (so ``closing`` turns false),
        but no event is decoded.
        """
        if self._phase == "open":
            for _ in self._socket._messages():
                pass

    # -- answering the handshake ----------------------------------------------------------------

    def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> bytes:
        """Accept the handshake; returns the ``101`` response.

        Without a ``subprotocol``, ``realtime`` is selected when the client
        offered it (browsers require the server to pick one they offered).
        """
        if self._phase != "requested" or self.request is None:
            raise LocalProtocolError("there is no handshake request to accept", code="no_handshake")
        if subprotocol is None:
            subprotocol = chosen_subprotocol(self.request.subprotocols)
        data = self._ws.send(
            AcceptConnection(
                subprotocol=subprotocol,
                extra_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            )
        )
        self.subprotocol = subprotocol
        self._dialect = self.dialect
        self._phase = "open"
        # The request ends where h11 ended it: at its first blank line, which h11
        # also finds after bare LF line ends ("\n\n", "\n\r\n").
        end = _HEAD_END.search(self._pending)
        trailing = bytes(self._pending[end.end() :]) if end is not None else b""
        self._pending = bytearray()
        if trailing:
            self._socket._feed(trailing)
        return data

    def reject(
        self,
        status_code: int = 403,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        content_type: str = "application/json",
    ) -> bytes:
        """Refuse the handshake with an HTTP error; returns the whole response."""
        if self._phase != "requested":
            raise LocalProtocolError("there is no handshake request to reject", code="no_handshake")
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        if body:
            raw_headers.append((b"content-type", content_type.encode("latin-1")))
            raw_headers.append((b"content-length", str(len(body)).encode()))
        data = self._ws.send(
            RejectConnection(status_code=status_code, headers=raw_headers, has_body=bool(body))
        )
        if body:
            data += self._ws.send(RejectData(data=body, body_finished=True))
        self._phase = "rejected"
        self._pending = bytearray()
        return data

    def refuse_dialect(self, event_id: str) -> bytes:
        """Refuse a handshake whose dialect is not served; returns every byte of the refusal
        (``dialect_refusal`` says how: HTTP 400 for GA, an error and close 4000 for beta)."""
        if self._phase != "requested":
            raise LocalProtocolError("there is no handshake request to refuse", code="no_handshake")
        if self.dialect_served:
            raise LocalProtocolError(
                f"the {self.dialect} dialect is served; accept the handshake",
                code="dialect_served",
            )
        refusal = dialect_refusal(self.dialect, event_id)
        if refusal.status is not None:
            return self.reject(refusal.status, refusal.body)
        assert refusal.error is not None
        data = self.accept()
        data += self.send(refusal.error)
        return data + self.close(refusal.close_code, refusal.close_reason)

    # -- sending ------------------------------------------------------------------------------------

    def send(self, event: ev.ServerEvent) -> bytes:
        """The bytes of one text frame carrying ``event``."""
        if not self.open:
            raise LocalProtocolError("the connection is not open", code="connection_not_open")
        return text_frame(ev.encode_event(event))

    def send_message(self, payload: bytes) -> bytes:
        """The bytes of one text frame carrying an already encoded message."""
        if not self.open:
            raise LocalProtocolError("the connection is not open", code="connection_not_open")
        return text_frame(payload)

    def ping(self, payload: bytes = b"") -> bytes:
        return self._socket.ping(payload) if self._phase == "open" else b""

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        """The close frame that starts the close handshake (``b""`` if already closing)."""
        return self._socket.close(code, reason) if self._phase == "open" else b""
