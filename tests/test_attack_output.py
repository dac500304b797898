"""Bounded output and a paced ping flood (issue 22, item 2), over real loopback sockets.

* A ping flood from a client that reads its pongs costs the flooder: past
  ``PINGS_PER_SECOND`` its connection is not read until its pings are back under the
  rate, and far past it (a wait over ``PING_FLOOD_SECONDS``) its session ends with 1008;
  it gets few pongs and a healthy session's turns stay fast.
* Output is written a batch at a time (``WRITE_BATCH``), encoded as it is written: a
  client that asks for the session's echo again and again (after one huge
  ``instructions``) and never reads pins at most about one echo, not one per request,
  until the write timeout drops it; a healthy session's turns stay fast meanwhile.
"""

from __future__ import annotations

import json
import statistics
import time
import tracemalloc

import trio
from attackkit import RawClient, healthy, running, wait_for
from wirekit import frame

from rtcore_trio import RealtimeServer
from rtcore_trio.connection import PINGS_PER_SECOND

PING = frame(9, b"", mask=True)


async def _turn_times(other: object, turns: int) -> list[float]:
    times = []
    for _ in range(turns):
        began = time.perf_counter()
        await other.turn()  # type: ignore[attr-defined]
        times.append(time.perf_counter() - began)
    return times


async def test_a_ping_flood_costs_the_flooder_not_everyone() -> None:
    server = RealtimeServer(close_timeout=1.0)
    async with running(server), healthy(server) as other:
        baseline = statistics.median(await _turn_times(other, 5))
        flooder = await RawClient.open(server.port)  # type: ignore[arg-type]
        pongs = 0
        sent = 0
        told = False

        async def flood() -> None:
            nonlocal sent
            burst = PING * 1000
            try:
                while True:
                    await flooder.stream.send_all(burst)
                    sent += 1000
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # closed by the server

        async def read_pongs() -> None:
            nonlocal pongs, told
            tail = b""
            while True:
                try:
                    data = await flooder.stream.receive_some(65536)
                except trio.BrokenResourceError:
                    return
                if not data:
                    return
                pongs += data.count(b"\x8a\x00")
                told = told or b"ping flood" in tail + data  # the close frame's reason
                tail = data[-32:]

        async with trio.open_nursery() as nursery:
            nursery.start_soon(flood)
            nursery.start_soon(read_pongs)
            await trio.sleep(0.5)
            during = await _turn_times(other, 10)
            await wait_for(lambda: server.connections == 1, what="the flooder's end")
            nursery.cancel_scope.cancel()
        # The first read's pings are answered at once (a read holds up to ~11 000); after
        # that the connection is paced: far fewer pongs than pings.
        assert pongs < sent / 2, (pongs, sent)
        assert pongs < 2 * 11_000 + 5 * PINGS_PER_SECOND, (pongs, sent)
        assert statistics.median(during) < 5 * baseline + 0.05, (baseline, during)
        assert max(during) < 1.0, during
        assert told, "the flooder got no close frame saying why"


async def test_a_client_that_never_reads_its_echoes_pins_about_one_of_them() -> None:
    server = RealtimeServer(write_timeout=3.0)
    async with running(server), healthy(server) as other:
        baseline = statistics.median(await _turn_times(other, 5))
        attacker = await RawClient.open(server.port, receive_buffer=4096)  # type: ignore[arg-type]
        huge = {"type": "session.update", "session": {"instructions": "x" * 8 * 1024 * 1024}}
        await attacker.send_json(huge)
        small = frame(1, json.dumps({"type": "session.update", "session": {}}).encode(), mask=True)
        tracemalloc.start()
        try:
            await attacker.send(small * 64)  # 64 more echoes of 8 MiB asked for in 3 KB
            during = await _turn_times(other, 5)
            await wait_for(lambda: server.connections == 1, timeout=30, what="the drop")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # One echo being written (its encoding and its frame), not one per request.
        assert peak < 4 * 8 * 1024 * 1024, peak
        assert statistics.median(during) < 5 * baseline + 0.05, (baseline, during)
        await attacker.aclose()
