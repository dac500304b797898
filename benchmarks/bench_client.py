"""The client pipeline: bytes -> typed event -> new snapshot, against ``json.loads`` alone and
against the official SDK's typed parsing alone, in both dialects.

The workloads are the real recorded beta traces (tests/data/captures) and a 60 s audio response;
their GA form is the same stream translated event by event as ``rtcore relay`` translates it for
a GA client (``workloads.in_ga``). Each stream is replayed into a fresh ``ClientSession`` of its
dialect; none of them records a protocol error or an anomaly (checked before timing).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rtcore import ClientSession
from rtcore.events import Dialect, decode_server_event
from rtcore.state import apply, initial_snapshot

from .harness import Result, compare
from .workloads import TRACE_2, TRACE_TEXT, audio_response, in_ga, sdk_parser, trace_lines

PIPELINE_GOAL = ("<= 1.0 x json.loads", lambda r: r <= 1.0)
SDK_GOAL = ("<= 0.0667 (15x faster than the SDK)", lambda r: r <= 1 / 15)
AUDIO_60S = "60 s audio response (600 x 100 ms)"
FLAT_GOAL = ("<= 1.3 (flat)", lambda r: r <= 1.3)
# The beta rows keep their names of earlier runs, so that runs compare (benchmarks/history.py).
SUBJECT = {"beta": "ClientSession.receive_message", "ga": "ClientSession(GA).receive_message"}
SDK = {"beta": "openai SDK parse_event", "ga": "openai SDK parse_event (GA)"}


def _replay(lines: list[bytes], retain_audio: bool = True, dialect: Dialect = "beta") -> None:
    client = ClientSession(dialect=dialect, retain_audio=retain_audio)
    receive = client.receive_message
    for line in lines:
        receive(line)


def _loads(lines: list[bytes]) -> None:
    loads = json.loads
    for line in lines:
        loads(line)


def _clean(lines: list[bytes], dialect: Dialect) -> None:
    """The stream applies without a protocol error or an anomaly (else the rows time errors)."""
    client = ClientSession(dialect=dialect)
    for line in lines:
        client.receive_message(line)
    state = client.state
    assert not state.protocol_errors and not state.anomalies and not state.unknown_events, dialect


def _sdk_parse(sdk: Callable[[bytes], Any], lines: list[bytes]) -> Callable[[], None]:
    def parse() -> None:
        for line in lines:
            sdk(line)

    return parse


def run(quick: bool = False) -> list[Result]:
    repeats = 5 if quick else 15
    results = []
    workloads = [
        ("real trace (log 1, 414 events)", trace_lines()),
        ("real trace (log 2, 72 events)", trace_lines(TRACE_2)),
        ("real trace (text response, 85 events)", trace_lines(TRACE_TEXT)),
        (AUDIO_60S, audio_response(600, 100)),
    ]
    for name, beta_lines in workloads:
        for dialect in ("beta", "ga"):
            lines = beta_lines if dialect == "beta" else in_ga(beta_lines)
            label = name if dialect == "beta" else f"{name} in GA ({len(lines)} events)"
            _clean(lines, dialect)
            subject = SUBJECT[dialect]
            result = compare(
                "client",
                label,
                (subject, lambda lines=lines, d=dialect: _replay(lines, dialect=d)),
                ("json.loads", lambda lines=lines: _loads(lines)),
                repeats=repeats,
                target_s=0.05,
                goal=PIPELINE_GOAL,
            )
            result.extra["events_per_s"] = len(lines) / (result.subject_value / 1e6)
            results.append(result)
            sdk = sdk_parser(dialect)
            if sdk is None:
                continue
            # The audio response twice: audio bytes retained (the client's default), and
            # only their length kept (retain_audio=False).
            policies = [(True, "")]
            if name == AUDIO_60S:
                policies = [(True, " (bytes retained)"), (False, " (bytes not retained)")]
            for retain, policy in policies:
                results.append(
                    compare(
                        "client",
                        label + policy,
                        (
                            subject,
                            lambda lines=lines, r=retain, d=dialect: _replay(lines, r, d),
                        ),
                        (SDK[dialect], _sdk_parse(sdk, lines)),
                        repeats=repeats,
                        target_s=0.05,
                        goal=SDK_GOAL,
                    )
                )
    for dialect in ("beta", "ga"):
        results.append(_late_delta(dialect, repeats))  # type: ignore[arg-type]
    return results


def _late_delta(dialect: Dialect, repeats: int) -> Result:
    """The cost of one delta late in a long response against one early in it."""
    lines = audio_response(600, 100)
    if dialect == "ga":
        lines = in_ga(lines)
    first_delta = next(i for i, line in enumerate(lines) if b'audio.delta"' in line[:60])
    early_state = initial_snapshot()
    for line in lines[:first_delta]:
        early_state = apply(early_state, decode_server_event(line, dialect=dialect))
    late_state = early_state
    for line in lines[first_delta : first_delta + 599]:
        late_state = apply(late_state, decode_server_event(line, dialect=dialect))
    early, late = lines[first_delta], lines[first_delta + 599]
    return compare(
        "client",
        "600th audio delta vs 1st" + ("" if dialect == "beta" else " (GA)"),
        ("apply(late)", lambda: apply(late_state, decode_server_event(late, dialect=dialect))),
        ("apply(early)", lambda: apply(early_state, decode_server_event(early, dialect=dialect))),
        repeats=repeats,
        goal=FLAT_GOAL,
    )
