"""The trio client adapter over in-memory streams: handshake, events, timeouts, back-pressure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing
from builders import Server
from wirekit import URL, session_created

from rtcore import events as ev
from rtcore.events import beta
from rtcore.state.session import session_from_wire
from rtcore.wire import ClientConnection, ConnectionClosed, HandshakeRequest, ServerConnection
from rtcore_trio import ConnectionClosedError, HandshakeError, open_client

ServerScript = Callable[[trio.abc.Stream, ServerConnection], Awaitable[None]]


async def handshake(stream: trio.abc.Stream, server: ServerConnection, accept: bool = True) -> None:
    while server.request is None:
        server.receive_data(await stream.receive_some(65536))
        for event in server.events():
            assert isinstance(event, HandshakeRequest)
    await stream.send_all(server.accept() if accept else server.reject(401, b'{"error":"bad key"}'))


async def read_client(stream: trio.abc.Stream, server: ServerConnection) -> list[Any]:
    """Read until the client closes; reply to its close."""
    events: list[Any] = []
    while True:
        data = await stream.receive_some(65536)
        server.receive_data(data)
        for event in server.events():
            events.append(event)
        await stream.send_all(server.data_to_send())
        if server.closed or not data:
            return events


def streams() -> tuple[trio.abc.Stream, trio.abc.Stream]:
    return trio.testing.memory_stream_pair()


def client_conn() -> ClientConnection:
    return ClientConnection(URL, dialect="beta", api_key="sk-test")


async def test_events_arrive_with_their_snapshots_and_iteration_ends_on_a_normal_close() -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()
    received: list[Any] = []

    async def serve() -> None:
        await handshake(server_stream, server)
        srv = Server()
        for event in [session_created(), srv.user_text("u", "hello", None)]:
            await server_stream.send_all(server.send(event))
        received.extend(await read_client(server_stream, server))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        async with open_client(client_stream, client_conn()) as rt:
            event, snapshot = await rt.receive()
            assert isinstance(event, beta.SessionCreated) and snapshot.session == session_from_wire(
                event.session
            )
            event, snapshot = await rt.receive()
            assert isinstance(event, beta.ConversationItemCreated)
            assert [i.id for i in snapshot.items] == ["u"] and rt.state is snapshot
            await rt.send(beta.ResponseCreate(event_id="r1"))
    assert received[0] == beta.ResponseCreate(event_id="r1")
    assert isinstance(received[-1], ConnectionClosed) and received[-1].code == 1000


async def test_iteration_ends_cleanly_when_the_server_closes() -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()

    async def serve() -> None:
        await handshake(server_stream, server)
        await server_stream.send_all(server.send(session_created()) + server.close(1000, "done"))
        await read_client(server_stream, server)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        async with open_client(client_stream, client_conn()) as rt:
            seen = [type(event).__name__ async for event, _ in rt]
            assert seen == ["SessionCreated"]
            assert rt.closed == ConnectionClosed(code=1000, reason="done", initiator="peer")
            with pytest.raises(ConnectionClosedError):
                await rt.send(beta.ResponseCreate())


async def test_iteration_raises_when_the_connection_breaks() -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()

    async def serve() -> None:
        await handshake(server_stream, server)
        await server_stream.send_all(server.send(session_created()))
        await server_stream.aclose()  # no close frame

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        async with open_client(client_stream, client_conn()) as rt:
            with pytest.raises(ConnectionClosedError) as info:
                async for _ in rt:
                    pass
            assert info.value.code == 1006


async def test_a_rejected_handshake_raises_with_status_and_body() -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handshake, server_stream, server, False)
        with pytest.raises(HandshakeError) as info:
            async with open_client(client_stream, client_conn()):
                pass  # pragma: no cover
    assert info.value.status_code == 401 and info.value.body == b'{"error":"bad key"}'
    assert "HTTP 401" in str(info.value)


async def test_the_handshake_times_out(autojump_clock: trio.testing.MockClock) -> None:
    client_stream, _server_stream = streams()
    start = trio.current_time()
    with pytest.raises(HandshakeError) as info:
        async with open_client(client_stream, client_conn(), connect_timeout=3):
            pass  # pragma: no cover
    assert "within 3" in str(info.value)
    assert trio.current_time() - start == pytest.approx(3)


async def test_closing_waits_for_the_server_at_most_close_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()

    async def serve_and_ignore_close() -> None:
        await handshake(server_stream, server)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_and_ignore_close)
        start = 0.0
        async with open_client(client_stream, client_conn(), close_timeout=2) as rt:
            start = trio.current_time()
        assert trio.current_time() - start == pytest.approx(2)
        assert rt.closed is None
        nursery.cancel_scope.cancel()


async def test_a_slow_consumer_pushes_back_on_the_socket_and_is_not_taken_for_a_dead_server(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()
    srv = Server()
    items = [srv.user_text(f"i{n}", "x", ev.UNSET) for n in range(50)]

    async def serve() -> None:
        await handshake(server_stream, server)
        for event in items:
            await server_stream.send_all(server.send(event))
        await answer_pings(server_stream, server, [])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        async with open_client(
            client_stream, client_conn(), queue_size=2, ping_interval=5, ping_timeout=2
        ) as rt:
            # The app takes nothing for a minute. The reader stopped after filling
            # the queue: one event waits to be handed over, two are queued; the
            # rest, and the pongs of the keep-alive pings, stay in the socket.
            await trio.sleep(60)
            assert rt.state.events_applied <= 4
            for _ in range(50):
                await rt.receive()
            assert rt.state.events_applied == 50
            assert await rt.ping() >= 0
        assert rt.closed is not None and rt.closed.clean


async def test_a_cancelled_send_never_writes_half_a_frame(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    server = ServerConnection()
    events: list[Any] = []

    async def read_later() -> None:
        await trio.sleep(1)  # the peer is slow to read
        while not events:
            server.receive_data(await server_stream.receive_some(1 << 20))
            events.extend(server.events())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(handshake, server_stream, server)
        async with open_client(client_stream, client_conn(), close_timeout=0.5) as rt:
            nursery.start_soon(read_later)
            start = trio.current_time()
            with trio.move_on_after(0.05) as scope:
                await rt.send(ev.InputAudioBufferAppend(audio=bytes(96000)))
            # The cancel arrived while the frame was being written; the frame was
            # finished first (once the peer read) instead of being cut.
            assert scope.cancel_called
            assert trio.current_time() - start >= 1
            assert isinstance(events[0], ev.InputAudioBufferAppend)
            assert events[0].audio == bytes(96000)
            nursery.cancel_scope.cancel()


async def test_a_write_that_never_finishes_breaks_the_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    server = ServerConnection()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handshake, server_stream, server)
        async with open_client(
            client_stream, client_conn(), write_timeout=3, close_timeout=0.5
        ) as rt:
            with pytest.raises(ConnectionClosedError) as info:
                await rt.send(ev.InputAudioBufferAppend(audio=bytes(96000)))
            assert "longer than 3" in str(info.value)
        nursery.cancel_scope.cancel()


async def test_the_body_s_own_exception_comes_out_unwrapped() -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handshake, server_stream, server)
        with pytest.raises(KeyError):
            async with open_client(client_stream, client_conn(), close_timeout=0.1):
                raise KeyError("mine")
        nursery.cancel_scope.cancel()


async def test_local_protocol_errors_are_raised_by_send_and_change_nothing() -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handshake, server_stream, server)
        async with open_client(client_stream, client_conn(), close_timeout=0.1) as rt:
            from rtcore import LocalProtocolError

            with pytest.raises(LocalProtocolError):
                await rt.send(ev.ConversationItemDelete(item_id="nope"))
        nursery.cancel_scope.cancel()


# -- keep-alive -------------------------------------------------------------------------------


async def answer_pings(stream: trio.abc.Stream, server: ServerConnection, seen: list[Any]) -> None:
    """A live server: the core answers each ping with a pong."""
    while True:
        data = await stream.receive_some(65536)
        server.receive_data(data)
        seen.extend(server.events())
        await stream.send_all(server.data_to_send())
        if server.closed or not data:
            return


async def test_ping_measures_the_round_trip(autojump_clock: trio.testing.MockClock) -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()
    seen: list[Any] = []

    async def serve() -> None:
        await handshake(server_stream, server)
        await answer_pings(server_stream, server, seen)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        async with open_client(client_stream, client_conn(), ping_interval=None) as rt:
            assert await rt.ping() >= 0
            assert await rt.ping() >= 0
    assert server.closed


async def test_keepalive_pings_a_live_server_and_the_connection_stays_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()
    seen: list[Any] = []

    async def serve() -> None:
        await handshake(server_stream, server)
        await server_stream.send_all(server.send(session_created()))
        await answer_pings(server_stream, server, seen)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        async with open_client(client_stream, client_conn(), ping_interval=5, ping_timeout=2) as rt:
            event, _ = await rt.receive()
            assert isinstance(event, beta.SessionCreated)
            await trio.sleep(60)  # twelve pings, each answered
            await rt.send(beta.ResponseCreate(event_id="r1"))
    assert rt.closed is not None and rt.closed.clean
    assert beta.ResponseCreate(event_id="r1") in seen


async def test_keepalive_declares_a_silent_server_dead(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()

    async def serve() -> None:
        await handshake(server_stream, server)
        await server_stream.send_all(server.send(session_created()))
        while await server_stream.receive_some(65536):
            pass  # reads everything, answers nothing: a hung peer

    with trio.fail_after(100):  # a failure must not hang the test
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            with pytest.raises(ConnectionClosedError) as info:
                async with open_client(
                    client_stream, client_conn(), ping_interval=5, ping_timeout=2
                ) as rt:
                    event, _ = await rt.receive()
                    assert isinstance(event, beta.SessionCreated)
                    start = trio.current_time()
                    await rt.receive()
            assert trio.current_time() - start == pytest.approx(7)
            assert (info.value.code, info.value.reason) == (1006, "no pong within 2 s")
            with pytest.raises(ConnectionClosedError):
                await rt.send(beta.ResponseCreate())


async def test_a_pong_answers_every_earlier_ping(autojump_clock: trio.testing.MockClock) -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()

    async def serve() -> None:
        await handshake(server_stream, server)
        # Hold the pongs back until both pings are in, then send only the last one,
        # as RFC 6455 allows.
        pongs = b""
        while len(pongs) < 20:
            server.receive_data(await server_stream.receive_some(65536))
            assert list(server.events()) == []
            pongs += server.data_to_send()  # a pong frame is 10 bytes: 0x8a, 8, payload
        assert pongs[:2] == pongs[10:12] == b"\x8a\x08"
        await server_stream.send_all(pongs[10:])
        await answer_pings(server_stream, server, [])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        async with open_client(client_stream, client_conn(), ping_interval=None) as rt:
            async with trio.open_nursery() as pingers:
                pingers.start_soon(rt.ping, 5)
                await trio.sleep(1)
                pingers.start_soon(rt.ping, 5)
            assert trio.current_time() < 5  # neither ping timed out


async def test_ping_raises_when_the_connection_ends_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = streams()
    server = ServerConnection()

    async def serve() -> None:
        await handshake(server_stream, server)
        await server_stream.receive_some(65536)  # the ping
        await server_stream.aclose()  # gone without a word

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        with pytest.raises(ConnectionClosedError):
            async with open_client(client_stream, client_conn(), ping_interval=None) as rt:
                with pytest.raises(ConnectionClosedError):
                    await rt.ping(30)
                assert trio.current_time() < 30
                raise ConnectionClosedError(0, "done")
