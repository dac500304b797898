"""The benchmarks page's table of figures is the rendering of one saved full run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import tables
from benchmarks.__main__ import SUITES

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"


def _row(**more: Any) -> dict[str, Any]:
    row = {
        "suite": "client",
        "name": "real trace (log 1, 414 events)",
        "subject": "ClientSession.receive_message",
        "baseline": "json.loads",
        "ratio": 1.062,
        "spread": [0.952, 1.142],
        "subject_value": 3310.0,
        "baseline_value": 3120.0,
        "unit": "us",
        "goal": "<= 1.0 x json.loads",
        "ok": False,
    }
    row.update(more)
    return row


def test_the_page_shows_the_published_run_as_rendered() -> None:
    run = json.loads(tables.PUBLISHED.read_text())
    assert tables.published_block(PAGE.read_text()) == tables.render(run), (
        "docs/benchmarks.md does not show benchmarks/published.json: run "
        "`python -m benchmarks.tables benchmarks/published.json --write docs/benchmarks.md`"
    )


def test_the_published_run_is_a_whole_run_of_committed_code() -> None:
    run = json.loads(tables.PUBLISHED.read_text())
    assert not run["dirty"]
    assert {row["suite"] for row in run["results"]} == set(SUITES)
    assert "--quick" not in run["argv"] and "--only" not in run["argv"]


def test_a_row_is_one_line_with_its_figures_and_verdict() -> None:
    table = tables.render_rows([_row(), _row(ok=True, name="a | b"), _row(ok=None, goal="")])
    lines = table.splitlines()
    assert len(lines) == 5
    assert lines[2] == (
        "| client | real trace (log 1, 414 events) | ClientSession.receive_message / json.loads "
        "| 1.062 (0.952-1.142) | 3.31 ms | 3.12 ms | <= 1.0 x json.loads: **missed** |"
    )
    assert "| a \\| b |" in lines[3] and lines[3].endswith(": met |")
    assert lines[4].endswith("| 3.12 ms |  |")


def test_a_row_measured_once_shows_no_spread() -> None:
    table = tables.render_rows([_row(ratio=0.5, spread=[0.5, 0.5], unit="sessions")])
    assert "| 0.500 | 3310.00 sessions | 3120.00 sessions |" in table


def test_the_block_says_which_run_and_how_without_where_it_was_written() -> None:
    run = {
        "commit": "1ef31b1bcf7e15b9",
        "dirty": False,
        "time": "2026-12-07T17:01:25Z",
        "argv": ["--json", "/tmp/x.json", "--only", "client"],
        "python": "3.11.7 (main)",
        "platform": "Linux-6.18",
        "cpus": 2,
        "results": [_row()],
    }
    head = tables.render(run).splitlines()[0]
    assert head == (
        "Run of commit `1ef31b1bcf7e` at 2026-12-07T17:01:25Z: `python -m benchmarks --only "
        "client`, Python 3.11.7 on Linux-6.18, 2 CPUs."
    )


def test_writing_replaces_only_the_text_between_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"# Title\n\nbefore\n{tables.START}\nold table\n{tables.END}\nafter\n")
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"commit": "abc", "dirty": False, "results": [_row()]}))
    assert tables.main([str(run), "--write", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Title\n\nbefore\n") and text.endswith(f"{tables.END}\nafter\n")
    assert "old table" not in text
    assert tables.published_block(text) == tables.render(json.loads(run.read_text()))


def test_a_page_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="markers"):
        tables.splice("# no markers here\n", "table")
    with pytest.raises(ValueError, match="markers"):
        tables.published_block("# no markers here\n")
