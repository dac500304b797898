"""``rtcore loadtest``'s command line: its options, the live progress, the summary, JSON and CSV.

While the load runs, a progress line each interval (rewritten in place on a
terminal, one plain line each otherwise, so that logs and CI keep them); at
the end a summary table on stdout, and on request the whole result as JSON
(``--out``), the per-interval figures as CSV (``--csv``) and the HTML report
(``--html``, ``rtcore_trio.loadtest_report``). A wrong option or an unreadable
scenario is one line on stderr and status 2, as for the other commands.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import trio

from .loadtest import LoadOptions, run_load
from .loadtest_metrics import METRICS, counts_line
from .loadtest_report import write_report
from .loadtest_scenario import BUILTIN, load_scenario

__all__ = ["add_loadtest_parser", "run_loadtest", "summary_table", "write_csv"]


def add_loadtest_parser(commands: Any) -> None:
    """Register ``loadtest`` on the ``rtcore`` command's subparsers."""
    p = commands.add_parser(
        "loadtest", help="run N concurrent Realtime sessions against an endpoint and measure them"
    )
    p.add_argument("url", help="the endpoint, e.g. ws://127.0.0.1:8765/v1/realtime")
    p.add_argument("--sessions", type=int, default=10, help="concurrent sessions (default: 10)")
    p.add_argument(
        "--ramp", type=float, default=0.0, help="seconds over which sessions start (default: 0)"
    )
    p.add_argument(
        "--duration", type=float, default=30.0, help="seconds the run lasts (default: 30)"
    )
    p.add_argument(
        "--scenario",
        default="mixed",
        help=f"{', '.join(BUILTIN)} or a JSON scenario file (default: mixed)",
    )
    p.add_argument("--dialect", choices=("ga", "beta"), default="ga", help="(default: ga)")
    p.add_argument(
        "--api-key", help="sent as a bearer token (default: $OPENAI_API_KEY when it is set)"
    )
    p.add_argument("--frame-ms", type=int, default=20, help="audio frame length (default: 20)")
    p.add_argument(
        "--interval", type=float, default=1.0, help="seconds per interval of figures (default: 1)"
    )
    p.add_argument(
        "--turn-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the handshake or an answer before counting a timeout (default: 30)",
    )
    p.add_argument("--out", type=Path, help="write the whole result as JSON")
    p.add_argument("--csv", type=Path, help="write the per-interval figures as CSV")
    p.add_argument("--html", type=Path, help="write a self-contained HTML report")


def run_loadtest(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    """Run ``rtcore loadtest`` with parsed ``args``; the exit status."""
    out = stdout or sys.stdout
    try:
        if not args.interval > 0 or not args.turn_timeout > 0:
            raise ValueError("--interval and --turn-timeout must be positive")
        options = LoadOptions(
            url=args.url,
            sessions=args.sessions,
            duration=args.duration,
            ramp=args.ramp,
            scenario=load_scenario(args.scenario),
            dialect=args.dialect,
            api_key=args.api_key or os.environ.get("OPENAI_API_KEY"),
            frame_ms=args.frame_ms,
            interval=args.interval,
            turn_timeout=args.turn_timeout,
        )
    except ValueError as err:
        print(f"rtcore loadtest: {err}", file=sys.stderr)
        return 2
    live = out.isatty()

    def progress(status: dict[str, Any]) -> None:
        line = progress_line(status)
        if live:
            out.write("\r\x1b[K" + line)
        else:
            out.write(line + "\n")
        out.flush()

    result = trio.run(run_load, options, progress)
    if live:
        out.write("\n")
    out.write(summary_table(result))
    try:
        if args.out is not None:
            args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        if args.csv is not None:
            with args.csv.open("w", newline="", encoding="utf-8") as f:
                write_csv(result, f)
        if args.html is not None:
            write_report(result, args.html)
    except OSError as err:
        print(f"rtcore loadtest: cannot write {err.filename}: {err.strerror}", file=sys.stderr)
        return 2
    return 0


def progress_line(s: dict[str, Any]) -> str:
    p99 = "-" if s["p99_first_delta_ms"] is None else f"{s['p99_first_delta_ms']:.0f} ms"
    cpu = "-" if s["cpu"] is None else f"{100 * s['cpu']:.0f}%"
    bound = "  GENERATOR-BOUND" if s["generator_bound"] else ""
    return (
        f"{s['elapsed_s']:6.1f} s  sessions {s['sessions_up']}/{s['sessions']}"
        f"  events/s {s['events_per_s']}  p99 first delta {p99}  errors {s['errors']}"
        f"  cpu {cpu}{bound}"
    )


def summary_table(result: dict[str, Any]) -> str:
    """The end-of-run table: latencies in ms, then counts and the generator's verdict."""
    rows = [f"{'latency (ms)':<16}{'count':>8}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}"]
    for metric in METRICS:
        p = result["latency_ms"][metric]
        if p is None:
            rows.append(f"{metric:<16}{0:>8}{'-':>10}{'-':>10}{'-':>10}{'-':>10}")
        else:
            figures = "".join(f"{p[k]:>10.1f}" for k in ("p50", "p90", "p99", "max"))
            rows.append(f"{metric:<16}{p['count']:>8}{figures}")
    sessions = result["sessions"]
    rows += [
        "",
        f"sessions     {len(sessions)} ({sum(1 for s in sessions if s['handshake_ms'] is not None)}"
        f" connected), turns {sum(s['turns'] for s in sessions)},"
        f" responses {sum(s['responses'] for s in sessions)}",
        f"events       {sum(result['events'].values())}",
        f"errors       {counts_line(result['errors'])}",
        f"refused      {counts_line(result['rejected'])}",
        f"close codes  {counts_line(result['close_codes'])} (from the server; 1006: dropped)",
        f"generator    {result['generator']['verdict']}",
    ]
    return "\n".join(rows) + "\n"


def write_csv(result: dict[str, Any], f: TextIO) -> None:
    """One row per interval: sessions, events/s, errors, each latency's p50 and p99, the generator."""
    header = ["t", "sessions", "events_per_s", "errors"]
    for metric in METRICS:
        header += [f"{metric}_p50_ms", f"{metric}_p99_ms"]
    header += ["lag_p99_ms", "cpu", "generator_bound"]
    writer = csv.writer(f)
    writer.writerow(header)
    for i in result["intervals"]:
        row: list[Any] = [i["t"], i["sessions"], i["events_per_s"], i["errors"]]
        for metric in METRICS:
            p = i["latency_ms"].get(metric)
            row += ["", ""] if p is None else [p["p50"], p["p99"]]
        row += [i["lag_p99_ms"], i["cpu"], int(i["generator_bound"])]
        writer.writerow(["" if v is None else v for v in row])
