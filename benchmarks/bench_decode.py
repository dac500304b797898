"""Decoding single messages to typed events, against ``json.loads``, msgspec to dicts and the SDK."""

from __future__ import annotations

import json

import msgspec

from rtcore.events import decode_server_event

from .harness import Result, compare
from .workloads import audio_delta, sdk_parser, session_updated, text_delta

NO_SLOWER = ("<= 1.0 (no slower than json.loads)", lambda r: r <= 1.0)


def run(quick: bool = False) -> list[Result]:
    repeats = 5 if quick else 15
    results = []
    to_dict = msgspec.json.Decoder()
    sdk = sdk_parser()
    cases: list[tuple[str, bytes]] = [
        ("text delta", text_delta()),
        ("100 ms audio delta (6.4 KB)", audio_delta()),
        ("session.updated, 20 tools", session_updated(20)),
    ]
    for name, data in cases:
        label = f"{name} ({len(data)} B)"
        ours = ("decode_server_event", lambda data=data: decode_server_event(data, dialect="beta"))
        results.append(
            compare(
                "decode",
                label,
                ours,
                ("json.loads", lambda data=data: json.loads(data)),
                repeats=repeats,
                goal=NO_SLOWER,
            )
        )
        results.append(
            compare(
                "decode",
                label,
                ours,
                ("msgspec to dict", lambda data=data: to_dict.decode(data)),
                repeats=repeats,
            )
        )
        if sdk is not None:
            results.append(
                compare(
                    "decode",
                    label,
                    ours,
                    ("openai SDK parse_event", lambda data=data: sdk(data)),
                    repeats=repeats,
                )
            )
    return results
