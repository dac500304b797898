"""Every refusal after the upgrade reaches the client whole (docs/protocol/connection.md#refusal-delivery).

The error event, then the close frame, then a close handshake in which the
server reads what the client had already sent, so that the socket is never
closed with the client's bytes unread (the kernel would answer those with a
reset, which can destroy the error and the close frame before the client
reads them). Each client here writes its handshake and its first events in
one write - more than the server reads at once - and must see the error and
the close code every time, then a clean end of file.
"""

from __future__ import annotations

import json
import struct
from contextlib import AbstractAsyncContextManager
from typing import Any

import trio
from serverkit import running
from wirekit import frame, parse_frames

from rtcore.wire import ClientConnection
from rtcore_trio import RealtimeServer

ROUNDS = 200
PIPELINED = 100_000
"""Bytes of events behind the handshake: more than the server's 64 KiB read."""


def serving(**options: Any) -> AbstractAsyncContextManager[RealtimeServer]:
    return running(**options)


def handshake(dialect: str) -> bytes:
    return ClientConnection(
        "ws://127.0.0.1:1/v1/realtime?model=gpt-realtime", dialect=dialect, api_key="k"
    ).data_to_send()


def events(total: int, message: dict[str, Any]) -> bytes:
    one = frame(1, json.dumps(message).encode(), mask=True)
    return one * (total // len(one) + 1)


class Outcome:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.close: tuple[int, str] | None = None
        self.end = "open"


async def exchange(port: int, opening: bytes, then: bytes = b"") -> Outcome:
    """Write ``opening`` at once (and ``then`` behind it), read until the server's close frame,
    answer it as a client does, and read until the server's end of file."""
    outcome = Outcome()
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    received = bytearray()
    try:
        try:
            await stream.send_all(opening)
            if then:
                await stream.send_all(then)
        except trio.BrokenResourceError:
            pass  # the server is gone: what it sent may still be readable
        with trio.fail_after(10):
            while outcome.close is None:
                data = await stream.receive_some(65536)
                if not data:
                    outcome.end = "eof before the close frame"
                    return outcome
                received += data
                _, _, body = bytes(received).partition(b"\r\n\r\n")
                for opcode, _fin, payload in parse_frames(body):
                    if opcode == 1:
                        outcome.messages.append(json.loads(payload))
                    elif opcode == 8:
                        code = struct.unpack("!H", payload[:2])[0]
                        outcome.close = (code, payload[2:].decode())
                if outcome.close is None:
                    outcome.messages.clear()  # parsed again with the rest next time
            await stream.send_all(frame(8, struct.pack("!H", outcome.close[0]), mask=True))
            while await stream.receive_some(65536):
                pass
        outcome.end = "eof"
    except trio.BrokenResourceError as reset:
        outcome.end = f"reset: {reset.__cause__ or reset}"
    finally:
        await stream.aclose()
    return outcome


async def test_a_refused_dialect_reaches_the_client_200_times_in_a_row() -> None:
    opening = handshake("beta") + events(
        PIPELINED, {"type": "session.update", "session": {"modalities": ["text"]}}
    )
    async with serving(dialects=("ga",)) as server:
        assert server.port is not None
        for n in range(ROUNDS):
            outcome = await exchange(server.port, opening)
            assert outcome.close is not None, (n, outcome.end)
            assert [m["error"]["code"] for m in outcome.messages] == ["beta_api_shape_disabled"]
            assert outcome.close == (4000, "invalid_request_error.beta_api_shape_disabled")
            assert outcome.end == "eof", (n, outcome.end)


async def test_a_message_over_the_limit_gets_its_close_code_while_the_client_still_sends() -> None:
    # The header announces 1 MiB over a 64 KiB limit: 1009 at once, and the
    # payload keeps coming; the server reads (and drops) it until the client ends.
    big = frame(1, b'"' + b"x" * (1 << 20) + b'"', mask=True)
    async with serving(max_message_size=65536) as server:
        assert server.port is not None
        for n in range(50):
            outcome = await exchange(server.port, handshake("ga") + big)
            assert outcome.close is not None, (n, outcome.end)
            assert outcome.close[0] == 1009
            assert outcome.end == "eof", (n, outcome.end)


async def test_session_expiry_reaches_a_client_that_keeps_sending() -> None:
    # A client that pipelined a stream of events when its session expired.
    append = {"type": "input_audio_buffer.append", "audio": "AAAA" * 2000}
    opening = handshake("ga") + events(PIPELINED, append)
    async with serving(max_session_seconds=0.01) as server:
        assert server.port is not None
        for n in range(20):
            outcome = await exchange(server.port, opening)
            assert outcome.close is not None, (n, outcome.end)
            codes = [m["error"]["code"] for m in outcome.messages if m["type"] == "error"]
            assert codes[-1:] == ["session_expired"], (n, codes)
            assert outcome.close[0] == 1001
            assert outcome.end == "eof", (n, outcome.end)
