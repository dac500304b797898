"""The relay's fast path on loopback: events relayed as they are read, as they came, by one id.

``RelayUpstream`` hands each upstream event to its session from the reader
(no channel, no second task), and a session whose client speaks the
upstream's dialect and has no server hook forwards the upstream's bytes once
both machines have taken the event. Client events go upstream as the mirror
checked them. These tests pin what that must keep: both snapshots, the hook's
view right after its event, failures that end one session only, and the
bytes and ids each side sees.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
from test_relay import RELAY_KEY, ending, relay_to, text_turn, until, upstream_server, url
from wirekit import frame

from rtcore import events as ev
from rtcore.events import ga
from rtcore.wire import ClientConnection, Connected, HandshakeRequest, ServerConnection
from rtcore_trio import RelayContext, connect

# Upstream messages written by hand, their members in an order and spacing of their own: what
# the relay forwards untouched must arrive byte for byte, what it encodes again would not.
RATE_LIMITS = (
    b'{"rate_limits":[{"name":"requests","limit":10,"remaining":9,"reset_seconds":1.5}],'
    b' "type":"rate_limits.updated", "event_id":"event_7"}'
)
ERROR = (
    '{"type":"error","event_id":"event_8","error":{"message":"d\u00e9j\u00e0 vu",'
    '"type":"invalid_request_error","code":"x_y"}}'
).encode()

Upstream = Callable[[trio.SocketStream, ServerConnection, list[bytes]], Awaitable[None]]


@asynccontextmanager
async def scripted_upstream(behaviour: Upstream) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A GA upstream that accepts, announces a session, then runs ``behaviour``; the messages it
    received are collected in the list it yields."""
    received: list[bytes] = []

    async def handler(stream: trio.SocketStream) -> None:
        conn = ServerConnection(dialects=("ga",))
        while not conn.accepted:
            conn.receive_data(await stream.receive_some(65536))
            if any(isinstance(e, HandshakeRequest) for e in conn.events()):
                created = ga.SessionCreated(
                    event_id="event_1", session=ga.RealtimeSession(id="sess_1", model="m")
                )
                await stream.send_all(conn.accept() + conn.send(created))
        await behaviour(stream, conn, received)

    async with trio.open_nursery() as nursery:
        [listener] = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        yield f"ws://127.0.0.1:{listener.socket.getsockname()[1]}/v1/realtime", received
        nursery.cancel_scope.cancel()


async def collect(stream: trio.SocketStream, conn: ServerConnection, received: list[bytes]) -> None:
    """Keep every client event's JSON; on ``input_audio_buffer.clear`` send the two messages."""
    while data := await stream.receive_some(65536):
        conn.receive_data(data)
        for event in conn.events():
            if isinstance(event, ev.EventBase):
                received.append(ev.encode_event(event))
                if event.type == "input_audio_buffer.clear":
                    await stream.send_all(conn.send_message(RATE_LIMITS) + conn.send_message(ERROR))
        await stream.send_all(conn.data_to_send())


@asynccontextmanager
async def raw_client(port: int, dialect: ev.Dialect) -> AsyncIterator[tuple[Any, Any]]:
    """A client at byte level: its ``ClientConnection`` and a function reading the next event
    with the message it came in."""
    conn = ClientConnection(
        f"ws://127.0.0.1:{port}/v1/realtime", api_key=RELAY_KEY, dialect=dialect
    )
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(conn.data_to_send())
    queue: list[tuple[Any, bytes | str]] = []
    connected = False
    while not connected:
        conn.receive_data(await stream.receive_some(65536))
        for event in conn.events():
            connected = connected or isinstance(event, Connected)
            if not isinstance(event, Connected):
                queue.append((event, conn.last_message))

    async def next_event() -> tuple[Any, bytes]:
        with trio.fail_after(5):
            while not queue:
                conn.receive_data(await stream.receive_some(65536))
                queue.extend((event, conn.last_message) for event in conn.events())
        event, message = queue.pop(0)
        return event, message if isinstance(message, bytes) else message.encode()

    async with stream:
        yield conn, (stream, next_event)


async def test_a_client_of_the_upstreams_dialect_gets_its_bytes_and_both_machines_take_them() -> (
    None
):
    snapshots: list[tuple[Any, Any]] = []

    def on_client(event: ev.ClientEvent, ctx: RelayContext) -> ev.ClientEvent:
        snapshots.append((ctx.downstream, ctx.upstream))
        return event

    async with (
        scripted_upstream(collect) as (address, _),
        relay_to(address, on_client_event=on_client) as relay,
        raw_client(relay.port, "ga") as (conn, (stream, next_event)),
    ):
        created, _ = await next_event()
        assert created.type == "session.created"
        await stream.send_all(conn.send(ga.InputAudioBufferClear()))
        limits, limits_bytes = await next_event()
        error, error_bytes = await next_event()
        assert (limits.type, error.type) == ("rate_limits.updated", "error")
        assert limits_bytes == RATE_LIMITS and error_bytes == ERROR  # as the upstream wrote them
        assert limits_bytes != ev.encode_event(limits)
        await stream.send_all(conn.send(ga.InputAudioBufferClear()))
        with trio.fail_after(5):
            while len(snapshots) < 2:
                await trio.sleep(0.01)
    downstream, upstream = snapshots[1]  # both machines took both events
    assert downstream.rate_limits == upstream.rate_limits == limits.rate_limits
    assert [e.error.code for e in downstream.errors] == [e.error.code for e in upstream.errors]
    assert [e.error.code for e in upstream.errors] == ["x_y"]


