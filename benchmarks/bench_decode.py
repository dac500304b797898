"""Decoding single messages to typed events, against ``json.loads`` to dicts."""

from __future__ import annotations

import json
from collections.abc import Callable

from rtcore.events import decode_server_event

from .harness import Result, compare
from .workloads import audio_delta, session_updated, text_delta

GOAL = ("<= 1.0 (no slower than json.loads)", lambda r: r <= 1.0)


def run(quick: bool = False) -> list[Result]:
    repeats = 5 if quick else 15
    results = []
    cases: list[tuple[str, bytes]] = [
        ("text delta", text_delta()),
        ("100 ms audio delta (6.4 KB)", audio_delta()),
        ("session.updated, 20 tools", session_updated(20)),
    ]
    for name, data in cases:
        subject: Callable[[], object] = lambda data=data: decode_server_event(data)  # noqa: E731
        baseline: Callable[[], object] = lambda data=data: json.loads(data)  # noqa: E731
        results.append(
            compare(
                "decode",
                f"{name} ({len(data)} B)",
                ("decode_server_event", subject),
                ("json.loads", baseline),
                repeats=repeats,
                goal=GOAL,
            )
        )
    return results
