"""The figures of one saved benchmark run as the Markdown table the docs show.

``docs/benchmarks.md`` does not carry figures typed by hand: its table of
current figures is this module's rendering of one saved run,
``benchmarks/published.json`` (a run's JSON as ``python -m benchmarks --json``
writes it), placed between two markers. ``tests/test_benchmark_tables.py``
renders the saved run again and fails when the page says something else, so
the page and the run it cites cannot drift apart.

To publish a new run::

    python -m benchmarks --json benchmarks/published.json
    python -m benchmarks.tables benchmarks/published.json --write docs/benchmarks.md

Without ``--write`` the table is printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .harness import human
from .history import load

START = "<!-- figures of benchmarks/published.json: start -->"
END = "<!-- figures of benchmarks/published.json: end -->"
PUBLISHED = Path(__file__).resolve().parent / "published.json"

Row = dict[str, Any]


def _cell(text: str) -> str:
    # A pipe would end the cell; Markdown tables have no other special character.
    return text.replace("|", "\\|")


def _verdict(row: Row) -> str:
    goal = str(row.get("goal") or "")
    ok = row.get("ok")
    if ok is None:
        return goal
    return f"{goal}: {'met' if ok else '**missed**'}" if goal else ("met" if ok else "**missed**")


def _ratio(row: Row) -> str:
    low, high = row.get("spread") or (row["ratio"], row["ratio"])
    if low == high:
        return f"{row['ratio']:.3f}"
    return f"{row['ratio']:.3f} ({low:.3f}-{high:.3f})"


def render_rows(rows: Iterable[Row]) -> str:
    """A Markdown table of ``rows``: one line per row, in the run's order."""
    lines = [
        "| suite | workload | subject / baseline | ratio (IQR) | subject | baseline | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        unit = str(row.get("unit", "us"))
        cells = (
            row["suite"],
            row["name"],
            f"{row['subject']} / {row['baseline']}",
            _ratio(row),
            human(float(row["subject_value"]), unit),
            human(float(row["baseline_value"]), unit),
            _verdict(row),
        )
        lines.append("| " + " | ".join(_cell(str(c)) for c in cells) + " |")
    return "\n".join(lines)


def _command(argv: Sequence[str]) -> str:
    # Where the run was written says nothing about what it measured.
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif not arg.startswith("--json="):
            kept.append(arg)
    return " ".join(["python -m benchmarks", *kept])


def render(run: dict[str, Any]) -> str:
    """The block the docs carry for ``run``: where it came from, then its table."""
    commit = str(run.get("commit", "unknown"))[:12]
    dirty = " (with uncommitted changes)" if run.get("dirty") else ""
    cpus = f", {run['cpus']} CPUs" if run.get("cpus") else ""
    head = (
        f"Run of commit `{commit}`{dirty} at {run.get('time', 'an unknown time')}: "
        f"`{_command(run.get('argv') or [])}`, Python {str(run.get('python', '?')).split()[0]} "
        f"on {run.get('platform', run.get('machine', '?'))}{cpus}."
    )
    return f"{head}\n\n{render_rows(run.get('results') or [])}"


def splice(page: str, block: str) -> str:
    """``page`` with the text between the markers replaced by ``block``."""
    try:
        before, rest = page.split(START, 1)
        _, after = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"the page has no {START} ... {END} markers") from None
    return f"{before}{START}\n{block}\n{END}{after}"


def published_block(page: str) -> str:
    """The text ``page`` carries between the markers (without the newlines around it)."""
    if START not in page or END not in page:
        raise ValueError(f"the page has no {START} ... {END} markers")
    return page.split(START, 1)[1].split(END, 1)[0].strip("\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.tables RUN.json [--write PAGE]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tables", description=__doc__)
    parser.add_argument("run", type=Path, help="a saved run (python -m benchmarks --json FILE)")
    parser.add_argument(
        "--write", type=Path, metavar="PAGE", help="replace the table between the page's markers"
    )
    args = parser.parse_args(argv)
    block = render(load(args.run))
    if args.write is None:
        print(block)
        return 0
    page = args.write.read_text(encoding="utf-8")
    args.write.write_text(splice(page, block), encoding="utf-8")
    print(f"{args.write}: the table of {args.run}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
