"""Run the benchmark suites, print a table and write the results as JSON."""

from __future__ import annotations

import argparse
import cProfile
import importlib
import json
import platform
import pstats
import sys
from pathlib import Path

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
    args = parser.parse_args(argv)
    results: list[Result] = []
    profiler = cProfile.Profile() if args.profile else None
    for suite in args.only or SUITES:
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
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "python": sys.version,
                "machine": platform.machine(),
                "platform": platform.platform(),
                "results": [r.as_dict() for r in results],
            },
            indent=2,
        )
    )
    print(f"\nresults written to {args.json}", file=sys.stderr)
    missed = [r for r in results if r.ok is False]
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
