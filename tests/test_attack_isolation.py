"""Attacks on one connection's failure domain, over real loopback sockets.

Each test runs a real ``RealtimeServer`` and a healthy session beside the
attacker; the healthy session completes a text turn before, during and
after the attack. What each attack must get: an exception in a connection's
handler, decoder or backend is logged once with its traceback and closes that
connection alone with 1011; a client that stops reading (during an audio
answer, or while it sends pings) is closed by the write timeout without any
other task touching the closed socket; rtcore's own client, whose consumer
sits on one event for longer than the server's write timeout, ends with
``ConnectionClosedError`` and nothing worse.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
from attackkit import TEXT_ONLY, Loud, RawClient, healthy, running, url_of, wait_for
from wirekit import frame, parse_frames

from rtcore import events as ev
from rtcore.events import beta
from rtcore.server import ServerSession
from rtcore_sim import EchoBackend, ResponseRequest
from rtcore_trio import ConnectionClosedError, RealtimeServer, connect

AUDIO_ANSWER = {"type": "session.update", "session": {"turn_detection": None}}


def failure_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rtcore.serve" and "failed" in r.getMessage()]


# -- exceptions inside one connection ------------------------------------------------------------


@pytest.fixture
def booby_trapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the engine that one client can trigger: an event with id ``boom`` raises."""
    original = ServerSession.receive_event

    def receive_event(self: ServerSession, event: Any) -> Any:
        if getattr(event, "event_id", None) == "boom":
            raise RuntimeError("a bug reached by one client's input")
        return original(self, event)

    monkeypatch.setattr(ServerSession, "receive_event", receive_event)


@pytest.mark.usefixtures("booby_trapped")
async def test_an_exception_in_a_handler_closes_that_connection_alone_with_1011(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "rtcore.serve")
    async with running(RealtimeServer()) as server, healthy(server) as other:
        attacker = await RawClient.open(server.port)  # type: ignore[arg-type]
        await attacker.send_json({"type": "response.cancel", "event_id": "boom"})
        assert await attacker.close_code() == 1011
        await other.turn()
        assert server.failures == 1
        # The server still takes new sessions.
        async with healthy(server):
            pass
    [record] = failure_records(caplog)  # logged once ...
    assert record.exc_info is not None  # ... with its traceback
    assert "a bug reached by one client's input" in record.getMessage()


async def test_deep_nesting_never_reaches_another_session() -> None:
    # 2 KB nested a thousand levels deep in a field: an ordinary bad-event error,
    # the connection goes on, and no other session notices.
    nested = "[" * 1000 + "]" * 1000
    message = '{"type":"session.update","event_id":"deep","session":{"tools":' + nested + "}}"
    async with running(RealtimeServer()) as server, healthy(server) as other:
        attacker = await RawClient.open(server.port)  # type: ignore[arg-type]
        for _ in range(3):
            await attacker.send_json(message)
        await other.turn()
        await attacker.send(frame(0x8, (1000).to_bytes(2, "big"), mask=True))
        code = await attacker.close_code()
        errors = [e for e in attacker.events() if e["type"] == "error"]
        assert code == 1000, code
        assert [e["error"]["code"] for e in errors] == ["invalid_event"] * 3, errors
        await other.turn()
    assert server.failures == 0


async def test_a_ping_after_our_close_frame_is_not_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The server closes (here: the idle timeout); the client pings before it answers
    # the close frame, as a keep-alive does. The ping goes unanswered (a closing
    # endpoint sends nothing but its close), the handshake completes, nothing fails.
    caplog.set_level(logging.INFO, "rtcore.serve")
    server = RealtimeServer(idle_timeout=0.3)
    async with running(server):
        client = await RawClient.open(server.port)  # type: ignore[arg-type]
        assert await client.close_code() == 1001
        await client.send(frame(0x9, b"keep-alive", mask=True))
        await client.send(frame(0x8, (1000).to_bytes(2, "big"), mask=True))
        await client.read_all()
        await wait_for(lambda: server.connections == 0, what="the connection to end")
        assert [opcode for opcode, _, _ in parse_frames(bytes(client.received))] == [1, 8]
    assert server.failures == 0
    assert failure_records(caplog) == []


