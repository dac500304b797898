"""Benchmark runs kept per commit, and a run compared with an earlier one.

Every run of ``python -m benchmarks`` is saved under ``benchmarks/results/`` as
``<time>-<commit>[-dirty].json`` (and as ``latest.json``), with the commit it measured.
A later run compared with a saved one (``--compare FILE``) or with a fresh run of an
older commit's code (``--baseline REF``: a temporary git worktree of REF, its own
``python -m benchmarks`` with the same suites) lists every row that got worse by more
than its noise as a REGRESSION, whatever the row's goal says.

What is compared is each row's ratio: subject against its baseline measured in the
same run (``json.loads``, the SDK, ...), so that two runs on a machine whose speed
changed in between still compare. The noise of a row comes from its repeats: half of
the interquartile range of the per-repeat ratios, in each of the two runs. A row is a
regression when its median moved in its worse direction by more than the two runs'
noise together (their interquartile ranges do not overlap) and by more than a floor
(``MIN_CHANGE``; ``MIN_CHANGE_SINGLE`` for rows measured once, whose noise the
repeats cannot tell). Rows counted in sessions are better higher; all others lower.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent

MIN_CHANGE = 0.03
"""A repeated row must move by more than 3% to count, however tight its repeats."""
MIN_CHANGE_SINGLE = 0.10
"""A row measured once (no spread) must move by more than 10%."""

Row = dict[str, Any]


def _git(*args: str, cwd: Path = ROOT) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def commit_info(cwd: Path = ROOT) -> dict[str, Any]:
    """The commit a run measures, and whether the tree had changes on top of it."""
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return {
        "commit": _git("rev-parse", "HEAD", cwd=cwd) or "unknown",
        "subject": _git("log", "-1", "--format=%s", cwd=cwd),
        "dirty": bool(status),
    }


def document(results: Iterable[dict[str, Any]], argv: Sequence[str]) -> dict[str, Any]:
    """One run as saved: where, what and when it measured, and its rows."""
    return {
        **commit_info(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "argv": list(argv),
        "python": sys.version,
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "results": list(results),
    }


def save(doc: dict[str, Any], latest: Path, directory: Path = RESULTS) -> Path:
    """Write ``doc`` to ``latest`` and to its own file in ``directory``; return the latter."""
    text = json.dumps(doc, indent=2)
    latest.parent.mkdir(parents=True, exist_ok=True)
    latest.write_text(text)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = doc["time"].replace(":", "").replace("-", "")
    name = f"{stamp}-{doc['commit'][:12]}{'-dirty' if doc['dirty'] else ''}.json"
    kept = directory / name
    kept.write_text(text)
    return kept


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(Path(path).read_text())
    return doc


def _key(row: Row) -> tuple[str, str, str, str]:
    return (row["suite"], row["name"], row["subject"], row["baseline"])


def _higher_is_better(row: Row) -> bool:
    return bool(row.get("better") == "higher" or row.get("unit") == "sessions")


def _noise(row: Row) -> float:
    low, high = row["spread"]
    return abs(float(high) - float(low)) / 2


@dataclass(frozen=True)
class Change:
    """One row found in both runs."""

    key: tuple[str, str, str, str]
    old: float
    new: float
    noise: float
    """The two runs' noise together, in ratio units."""
    worse_by: float
    """How much worse the new run is, relative to the old (negative: better)."""
    regression: bool


def compare_runs(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every row of ``new`` that ``old`` has too, judged against the old run's figure."""
    before = {_key(row): row for row in old["results"]}
    changes = []
    for row in new["results"]:
        prior = before.get(_key(row))
        if prior is None:
            continue
        a, b = float(prior["ratio"]), float(row["ratio"])
        noise = _noise(prior) + _noise(row)
        delta = (a - b) if _higher_is_better(row) else (b - a)
        worse_by = delta / abs(a) if a else (float("inf") if delta > 0 else 0.0)
        floor = MIN_CHANGE_SINGLE if noise == 0 else MIN_CHANGE
        changes.append(
            Change(
                key=_key(row),
                old=a,
                new=b,
                noise=noise,
                worse_by=worse_by,
                regression=delta > noise and worse_by > floor,
            )
        )
    return changes


def unmatched(
    old: dict[str, Any], new: dict[str, Any]
) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str, str, str]]]:
    """The rows that found no counterpart: ``new``'s that ``old`` lacks, and ``old``'s that
    ``new`` lacks among the suites ``new`` ran (a suite left out of a run is not gone).

    A row whose name or columns changed is both: it was not compared, and the report says so
    rather than leave it out in silence."""
    before = {_key(row) for row in old["results"]}
    after = {_key(row) for row in new["results"]}
    suites = {key[0] for key in after}
    added = [_key(row) for row in new["results"] if _key(row) not in before]
    gone = [
        _key(row) for row in old["results"] if _key(row) not in after and row["suite"] in suites
    ]
    return added, gone


