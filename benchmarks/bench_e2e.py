"""End to end on loopback: N concurrent real-time audio sessions through ``rtcore serve``.

The server runs in its own process with the ``echo`` backend; trio is
single-threaded, so that is one core. This process opens N WebSocket
sessions and streams real-time audio into each (``audio_load.load``): a 20 ms
pcm16 append every 20 ms, one second of speech then one second of silence,
under server VAD. It times every ``speech_started`` and ``speech_stopped``
from the moment the frame that completes it was sent.

A load is *sustained* when the server stays under one core and those events
come back promptly (p99 under 100 ms) while the load generator keeps its own
schedule (p99 lag under 20 ms; otherwise the figure says nothing about the
server). The generator is a plain ``select.epoll`` loop writing frames
encoded once (``audio_load.py``), so that it falls behind after the server
does. The ratio reported is the server's CPU time against the real time
that passed: below 1.0 means it keeps up.

``generator`` measures ``rtcore loadtest`` itself (``run_load`` in this
process): against ``rtcore serve --realtime``, whole conversations; against a
sink that accepts the handshake and drops every byte (so that the server is
not what runs out), microphones alone, more each step until the generator
falls behind. Its rows: CPU per real-time audio session-second, p99 lag over
the steady state, and the most sessions one core keeps under 20 ms of lag.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

from rtcore_trio.loadtest import LoadOptions, run_load
from rtcore_trio.loadtest_scenario import parse_scenario

from .audio_load import load
from .harness import Result
from .processes import free_port, stop

SUSTAINED_P99 = 0.100
GENERATOR_P99 = 0.020


def _serve(
    port: int,
    profile: str | None = None,
    realtime: bool = False,
    io: str | None = None,
    options: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    prefix = [sys.executable] + (["-m", "cProfile", "-o", profile] if profile else [])
    command = [*prefix, "-m", "rtcore_trio.cli", "serve", "--port", str(port), *options]
    if io is not None:
        command += ["--io", io]
    return _started(command + (["--realtime"] if realtime else []), port)


def _started(command: list[str], port: int) -> subprocess.Popen[bytes]:
    """Run ``command``, a server, until it listens on ``port``."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the server did not start") from None
            time.sleep(0.05)


def measure(
    count: int,
    seconds: float,
    profile: str | None = None,
    io: str | None = None,
    command: list[str] | None = None,
    options: tuple[str, ...] = (),
    together: bool = False,
) -> dict[str, Any]:
    """``count`` sessions against ``rtcore serve`` (``--io io``, then ``options``), or against
    ``command``, a server started with the port appended; ``together``: every turn in step
    (``audio_load``)."""
    port = free_port()
    if command is not None:
        server = _started([*command, str(port)], port)
    else:
        server = _serve(port, profile, io=io, options=options)
    try:
        return load(port, server.pid, count, seconds, together=together)
    finally:
        stop(server)


def load_row(
    suite: str, name: str, subject: str, m: dict[str, Any], goal: str, **extra: Any
) -> Result:
    """The row of one load ``m`` (``measure``'s figures): ``subject``'s CPU against real time,
    VAD latency p50 and p99 in the value columns."""
    return Result(
        suite=suite,
        name=name,
        subject=subject,
        baseline="real time",
        ratio=m["server_cpu"],
        spread=(m["server_cpu"], m["server_cpu"]),
        subject_value=m["p50_ms"],
        baseline_value=m["p99_ms"],
        unit="ms",
        goal=goal,
        ok=None,
        extra={**extra, **m},
    )


def sustained(m: dict[str, Any]) -> bool:
    return bool(
        m["server_cpu"] < 0.95
        and m["p99_ms"] < SUSTAINED_P99 * 1000
        and m["generator_p99_lag_ms"] < GENERATOR_P99 * 1000
    )


async def _generate(port: int, count: int, seconds: float, speak_ms: int) -> dict[str, Any]:
    """``rtcore loadtest``'s own driver, audio only: its CPU per session-second, and its lag."""
    scenario = parse_scenario({"turns": [{"speak_ms": speak_ms}], "think_s": 0}, "bench", Path("."))
    options = LoadOptions(
        url=f"ws://127.0.0.1:{port}/v1/realtime",
        sessions=count,
        duration=seconds + 1.0,
        ramp=1.0,  # a thousand handshakes at once would be a test of the handshake
        scenario=scenario,
        turn_timeout=seconds,
    )
    cpu = time.process_time()
    result = await run_load(options)
    cpu = time.process_time() - cpu
    # The worst interval's p99 lag in the steady state: the first second is the ramp, the
    # second the last handshakes' answers and every session's first events.
    lags = [i["lag_p99_ms"] for i in result["intervals"][2:] if i["lag_p99_ms"] is not None]
    connected = sum(1 for s in result["sessions"] if s["handshake_ms"] is not None)
    return {
        "sessions": count,
        "connected": connected,
        # Over the ramp a session is up half of the second on average: seconds + 0.5 each.
        "cpu_per_session_second_ms": 1000 * cpu / (max(connected, 1) * (seconds + 0.5)),
        "generator_p99_lag_ms": max(lags, default=float("inf")),
        "errors": result["errors"],
    }


