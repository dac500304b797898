"""``rtcore serve --workers N`` over real sockets, and the health check path.

Sessions spread over the worker processes (each log line names its process), a
SIGTERM to the parent closes every open session with 1001, a worker that dies
is replaced, and ``GET /healthz`` is answered 200 by every process. Both ways
of sharing the port are run: ``reuseport`` (Linux) and ``inherit`` (the
fallback elsewhere).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import trio

from rtcore import events as ev
from rtcore_trio import RealtimeServer, connect
from rtcore_trio.workers import (
    RESTART_MIN_SECONDS,
    bind_sockets,
    default_share,
    run_workers,
    worker_count,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="--workers needs fork")

SHARES = ["inherit"] + (["reuseport"] if hasattr(socket, "SO_REUSEPORT") else [])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health(port: int) -> bytes:
    """The answer to a load balancer's ``GET /healthz`` (HTTP/1.0, as HAProxy's default check)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: lb\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer


@contextmanager
def serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``rtcore serve ARGS`` in a subprocess, up (its health check answered) on a free port."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "rtcore_trio.cli", "serve", "--port", str(port), *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if health(port).startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                pass
            assert process.poll() is None, "the server ended"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return {int(child) for child in listing.read().split()}


_STORY = ev.decode_client_event(
    b'{"type":"conversation.item.create","item":{"type":"message","role":"user",'
    b'"content":[{"type":"input_text","text":"Tell me a long story, a very long one please"}]}}',
    dialect="ga",
)
_CREATE = ev.decode_client_event(b'{"type":"response.create"}', dialect="ga")


class _Held:
    """What one session saw: its id, its last response's end, events after it, the close code."""

    def __init__(self) -> None:
        self.session_id = ""
        self.done: ev.ga.ResponseDone | None = None
        self.after_done = 0
        self.code = 0


