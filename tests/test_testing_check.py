"""``rtcore check``: ``rtcore serve`` conforms in both dialects; broken servers fail with the right report.

The broken servers are the real one with its traffic rewritten
(``RealtimeTestServer``'s ``outgoing`` and ``incoming`` hooks): one drops every
``response.content_part.done``, one sends its deltas for an item never
announced, one never hears ``response.cancel``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtcore import events as ev
from rtcore_trio.background import RealtimeTestServer
from rtcore_trio.cli import main

ROOT = Path(__file__).resolve().parent.parent
DIALECTS = pytest.mark.parametrize("dialect", ["ga", "beta"])


def _check(
    capsys: pytest.CaptureFixture[str], url: str, *options: str
) -> tuple[int, dict[str, Any]]:
    status = main(["check", url, "--json", "--timeout", "3", *options])
    return status, json.loads(capsys.readouterr().out)


def _failures(report: dict[str, Any]) -> dict[str, list[tuple[str, str, str | None]]]:
    """Failed flow -> its deviations as (step, kind, event)."""
    return {
        flow["name"]: [(d["step"], d["kind"], d["event"]) for d in flow["deviations"]]
        for flow in report["flows"]
        if not flow["passed"]
    }


@pytest.fixture(scope="module")
def served() -> Iterator[int]:
    """``rtcore serve`` as a user runs it, on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "rtcore_trio.cli", "serve", "--port", str(port), "--api-key", "k"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "listening on" in line:
                break
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@DIALECTS
def test_rtcore_serve_conforms(
    served: int, dialect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"ws://127.0.0.1:{served}/v1/realtime"
    status, report = _check(capsys, url, "--dialect", dialect, "--api-key", "k")
    assert _failures(report) == {}
    assert (status, report["conformant"], report["dialect"]) == (0, True, dialect)
    names = [flow["name"] for flow in report["flows"]]
    assert names == [
        "text",
        "audio",
        "tool_call",
        "cancel",
        "truncate",
        "items",
        "session",
        "transcription",
        "errors",
    ]
    assert all(flow["events"] > 0 for flow in report["flows"])


def test_a_refused_key_fails_every_flow_at_connect(
    served: int, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"ws://127.0.0.1:{served}/v1/realtime"
    status, report = _check(capsys, url, "--api-key", "wrong", "--only", "text")
    assert status == 1
    [[(step, kind, _)]] = _failures(report).values()
    assert (step, kind) == ("connect", "connection")
    assert "401" in report["flows"][0]["deviations"][0]["detail"]


def _drop_content_part_done(message: bytes) -> bytes | None:
    return None if json.loads(message)["type"] == "response.content_part.done" else message


def _deltas_for_an_unknown_item(message: bytes) -> bytes:
    event = json.loads(message)
    if event["type"].endswith(".delta") and "item_id" in event:
        event["item_id"] = "item_never_announced"
        return json.dumps(event).encode()
    return message


def _deaf_to_cancel(event: ev.ClientEvent | ev.UnknownEvent) -> bool:
    return event.type != "response.cancel"


def _check_broken(
    capsys: pytest.CaptureFixture[str],
    dialect: ev.Dialect,
    *only: str,
    timeout: str = "3",
    **hooks: Any,
) -> tuple[int, dict[str, Any], str]:
    """The JSON report of every flow (or ``only`` these), and the text report of ``text``."""
    with RealtimeTestServer(dialect, **hooks) as server:
        options = ["--dialect", dialect, "--api-key", server.api_key]
        flows = [arg for name in only for arg in ("--only", name)]
        status, report = _check(capsys, server.url, *options, *flows, "--timeout", timeout)
        main(["check", server.url, *options, "--only", "text", "--timeout", "3"])
        return status, report, capsys.readouterr().out


@DIALECTS
def test_a_server_that_drops_content_part_done(
    dialect: ev.Dialect, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report, text = _check_broken(capsys, dialect, outgoing=_drop_content_part_done)
    assert status == 1 and not report["conformant"]
    failures = _failures(report)
    # The flows that wait for every event of a content part miss it; the others do not look.
    assert set(failures) == {"text", "audio"}
    assert failures["text"] == [("response", "missing", "response.content_part.done")]
    [deviation] = report["flows"][0]["deviations"]
    done = "response.output_text.done" if dialect == "ga" else "response.text.done"
    assert deviation["detail"].startswith(f"expected response.content_part.done after {done};")
    assert (
        "step response: missing [response.content_part.done]: expected response.content_part.done"
        in text
    )
    assert text.rstrip().endswith("not conformant: 1 deviation(s) in 1 of 1 flows")


@DIALECTS
def test_a_server_that_sends_deltas_for_an_unknown_item(
    dialect: ev.Dialect, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report, text = _check_broken(capsys, dialect, outgoing=_deltas_for_an_unknown_item)
    assert status == 1
    failures = _failures(report)
    assert {"text", "audio", "tool_call", "truncate"} <= set(failures)
    delta = "response.output_text.delta" if dialect == "ga" else "response.text.delta"
    assert failures["text"][0] == ("response", "protocol_error", delta)
    first = report["flows"][0]["deviations"][0]
    assert "'item_never_announced' was never announced" in first["detail"]
    assert first["count"] == 2  # both deltas, one line
    assert f"step response: protocol_error [{delta}] (x2):" in text
    # A refused delta came: it is a protocol error, not a missing event as well.
    assert all(kind != "missing" for found in failures.values() for _, kind, _ in found)
    # Every flow with a delta in it fails; items, session and errors have none and pass.
    assert set(failures) <= {"text", "audio", "tool_call", "cancel", "truncate", "transcription"}


@DIALECTS
def test_a_server_that_never_answers_response_cancel(
    dialect: ev.Dialect, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report, _ = _check_broken(
        capsys, dialect, "cancel", "errors", timeout="1", incoming=_deaf_to_cancel
    )
    assert status == 1
    failures = _failures(report)
    assert failures["cancel"] == [("cancel", "missing", "response.cancel")]
    assert "response.cancel was not answered" in report["flows"][0]["deviations"][0]["detail"]
    assert failures["errors"] == [("cancel with nothing running", "timeout", "error")]


def _adds_a_field_to_response_done(message: bytes) -> bytes:
    event = json.loads(message)
    if event["type"] == "response.done":
        event["response"]["surprise"] = 1
        return json.dumps(event).encode()
    return message


def test_an_event_that_does_not_validate_strictly(capsys: pytest.CaptureFixture[str]) -> None:
    status, report, _ = _check_broken(capsys, "ga", "text", outgoing=_adds_a_field_to_response_done)
    assert status == 1
    [deviation] = report["flows"][0]["deviations"]
    assert (deviation["step"], deviation["kind"], deviation["event"]) == (
        "response",
        "invalid_event",
        "response.done",
    )
    assert "response.surprise" in deviation["detail"]


def test_a_server_silent_on_an_unknown_event_type(capsys: pytest.CaptureFixture[str]) -> None:
    """A message the client machine would never send (no such type) still needs its error."""
    status, report, _ = _check_broken(
        capsys,
        "ga",
        "errors",
        timeout="1",
        incoming=lambda event: not isinstance(event, ev.UnknownEvent),
    )
    assert status == 1
    assert _failures(report) == {"errors": [("unknown event type", "timeout", "error")]}
