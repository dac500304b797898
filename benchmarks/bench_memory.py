"""Memory: keeping every snapshot of a long session against keeping only the last one.

Both runs feed the same 100-turn voice session to a ``ClientSession``; one
keeps the snapshot after every event, the other only the final one. The
figure is the ratio of the memory they hold (``tracemalloc``), measured in
the same process. Structure sharing is what keeps it small: a new snapshot
copies a few small records and shares every chunk, item and vector it did
not change.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from rtcore import ClientSession

from .harness import Result
from .workloads import voice_session

GOAL = ("<= 2.0 x keeping only the last", lambda r: r <= 2.0)


def _held(messages: list[bytes], keep_all: bool) -> float:
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    client = ClientSession(dialect="beta")
    kept: list[Any] = []
    for message in messages:
        client.receive_message(message)
        if keep_all:
            kept.append(client.state)
    kept.append(client.state)
    del client
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    del kept
    return held / 1e6


def run(quick: bool = False) -> list[Result]:
    turns = 20 if quick else 100
    messages = voice_session(turns=turns)
    last = _held(messages, keep_all=False)
    every = _held(messages, keep_all=True)
    audio_mb = sum(len(m) for m in messages if b'"response.audio.delta"' in m) * 3 / 4 / 1e6
    return [
        Result(
            suite="memory",
            name=f"{turns}-turn voice session ({len(messages)} events)",
            subject="every snapshot",
            baseline="last snapshot",
            ratio=every / last,
            spread=(every / last, every / last),
            subject_value=every,
            baseline_value=last,
            unit="MB",
            goal=GOAL[0],
            ok=GOAL[1](every / last),
            extra={"events": len(messages), "audio_mb_about": round(audio_mb, 1)},
        )
    ]
