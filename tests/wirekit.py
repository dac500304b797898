"""Helpers for wire tests: a connected client/server pair of sans-IO connections, and raw frames."""

from __future__ import annotations

import os
import struct
from typing import Any

from wsproto.connection import Connection, ConnectionType

from rtcore.events import beta
from rtcore.wire import ClientConnection, Connected, HandshakeRequest, ServerConnection
from rtcore.wire.framing import MessageSocket

URL = "ws://127.0.0.1:8765/v1/realtime?model=gpt-4o-realtime-preview-2024-12-17"


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, mask: bool = False, rsv: int = 0
) -> bytes:
    """A raw WebSocket frame (masked as a client must, or unmasked as a server does)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mask_bit = 0x80 if mask else 0
    if n < 126:
        header = bytes((first, mask_bit | n))
    elif n < 65536:
        header = bytes((first, mask_bit | 126)) + struct.pack("!H", n)
    else:
        header = bytes((first, mask_bit | 127)) + struct.pack("!Q", n)
    if not mask:
        return header + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + key + masked


def pair(**client_options: Any) -> tuple[ClientConnection, ServerConnection, HandshakeRequest]:
    """A client and a server connection with the handshake done."""
    client = ClientConnection(URL, dialect="beta", api_key="sk-test", **client_options)
    server = ServerConnection()
    server.receive_data(client.data_to_send())
    [request] = list(server.events())
    assert isinstance(request, HandshakeRequest)
    client.receive_data(server.accept())
    [connected] = list(client.events())
    assert isinstance(connected, Connected)
    return client, server, request


def session_created(n: int = 1) -> beta.SessionCreated:
    return beta.SessionCreated(
        event_id=f"event_{n}",
        session=beta.Session(
            id="sess_1", voice="alloy", input_audio_format="pcm16", output_audio_format="pcm16"
        ),
    )


def parse_frames(data: bytes) -> list[tuple[int, bool, bytes]]:
    """(opcode, fin, unmasked payload) of every complete frame in ``data``."""
    out = []
    i = 0
    while i + 2 <= len(data):
        first, second = data[i], data[i + 1]
        n = second & 0x7F
        i += 2
        if n == 126:
            (n,) = struct.unpack("!H", data[i : i + 2])
            i += 2
        elif n == 127:
            (n,) = struct.unpack("!Q", data[i : i + 8])
            i += 8
        key = b""
        if second & 0x80:
            key, i = data[i : i + 4], i + 4
        payload = data[i : i + n]
        if key:
            payload = bytes(b ^ key[j % 4] for j, b in enumerate(payload))
        out.append((first & 0x0F, bool(first & 0x80), payload))
        i += n
    return out


class OpenFrames:
    """A WSConnection stand-in: the frame layer of an open connection, no handshake."""

    def __init__(self, server: bool) -> None:
        self.connection = Connection(ConnectionType.SERVER if server else ConnectionType.CLIENT)

    @property
    def state(self) -> Any:
        return self.connection.state

    def receive_data(self, data: bytes | None) -> None:
        self.connection.receive_data(data)

    def events(self) -> Any:
        return self.connection.events()

    def send(self, event: Any) -> bytes:
        return self.connection.send(event)


def raw_socket(*, fast: bool, masked: bool = True, **options: Any) -> MessageSocket:
    """A bare message socket of one role (a server reads masked frames), with (``fast``) or
    without its own frame parser; ``size`` is its message size limit."""
    ws: Any = OpenFrames(masked)
    return MessageSocket(ws, options.pop("size", 1 << 20), masked=masked, fast=fast, **options)
