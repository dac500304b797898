"""``ClientConnection``: the client role at byte level.

It composes the WebSocket layer (wsproto) with a ``ClientSession``: bytes in, typed server events
and snapshots out; typed client events in, masked text frames out. The opening handshake follows
docs/protocol/connection.md#headers and docs/protocol/connection.md#envelope: ``Authorization:
Bearer <key>`` (or the Azure-style ``api-key`` header, or the browser subprotocols ``realtime`` and
``openai-insecure-api-key.<key>``), and the query string of the URL (``?model=...``) kept as given.
The dialect is the session's (GA unless ``dialect="beta"``); a beta connection adds ``OpenAI-Beta:
realtime=v1`` (browsers: the ``openai-beta.realtime-v1`` subprotocol), which is how a server tells
the dialects apart. A rejected handshake (HTTP 401, 403, 404, ...) is a ``Rejected`` event with the
status and body; a server that refuses the dialect after the upgrade (OpenAI answers beta with an
``error`` and close 4000) shows as that error and a ``ConnectionClosed`` with code 4000.

The client's text frames are built here (``rtcore.wire.frames.text_frame``), masked with a fresh
key from ``mask_keys`` (by default the operating system's random source, as RFC 6455 asks; a test
may inject its own, as it injects ids); wsproto writes the handshake and the control frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.utilities import RemoteProtocolError as WSRemoteProtocolError

from .. import events as ev
from ..client import ClientSession, ReceivedEvent
from ..errors import LocalProtocolError
from ..state import Snapshot
from .events import (
    Connected,
    ConnectionClosed,
    HandshakeFailed,
    Headers,
    PongReceived,
    Rejected,
    url_fixes_model,
)
from .frames import MaskKeys, SystemMaskKeys, text_frame
from .framing import DEFAULT_MAX_MESSAGE_SIZE, MessageSocket

__all__ = ["ClientConnection", "ClientConnectionEvent", "AuthStyle"]

AuthStyle = Literal["bearer", "api-key", "subprotocol", "none"]
ClientConnectionEvent = (
    ReceivedEvent | Connected | Rejected | HandshakeFailed | ConnectionClosed | PongReceived
)
"""What ``ClientConnection.events()`` yields."""

_MAX_REJECTION_BODY = 64 * 1024
_MAX_HEAD = 64 * 1024


def _lower_headers(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    return tuple(
        (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in headers
    )


class ClientConnection:
    """One client connection to a Realtime server, without I/O.

    ``data_to_send()`` first gives the opening handshake; feed whatever the
    socket gives to ``receive_data`` (any split; ``b""`` or ``None`` for end
    of file), then iterate ``events()``. ``send(event)`` returns the bytes of
    one masked text frame (its key from ``mask_keys``, a callable returning 4
    bytes). ``state`` is the conversation snapshot.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        auth: AuthStyle = "bearer",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        subprotocols: Iterable[str] = (),
        dialect: ev.Dialect | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        session: ClientSession | None = None,
        mask_keys: MaskKeys | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise ValueError(f"a Realtime URL must be ws:// or wss://, not {url!r}")
        if not parts.hostname:
            raise ValueError(f"no host in {url!r}")
        self.url = url
        self.secure = parts.scheme == "wss"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        self.target = target
        if session is None:
            session = ClientSession(
                dialect=dialect or ev.DEFAULT_DIALECT,
                model_fixed=url_fixes_model(parts.path, dict(parse_qsl(parts.query))),
            )
        elif dialect is not None and dialect != session.dialect:
            raise ValueError(
                f"dialect {dialect!r} differs from the session's ({session.dialect!r})"
            )
        self.session = session
        self.dialect: ev.Dialect = session.dialect
        self._mask_keys: MaskKeys = mask_keys if mask_keys is not None else SystemMaskKeys()
        self.last_message: bytes | str = b""
        """The message of the server event ``events()`` yielded last, as it came (its bytes, or
        its text when it is not ASCII): what a relay forwards when it changes nothing."""

        extra: list[tuple[str, str]] = []
        offered = list(subprotocols)
        if api_key is not None and auth == "bearer":
            extra.append(("Authorization", f"Bearer {api_key}"))
        elif api_key is not None and auth == "api-key":
            extra.append(("api-key", api_key))
        elif api_key is not None and auth == "subprotocol":
            offered += ["realtime", f"openai-insecure-api-key.{api_key}"]
        if self.dialect == "beta":
            if auth == "subprotocol":
                offered.append("openai-beta.realtime-v1")
            else:
                extra.append(("OpenAI-Beta", "realtime=v1"))
        items = headers.items() if isinstance(headers, Mapping) else headers
        extra += list(items)

        host_header = self.host if parts.port is None else f"{self.host}:{parts.port}"
        if ":" in self.host and not self.host.startswith("["):
            host_header = f"[{self.host}]" + (f":{parts.port}" if parts.port else "")
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._socket = MessageSocket(self._ws, max_message_size, masked=False)
        self._socket._out += self._ws.send(
            Request(
                host=host_header,
                target=target,
                extra_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra],
                subprotocols=offered,
            )
        )
        self._handshake: Literal["pending", "accepted", "rejected", "failed"] = "pending"
        self._rejection: tuple[int, Headers] | None = None
        self._body = bytearray()
        self._handshake_error: HandshakeFailed | None = None
        self._eof = False
        self._head = bytearray()
        self._head_done = False
        self._answer_seen = False
        self._rest = b""
        self.subprotocol: str | None = None

    # -- state ----------------------------------------------------------------------------

    @property
    def state(self) -> Snapshot:
        """The conversation snapshot after the last server event."""
        return self.session.state

    @property
    def accepted(self) -> bool:
        return self._handshake == "accepted"

    @property
    def closed(self) -> bool:
        """Nothing more will come from the server."""
        return self._handshake in ("rejected", "failed") or self._socket.closed

    # -- bytes ------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Bytes to write to the socket: the handshake, pongs, close frames."""
        return self._socket.data_to_send()

    def receive_data(self, data: bytes | bytearray | None) -> None:
        """Take bytes from the socket (any split); ``b""`` or ``None`` means end of file."""
        if self._handshake in ("rejected", "failed"):
            return
        if not data:
            self._eof = True
        if self._handshake == "accepted":
            self._socket._feed(data)
            return
        if self._head_done:
            if not self._answer_seen:
                # events() has not read the answer yet: keep these behind what came with the head.
                if data:
                    self._rest += data
                return
            self._to_handshake(data)  # the rest of a rejection's body
            return
        # Still reading the answer's head: wsproto gets exactly the head, so that the
        # frames that may follow it stay with the frame reader.
        if data:
            self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > _MAX_HEAD:
                self._handshake = "failed"
                self._handshake_error = HandshakeFailed(message="the handshake answer is too long")
            return
        head, self._rest = bytes(self._head[: end + 4]), bytes(self._head[end + 4 :])
        self._head = bytearray()
        self._head_done = True
        self._to_handshake(head)

    def _to_handshake(self, data: bytes | bytearray | None) -> None:
        try:
            self._ws.receive_data(bytes(data) if data else None)
        except (WSRemoteProtocolError, ValueError) as exc:
            # ValueError: wsproto lets UnicodeDecodeError out of non-ASCII header values.
            self._handshake = "failed"
            self._handshake_error = HandshakeFailed(message=f"bad handshake response: {exc}")

    def events(self) -> Iterator[ClientConnectionEvent]:
        """Events from the data received so far, each applied to ``state`` as it is yielded."""
        if self._handshake_error is not None:
            error, self._handshake_error = self._handshake_error, None
            yield error
            return
        if self._handshake == "pending" or self._rejection is not None:
            yield from self._handshake_events()
            if self._handshake_error is not None:
                error, self._handshake_error = self._handshake_error, None
                yield error
                return
            if self._handshake == "pending" and self._eof and not self._head_done:
                self._handshake = "failed"
                yield HandshakeFailed(
                    message="the connection closed before the handshake completed"
                )
            if self._handshake != "accepted":
                return
        receive = self.session.receive_message
        for message in self._socket._messages():
            if type(message) is bytes or type(message) is str:
                self.last_message = message
                yield from receive(message)
            else:
                yield message  # type: ignore[misc]

    def _handshake_events(self) -> Iterator[ClientConnectionEvent]:
        try:
            for event in self._ws.events():
                if isinstance(event, AcceptConnection):
                    self._answer_seen = True
                    self._handshake = "accepted"
                    self.subprotocol = event.subprotocol
                    rest, self._rest = self._rest, b""
                    if rest:
                        self._socket._feed(rest)  # frames that came with the answer
                    if self._eof:
                        self._socket._feed(None)
                    yield Connected(
                        subprotocol=event.subprotocol, headers=_lower_headers(event.extra_headers)
                    )
                    return
                if isinstance(event, RejectConnection):
                    self._answer_seen = True
                    self._rejection = (event.status_code, _lower_headers(event.headers))
                    if not event.has_body:
                        yield self._rejected()
                        return
                    rest, self._rest = self._rest, b""
                    if rest:
                        self._to_handshake(rest)  # the start of the body came with the head
                    if self._eof:
                        self._to_handshake(None)
                elif isinstance(event, RejectData):
                    room = _MAX_REJECTION_BODY - len(self._body)
                    self._body += bytes(event.data[: max(room, 0)])
                    if event.body_finished:
                        yield self._rejected()
                        return
        except (WSRemoteProtocolError, ValueError) as exc:
            self._handshake = "failed"
            yield HandshakeFailed(message=f"bad handshake response: {exc}")

    def _rejected(self) -> Rejected:
        assert self._rejection is not None
        status, headers = self._rejection
        self._handshake = "rejected"
        self._rejection = None
        return Rejected(status_code=status, headers=headers, body=bytes(self._body))

    # -- sending ------------------------------------------------------------------------------

    def send(self, event: ev.ClientEvent, *, decoded: bool = False) -> bytes:
        """The bytes of one masked text frame carrying ``event`` (checked against the state).

        Raises ``LocalProtocolError`` if the connection is not open or the
        event contradicts the state. ``decoded``: see ``ClientSession.prepare``.
        """
        if not self.accepted or not self._socket.open:
            raise LocalProtocolError("the connection is not open", code="connection_not_open")
        session = self.session
        # ``send`` unless told otherwise: a session class may put its own rules there.
        payload = (
            ev.encode_event(session.prepare(event, decoded=True))
            if decoded
            else session.send(event)
        )
        return text_frame(payload, self._mask_keys())

    def ping(self, payload: bytes = b"") -> bytes:
        """A ping frame for keep-alive; the answer arrives as ``PongReceived``."""
        return self._socket.ping(payload) if self.accepted else b""

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        """The close frame that starts the close handshake (``b""`` if already closing)."""
        return self._socket.close(code, reason) if self.accepted else b""
