"""Run the benchmark suites, print a table and write the results as JSON.

Each run is also kept as ``benchmarks/results/<time>-<commit>.json``; ``--compare FILE``
or ``--baseline REF`` reports every row worse than that earlier run by more than its
noise as a REGRESSION (benchmarks/history.py).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import pstats
import sys
from pathlib import Path

from . import history
from .harness import Result, format_table

SUITES = [
    "decode",
    "client",
    "wire",
    "memory",
    "server",
    "e2e",
    "scale",
    "dialects",
    "idle",
    "bounds",
    "import",
    "relay",
    "workers",
    "asgi",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller workloads")
    parser.add_argument("--only", action="append", choices=SUITES, help="run only these suites")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the suites under cProfile and print the 25 functions that take the most time",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "latest.json",
        help="where to write the results (default: benchmarks/results/latest.json)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="FILE",
        help="compare with a saved run (e.g. benchmarks/results/<time>-<commit>.json): "
        "rows worse by more than their noise are reported as regressions",
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="run the same suites of git commit REF (its own code, in a temporary worktree) "
        "first and compare with it",
    )
    args = parser.parse_args(argv)
    suites = args.only or SUITES
    earlier = history.load(args.compare) if args.compare else None
    if args.baseline:
        earlier = history.run_baseline(args.baseline, suites, args.quick)
    results: list[Result] = []
    profiler = cProfile.Profile() if args.profile else None
    for suite in suites:
        module = importlib.import_module(f"benchmarks.bench_{suite}")
        print(f"running {suite} ...", file=sys.stderr, flush=True)
        if profiler is not None:
            profiler.enable()
        results.extend(module.run(quick=args.quick))
        if profiler is not None:
            profiler.disable()
    print(format_table(results))
    if profiler is not None:
        print()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    run = history.document((r.as_dict() for r in results), sys.argv[1:] if argv is None else argv)
    kept = history.save(run, args.json)
    print(f"\nresults written to {args.json} and {kept}", file=sys.stderr)
    regressions = 0
    if earlier is not None:
        changes = history.compare_runs(earlier, run)
        regressions = sum(c.regression for c in changes)
        print()
        print(history.format_changes(changes, earlier, run))
    missed = [r for r in results if r.ok is False]
    return 1 if missed or regressions else 0


if __name__ == "__main__":
    raise SystemExit(main())
