"""The load generator's HTML report, opened in a real headless Chromium (``tests/browserkit.py``).

A real run's report must draw its three charts as SVG, log no console error
and make no network request but loading itself (it is one file: data and
script inline); a run where the generator was the bottleneck has those
intervals shaded; text from the run cannot break out of the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import DevTools, open_browser
from test_loadtest import _load

from rtcore_trio.loadtest_metrics import Recorder
from rtcore_trio.loadtest_report import render_report, write_report


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    with open_browser(tmp_path_factory.mktemp("chromium")) as tools:
        tools.call("Network.enable")
        yield tools


def _open(browser: DevTools, path: Path) -> list[str]:
    """Open ``path``; the URLs of every request the page made."""
    browser.events.clear()
    browser.call("Page.navigate", url=path.as_uri())
    browser.wait_for("Page.loadEventFired")
    assert browser.poll("document.body.dataset.drawn === 'yes'")
    return [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]


def _count(browser: DevTools, selector: str) -> int:
    return int(browser.evaluate(f"document.querySelectorAll({selector!r}).length"))


def test_a_real_runs_report(browser: DevTools, tmp_path: Path) -> None:
    result, _ = _load("mixed", duration=2.5)
    path = tmp_path / "report.html"
    write_report(result, path)
    requests = _open(browser, path)
    assert requests == [path.as_uri()]  # nothing but the page itself
    assert not browser.severe_errors(), browser.severe_errors()
    assert _count(browser, "svg.chart") == 3
    assert _count(browser, "#latency polyline") == 2 * 5  # p50 and p99 of each latency
    assert _count(browser, "#distribution rect.bar") >= 5
    assert _count(browser, "#sessions polyline") == 1
    # The server runs in this process and the machine is shared: the generator may well be
    # the bottleneck here. Whatever the verdict, the report shows it.
    bound = result["generator"]["bound_intervals"]
    assert _count(browser, "rect.bound") == 2 * len(bound)
    verdict = browser.evaluate("document.querySelector('.verdict').textContent")
    assert verdict == result["generator"]["verdict"]
    assert browser.evaluate("document.title") == "rtcore loadtest: 2 sessions, mixed"


def _made_up() -> dict[str, Any]:
    rec = Recorder(start=0.0)
    for n in range(4):
        s = rec.session()
        s.connecting(0.0)
        s.connected(0.01 * (n + 1))
        s.request_sent(1.0)
        s.event(1.1 + n / 10, "response.output_text.delta")
    for k in range(100):
        rec.frame_lag(2.5, 0.05 if k > 50 else 0.001)
    rec.errors["</script><b>x"] += 1  # text from a server, shown as text
    return {
        "parameters": {"sessions": 4, "scenario": "<i>s</i>", "interval_s": 1.0},
        **rec.summary(),
    }


def test_generator_bound_intervals_are_shaded(browser: DevTools, tmp_path: Path) -> None:
    path = tmp_path / "bound.html"
    path.write_text(render_report(_made_up()), encoding="utf-8")
    _open(browser, path)
    assert not browser.severe_errors(), browser.severe_errors()
    assert _count(browser, "rect.bound") == 2  # one interval, in both time charts
    assert _count(browser, "b") == _count(browser, "h1 i, td i, th i") == 0  # text, not markup
    assert "bottleneck in 1 of 3" in browser.evaluate(
        "document.querySelector('.verdict.bound').textContent"
    )
    assert browser.evaluate("document.title") == "rtcore loadtest: 4 sessions, <i>s</i>"
