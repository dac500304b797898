"""The ``rtcore check URL`` subcommand: its options, and the report on stdout.

Exit status: 0 when the server conforms, 1 when it deviates, 2 for a usage
mistake (an URL that is not ``ws://`` or ``wss://``, an unknown flow). The
API key is ``--api-key`` or else ``$OPENAI_API_KEY``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial
from typing import Any

import trio

from .check import format_report, run_check
from .check_flows import FLOWS

__all__ = ["add_check_command", "run_check_command"]


def add_check_command(commands: Any) -> None:
    """Add ``check`` to the ``rtcore`` command's subparsers."""
    check = commands.add_parser(
        "check", help="hold scripted conversations with a Realtime server and report deviations"
    )
    check.add_argument(
        "url", help="the server's ws:// or wss:// URL, e.g. ws://127.0.0.1:8765/v1/realtime"
    )
    check.add_argument("--dialect", choices=("ga", "beta"), default="ga", help="(default: ga)")
    check.add_argument("--api-key", help="the key to send (default: $OPENAI_API_KEY)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--timeout", type=float, default=10.0, help="seconds each step may take (default: 10)"
    )
    check.add_argument(
        "--only", action="append", choices=sorted(FLOWS), help="run only this flow (repeatable)"
    )


def run_check_command(args: argparse.Namespace) -> int:
    api_key = args.api_key or os.environ.get("OPENAI_API_KEY")
    try:
        report = trio.run(
            partial(
                run_check,
                args.url,
                dialect=args.dialect,
                api_key=api_key,
                timeout=args.timeout,
                only=args.only or (),
            )
        )
    except ValueError as err:  # the URL: ClientConnection says what is wrong with it
        print(f"rtcore check: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    return 0 if report.conformant else 1
