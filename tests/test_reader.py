"""The one reader (``rtcore_trio/reader.py``, ``rtcore serve --io epoll``) over loopback sockets.

Every socket-level server test runs over both I/O strategies (``conftest.py``);
these tests are about the reader itself: that reads it serves need no task
switch, that one wakeup serves many sockets (more of them with a read tick,
and an idle server still reads at once), that a failure inside its step
stays in its connection, that TLS keeps the per-task path, and the option.
"""

from __future__ import annotations

import argparse
import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from rtcore import events as ev
from rtcore.events import beta
from rtcore.server import ServerSession
from rtcore_trio import ConnectionClosedError, RealtimeServer, connect
from rtcore_trio.reader import OneReader, resolve_io, resolve_read_tick
from rtcore_trio.serve_options import add_serve_limits, server_options

pytestmark = pytest.mark.skipif(not hasattr(select, "epoll"), reason="select.epoll is Linux's")

NO_VAD = beta.SessionUpdate(session=beta.SessionConfig(turn_detection=None))


@asynccontextmanager
async def running(server: RealtimeServer) -> AsyncIterator[tuple[str, OneReader]]:
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        assert server._reader is not None
        yield f"ws://127.0.0.1:{server.port}/v1/realtime", server._reader
        server.shutdown()


async def until(rt: Any, kind: type[Any]) -> Any:
    async for event, _ in rt:
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind!r}")


async def test_appends_are_read_and_answered_without_waking_the_session() -> None:
    async with running(RealtimeServer(io="epoll")) as (url, reader):
        async with connect(url, dialect="beta") as rt:
            await rt.send(NO_VAD)
            await until(rt, beta.SessionUpdated)
            reads, handovers = reader.reads, reader.handovers
            for _ in range(40):
                await rt.send(ev.InputAudioBufferAppend(audio=bytes(960)))
                await trio.sleep(0.002)  # one read each
            await rt.send(ev.InputAudioBufferCommit())
            committed = await until(rt, ev.InputAudioBufferCommitted)
            assert committed.item_id
            # Every append was read by the reader and handed to the session there; the
            # commit's answer was written there too: the session's task never woke.
            assert reader.reads - reads >= 20
            assert reader.handovers - handovers <= 2


async def appending_together(
    url: str, reader: OneReader, appends: int, gap: float
) -> tuple[int, int, float]:
    """Twenty clients, once all are set up, each send ``appends`` 20 ms appends ``gap`` apart
    and commit: the reader's wakeups and reads meanwhile, and how long it took."""
    async with trio.open_nursery() as nursery:
        ready = trio.Semaphore(0)
        go = trio.Event()

        async def client() -> None:
            async with connect(url, dialect="beta") as rt:
                await rt.send(NO_VAD)
                await until(rt, beta.SessionUpdated)
                ready.release()
                await go.wait()
                for _ in range(appends):
                    await rt.send(ev.InputAudioBufferAppend(audio=bytes(960)))
                    await trio.sleep(gap)
                await rt.send(ev.InputAudioBufferCommit())
                committed = await until(rt, ev.InputAudioBufferCommitted)
                assert committed.item_id

        for _ in range(20):
            nursery.start_soon(client)
        for _ in range(20):
            await ready.acquire()
        wakeups, reads, began = reader.wakeups, reader.reads, trio.current_time()
        go.set()
    return reader.wakeups - wakeups, reader.reads - reads, trio.current_time() - began


async def test_one_wakeup_serves_many_sockets() -> None:
    async with running(RealtimeServer(io="epoll")) as (url, reader):
        wakeups, reads, _ = await appending_together(url, reader, appends=5, gap=0.01)
    assert reads >= 100
    assert wakeups < reads / 2


async def test_with_a_read_tick_a_busy_reader_wakes_once_per_tick() -> None:
    tick = 0.02
    async with running(RealtimeServer(io="epoll", read_tick=tick)) as (url, reader):
        assert reader.tick == tick
        wakeups, reads, elapsed = await appending_together(url, reader, appends=10, gap=0.005)
    # Every wakeup is followed by a tick's sleep: at most one per tick, whatever the load
    # (without the tick, these 200 appends 5 ms apart wake the reader far more often).
    assert reads >= 100
    assert wakeups <= elapsed / tick + 1


async def test_with_a_read_tick_an_idle_server_reads_at_once() -> None:
    tick = 0.05
    async with running(RealtimeServer(io="epoll", read_tick=tick)) as (url, reader):
        async with connect(url, dialect="beta") as rt:
            await rt.send(NO_VAD)
            await until(rt, beta.SessionUpdated)
            latencies = []
            for _ in range(3):
                await rt.send(ev.InputAudioBufferAppend(audio=bytes(4800)))
                await trio.sleep(3 * tick)  # idle: the reader waits for readiness
                sent = trio.current_time()
                await rt.send(ev.InputAudioBufferCommit())  # the one message after the pause
                await until(rt, ev.InputAudioBufferCommitted)
                latencies.append(trio.current_time() - sent)
        # Waiting for a tick first would take 50 ms every time.
        assert min(latencies) < 0.8 * tick