async def _hold_sessions(port: int, count: int, holding: trio.Event) -> list[_Held]:
    """Open ``count`` sessions, each with a spoken answer running (paced in real time), and
    hold them until the server closes them.

    The sessions open one after the other (each once the last has its ``session.created``),
    so that every connection is a race the workers run afresh: with ``inherit``, a burst of
    connections on a loaded machine could all go to the one worker that happened to be
    running, which the test would read as the workers not sharing the port."""
    held: list[_Held] = []
    answering = 0

    async def one(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal answering
        seen = _Held()
        async with connect(f"ws://127.0.0.1:{port}/v1/realtime?model=m") as rt:
            async for event, _ in rt:
                if isinstance(event, ev.ga.SessionCreated):
                    seen.session_id = event.session.id
                    await rt.send(_STORY)  # type: ignore[arg-type]
                    await rt.send(_CREATE)  # type: ignore[arg-type]
                    task_status.started()
                elif isinstance(event, ev.ga.ResponseOutputAudioDelta) and seen.done is None:
                    if not answering == count:
                        answering += 1
                        if answering == count:
                            holding.set()
                elif isinstance(event, ev.ga.ResponseDone):
                    seen.done = event
                elif seen.done is not None:
                    seen.after_done += 1
            assert rt.closed is not None
            seen.code = rt.closed.code
        held.append(seen)

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            await nursery.start(one)
    return held


@pytest.mark.parametrize("share", SHARES)
def test_sessions_spread_over_the_workers_and_shutdown_closes_each_with_1001(share: str) -> None:
    count = 24
    with serving("--workers", "2", "--share-port", share, "--log-lines", "1000", "--realtime") as (
        process,
        port,
    ):
        workers = _children(process.pid) if sys.platform.startswith("linux") else set()

        async def main() -> list[_Held]:
            holding = trio.Event()
            async with trio.open_nursery() as nursery:

                async def stop_when_held() -> None:
                    await holding.wait()
                    # Either signal ends them (a terminal's Ctrl-C is SIGINT).
                    process.send_signal(signal.SIGTERM if share == "reuseport" else signal.SIGINT)

                nursery.start_soon(stop_when_held)
                with trio.fail_after(30):
                    return await _hold_sessions(port, count, holding)
            raise AssertionError("unreachable")

        ended = trio.run(main)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert len(ended) == count
    # Every session: its running answer ended by the shutdown (its backend cancelled: nothing
    # follows response.done), then close 1001.
    assert {seen.code for seen in ended} == {1001}, [seen.code for seen in ended]
    for seen in ended:
        assert seen.done is not None and seen.done.response.status == "failed"
        details = seen.done.response.status_details
        assert details is not None and details.error is not None
        assert details.error.code == "server_shutdown"
        assert seen.after_done == 0
    # Every session is in the log of the process that held it.
    held_by: dict[str, int] = {}
    for pid, session_id in re.findall(r"rtcore\.serve\[(\d+)\] \S+ connected: session (\S+),", err):
        held_by[session_id] = int(pid)
    assert {seen.session_id for seen in ended} <= set(held_by), err
    assert len(set(held_by.values())) == 2, held_by
    if workers:
        assert set(held_by.values()) == workers
    assert f"sharing it by {share}" in err
    assert err.count("closed 1001 by local") == count, err


def test_a_worker_that_dies_is_replaced() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the children from /proc")
    with serving("--workers", "2") as (process, port):
        first = _children(process.pid)
        assert len(first) == 2
        time.sleep(1.2)  # past RESTART_MIN_SECONDS: a crash, not a start that fails
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:
            now = _children(process.pid)
            if len(now) == 2 and victim not in now:
                break
            assert time.monotonic() < deadline, now
            time.sleep(0.05)
        # The replacement serves: every connection is answered, whichever worker takes it.
        deadline = time.monotonic() + 20
        while not all(health(port).startswith(b"HTTP/1.1 200") for _ in range(8)):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"(pid {victim}) died (killed by SIGKILL); replaced by pid" in err


def test_a_port_in_use_is_reported_once() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "rtcore_trio.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_count() -> None:
    assert worker_count("3") == 3
    assert worker_count("auto") >= 1
    for bad in ("0", "-1", "many"):
        with pytest.raises(Exception, match="expected"):
            worker_count(bad)
    assert default_share() == ("reuseport" if sys.platform.startswith("linux") else "inherit")


def test_bind_sockets_puts_every_address_on_one_port() -> None:
    sockets = bind_sockets("localhost", 0, reuse_port=False)
    try:
        assert len({sock.getsockname()[1] for sock in sockets}) == 1
    finally:
        for sock in sockets:
            sock.close()


async def test_the_health_check_is_answered_200_and_nothing_else_is() -> None:
    async with trio.open_nursery() as nursery:
        server: RealtimeServer = await nursery.start(
            RealtimeServer(api_keys=["sk-x"]).serve, "127.0.0.1", 0
        )
        port = server.port
        assert port is not None
        answer = await trio.to_thread.run_sync(health, port)
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b'{"status":"ok"}')
        # Without a key, at another path, or as an upgrade, it is no health check.
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"GET /v1/realtime HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await stream.receive_some(4096)
        assert not data.startswith(b"HTTP/1.1 200")
        await stream.aclose()
        server.shutdown()


def test_workers_that_die_at_their_start_stop_the_parent() -> None:
    def broken() -> RealtimeServer:
        raise RuntimeError("this worker cannot start")

    started = time.monotonic()
    assert run_workers(broken, "127.0.0.1", 0, 2, share="inherit") == 1
    assert time.monotonic() - started < RESTART_MIN_SECONDS + 10


def test_the_health_check_in_the_wire_layer() -> None:
    from rtcore.wire import HandshakeFailed, HandshakeRequest, HealthCheck, ServerConnection

    def first_event(head: bytes) -> tuple[object, bytes]:
        conn = ServerConnection()
        conn.receive_data(head)
        return next(iter(conn.events())), conn.data_to_send()

    event, data = first_event(b"GET /healthz HTTP/1.0\r\nHost: lb\r\n\r\n")
    assert isinstance(event, HealthCheck)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b'{"status":"ok"}')
    event, data = first_event(b"GET /healthz?full=1 HTTP/1.1\r\nHost: lb\r\n\r\n")
    assert isinstance(event, HealthCheck)
    # Another plain GET is a bad handshake; an upgrade to /healthz is a handshake like any other.
    event, data = first_event(b"GET /v1/realtime HTTP/1.1\r\nHost: lb\r\n\r\n")
    assert isinstance(event, HandshakeFailed) and data.startswith(b"HTTP/1.1 400")
    event, _ = first_event(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert isinstance(event, HandshakeRequest) and event.path == "/healthz"
