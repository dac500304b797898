"""``rtcore serve --fault`` / ``RealtimeServer(faults=...)``: each fault as the client observes it.

Over real sockets on loopback, with ``rtcore_trio.connect`` as the client:
the latency added in each direction, the close code and when it comes, the
missing close frame of a drop, the refused handshake's status; that a fault
ends its own connection only; faults set on a running server; the command
line's option and its examples.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
import trio
from test_cli import free_port
from test_relay import ending, text_turn, until

from rtcore import events as ev
from rtcore.events import ga
from rtcore_trio import Fault, HandshakeError, RealtimeServer, connect, parse_fault
from rtcore_trio.cli import main


@asynccontextmanager
async def server_with(*specs: str, **options: Any) -> AsyncIterator[RealtimeServer]:
    server = RealtimeServer(faults=[parse_fault(spec) for spec in specs], **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        yield server
        server.shutdown()


def address(server: RealtimeServer) -> str:
    return f"ws://127.0.0.1:{server.port}/v1/realtime"


async def clear_round_trip(*specs: str) -> float:
    """Seconds from an ``input_audio_buffer.clear`` to its ``cleared``, against a server with faults."""
    async with server_with(*specs) as server, connect(address(server)) as client:
        await until(client, "session.created")
        began = trio.current_time()
        await client.send(ev.InputAudioBufferClear())
        await until(client, "input_audio_buffer.cleared")
        return trio.current_time() - began


@pytest.mark.parametrize("direction", ["down", "up"])
async def test_latency_delays_each_message_in_its_direction(direction: str) -> None:
    plain = await clear_round_trip()
    delayed = await clear_round_trip(f"latency=200ms,jitter=20ms,direction={direction}")
    assert 0.15 <= delayed - plain < 0.6  # 200 ms, less up to 20 ms of jitter


async def test_latency_keeps_the_order_and_the_turn_completes() -> None:
    async with (
        server_with("latency=5ms,direction=down", "latency=5ms,direction=up") as server,
        connect(address(server)) as client,
    ):
        done = await text_turn(client, "in order")
        assert done.response.status == "completed"
        # The client's engine checked every event's place in the sequence on the way.
        state = client.state
        assert not state.protocol_errors and not state.anomalies and not state.errors


async def test_close_after_n_server_events_gives_that_code() -> None:
    async with server_with("close=1011,after=3") as server, connect(address(server)) as client:
        await until(client, "session.created")
        for _ in range(4):
            await client.send(ev.InputAudioBufferClear())
        events, code = await ending(client)
    assert code == 1011
    # session.created was the first of the three: two more, then the close frame.
    assert [e.type for e in events] == ["input_audio_buffer.cleared"] * 2
    assert client.closed is not None and client.closed.reason == "fault_injected"


async def test_close_after_a_time() -> None:
    async with server_with("close=4001,after=300ms") as server, connect(address(server)) as client:
        began = trio.current_time()
        _, code = await ending(client)
        took = trio.current_time() - began
    assert code == 4001 and 0.25 <= took < 2


@pytest.mark.parametrize("after", ["1", "200ms"])
async def test_drop_ends_the_connection_without_a_close_frame(after: str) -> None:
    async with server_with(f"drop,after={after}") as server, connect(address(server)) as client:
        events, code = await ending(client)
        # No close frame came: the transport just ended (1006 is never sent on the wire).
        assert client.closed is None or client.closed.initiator == "abnormal"
    assert [e.type for e in events] == ["session.created"] and code == 1006


async def test_refuse_answers_the_handshake_with_that_status() -> None:
    async with server_with("refuse=503") as server:
        with pytest.raises(HandshakeError) as refused:
            async with connect(address(server)):
                pass
    assert refused.value.status_code == 503
    assert "refuse=503" in str(refused.value)


async def test_a_wrong_key_is_still_401_under_refuse() -> None:
    async with server_with("refuse=503", api_keys=["sk-right"]) as server:
        with pytest.raises(HandshakeError) as refused:
            async with connect(address(server), api_key="sk-wrong"):
                pass
    assert refused.value.status_code == 401


async def test_a_fault_ends_its_own_connection_only() -> None:
    async with server_with("close=1011,after=20") as server:
        async with connect(address(server)) as first, connect(address(server)) as second:
            # A text turn is 15 server events, session.created among them.
            assert (await text_turn(first)).response.status == "completed"
            assert (await text_turn(second)).response.status == "completed"
            await first.send(ga.ResponseCreate())
            events, code = await ending(first)
            assert code == 1011 and len(events) == 5  # the 20th, then the close
            assert "response.done" not in [e.type for e in events]
            await second.send(ev.InputAudioBufferClear())
            await until(second, "input_audio_buffer.cleared")
        assert server.failures == 0


async def test_faults_set_on_a_running_server_apply_to_new_connections() -> None:
    async with server_with() as server, connect(address(server)) as before:
        await until(before, "session.created")
        server.faults = [parse_fault("refuse=503")]
        assert server.faults == (Fault(kind="refuse", status=503),)
        with pytest.raises(HandshakeError):
            async with connect(address(server)):
                pass
        await before.send(ev.InputAudioBufferClear())
        await until(before, "input_audio_buffer.cleared")  # accepted before: unaffected
        server.faults = []
        async with connect(address(server)) as after:
            await until(after, "session.created")


def test_faults_are_fault_values() -> None:
    with pytest.raises(TypeError, match="parse_fault"):
        RealtimeServer(faults=["refuse=503"])  # type: ignore[list-item]


def test_a_spec_reads_back_from_its_fault() -> None:
    for spec in (
        "latency=50ms,jitter=10ms,direction=up",
        "latency=1500ms,direction=down",
        "close=4001,after=5",
        "close=1011,after=0.5s",
        "drop,after=2s",
        "refuse=429",
    ):
        assert parse_fault(parse_fault(spec).spec) == parse_fault(spec)


def test_help_shows_an_example_of_each_fault(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["serve"], ["relay", "--upstream", "ws://x"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr().out
        assert "--fault SPEC" in text
        for example in ("latency=50ms,jitter=10ms", "direction=up", "close=1011,after=5"):
            assert example in text, (command, example)
        assert "drop,after=" in text and "refuse=503" in text


def test_a_bad_fault_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--fault", "close=1011"])
    assert exited.value.code == 2
    assert "--fault: close needs after=" in capsys.readouterr().err


class Served:
    """An ``rtcore serve`` process: its port, and its log once it has ended."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.log = ""


@contextmanager
def rtcore_serve(*args: str) -> Iterator[Served]:
    """Run ``rtcore serve ARGS`` on a free port until the block ends (then SIGINT, exit 0)."""
    served = Served(free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "rtcore_trio.cli", "serve", "--port", str(served.port), *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", served.port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        yield served
        process.send_signal(signal.SIGINT)
        _, served.log = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, served.log


def test_serve_takes_repeated_faults_on_the_command_line() -> None:
    async def talk(port: int) -> tuple[list[str], int]:
        async with connect(f"ws://127.0.0.1:{port}/v1/realtime") as client:
            await until(client, "session.created")
            await client.send(ev.InputAudioBufferClear())
            await client.send(ev.InputAudioBufferClear())
            events, code = await ending(client)
            return [e.type for e in events], code

    with rtcore_serve("--fault", "latency=1ms", "--fault", "close=4002,after=2") as served:
        kinds, code = trio.run(talk, served.port)
    assert (kinds, code) == (["input_audio_buffer.cleared"], 4002)
    assert "fault: close=4002,after=2" in served.log