def test_the_read_tick_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_read_tick(0) == 0
    assert resolve_read_tick(0.002) == 0.002
    for bad in (-0.001, 0.051, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="read tick must be 0 to 50 ms"):
            RealtimeServer(read_tick=bad)
    import rtcore_trio.reader

    monkeypatch.setattr(rtcore_trio.reader, "DEFAULT_READ_TICK", "3")
    assert RealtimeServer().read_tick == 0.003
    monkeypatch.setattr(rtcore_trio.reader, "DEFAULT_READ_TICK", "soon")
    with pytest.raises(ValueError, match="RTCORE_READ_TICK must be milliseconds"):
        RealtimeServer()


async def test_a_failure_in_the_readers_step_closes_its_connection_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receive = ServerSession.receive_event

    def breaking(self: ServerSession, event: ev.ClientEvent) -> Any:
        if event.event_id == "boom":
            raise RuntimeError("a bug in the session")
        return receive(self, event)

    monkeypatch.setattr(ServerSession, "receive_event", breaking)
    server = RealtimeServer(io="epoll")
    async with running(server) as (url, reader):
        async with connect(url, dialect="beta") as other, connect(url, dialect="beta") as rt:
            await rt.send(NO_VAD)
            await until(rt, beta.SessionUpdated)
            reads = reader.reads
            await rt.send(ev.InputAudioBufferAppend(event_id="boom", audio=bytes(960)))
            with pytest.raises(ConnectionClosedError) as info:
                async for _ in rt:
                    pass
            assert info.value.code == 1011
            assert reader.reads > reads  # the step that failed was the reader's
            await other.send(NO_VAD)  # the other session goes on
            await until(other, beta.SessionUpdated)
    assert server.failures == 1


async def test_tls_sessions_keep_the_per_task_path(tmp_path: Any) -> None:
    trustme = pytest.importorskip("trustme")
    import ssl

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with running(RealtimeServer(io="epoll", ssl_context=server_context)) as (url, reader):
        url = url.replace("ws://", "wss://")
        async with connect(url, dialect="beta", ssl_context=client_context) as rt:
            await rt.send(NO_VAD)
            await until(rt, beta.SessionUpdated)
        assert reader.reads == 0


async def test_the_per_task_path_has_no_reader() -> None:
    server = RealtimeServer(io="per-task")
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        assert server.io == "per-task" and server._reader is None
        server.shutdown()


def test_the_strategy_is_checked_and_auto_follows_the_platform(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_io("auto") == "epoll"
    assert resolve_io("per-task") == "per-task"
    with pytest.raises(ValueError, match="io must be one of"):
        RealtimeServer(io="uring")
    monkeypatch.delattr(select, "epoll")
    assert resolve_io("auto") == "per-task"
    with pytest.raises(ValueError, match="needs select.epoll"):
        resolve_io("epoll")


def test_serve_takes_io_and_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    add_serve_limits(parser)
    assert "--io" in parser.format_help()
    assert server_options(parser.parse_args(["--io", "per-task"]))["io"] == "per-task"
    assert server_options(parser.parse_args([]))["io"] is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--io", "uring"])
    import rtcore_trio.reader

    monkeypatch.setattr(rtcore_trio.reader, "DEFAULT_IO", "per-task")
    assert RealtimeServer().io == "per-task"


def test_serve_takes_a_read_tick_in_milliseconds() -> None:
    parser = argparse.ArgumentParser()
    add_serve_limits(parser)
    assert "--read-tick" in parser.format_help()
    assert server_options(parser.parse_args(["--read-tick", "2"]))["read_tick"] == 0.002
    assert server_options(parser.parse_args(["--read-tick", "0"]))["read_tick"] == 0
    assert server_options(parser.parse_args([]))["read_tick"] is None
    for bad in ("-1", "51", "soon"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--read-tick", bad])


async def test_frames_cut_across_reads_of_many_sockets_arrive_whole() -> None:
    # The reader reads every socket into one buffer: each connection must copy what it
    # keeps of a read, or the first half of a frame would be overwritten by the next read.
    async with running(RealtimeServer(io="epoll")) as (url, reader):
        async with connect(url, dialect="beta") as a, connect(url, dialect="beta") as b:
            for rt in (a, b):
                await rt.send(NO_VAD)
                await until(rt, beta.SessionUpdated)
            sent = {}
            halves = []
            for rt, letter in ((a, "A"), (b, "B")):
                text = letter * 900 + "é✓"
                item = beta.MessageItem(role="user", content=(beta.InputTextContent(text=text),))
                frame = rt._conn.send(beta.ConversationItemCreate(item=item))
                sent[letter] = text
                halves.append((rt, frame[: len(frame) // 2 + 1], frame[len(frame) // 2 + 1 :]))
            reads = reader.reads
            for rt, first, _ in halves:
                await rt._stream.send_all(first)
                await trio.sleep(0.02)  # a read each
            for rt, _, rest in halves:
                await rt._stream.send_all(rest)
                await trio.sleep(0.02)
            for rt, letter in ((a, "A"), (b, "B")):
                created = await until(rt, beta.ConversationItemCreated)
                [part] = created.item.content
                assert part.text == sent[letter]
            assert reader.reads - reads >= 4
