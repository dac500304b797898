"""Idle connections: what 2000 open, silent sessions cost a running ``rtcore serve``.

The server runs in its own process (default options, echo backend). This
process opens the connections, completes each handshake (the session is
created and ``session.created`` sent), and then says nothing. The server's
CPU time over the quiet period, against the real time that passed, is the
share of a core the idle connections take: with timeouts as deadlines rather
than a polling task per connection it should be close to nothing. The server's
resident memory per connection is reported alongside.
"""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time

from rtcore.wire import ClientConnection

from .harness import Result
from .processes import cpu_seconds, free_port, rss_mb

CONNECTIONS = 2000
GOAL = 0.02


def _open(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(ClientConnection(f"ws://127.0.0.1:{port}/v1/realtime").data_to_send())
    answer = b""
    while b"session.created" not in answer:  # the 101, then the first event
        data = sock.recv(65536)
        if not data:
            raise RuntimeError(f"the server closed a connection: {answer[:200]!r}")
        answer += data
    return sock


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            raise RuntimeError("the server did not start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.05)


def measure(connections: int, seconds: float) -> dict[str, float]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < connections + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, connections + 100), hard))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtcore_trio.cli",
            "serve",
            "--port",
            str(port),
            "--max-connections",
            str(connections + 10),
            "--log-lines",
            "1",  # logging 2000 connections would be work the quiet period does not have
        ],
        stderr=subprocess.DEVNULL,
    )
    socks: list[socket.socket] = []
    try:
        _wait_listening(port, process)
        time.sleep(0.5)
        rss_before = rss_mb(process.pid)
        for _ in range(connections):
            socks.append(_open(port))
        time.sleep(1.0)  # let every write and log line settle
        rss_after = rss_mb(process.pid)
        cpu_start, wall_start = cpu_seconds(process.pid), time.monotonic()
        time.sleep(seconds)
        cpu = cpu_seconds(process.pid) - cpu_start
        wall = time.monotonic() - wall_start
        if process.poll() is not None:
            raise RuntimeError("the server exited")
    finally:
        for sock in socks:
            sock.close()
        process.terminate()
        process.wait(timeout=30)
    return {
        "connections": connections,
        "seconds": wall,
        "cpu_seconds": cpu,
        "core_share": cpu / wall,
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "kb_per_connection": (rss_after - rss_before) * 1024 / connections,
    }


def run(quick: bool = False) -> list[Result]:
    m = measure(CONNECTIONS, 3.0 if quick else 10.0)
    share = m["core_share"]
    return [
        Result(
            suite="idle",
            name=f"{CONNECTIONS} open idle connections (columns: % of a core, server KB each)",
            subject="server CPU",
            baseline="real time",
            ratio=share,
            spread=(share, share),
            subject_value=share * 100,
            baseline_value=m["kb_per_connection"],
            unit="%",
            goal=f"< {GOAL:.0%} of a core",
            ok=share < GOAL,
            extra=m,
        )
    ]