@pytest.mark.parametrize("how", ["beta client", "server hook"])
async def test_a_translated_or_hooked_event_is_written_anew(how: str) -> None:
    hooked: list[str] = []

    def on_server(event: Any, ctx: RelayContext) -> Any:
        hooked.append(event.type)
        return event

    options: dict[str, Any] = {"on_server_event": on_server} if how == "server hook" else {}
    dialect: ev.Dialect = "beta" if how == "beta client" else "ga"
    async with (
        scripted_upstream(collect) as (address, _),
        relay_to(address, **options) as relay,
        raw_client(relay.port, dialect) as (conn, (stream, next_event)),
    ):
        await next_event()
        await stream.send_all(conn.send(ga.InputAudioBufferClear()))
        limits, limits_bytes = await next_event()
    assert limits.type == "rate_limits.updated"
    assert limits_bytes == ev.encode_event(limits) != RATE_LIMITS
    if how == "server hook":
        assert hooked == ["session.created", "rate_limits.updated", "error"]


async def test_a_client_event_goes_upstream_with_the_id_the_mirror_gave_it() -> None:
    ids: list[str] = []

    def on_client(event: ev.ClientEvent, ctx: RelayContext) -> ev.ClientEvent:
        assert isinstance(event.event_id, str)
        ids.append(event.event_id)
        return event

    async with (
        scripted_upstream(collect) as (address, received),
        relay_to(address, on_client_event=on_client) as relay,
        raw_client(relay.port, "ga") as (conn, (stream, next_event)),
    ):
        await next_event()
        # No event_id: the relay's mirror gives one, and the upstream must get that one.
        await stream.send_all(frame(1, b'{"type":"input_audio_buffer.clear"}', mask=True))
        await next_event()
        await stream.send_all(conn.send(ga.InputAudioBufferClear(event_id="mine")))
        await next_event()
        await next_event()
        await next_event()
    assert ids[1] == "mine" and ids[0] != "mine"
    assert [ev.decode_client_event(r, dialect="ga").event_id for r in received] == ids


async def test_a_server_hook_sees_the_upstream_snapshot_right_after_its_event() -> None:
    views: list[tuple[str, int, str]] = []

    def on_server(event: Any, ctx: RelayContext) -> Any:
        snapshot = ctx.upstream
        text = ""
        if event.type == "response.output_text.delta":
            item = snapshot.item(event.item_id)
            assert item is not None
            text = item.content[event.content_index].text.value
        views.append((event.type, snapshot.events_applied, text))
        return event

    async with upstream_server() as up, relay_to(url(up), on_server_event=on_server) as relay:
        async with connect(f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key=RELAY_KEY) as client:
            await text_turn(client, "a longer answer, in many deltas")
    counts = [applied for _, applied, _ in views]
    assert counts == list(range(counts[0], counts[0] + len(counts)))  # one event at a time
    deltas = [text for kind, _, text in views if kind == "response.output_text.delta"]
    assert len(deltas) > 3
    assert all(a != b and b.startswith(a) for a, b in zip(deltas, deltas[1:], strict=False))
    assert deltas[-1] == "a longer answer, in many deltas"


async def test_a_failing_server_hook_ends_its_session_only() -> None:
    def on_server(event: Any, ctx: RelayContext) -> Any:
        if event.type == "response.created":
            raise RuntimeError("the app's hook is broken")
        return event

    async with upstream_server() as up, relay_to(url(up), on_server_event=on_server) as relay:
        address = f"ws://127.0.0.1:{relay.port}/v1/realtime"
        async with (
            connect(address, api_key=RELAY_KEY) as broken,
            connect(address, api_key=RELAY_KEY) as other,
        ):
            await until(broken, "session.created")
            await broken.send(ga.ResponseCreate())
            events, code = await ending(broken)
            assert code == 1011 and events[-1].error.code == "server_error"
            await until(other, "session.created")
            await other.send(ga.InputAudioBufferClear())
            await until(other, "input_audio_buffer.cleared")
    assert relay.failures == 1


async def test_a_client_gone_mid_answer_ends_its_session_without_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def stream_forever(
        stream: trio.SocketStream, conn: ServerConnection, received: list[bytes]
    ) -> None:
        limits = conn.send_message(RATE_LIMITS)
        try:
            while True:
                await stream.send_all(limits * 50)
                await trio.sleep(0.001)
        except trio.BrokenResourceError:
            pass  # the relay closed this upstream connection

    async with (
        scripted_upstream(stream_forever) as (address, _),
        relay_to(address, close_timeout=0.3) as relay,  # the upstream never answers a close
        raw_client(relay.port, "ga") as (conn, (stream, next_event)),
    ):
        await next_event()
        await next_event()
        await trio.aclose_forcefully(stream)
        with trio.fail_after(5):
            while not any("ended after" in r.getMessage() for r in caplog.records):
                await trio.sleep(0.01)
    assert relay.failures == 0
    [end] = [r.getMessage() for r in caplog.records if "ended after" in r.getMessage()]
    assert "client dropped" in end or "closed 1006 by abnormal" in end
