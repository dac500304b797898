"""Run the benchmark suites, print a table and write the results as JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from pathlib import Path

from .harness import Result, format_table

SUITES = ["decode", "client", "wire"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller workloads")
    parser.add_argument("--only", action="append", choices=SUITES, help="run only these suites")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "latest.json",
        help="where to write the results (default: benchmarks/results/latest.json)",
    )
    args = parser.parse_args(argv)
    results: list[Result] = []
    for suite in args.only or SUITES:
        module = importlib.import_module(f"benchmarks.bench_{suite}")
        print(f"running {suite} ...", file=sys.stderr, flush=True)
        results.extend(module.run(quick=args.quick))
    print(format_table(results))
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
