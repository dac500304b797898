"""The client pipeline: bytes -> typed event -> new snapshot, against ``json.loads`` alone."""

from __future__ import annotations

import json
from typing import Any

from rtcore import ClientSession
from rtcore.events import decode_server_event
from rtcore.state import apply, initial_snapshot

from .harness import Result, compare
from .workloads import TRACE_2, TRACE_TEXT, audio_response, sdk_parser, trace_lines

PIPELINE_GOAL = ("<= 2.0 x json.loads", lambda r: r <= 2.0)
SDK_GOAL = ("<= 0.125 (8x faster than the SDK)", lambda r: r <= 0.125)
SDK_RETAINED_GOAL = ("<= 0.167 (6x faster than the SDK)", lambda r: r <= 1 / 6)
AUDIO_60S = "60 s audio response (600 x 100 ms)"
FLAT_GOAL = ("<= 1.3 (flat)", lambda r: r <= 1.3)


def _replay(lines: list[bytes], retain_audio: bool = True) -> None:
    client = ClientSession(dialect="beta", retain_audio=retain_audio)
    receive = client.receive_message
    for line in lines:
        receive(line)


def _loads(lines: list[bytes]) -> None:
    loads = json.loads
    for line in lines:
        loads(line)


def run(quick: bool = False) -> list[Result]:
    repeats = 5 if quick else 15
    results = []
    workloads = [
        ("real trace (log 1, 414 events)", trace_lines()),
        ("real trace (log 2, 72 events)", trace_lines(TRACE_2)),
        ("real trace (text response, 85 events)", trace_lines(TRACE_TEXT)),
        (AUDIO_60S, audio_response(600, 100)),
    ]
    for name, lines in workloads:
        result = compare(
            "client",
            name,
            ("ClientSession.receive_message", lambda lines=lines: _replay(lines)),
            ("json.loads", lambda lines=lines: _loads(lines)),
            repeats=repeats,
            target_s=0.05,
            goal=PIPELINE_GOAL,
        )
        result.extra["events_per_s"] = len(lines) / (result.subject_value / 1e6)
        results.append(result)
        sdk = sdk_parser()
        if sdk is not None:

            def sdk_parse(lines: list[bytes] = lines, sdk: Any = sdk) -> None:
                for line in lines:
                    sdk(line)

            # The audio response twice: audio bytes retained (the client's default), and
            # only their length kept (retain_audio=False).
            policies = [(True, "", SDK_GOAL)]
            if name == AUDIO_60S:
                policies = [
                    (True, " (bytes retained)", SDK_RETAINED_GOAL),
                    (False, " (bytes not retained)", SDK_GOAL),
                ]
            for retain, label, goal in policies:
                results.append(
                    compare(
                        "client",
                        name + label,
                        (
                            "ClientSession.receive_message",
                            lambda lines=lines, retain=retain: _replay(lines, retain),
                        ),
                        ("openai SDK parse_event", sdk_parse),
                        repeats=repeats,
                        target_s=0.05,
                        goal=goal,
                    )
                )

    # The cost of one delta late in a long response against one early in it.
    lines = audio_response(600, 100)
    first_delta = 4  # response.created, output_item.added, item.created, part.added
    early_state = initial_snapshot()
    for line in lines[:first_delta]:
        early_state = apply(early_state, decode_server_event(line, dialect="beta"))
    late_state = early_state
    for line in lines[first_delta : first_delta + 599]:
        late_state = apply(late_state, decode_server_event(line, dialect="beta"))
    early, late = lines[first_delta], lines[first_delta + 599]
    results.append(
        compare(
            "client",
            "600th audio delta vs 1st",
            ("apply(late)", lambda: apply(late_state, decode_server_event(late, dialect="beta"))),
            (
                "apply(early)",
                lambda: apply(early_state, decode_server_event(early, dialect="beta")),
            ),
            repeats=repeats,
            goal=FLAT_GOAL,
        )
    )
    return results
