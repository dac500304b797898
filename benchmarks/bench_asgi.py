"""The ASGI path (``rtcore_trio.asgi:app`` under hypercorn's trio worker) against ``rtcore serve``.

Both servers run at once, each in its own process with the echo backend; one
client (``rtcore_trio.connect``) holds a session with each and times, in
alternating rounds so that both see the same machine, a text turn (an item,
``response.create``, every event up to ``response.done``) and a 20 ms audio
append (a batch of appends, then a commit and its ``committed``). What is
compared is the server process's CPU time per turn and per append (``/proc``),
which the client's own cost and the machine's other load do not enter: the
ratio is what hypercorn's HTTP and WebSocket layers and the message-level link
cost against ``rtcore serve``'s own framing. The wall time per turn is kept in
the row's extra.
"""

from __future__ import annotations

import statistics
import sys
import time

import trio

from rtcore import events as ev
from rtcore_trio import connect
from rtcore_trio.client import RealtimeClient

from .bench_e2e import _started
from .harness import Result
from .processes import cpu_seconds, free_port, stop

_SETUP = (
    b'{"type":"session.update","session":{"type":"realtime","output_modalities":["text"],'
    b'"audio":{"input":{"turn_detection":null}}}}'
)
_ITEM = (
    b'{"type":"conversation.item.create","item":{"type":"message","role":"user",'
    b'"content":[{"type":"input_text","text":"Hello there, how are you?"}]}}'
)


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a server and its children (hypercorn serves in a worker process)."""
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        children = [int(child) for child in listing.read().split()]
    return cpu_seconds(pid) + sum(_tree_cpu(child) for child in children)


def _event(data: bytes) -> ev.ClientEvent:
    event = ev.decode_client_event(data, dialect="ga", strict=True)
    assert isinstance(event, ev.EventBase)
    return event  # type: ignore[return-value]


async def _until(rt: RealtimeClient, kind: str) -> None:
    async for event, _ in rt:
        if getattr(event, "type", "") == kind:
            return
        if getattr(event, "type", "") == "error":
            raise RuntimeError(f"the server refused an event: {event}")
    raise RuntimeError(f"the connection ended before {kind}")


async def _turns(rt: RealtimeClient, count: int) -> float:
    """Seconds per text turn, over ``count`` turns."""
    item, create = _event(_ITEM), _event(b'{"type":"response.create"}')
    start = time.perf_counter()
    for _ in range(count):
        await rt.send(item)
        await rt.send(create)
        await _until(rt, "response.done")
    return (time.perf_counter() - start) / count


async def _appends(rt: RealtimeClient, count: int) -> float:
    """Seconds per 20 ms append, over ``count`` appends and their commit."""
    append = ev.InputAudioBufferAppend(audio=bytes(960))
    commit = _event(b'{"type":"input_audio_buffer.commit"}')
    start = time.perf_counter()
    for _ in range(count):
        await rt.send(append)
    await rt.send(commit)
    await _until(rt, "input_audio_buffer.committed")
    return (time.perf_counter() - start) / count


async def _compare(
    ports: dict[str, int], pids: dict[str, int], rounds: int, turns: int, appends: int
) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {
        name: {"turn": [], "append": [], "wall": []} for name in ports
    }
    async with (
        connect(f"ws://127.0.0.1:{ports['native']}/v1/realtime") as native,
        connect(f"ws://127.0.0.1:{ports['asgi']}/v1/realtime") as asgi,
    ):
        clients = {"native": native, "asgi": asgi}
        for rt in clients.values():
            await rt.send(_event(_SETUP))
            await _until(rt, "session.updated")
            await _turns(rt, 3)  # warm-up
        for _ in range(rounds):
            for name, rt in clients.items():
                cpu = _tree_cpu(pids[name])
                times[name]["wall"].append(await _turns(rt, turns))
                times[name]["turn"].append((_tree_cpu(pids[name]) - cpu) / turns)
                cpu = _tree_cpu(pids[name])
                await _appends(rt, appends)
                times[name]["append"].append((_tree_cpu(pids[name]) - cpu) / appends)
    return times


def run(quick: bool = False) -> list[Result]:
    # The kernel counts CPU time in 10 ms ticks: each measurement spans many of them.
    rounds, turns, appends = (3, 100, 3000) if quick else (5, 300, 10000)
    ports = {"native": free_port(), "asgi": free_port()}
    servers = [
        _started(
            [sys.executable, "-m", "rtcore_trio.cli", "serve", "--port", str(ports["native"])],
            ports["native"],
        ),
        _started(
            [sys.executable, "-m", "hypercorn", "--worker-class", "trio"]
            + ["--bind", f"127.0.0.1:{ports['asgi']}", "rtcore_trio.asgi:app"],
            ports["asgi"],
        ),
    ]
    try:
        pids = {"native": servers[0].pid, "asgi": servers[1].pid}
        times = trio.run(_compare, ports, pids, rounds, turns, appends)
    finally:
        for server in servers:
            stop(server)
    results = []
    for kind, what in (("turn", "text turn"), ("append", "20 ms audio append")):
        native = statistics.median(times["native"][kind])
        asgi = statistics.median(times["asgi"][kind])
        ratios = [a / n for a, n in zip(times["asgi"][kind], times["native"][kind], strict=True)]
        results.append(
            Result(
                suite="asgi",
                name=f"server CPU per {what}, ASGI under hypercorn vs rtcore serve",
                subject="ASGI (hypercorn, trio)",
                baseline="native",
                ratio=asgi / native,
                spread=(min(ratios), max(ratios)),
                subject_value=asgi * 1e6,
                baseline_value=native * 1e6,
                unit="us",
                goal="(measured: the cost of the standard server)",
                ok=None,
                extra={
                    "native_us": times["native"][kind],
                    "asgi_us": times["asgi"][kind],
                    "wall_per_turn_s": {n: times[n]["wall"] for n in times},
                },
            )
        )
    return results
