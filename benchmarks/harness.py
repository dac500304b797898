"""The measuring harness: paired, interleaved timings reported as ratios.

A comparison runs its subject and its baseline on the same input, alternating
between them in every repeat so that both see the same machine state (CPU
frequency, cache, other load). Each repeat gives one ratio; the report is the
median ratio and its spread (the interquartile range), never an absolute time
on its own. Goals are checked against the median ratio.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    suite: str
    name: str
    subject: str
    baseline: str
    ratio: float
    spread: tuple[float, float]
    subject_value: float
    baseline_value: float
    unit: str = "us"
    """What ``subject_value`` and ``baseline_value`` count: ``us`` (median time per run), ``MB``, ..."""
    goal: str = ""
    ok: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    samples: list[float] = field(default_factory=list)
    """The per-repeat ratios (their spread is the row's noise when runs are compared)."""
    better: str = ""
    """``lower`` or ``higher``: which way the ratio improves (default: higher for sessions)."""

    def __post_init__(self) -> None:
        if not self.better:
            self.better = "higher" if self.unit == "sessions" else "lower"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _time(fn: Callable[[], Any], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def calibrate(fn: Callable[[], Any], target_s: float = 0.02) -> int:
    """How many calls of ``fn`` take about ``target_s``."""
    number = 1
    while True:
        elapsed = _time(fn, number) * number
        if elapsed >= target_s / 4 or number >= 1 << 20:
            return max(1, int(number * target_s / max(elapsed, 1e-9)))
        number *= 4


def compare(
    suite: str,
    name: str,
    subject: tuple[str, Callable[[], Any]],
    baseline: tuple[str, Callable[[], Any]],
    *,
    repeats: int = 15,
    target_s: float = 0.02,
    goal: tuple[str, Callable[[float], bool]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Result:
    """Time ``subject`` against ``baseline`` in interleaved repeats; report the ratio."""
    subject_fn, baseline_fn = subject[1], baseline[1]
    subject_fn()
    baseline_fn()  # warm both
    n_subject = calibrate(subject_fn, target_s)
    n_baseline = calibrate(baseline_fn, target_s)
    ratios: list[float] = []
    subject_times: list[float] = []
    baseline_times: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            b = _time(baseline_fn, n_baseline)
            s = _time(subject_fn, n_subject)
            ratios.append(s / b)
            subject_times.append(s)
            baseline_times.append(b)
            gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    ratio = statistics.median(ratios)
    q = statistics.quantiles(ratios, n=4) if len(ratios) >= 4 else [min(ratios), 0, max(ratios)]
    ok = goal[1](ratio) if goal else None
    return Result(
        suite=suite,
        name=name,
        subject=subject[0],
        baseline=baseline[0],
        ratio=ratio,
        spread=(q[0], q[-1]),
        subject_value=statistics.median(subject_times) * 1e6,
        baseline_value=statistics.median(baseline_times) * 1e6,
        goal=goal[0] if goal else "",
        ok=ok,
        extra=extra or {},
        samples=[round(r, 5) for r in ratios],
    )


def format_table(results: list[Result]) -> str:
    header = (
        "suite",
        "workload",
        "subject / baseline",
        "ratio",
        "IQR",
        "subject",
        "baseline",
        "goal",
    )
    rows = [header]
    for r in results:
        verdict = "" if r.ok is None else (" ok" if r.ok else " MISSED")
        rows.append(
            (
                r.suite,
                r.name,
                f"{r.subject} / {r.baseline}",
                f"{r.ratio:.3f}",
                f"{r.spread[0]:.3f}-{r.spread[1]:.3f}",
                human(r.subject_value, r.unit),
                human(r.baseline_value, r.unit),
                (r.goal + verdict).strip(),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def human(value: float, unit: str = "us") -> str:
    if unit != "us":
        return f"{value:.2f} {unit}"
    us = value
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.2f} us"