def format_changes(
    changes: Sequence[Change], old: dict[str, Any], new: dict[str, Any] | None = None
) -> str:
    """The comparison as the command line prints it; with ``new``, also the rows of either run
    that were not compared (``unmatched``)."""
    label = f"{old.get('commit', '?')[:12]}{' (dirty)' if old.get('dirty') else ''}"
    lines = [f"compared with {label} ({old.get('time', 'unknown time')}):"]
    width = max((len(f"{c.key[0]}: {c.key[1]} [{c.key[3]}]") for c in changes), default=10)
    for c in changes:
        where = f"{c.key[0]}: {c.key[1]} [{c.key[3]}]"
        verdict = "REGRESSION" if c.regression else ("better" if c.worse_by < 0 else "")
        moved = f"{abs(c.worse_by):.1%} {'better' if c.worse_by < 0 else 'worse'}"
        lines.append(
            f"  {where.ljust(width)}  {c.old:.3f} -> {c.new:.3f}  "
            f"({moved}, noise {c.noise:.3f})  {verdict}".rstrip()
        )
    added, gone = unmatched(old, new) if new is not None else ([], [])
    if added or gone:
        lines.append("not compared (no row of the same suite, name and columns in the other run):")
        lines += [f"  new:  {key[0]}: {key[1]} [{key[3]}]" for key in added]
        lines += [f"  gone: {key[0]}: {key[1]} [{key[3]}]" for key in gone]
    count = sum(c.regression for c in changes)
    summary = f"{count} regression{'s' if count != 1 else ''} in {len(changes)} rows compared"
    if added or gone:
        summary += f"; {len(added)} new and {len(gone)} gone, not compared"
    lines.append(summary)
    return "\n".join(lines)


def run_baseline(ref: str, suites: Sequence[str], quick: bool) -> dict[str, Any]:
    """Run the benchmarks of commit ``ref`` in a temporary git worktree; return its results.

    The old commit's own suites and harness measure its own code (a suite it does
    not have is skipped), in a subprocess with its tree first on the path.
    """
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    if not commit:
        raise SystemExit(f"--baseline: {ref!r} is not a commit of this repository")
    where = Path(tempfile.mkdtemp(prefix="rtcore-bench-"))
    tree = where / "tree"
    try:
        _git("worktree", "add", "--detach", str(tree), commit)
        if not (tree / "benchmarks" / "__main__.py").exists():
            raise SystemExit(f"--baseline: {ref} has no benchmarks")
        have = [s for s in suites if (tree / "benchmarks" / f"bench_{s}.py").exists()]
        out = where / "results.json"
        argv = [sys.executable, "-m", "benchmarks", "--json", str(out)]
        argv += ["--quick"] * quick + [a for s in have for a in ("--only", s)]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        print(f"running {ref} ({commit[:12]}) in {tree} ...", file=sys.stderr, flush=True)
        subprocess.run(argv, cwd=tree, env=env, stdout=subprocess.DEVNULL, check=False)
        if not out.exists():
            raise SystemExit(f"--baseline: the benchmarks of {ref} wrote no results")
        doc = load(out)
        doc.setdefault("commit", commit)
        doc.setdefault("time", "now, in a worktree")
        return doc
    finally:
        _git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(where, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.history OLD.json NEW.json``: compare two saved runs."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.history", description="Compare two saved benchmark runs."
    )
    parser.add_argument("old", type=Path, help="the earlier run")
    parser.add_argument("new", type=Path, help="the later run")
    args = parser.parse_args(argv)
    old, new = load(args.old), load(args.new)
    changes = compare_runs(old, new)
    print(format_changes(changes, old, new))
    return 1 if any(c.regression for c in changes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
