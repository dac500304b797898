"""``rtcore serve --workers 2`` against ``--workers 1``: the sessions each holds, in one run.

The load is ``bench_e2e``'s: real-time audio sessions on loopback (a 20 ms
append every 20 ms, speech then silence under server VAD), generated in this
process. A load is held when the busiest worker stays under 0.95 of a core,
the VAD events come back with p99 under 100 ms, and the generator keeps its
schedule (p99 lag under 20 ms); the two servers climb the same ladder of loads
in turns, so that both see the same machine. The goal is 1.8x the sessions on
two cores; the generator needs a core of its own too, so on a two-core machine
the figure is a floor: when the generator falls behind first, the row says so.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .audio_load import load
from .bench_e2e import GENERATOR_P99, _started, load_row, sustained
from .harness import Result
from .processes import free_port, stop

GOAL = 1.8


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(child) for child in listing.read().split()]


def measure(workers: int, count: int, seconds: float) -> dict[str, Any]:
    """``count`` sessions against ``rtcore serve --workers N``, each worker's CPU measured."""
    port = free_port()
    command = [sys.executable, "-m", "rtcore_trio.cli", "serve", "--port", str(port)]
    server = _started([*command, "--workers", str(workers)], port)
    try:
        pids = [server.pid]
        if workers > 1:
            deadline = time.monotonic() + 20
            while len(pids := _children(server.pid)) < workers:
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers did not start")
                time.sleep(0.05)
            time.sleep(0.5)  # every worker listening, not only the first
        return load(port, pids, count, seconds)
    finally:
        stop(server, 20)


def run(quick: bool = False) -> list[Result]:
    ladder = [50, 100, 200] if quick else [50, 100, 150, 250, 350, 450, 550, 700, 850, 1000]
    seconds = 3.0 if quick else 4.0
    best = {1: 0, 2: 0}
    climbing = {1: True, 2: True}
    limited = {1: False, 2: False}
    results = []
    cpu: dict[int, dict[int, float]] = {1: {}, 2: {}}
    kept: dict[int, set[int]] = {1: set(), 2: set()}
    for count in ladder:
        for workers in (1, 2):
            if not climbing[workers]:
                continue
            m = measure(workers, count, seconds)
            cpu[workers][count] = m["server_cpu"]
            held = sustained(m)
            if held:
                best[workers] = count
                kept[workers].add(count)
            else:
                climbing[workers] = False
                limited[workers] = m["generator_p99_lag_ms"] >= GENERATOR_P99 * 1000
            results.append(
                load_row(
                    "workers",
                    f"--workers {workers}, {count} sessions (columns: VAD p50, p99)",
                    "busiest worker's CPU",
                    m,
                    "held" if held else "falls behind",
                    workers=workers,
                )
            )
        if not any(climbing.values()):
            break
    # What the kernel's split of the same load gives each worker, whatever else the machine
    # runs: one process's CPU over the busiest of two's (2.0: an even split at no extra cost).
    # Loads both held, when there are any: a load that fell behind was not all delivered
    # on time. Else every load both measured (the row's extra says which).
    both = (kept[1] & kept[2]) or (set(cpu[1]) & set(cpu[2]))
    splits = [cpu[1][n] / cpu[2][n] for n in sorted(both) if cpu[2][n] > 0]
    split = sorted(splits)[len(splits) // 2] if splits else 0.0
    results.append(
        Result(
            suite="workers",
            name="CPU of one server over the busiest of two workers, same load",
            subject="--workers 1",
            baseline="busiest of --workers 2",
            ratio=split,
            spread=(min(splits, default=0.0), max(splits, default=0.0)),
            subject_value=len(splits),
            baseline_value=2.0,
            unit="loads",
            goal="2.0 = an even split (what two cores would hold, with the generator elsewhere)",
            ok=None,
            extra={
                "cpu": {str(w): cpu[w] for w in cpu},
                "loads": sorted(both),
                "held": sorted(kept[1] & kept[2]),
            },
        )
    )
    ratio = best[2] / best[1] if best[1] else 0.0
    # The name stays the same whatever the outcome, so that runs compare (benchmarks/history.py
    # pairs rows by name): the floor's note goes with the goal.
    note = " (the generator fell behind first: a floor)" if limited[2] else ""
    results.append(
        Result(
            suite="workers",
            name="sessions held, --workers 2 vs --workers 1",
            subject="--workers 2",
            baseline="--workers 1",
            ratio=ratio,
            spread=(ratio, ratio),
            subject_value=best[2],
            baseline_value=best[1],
            unit="sessions",
            goal=f">= {GOAL}x on two cores{note}" if not quick else "(quick run)",
            ok=(ratio >= GOAL) if not quick else None,
            extra={"generator_limited": limited},
        )
    )
    return results
