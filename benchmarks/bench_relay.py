"""What a relay adds per event: ``RelayServer`` against a bare byte-forwarding trio proxy.

One process, one trio loop, loopback: an in-process ``RealtimeServer`` streams
one text answer of ``DELTAS`` one-character deltas as fast as it can, and a
GA client (``rtcore_trio.connect``) times it from ``response.create`` to
``response.done``, directly, through a proxy that only copies bytes, through
a GA-to-GA relay, and with a beta client through a relay to the same GA
server (translated). The time each path adds over the direct one, divided by
the number of events, is what that path costs per event; on one loop that is
its CPU time, which is also the latency it adds to an event when the loop is
otherwise idle. Goal (issue 19): under 100 us per text delta, and at most
1.5 times what the byte proxy adds.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import msgspec
import trio

from rtcore.events import beta, ga
from rtcore_sim import Scenario, ScriptBackend, Turn
from rtcore_trio import RealtimeServer, RelayServer, connect

from .harness import Result

DELTAS = 2000


async def _proxy(upstream_port: int, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    async def handler(down: trio.SocketStream) -> None:
        async with (
            await trio.open_tcp_stream("127.0.0.1", upstream_port) as up,
            trio.open_nursery() as n,
        ):

            async def copy(a: trio.SocketStream, b: trio.SocketStream) -> None:
                try:
                    while data := await a.receive_some(65536):
                        await b.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                n.cancel_scope.cancel()

            n.start_soon(copy, down, up)
            n.start_soon(copy, up, down)

    await trio.serve_tcp(handler, 0, host="127.0.0.1", task_status=task_status)


async def _turn(port: int, dialect: str) -> float:
    async with connect(
        f"ws://127.0.0.1:{port}/v1/realtime", dialect=dialect, ping_interval=None
    ) as client:  # type: ignore[arg-type]
        await client.receive()
        ns = beta if dialect == "beta" else ga
        update = (
            beta.SessionUpdate(
                session=beta.SessionConfig(modalities=("text",), turn_detection=None)
            )
            if dialect == "beta"
            else ga.SessionUpdate(
                session=ga.RealtimeSessionConfig(
                    output_modalities=("text",),
                    audio=ga.AudioConfig(input=ga.AudioInput(turn_detection=None)),
                )
            )
        )
        await client.send(update)
        began = trio.current_time()
        await client.send(ns.ResponseCreate())
        async for event, _ in client:
            if event.type == "response.done":
                return trio.current_time() - began
    raise RuntimeError("the connection ended before response.done")


async def _measure(repeats: int) -> dict[str, list[float]]:
    turn = msgspec.convert({"text": "x" * DELTAS, "text_chunk_chars": 1}, Turn)
    backend = ScriptBackend(Scenario(turns=[turn] * (repeats * 4 + 4)))
    server = RealtimeServer(backend)
    times: dict[str, list[float]] = {"direct": [], "proxy": [], "relay": [], "relay beta->ga": []}
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        assert server.port is not None
        [listener] = await nursery.start(partial(_proxy, server.port))
        proxy_port = listener.socket.getsockname()[1]
        relay = RelayServer(
            f"ws://127.0.0.1:{server.port}/v1/realtime",
            upstream_key="k",
            upstream_ping_interval=None,
        )
        await nursery.start(relay.serve, "127.0.0.1", 0)
        assert relay.port is not None
        paths: dict[str, Callable[[], Awaitable[float]]] = {
            "direct": partial(_turn, server.port, "ga"),
            "proxy": partial(_turn, proxy_port, "ga"),
            "relay": partial(_turn, relay.port, "ga"),
            "relay beta->ga": partial(_turn, relay.port, "beta"),
        }
        for _ in range(repeats):  # interleaved, so that drifts touch every path alike
            for name, run in paths.items():
                times[name].append(await run())
        relay.shutdown()
        server.shutdown()
        nursery.cancel_scope.cancel()
    return times


def run(quick: bool = False) -> list[Result]:
    repeats = 3 if quick else 9
    times = trio.run(_measure, repeats)
    direct = statistics.median(times["direct"])
    events = DELTAS + 8  # the deltas and the response's other events

    def added(name: str) -> float:
        return max(0.0, (statistics.median(times[name]) - direct) / events * 1e6)

    proxy = added("proxy")
    results = []
    for name in ("relay", "relay beta->ga"):
        value = added(name)
        ratio = value / proxy if proxy else float("inf")
        results.append(
            Result(
                suite="relay",
                name=f"added per text delta: {name}",
                subject=name,
                baseline="byte proxy",
                ratio=ratio,
                spread=(ratio, ratio),
                subject_value=value,
                baseline_value=proxy,
                goal="< 100 us and <= 1.5x proxy",
                ok=value < 100 and ratio <= 1.5,
            )
        )
    return results
