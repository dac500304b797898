"""Helpers for attacks against a real ``rtcore serve`` process (``test_attack_serve``).

``served`` starts ``rtcore serve`` with its default options (plus any given) in a child
process on a free port and stops it with SIGINT; ``Served`` reads its resident memory and
its open descriptors from ``/proc`` (Linux only). ``Watch`` runs an attack in a child process of
its own and, beside it, a healthy beta client doing text turns one after another (each
turn's latency kept) and a sampler of the server's RSS every 20 ms (its peak kept). ``ga_client`` opens a raw GA
WebSocket connection (``attackkit.RawClient`` speaks beta).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import trio
from attackkit import TEXT_ONLY, Healthy, RawClient

from rtcore.wire import ClientConnection
from rtcore_trio import connect

MIB = 1024 * 1024
ATTACK_SECONDS = 300
"""The longest an attack may take (the heavy ones included)."""


def wait_listening(port: int, process: subprocess.Popen[Any]) -> None:
    """Return once ``process`` (a server starting on ``port``) accepts connections; fail if it
    ends first or takes more than 20 s."""
    deadline = time.monotonic() + 20
    while True:
        assert process.poll() is None, "the server did not start"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)


class Served:
    """A running ``rtcore serve`` process."""

    def __init__(self, process: subprocess.Popen[Any], port: int, log: Any) -> None:
        self.process = process
        self.port = port
        self._log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def log(self) -> str:
        self._log.seek(0)
        return str(self._log.read())


@contextmanager
def served(*options: str, descriptors: int | None = None) -> Iterator[Served]:
    """``rtcore serve`` (default options unless ``options`` say otherwise) until the block ends;
    ``descriptors`` caps the files it may open (soft and hard limit)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "rtcore_trio.cli", "serve", "--port", str(port), *options],
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=None if descriptors is None else lambda: _cap_descriptors(descriptors),
        )
        try:
            wait_listening(port, process)
            yield Served(process, port, log)
            assert process.poll() is None, "the server exited"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _cap_descriptors(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


def p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class Watch:
    """A healthy session's turn latencies and the server's peak RSS while an attack runs."""

    def __init__(self, server: Served) -> None:
        self.server = server
        self.turns: list[float] = []
        self.base_mb = 0.0
        self.peak_mb = 0.0
        self.seconds = 0.0
        """How long the attack took."""
        self._stop = trio.Event()

    async def _healthy(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        url = f"ws://127.0.0.1:{self.server.port}/v1/realtime"
        async with connect(url, dialect="beta", ping_interval=None) as rt:
            await rt.send(TEXT_ONLY)
            client = Healthy(rt)
            for _ in range(3):  # warm: the first turns import and allocate
                await client.turn()
            task_status.started()
            # A turn adds two items: a new session before the conversation is full.
            while not self._stop.is_set() and client.turns < 1500:
                began = time.perf_counter()
                await client.turn()
                self.turns.append(time.perf_counter() - began)
                await trio.sleep(0.01)
        if not self._stop.is_set():
            await self._healthy()

    async def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.server.rss_mb())
            await trio.sleep(0.02)

    def run(self, attack: Any, *args: Any) -> Any:
        """Run ``trio.run(attack, *args)`` in a child process, beside the healthy session; its
        result. The attacker has a process of its own so that its work (masking, reading
        echoes of many megabytes) never shows in the healthy session's latencies."""
        context = multiprocessing.get_context("fork")  # before any trio loop runs here
        go = context.Event()
        results, sink = context.Pipe(duplex=False)
        process = context.Process(target=_attacker, args=(go, sink, attack, args), daemon=True)
        process.start()
        try:
            trio.run(self._observe, go, process)
            if not results.poll(5):
                raise AssertionError(f"the attacker ended without a result ({process.exitcode})")
            outcome, value = results.recv()
        finally:
            process.kill()
            process.join()
        if outcome != "ok":
            raise AssertionError(f"the attack failed:\n{value}")
        return value

    async def _observe(self, go: Any, process: Any) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self._healthy)
            self.base_mb = self.peak_mb = self.server.rss_mb()
            nursery.start_soon(self._sample)
            go.set()
            began = time.monotonic()
            while process.is_alive():
                assert time.monotonic() - began < ATTACK_SECONDS, "the attack did not end"
                await trio.sleep(0.05)
            self.seconds = time.monotonic() - began
            await trio.sleep(0.3)  # turns after the attack count too
            self._stop.set()

    def report(self) -> str:
        return (
            f"attack {self.seconds:.1f} s; RSS {self.base_mb:.0f} MB before, peak {self.peak_mb:.0f} MB; healthy turns: "
            f"{len(self.turns)}, p50 {1000 * sorted(self.turns)[len(self.turns) // 2]:.0f} ms, "
            f"p99 {1000 * p99(self.turns):.0f} ms, max {1000 * max(self.turns):.0f} ms"
        )


async def ga_client(port: int, **options: Any) -> RawClient:
    """A raw WebSocket connection that asked for the GA dialect (101 expected)."""
    client = await RawClient.open(port, handshake=False, **options)
    request = ClientConnection(f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime")
    await client.stream.send_all(request.data_to_send())
    with trio.fail_after(10):
        while b"\r\n\r\n" not in client.received:
            data = await client.stream.receive_some(65536)
            assert data, "closed during the handshake"
            client.received += data
    head, _, rest = bytes(client.received).partition(b"\r\n\r\n")
    client.received = bytearray(rest)
    client.status = int(head.split(b" ", 2)[1])
    assert client.status == 101, head
    return client


def _attacker(go: Any, sink: Any, attack: Any, args: tuple[Any, ...]) -> None:
    go.wait(60)
    try:
        sink.send(("ok", trio.run(attack, *args)))
    except BaseException:
        sink.send(("error", traceback.format_exc()))


def _complete_frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Take the complete (unmasked, server) frames off the front of ``buffer``."""
    frames = []
    while len(buffer) >= 2:
        opcode, length, at = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
        if length == 126:
            length, at = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            length, at = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < at + length:
            break
        frames.append((opcode, bytes(buffer[at : at + length])))
        del buffer[: at + length]
    return frames


class Reader:
    """Reads a raw client's connection as it comes (so the server never waits on us): the
    bytes received, and the error codes, parsed from complete frames only."""

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.received = 0
        self.codes: list[str] = []
        self._ids: set[str] = set()
        self._arrived = trio.Event()
        self.closed = False

    async def run(self) -> None:
        client = self.client
        try:
            while data := await client.stream.receive_some(1 << 20):
                self.received += len(data)
                client.received += data
                for opcode, payload in _complete_frames(client.received):
                    if opcode == 1 and payload.startswith(b'{"type":"error"'):
                        error = json.loads(payload)["error"]
                        self.codes.append(error["code"])
                        self._ids.add(error.get("event_id"))
                        self._arrived.set()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        self.closed = True
        self._arrived.set()

    async def error_for(self, event_id: str, timeout: float = 60) -> list[str]:
        """Wait for the error answering ``event_id``; every error code so far."""
        with trio.fail_after(timeout):
            while event_id not in self._ids:
                assert not self.closed, f"the server closed the connection; errors: {self.codes}"
                self._arrived = trio.Event()
                await self._arrived.wait()
        return self.codes