class FailsToStart:
    """A backend whose ``respond`` raises before it returns an iterator."""

    def respond(self, request: ResponseRequest) -> AsyncIterator[Any]:
        raise KeyError("no such model")


async def test_a_backend_that_cannot_start_fails_its_response_not_the_connection() -> None:
    async with running(RealtimeServer(FailsToStart())) as server:
        async with connect(url_of(server), dialect="beta", ping_interval=None) as rt:
            await rt.send(TEXT_ONLY)
            await rt.send(beta.ResponseCreate())
            async for event, _ in rt:
                if isinstance(event, beta.ResponseDone):
                    break
            assert event.response.status == "failed"
            assert event.response.status_details.error.code == "backend_error"
            await rt.send(beta.ResponseCreate())  # the session goes on
            async for event, _ in rt:
                if isinstance(event, beta.ResponseDone):
                    break
            assert event.response.status == "failed"
        assert server.failures == 0


class ListingFails:
    """The echo backend, except that listing an MCP server's tools raises."""

    def __init__(self) -> None:
        self.echo = EchoBackend()

    def respond(self, request: ResponseRequest) -> AsyncIterator[Any]:
        return self.echo.respond(request)

    def list_mcp_tools(self, tool: Any) -> Any:
        raise KeyError("the listing broke")


async def test_a_backend_whose_mcp_listing_raises_fails_the_listing_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "rtcore.serve")
    async with running(RealtimeServer(ListingFails())) as server, healthy(server) as other:
        ga = RawClient.request().replace(b"OpenAI-Beta: realtime=v1\r\n", b"")
        client = await RawClient.open(server.port, handshake=False)  # type: ignore[arg-type]
        await client.send(ga)
        mcp = {"type": "mcp", "server_label": "srv", "server_url": "https://example.com/mcp"}
        await client.send_json(
            {"type": "session.update", "session": {"type": "realtime", "tools": [mcp]}}
        )
        with trio.fail_after(10):
            while "mcp_list_tools.failed" not in [e["type"] for e in client.events()]:
                client.received += await client.stream.receive_some(65536)
                head, _, rest = bytes(client.received).partition(b"\r\n\r\n")
                if rest and head.startswith(b"HTTP/1.1 101"):
                    client.received = bytearray(rest)
        await other.turn()
        assert server.failures == 0
    [record] = [r for r in caplog.records if "listing MCP tools" in r.getMessage()]
    assert record.exc_info is not None and "the listing broke" in str(record.exc_info[1])


# -- peers that stop reading -------------------------------------------------------------------


async def start_audio_answer(attacker: RawClient) -> None:
    await attacker.send_json(AUDIO_ANSWER)
    await attacker.send_json({"type": "response.create"})


async def test_a_client_that_stops_reading_during_an_audio_answer_is_dropped_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "rtcore.serve")
    backend = Loud()
    server = RealtimeServer(backend, write_timeout=0.5)
    async with running(server), healthy(server) as other:
        attacker = await RawClient.open(server.port, receive_buffer=4096)  # type: ignore[arg-type]
        await start_audio_answer(attacker)
        # The attacker's writer is stuck; the healthy session is not.
        await trio.sleep(0.2)
        assert server.connections == 2
        await other.turn()
        await wait_for(lambda: server.connections == 1, what="the attacker being dropped")
        await other.turn()
        await attacker.read_all()  # the socket was closed (without a close frame: one may be cut)
        assert server.failures == 0
        assert backend.finished == 0
    assert any("did not read" in r.getMessage() for r in caplog.records)
    assert not failure_records(caplog)