# The opening of a server script that accepts the handshake with rtcore's sans-IO handshake and
# then only reads: ``handle(stream)`` ends with ``await after_handshake(stream)``.
HANDSHAKE_THEN = """
import functools, os, sys, trio
from rtcore.wire import HandshakeRequest, ServerConnection

async def handle(stream):
    conn = ServerConnection()
    async with stream:
        while conn.request is None:
            data = await stream.receive_some(65536)
            if not data:
                return
            conn.receive_data(data)
            for event in conn.events():
                if isinstance(event, HandshakeRequest):
                    await stream.send_all(conn.accept())
        await after_handshake(stream)
"""

# A server that accepts the handshake, then drops every byte it gets: it costs the other core so
# little (one task reads every socket, ten times a second) that the generator, not the server, is
# what a large load measures.
_SINK = (
    HANDSHAKE_THEN
    + """
OPEN = {}

async def after_handshake(stream):
    fd = stream.socket.fileno()
    OPEN[fd] = ended = trio.Event()
    await ended.wait()

async def drain():
    while True:
        await trio.sleep(0.1)
        for fd, ended in list(OPEN.items()):
            try:
                while os.read(fd, 1 << 20):
                    pass
            except BlockingIOError:
                continue
            except OSError:
                pass
            del OPEN[fd]
            ended.set()

async def main(port):
    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        await trio.serve_tcp(handle, port, host="127.0.0.1")

trio.run(main, int(sys.argv[1]))
"""
)


def _generator_run(count: int, seconds: float, sink: bool) -> dict[str, Any]:
    port = free_port()
    if sink:  # one long turn of speech: a microphone open for the whole run
        server = _started([sys.executable, "-c", _SINK, str(port)], port)
        speak_ms = int(1000 * (seconds + 2))
    else:  # answers spoken in real time, as a model does; a second of speech per turn
        server, speak_ms = _serve(port, realtime=True), 1000
    try:
        return trio.run(_generate, port, count, seconds, speak_ms)
    finally:
        stop(server)


def _generator_row(name: str, m: dict[str, Any], kept: bool) -> Result:
    cost = m["cpu_per_session_second_ms"]
    share = cost * m["sessions"] / 1000
    return Result(
        suite="e2e",
        name=f"{name} (columns: CPU ms per session-second, p99 lag ms)",
        subject="generator CPU",
        baseline="one core",
        ratio=share,
        spread=(share, share),
        subject_value=cost,
        baseline_value=m["generator_p99_lag_ms"],
        unit="ms",
        goal="keeps its schedule" if kept else "falls behind",
        ok=None,
        extra=m,
    )


def generator(quick: bool = False) -> list[Result]:
    """The load generator's cost per real-time audio session, and the most one core drives.

    Against ``rtcore serve --realtime``, the whole conversation (VAD, spoken
    answers read and decoded) at loads that server holds; then, against a
    sink, the microphones alone, up to where the generator falls behind.
    """
    seconds = 3.0 if quick else 6.0
    results = []
    for count in [50] if quick else [100, 250]:
        m = _generator_run(count, seconds, sink=False)
        kept = m["generator_p99_lag_ms"] < GENERATOR_P99 * 1000 and m["connected"] == count
        results.append(_generator_row(f"rtcore loadtest, {count} conversations", m, kept))
    best = 0
    for count in [200] if quick else [250, 500, 750, 1000, 1250, 1500]:
        # The better of two runs: on a shared machine another process may stall this one.
        m = min(
            (_generator_run(count, seconds, sink=True) for _ in range(2)),
            key=lambda m: (m["connected"] != count, m["generator_p99_lag_ms"]),
        )
        kept = m["generator_p99_lag_ms"] < GENERATOR_P99 * 1000 and m["connected"] == count
        results.append(_generator_row(f"rtcore loadtest, {count} microphones (a sink)", m, kept))
        if not kept:
            break
        best = count
    results.append(
        Result(
            suite="e2e",
            name="audio sessions one generator core keeps on schedule (p99 lag under 20 ms)",
            subject="largest load kept on schedule",
            baseline="aim",
            ratio=best / 1000,
            spread=(best / 1000, best / 1000),
            subject_value=best,
            baseline_value=1000,
            unit="sessions",
            goal=">= 1000 real-time sessions (the issue's goal)" if not quick else "(quick run)",
            ok=None,
        )
    )
    return results


def run(quick: bool = False) -> list[Result]:
    counts = [50] if quick else [100, 250, 500, 750, 1000]
    seconds = 3.0 if quick else 6.0
    results = []
    best = 0
    for count in counts:
        m = measure(count, seconds)
        ok = sustained(m)
        if ok:
            best = count
        results.append(
            load_row(
                "e2e",
                f"{count} sessions (columns: VAD latency p50, p99)",
                "server CPU",
                m,
                "sustained" if ok else "falls behind",
            )
        )
        if not ok and m["generator_p99_lag_ms"] < GENERATOR_P99 * 1000:
            break  # the server fell behind; larger loads only fall further
    results += generator(quick)
    results.append(
        Result(
            suite="e2e",
            name="sessions one core sustains",
            subject="largest sustained load",
            baseline="aim",
            ratio=best / 500,
            spread=(best / 500, best / 500),
            subject_value=best,
            baseline_value=500,
            unit="sessions",
            goal=">= 500 real-time sessions" if not quick else "(quick run: one load only)",
            ok=best >= 500 if not quick else None,
        )
    )
    return results
