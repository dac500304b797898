"""At the connection limit: answered and released (issue 22, item 5), over real sockets.

Every client over ``max_connections`` (or over ``max_connections_per_client`` from one
address) that sends its request gets HTTP 503 with ``Retry-After``, over TLS too; a TLS
client that never finishes its TLS handshake is closed at once when its time is up, without
a TLS close that would first wait for the handshake; running out of descriptors (``EMFILE``)
pauses accepting with one throttled log line, never a traceback per attempt.
"""

from __future__ import annotations

import errno
import logging
import ssl
import time
from typing import Any

import pytest
import trio
import trustme
from attackkit import RawClient, healthy, running, wait_for

from rtcore_trio import RealtimeServer
from rtcore_trio.server import TURN_AWAY_TIMEOUT


async def test_every_refused_client_that_asks_gets_503_with_retry_after() -> None:
    server = RealtimeServer(max_connections=2)
    async with running(server), healthy(server) as other:
        holder = await RawClient.open(server.port)  # type: ignore[arg-type]
        assert holder.status == 101
        answers: list[bytes] = []

        async def knock() -> None:
            client = await RawClient.open(server.port)  # type: ignore[arg-type]
            answers.append(client.head)
            await client.aclose()

        async with trio.open_nursery() as nursery:
            for _ in range(56):
                nursery.start_soon(knock)
        assert len(answers) == 56
        assert all(a.startswith(b"HTTP/1.1 503 ") for a in answers), answers[:3]
        assert all(b"\r\nretry-after: 1" in a.lower() for a in answers)
        await other.turn()
        await holder.aclose()


async def test_a_per_client_limit_turns_away_the_third_connection_from_one_address() -> None:
    server = RealtimeServer(max_connections_per_client=2)
    async with running(server):
        first = await RawClient.open(server.port)  # type: ignore[arg-type]
        second = await RawClient.open(server.port)  # type: ignore[arg-type]
        third = await RawClient.open(server.port)  # type: ignore[arg-type]
        assert (first.status, second.status, third.status) == (101, 101, 503)
        assert b"connections open" in (await third.read_all() and bytes(third.received))
        await first.aclose()
        await wait_for(lambda: server.connections == 1, what="the slot to free up")
        again = await RawClient.open(server.port)  # type: ignore[arg-type]
        assert again.status == 101
        for client in (second, third, again):
            await client.aclose()


def _tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    return context, trusting


async def test_silent_tls_clients_over_the_limit_are_released_without_a_tls_close() -> None:
    context, _ = _tls()
    # A long close timeout: were a silent client's TLS close attempted, it would hold it.
    server = RealtimeServer(ssl_context=context, max_connections=1, close_timeout=30)
    async with running(server):
        holder = await trio.open_tcp_stream("127.0.0.1", server.port)  # type: ignore[arg-type]
        await wait_for(lambda: server.connections == 1, what="the holder's admission")
        silent = [
            await trio.open_tcp_stream("127.0.0.1", server.port)  # type: ignore[arg-type]
            for _ in range(100)
        ]
        began = time.monotonic()

        async def closed(stream: trio.SocketStream) -> None:
            while await stream.receive_some(4096):
                pass

        with trio.fail_after(TURN_AWAY_TIMEOUT + 5):
            async with trio.open_nursery() as nursery:
                for stream in silent:
                    nursery.start_soon(closed, stream)
        assert time.monotonic() - began < TURN_AWAY_TIMEOUT + 3
        for stream in [holder, *silent]:
            await stream.aclose()


async def test_a_tls_client_over_the_limit_gets_503_over_tls_with_retry_after() -> None:
    context, trusting = _tls()
    server = RealtimeServer(ssl_context=context, max_connections=1)
    async with running(server):
        holder = await trio.open_tcp_stream("127.0.0.1", server.port)  # type: ignore[arg-type]
        await wait_for(lambda: server.connections == 1, what="the holder's admission")
        tcp = await trio.open_tcp_stream("127.0.0.1", server.port)  # type: ignore[arg-type]
        stream = trio.SSLStream(tcp, trusting, server_hostname="127.0.0.1")
        await stream.send_all(RawClient.request())
        answer = b""
        with trio.fail_after(10):
            while b"\r\n\r\n" not in answer:
                data = await stream.receive_some(65536)
                if not data:
                    break
                answer += data
        assert answer.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in answer.lower()
        await trio.aclose_forcefully(stream)
        await holder.aclose()


class _Exhausted:
    """A listener out of descriptors ``failures`` times, then accepting ``stream``."""

    def __init__(self, failures: int, stream: Any) -> None:
        self.failures = failures
        self.stream = stream

    async def accept(self) -> Any:
        await trio.lowlevel.checkpoint()
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        stream, self.stream = self.stream, None
        if stream is None:
            await trio.sleep_forever()
        return stream


async def test_out_of_descriptors_accepting_backs_off_and_logs_once_without_a_traceback(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    caplog.set_level(logging.INFO)
    server = RealtimeServer(log_lines=3, log_interval=60.0)
    accepted: list[Any] = []

    async def connection(stream: Any) -> None:
        accepted.append(stream)

    server._connection = connection  # type: ignore[method-assign]
    listener = _Exhausted(200, "the stream")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server._accept, listener, nursery)  # type: ignore[arg-type]
        await wait_for(lambda: accepted, timeout=60, what="the accept once descriptors are back")
        nursery.cancel_scope.cancel()
    assert accepted == ["the stream"]
    records = [r for r in caplog.records if "cannot accept" in r.getMessage()]
    assert 1 <= len(records) <= 3
    assert all(r.exc_info is None for r in caplog.records)
    assert "Too many open files" in records[0].getMessage()


def test_the_serve_flag_sets_the_per_client_limit() -> None:
    import argparse

    from rtcore_trio.serve_options import add_serve_limits, server_options

    parser = argparse.ArgumentParser()
    add_serve_limits(parser)
    options = server_options(parser.parse_args(["--max-connections-per-client", "4"]))
    assert options["max_connections_per_client"] == 4
    assert server_options(parser.parse_args([]))["max_connections_per_client"] is None


async def test_clients_that_ask_beyond_64_silent_ones_still_get_503() -> None:
    server = RealtimeServer(max_connections=1)
    async with running(server):
        holder = await RawClient.open(server.port)  # type: ignore[arg-type]
        # 80 silent clients hold every turn-away slot (for up to 2 s each) ...
        silent = [
            await trio.open_tcp_stream("127.0.0.1", server.port)  # type: ignore[arg-type]
            for _ in range(80)
        ]
        await trio.sleep(0.2)
        # ... and clients that do send their request are answered all the same.
        answers = []
        for _ in range(10):
            client = await RawClient.open(server.port)  # type: ignore[arg-type]
            answers.append(client.status)
            await client.aclose()
        assert answers == [503] * 10
        for stream in silent:
            await stream.aclose()
        await holder.aclose()
