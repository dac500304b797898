"""Benchmark runs compared: a row worse than its noise is a regression, noise is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import history
from benchmarks.harness import compare


def _row(name: str, ratio: float, spread: float, unit: str = "us", **more: Any) -> dict[str, Any]:
    return {
        "suite": "client",
        "name": name,
        "subject": "ClientSession.receive_message",
        "baseline": "json.loads",
        "ratio": ratio,
        "spread": [ratio - spread, ratio + spread],
        "unit": unit,
        "goal": "<= 2.0 x json.loads",
        "ok": True,
        **more,
    }


def _write(path: Path, commit: str, rows: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"commit": commit, "dirty": False, "results": rows}))
    return path


def test_a_row_slower_than_its_noise_is_a_regression_and_noise_is_not(
    tmp_path: Path, capsys: Any
) -> None:
    old = _write(
        tmp_path / "old.json",
        "9a00ad3" + "0" * 33,
        [
            _row("real trace", 1.25, 0.03),  # gets 28% slower, far beyond its noise
            _row("audio response", 1.00, 0.10),  # moves by 8%, inside the noisy repeats
            _row("text response", 0.90, 0.005),  # moves by 2%: tight repeats, below the floor
            _row("sessions one core sustains", 1.0, 0.0, unit="sessions"),  # fewer: worse
            _row("only in the old run", 1.0, 0.01),
        ],
    )
    new = _write(
        tmp_path / "new.json",
        "cf5e6d0" + "0" * 33,
        [
            _row("real trace", 1.60, 0.04),
            _row("audio response", 1.08, 0.12),
            _row("text response", 0.918, 0.005),
            _row("sessions one core sustains", 0.5, 0.0, unit="sessions"),
            _row("only in the new run", 9.0, 0.01),
        ],
    )
    changes = {c.key[1]: c for c in history.compare_runs(history.load(old), history.load(new))}
    assert set(changes) == {
        "real trace",
        "audio response",
        "text response",
        "sessions one core sustains",
    }
    assert changes["real trace"].regression
    assert changes["real trace"].worse_by > 0.27
    assert not changes["audio response"].regression
    assert not changes["text response"].regression
    assert changes["sessions one core sustains"].regression

    # The command line says so, whatever the rows' goals (both rows met theirs).
    assert history.main([str(old), str(new)]) == 1
    report = capsys.readouterr().out
    flagged = [line for line in report.splitlines() if line.endswith("REGRESSION")]
    assert len(flagged) == 2 and "real trace" in flagged[0]
    assert "2 regressions in 4 rows compared; 1 new and 1 gone, not compared" in report
    # A row that was renamed (or is new, or gone) is named, not left out in silence.
    assert "  new:  client: only in the new run [json.loads]" in report
    assert "  gone: client: only in the old run [json.loads]" in report
    # The same run against itself: nothing moved.
    assert history.main([str(new), str(new)]) == 0


def test_a_better_run_is_no_regression(tmp_path: Path) -> None:
    old = history.load(_write(tmp_path / "a.json", "a" * 40, [_row("trace", 1.6, 0.04)]))
    new = history.load(_write(tmp_path / "b.json", "b" * 40, [_row("trace", 1.0, 0.04)]))
    [change] = history.compare_runs(old, new)
    assert not change.regression and change.worse_by < 0


def test_saved_runs_name_their_commit_and_keep_the_repeats(tmp_path: Path) -> None:
    result = compare("s", "w", ("x", lambda: sum(range(50))), ("y", lambda: None), repeats=4)
    assert len(result.samples) == 4 and result.better == "lower"
    doc = history.document([result.as_dict()], ["--quick"])
    kept = history.save(doc, tmp_path / "latest.json", tmp_path / "runs")
    assert kept.parent == tmp_path / "runs" and doc["commit"][:12] in kept.name
    assert json.loads(kept.read_text()) == json.loads((tmp_path / "latest.json").read_text())
    assert history.load(kept)["results"][0]["samples"] == result.samples


def test_a_suite_left_out_of_a_run_is_not_gone(tmp_path: Path) -> None:
    other = {**_row("x", 1.0, 0.01), "suite": "scale"}
    old = history.load(_write(tmp_path / "a.json", "a" * 40, [_row("trace", 1.0, 0.01), other]))
    new = history.load(_write(tmp_path / "b.json", "b" * 40, [_row("trace", 1.0, 0.01)]))
    assert history.unmatched(old, new) == ([], [])
    report = history.format_changes(history.compare_runs(old, new), old, new)
    assert report.endswith("0 regressions in 1 rows compared")