async def test_a_client_that_pings_and_never_reads_the_pongs_is_dropped_alone() -> None:
    server = RealtimeServer(write_timeout=0.5)
    async with running(server), healthy(server) as other:
        attacker = await RawClient.open(server.port, receive_buffer=4096)  # type: ignore[arg-type]
        ping = frame(0x9, bytes(125), mask=True)

        async def flood() -> None:
            try:
                for _ in range(100_000):  # far more pongs than any socket buffer holds
                    await attacker.send(ping * 64)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # dropped

        async with trio.open_nursery() as nursery:
            nursery.start_soon(flood)
            await other.turn()
            await wait_for(lambda: server.connections == 1, what="the pinger being dropped")
            nursery.cancel_scope.cancel()
        await other.turn()
        assert server.failures == 0


async def test_rtcore_s_client_with_a_consumer_slower_than_the_write_timeout_just_ends() -> None:
    # The consumer sits on one event longer than the server waits for a write
    # (7 s against 5 s in the report; scaled down here). The server drops the
    # connection; the client's iteration then ends with ConnectionClosedError.
    server = RealtimeServer(Loud(), write_timeout=0.5)
    async with running(server), healthy(server) as other:
        with pytest.raises(ConnectionClosedError) as info:
            async with connect(
                url_of(server), dialect="beta", ping_interval=0.2, ping_timeout=0.1
            ) as rt:
                await rt.send(beta.SessionUpdate(session=beta.SessionConfig(turn_detection=None)))
                await rt.send(beta.ResponseCreate())
                seen = 0
                async for event, _ in rt:
                    seen += 1
                    if isinstance(event, beta.ResponseAudioDelta) and seen < 10:
                        await trio.sleep(1.5)  # the app is busy
                        await other.turn()
        assert info.value.code == 1006
        await wait_for(lambda: server.connections == 1, what="the slow client being dropped")
        await other.turn()
        assert server.failures == 0


async def test_the_healthy_session_keeps_pace_while_many_clients_stop_reading() -> None:
    server = RealtimeServer(Loud(chunks=100), write_timeout=1.0)
    async with running(server), healthy(server) as other:
        attackers = [
            await RawClient.open(server.port, receive_buffer=4096)  # type: ignore[arg-type]
            for _ in range(8)
        ]
        for attacker in attackers:
            await start_audio_answer(attacker)
        for _ in range(3):
            await other.turn()
        await wait_for(lambda: server.connections == 1, what="every attacker being dropped")
        await other.turn()
        assert server.failures == 0


async def test_rtcore_s_client_whose_server_stops_reading_ends_instead_of_hanging() -> None:
    # The server accepts, sends session.created, then never reads or writes again.
    from rtcore.wire import ServerConnection

    accepted = trio.Event()

    async def stuck_server(stream: trio.SocketStream) -> None:
        conn = ServerConnection()
        while conn.request is None:
            conn.receive_data(await stream.receive_some(65536))
            list(conn.events())
        await stream.send_all(conn.accept())
        accepted.set()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        [listener] = await nursery.start(
            functools.partial(trio.serve_tcp, stuck_server, 0, host="127.0.0.1")
        )
        port = listener.socket.getsockname()[1]
        with trio.fail_after(10):
            with pytest.raises(ConnectionClosedError) as info:
                async with connect(
                    f"ws://127.0.0.1:{port}/v1/realtime", write_timeout=0.5, close_timeout=0.5
                ) as rt:
                    await accepted.wait()
                    with pytest.raises(ConnectionClosedError):
                        for _ in range(1000):  # far more than the socket buffers hold
                            await rt.send(ev.InputAudioBufferAppend(audio=bytes(96_000)))
                    async for _ in rt:  # must end, not wait for the silent server forever
                        pass  # pragma: no cover
            assert "longer than 0.5" in str(info.value)
        nursery.cancel_scope.cancel()
