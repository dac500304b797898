"""Helpers for attack tests against a real ``RealtimeServer`` on loopback.

``running`` starts a server in-process on port 0. ``RawClient`` is a WebSocket
client at the byte level that misbehaves on purpose (never reads, trickles
bytes, sends crafted frames). ``Healthy`` is a well-behaved client, made with
``rtcore_trio.connect``, whose text turns must keep completing while another
connection attacks the server.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
from wirekit import frame, parse_frames

from rtcore import events as ev
from rtcore.events import beta
from rtcore.server import AudioChunk, Finish
from rtcore.wire import ClientConnection
from rtcore_sim import EchoBackend, ResponseRequest
from rtcore_trio import RealtimeServer, connect
from rtcore_trio.client import RealtimeClient

TEXT_ONLY = beta.SessionUpdate(
    session=beta.SessionConfig(modalities=("text",), turn_detection=None)
)
TURN_SECONDS = 10.0
"""The most a healthy text turn may take, even on a loaded CI machine."""


@asynccontextmanager
async def running(server: RealtimeServer) -> AsyncIterator[RealtimeServer]:
    """The server, listening on a free loopback port, until the block ends."""
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        try:
            yield server
        finally:
            # Raw clients never answer a close frame: do not wait long for them.
            server.close_timeout = min(server.close_timeout, 0.5)
            server.shutdown()


def url_of(server: RealtimeServer, path: str = "/v1/realtime") -> str:
    return f"ws://127.0.0.1:{server.port}{path}?model=gpt-4o-realtime-preview"


async def wait_for(condition: Any, timeout: float = 10.0, what: str = "the condition") -> None:
    """Poll ``condition()`` until it holds (bounded)."""
    with trio.move_on_after(timeout):
        while not condition():
            await trio.sleep(0.02)
        return
    raise AssertionError(f"{what} did not happen within {timeout} s")


class Loud:
    """A backend that answers audio responses with a lot of audio, as fast as it can.

    Text-only responses get the echo backend's answer (the healthy session's turns).
    """

    def __init__(self, chunks: int = 400, chunk_bytes: int = 48_000) -> None:
        self.chunks = chunks
        self.audio = bytes(chunk_bytes)
        self.finished = 0

    async def respond(self, request: ResponseRequest) -> AsyncIterator[Any]:
        if "audio" not in request.settings.modalities:
            async for chunk in EchoBackend().respond(request):
                yield chunk
            return
        for _ in range(self.chunks):
            yield AudioChunk(self.audio)
            await trio.sleep(0)
        self.finished += 1
        yield Finish()


class Healthy:
    """A well-behaved session that holds text turns; it must never notice an attack."""

    def __init__(self, rt: RealtimeClient) -> None:
        self.rt = rt
        self.turns = 0

    async def turn(self) -> None:
        rt = self.rt
        text = f"turn {self.turns}"
        with trio.fail_after(TURN_SECONDS):
            await rt.send(
                beta.ConversationItemCreate(
                    item=beta.MessageItem(role="user", content=(ev.InputTextContent(text=text),))
                )
            )
            await rt.send(beta.ResponseCreate())
            async for event, _ in rt:
                if isinstance(event, beta.ResponseDone):
                    break
                assert not isinstance(event, ev.ErrorEvent), event
            else:
                raise AssertionError("the healthy session ended")
        assert event.response.status == "completed", event.response
        [answer] = rt.state.response_items(event.response.id)
        assert answer.content[0].text.value == text
        assert rt.closed is None
        self.turns += 1


@asynccontextmanager
async def healthy(server: RealtimeServer) -> AsyncIterator[Healthy]:
    """A healthy session on ``server`` that has completed one turn; it completes one more at the end."""
    async with connect(url_of(server), dialect="beta", ping_interval=None) as rt:
        await rt.send(TEXT_ONLY)
        client = Healthy(rt)
        await client.turn()
        yield client
        await client.turn()


class RawClient:
    """One TCP connection that speaks WebSocket by hand, to misbehave precisely."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.received = bytearray()
        self.status: int | None = None
        self.eof = False

    @classmethod
    async def open(
        cls,
        port: int,
        *,
        path: str = "/v1/realtime",
        handshake: bool = True,
        receive_buffer: int | None = None,
        api_key: str | None = None,
    ) -> RawClient:
        """Connect (with a small receive buffer if asked, so the peer's writes fill it fast)."""
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        await sock.connect(("127.0.0.1", port))
        client = cls(trio.SocketStream(sock))
        if handshake:
            await client.handshake(path, api_key=api_key)
        return client

    @staticmethod
    def request(path: str = "/v1/realtime", api_key: str | None = None) -> bytes:
        return ClientConnection(
            f"ws://127.0.0.1:1{path}", dialect="beta", api_key=api_key
        ).data_to_send()

    async def handshake(self, path: str = "/v1/realtime", api_key: str | None = None) -> int:
        """Send the opening handshake and read the HTTP answer's status line."""
        await self.stream.send_all(self.request(path, api_key))
        with trio.fail_after(10):
            while b"\r\n\r\n" not in self.received:
                data = await self.stream.receive_some(65536)
                if not data:
                    break
                self.received += data
        head, _, rest = bytes(self.received).partition(b"\r\n\r\n")
        self.received = bytearray(rest)
        self.status = int(head.split(b" ", 2)[1]) if head else None
        self.head = head
        return self.status or 0

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def send_json(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        await self.send(frame(0x1, text.encode(), mask=True))

    async def read_all(self, timeout: float = 10.0) -> list[tuple[int, bool, bytes]]:
        """Read until the server closes the TCP connection; the frames received."""
        with trio.fail_after(timeout):
            while True:
                try:
                    data = await self.stream.receive_some(65536)
                except trio.BrokenResourceError:
                    data = b""  # reset: the server dropped us
                if not data:
                    break
                self.received += data
        self.eof = True
        return parse_frames(bytes(self.received))

    async def close_code(self, timeout: float = 10.0) -> int | None:
        """The code of the server's close frame, read as soon as it comes.

        ``None``: the connection was dropped without one.
        """
        with trio.fail_after(timeout):
            while True:
                for opcode, _, payload in parse_frames(bytes(self.received)):
                    if opcode == 0x8:
                        return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                if self.eof:
                    return None
                try:
                    data = await self.stream.receive_some(65536)
                except trio.BrokenResourceError:
                    data = b""
                self.received += data
                self.eof = not data

    def events(self) -> list[dict[str, Any]]:
        """The server events received so far (complete text frames)."""
        return [
            json.loads(payload)
            for opcode, _, payload in parse_frames(bytes(self.received))
            if opcode == 0x1
        ]

    async def aclose(self) -> None:
        await self.stream.aclose()
